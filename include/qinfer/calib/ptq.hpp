// SPDX-License-Identifier: Apache-2.0
//
// Post-training quantization of a float nn::Sequential into an nn::QuantizedSequential:
// observe the activations at every quantization point over calibration batches, choose their
// uint8 parameters, quantize the weights per output channel (symmetric, narrow range), fold the
// bias into int32 and a following ReLU / ReLU6 into the clamp bounds.
//
// Quantization points are the model's input and the output of each convolution or linear
// layer (after its fused activation). Max pooling and flattening keep their input's parameters:
// max commutes with a monotonic quantization, so pooling the codes is exact. The last layer
// dequantizes to float logits, so it needs no output parameters.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qinfer/calib/observer.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/depthwise.hpp"
#include "qinfer/nn/fake_quant.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/quantized.hpp"
#include "qinfer/nn/residual.hpp"
#include "qinfer/nn/sequential.hpp"
#include "qinfer/ops/im2col.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/rounding.hpp"
#include "qinfer/train/loop.hpp"

namespace qinfer::calib {

enum class Calibration { min_max, percentile, entropy, mse };

inline const char* calibration_name(Calibration c) noexcept {
  switch (c) {
    case Calibration::min_max:
      return "min-max";
    case Calibration::percentile:
      return "percentile";
    case Calibration::entropy:
      return "entropy";
    case Calibration::mse:
      return "mse";
  }
  return "?";
}

// How a weight channel's scale is chosen: max|w| / qmax; the clipping threshold with the least
// squared weight error (it matters at 4 bits, where max|w| wastes levels on one outlier); or
// the threshold with the least error in the layer's output, each weight's squared error
// weighted by the mean square of the input it multiplies, measured on the calibration data
// (the diagonal of E[x x^T], the Hessian of the layer's output error that AdaRound and GPTQ
// use in full): a weight on an input that is mostly zero matters little, one on a large input
// a lot.
enum class WeightRange { max_abs, mse, output_mse };

// What one layer may choose differently from the model-wide options; unset fields inherit.
struct LayerOptions {
  std::optional<Calibration> calibration;
  std::optional<double> percentile;
  std::optional<int> weight_bits;
  std::optional<WeightRange> weight_range;
  std::optional<bool> per_channel;
};

struct PtqOptions {
  Calibration calibration = Calibration::min_max;
  double percentile = 99.99;  // for Calibration::percentile
  int weight_bits = 8;        // 8: codes in [-127, 127]; 4: [-7, 7]
  WeightRange weight_range = WeightRange::max_abs;
  bool per_channel = true;  // one weight scale per output channel, or one per layer
  // Empirical bias correction (Nagel et al. 2019, section 4.2): weight quantization shifts each
  // output channel's mean by E[x] (W_q - W); the bias absorbs that shift, E[x] measured on the
  // calibration data.
  bool bias_correction = false;
  std::size_t batch_size = 100;
  // Per-layer choices, keyed by the names the report uses ("input", "conv0", "linear5",
  // "res2.body.conv0", "res2" for a residual's add): what a layer sets replaces the value above
  // for that layer's weights and for the point after it.
  std::map<std::string, LayerOptions> layers;

  // These options with the overrides for `name` applied.
  PtqOptions for_layer(const std::string& name) const {
    PtqOptions o = *this;
    const auto it = layers.find(name);
    if (it == layers.end()) return o;
    const LayerOptions& l = it->second;
    o.calibration = l.calibration.value_or(calibration);
    o.percentile = l.percentile.value_or(percentile);
    o.weight_bits = l.weight_bits.value_or(weight_bits);
    o.weight_range = l.weight_range.value_or(weight_range);
    o.per_channel = l.per_channel.value_or(per_channel);
    return o;
  }
};

// What calibration chose for one quantization point.
struct PointReport {
  std::string name;
  Range range;
  QuantParams params;
  // Of the int8 model's output at this point against float, on the first calibration batch
  // (the "logits" entry compares the model outputs; the input entry has none).
  double sqnr_db = 0.0;
};

struct PtqResult {
  nn::QuantizedSequential model;
  std::vector<PointReport> points;
};

// The squared error of symmetric codes with scale `scale` for one weight channel (values
// strided by `stride`), each term weighted by importance[i * stride] when given.
inline double channel_error(const float* w, std::size_t count, std::size_t stride, float scale,
                            int qmax, const double* importance = nullptr) {
  double error = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    const float v = w[i * stride];
    const float q = std::clamp(RoundHalfToEven::round(v / scale), -static_cast<float>(qmax),
                               static_cast<float>(qmax));
    const double d = double{v} - double{q} * scale;
    error += (importance != nullptr ? importance[i * stride] : 1.0) * d * d;
  }
  return error;
}

// The scale of a channel under `rule`; `importance` (laid out as w) is required by
// WeightRange::output_mse and ignored otherwise.
inline float weight_scale(const float* w, std::size_t count, std::size_t stride, int qmax,
                          WeightRange rule, const double* importance = nullptr) {
  float amax = 0.0f;
  for (std::size_t i = 0; i < count; ++i) amax = std::max(amax, std::fabs(w[i * stride]));
  if (amax == 0.0f) return 1.0f;
  float best = amax / static_cast<float>(qmax);
  if (rule == WeightRange::max_abs) return best;
  if (rule == WeightRange::mse) importance = nullptr;
  // Thresholds from 20% to 100% of max|w| in steps of 0.25%: at 4 bits the error jumps as
  // weights cross from one level to the next, so a coarse grid can step over its minimum.
  double best_error = channel_error(w, count, stride, best, qmax, importance);
  for (int step = 80; step < 400; ++step) {
    const float scale = amax * static_cast<float>(step) / 400.0f / static_cast<float>(qmax);
    const double e = channel_error(w, count, stride, scale, qmax, importance);
    if (e < best_error) best_error = e, best = scale;
  }
  return best;
}

namespace detail {

inline bool is_activation(nn::LayerKind k) noexcept {
  return k == nn::LayerKind::relu || k == nn::LayerKind::relu6;
}

// Layers whose output is requantized: conv, linear, and a residual's add.
inline bool requantizes(nn::LayerKind k) noexcept {
  return nn::has_weights(k) || k == nn::LayerKind::residual;
}

// The layer whose output is the quantization point of layer i: i, or the activation fused
// into it.
inline std::size_t point_layer(const nn::Sequential& chain, std::size_t i) noexcept {
  return i + 1 < chain.size() && is_activation(chain[i + 1].kind()) ? i + 1 : i;
}

inline const nn::FakeQuantize* fake_quantize_after(const nn::Sequential& chain, std::size_t i) {
  return i + 1 < chain.size() && chain[i + 1].kind() == nn::LayerKind::fake_quantize
             ? static_cast<const nn::FakeQuantize*>(&chain[i + 1])
             : nullptr;
}

// A layer's name in reports and in PtqOptions::layers; `prefix` names the enclosing blocks.
inline std::string layer_name(const std::string& prefix, const nn::Layer& layer, std::size_t i) {
  const char* kind = "";
  switch (layer.kind()) {
    case nn::LayerKind::linear:
      kind = "linear";
      break;
    case nn::LayerKind::conv2d:
      kind = "conv";
      break;
    case nn::LayerKind::depthwise_conv2d:
      kind = "dwconv";
      break;
    case nn::LayerKind::residual:
      kind = "res";
      break;
    default:
      kind = "layer";
  }
  return prefix + kind + std::to_string(i);
}

// Checks a chain (and the blocks inside it) for what quantization supports.
inline void check_chain(const nn::Sequential& chain) {
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const nn::LayerKind k = chain[i].kind();
    if (is_activation(k) && (i == 0 || !requantizes(chain[i - 1].kind()))) {
      fail(Errc::invalid_argument,
           "quantize_model: a ReLU must follow a conv, linear or residual layer");
    }
    if (k == nn::LayerKind::residual) {
      const auto& r = static_cast<const nn::Residual&>(chain[i]);
      if (r.body().size() == 0)
        fail(Errc::invalid_argument, "quantize_model: a residual body is empty");
      check_chain(r.body());
      check_chain(r.shortcut());
    }
  }
}

// Every calibration statistic a point may need: min-max and the histogram, so that the rule can
// be chosen per layer after observing.
class PointObserver {
 public:
  void observe(const Tensor<float>& x) {
    min_max_.observe(x.data);
    histogram_.observe(x.data);
  }
  Range range(const PtqOptions& o) const {
    switch (o.calibration) {
      case Calibration::min_max:
        return min_max_.range();
      case Calibration::percentile:
        return histogram_.range(HistogramRule::percentile, 255, o.percentile);
      case Calibration::entropy:
        return histogram_.range(HistogramRule::entropy, 255);
      case Calibration::mse:
        return histogram_.range(HistogramRule::mse, 255);
    }
    return {};
  }

 private:
  MinMaxObserver min_max_;
  HistogramObserver histogram_;
};

// The float model run over calibration batches: observers at every point, the mean and mean
// square of each conv / linear layer's GEMM input columns (for bias correction and output-MSE
// weight ranges), and the first batch's float values at the points, in model order, for the
// SQNR report.
class Calibrator {
 public:
  explicit Calibrator(bool input_moments) : input_moments_(input_moments) {}

  // Runs `chain` (`top`: the model itself, whose last layer dequantizes) on x.
  Tensor<float> run(nn::Sequential& chain, Tensor<float> x, bool top, bool keep) {
    for (std::size_t i = 0; i < chain.size(); ++i) {
      nn::Layer& layer = chain[i];
      const nn::LayerKind k = layer.kind();
      if (input_moments_ && nn::has_weights(k)) add_input(layer, x);
      if (k == nn::LayerKind::residual) {
        auto& r = static_cast<nn::Residual&>(layer);
        // Body first: the points are numbered in that order.
        const Tensor<float> body = run(r.body(), x, false, keep);
        x = nn::add(body, run(r.shortcut(), x, false, keep));
      } else {
        x = layer.forward(x, false);
      }
      const bool point = requantizes(k)
                             ? point_layer(chain, i) == i && !(top && i + 1 == chain.size())
                             : is_activation(k);
      if (point) {
        observers_[&layer].observe(x);
        if (keep) float_points.push_back(x);
      }
    }
    return x;
  }

  Range range(const nn::Layer& point, const PtqOptions& o) const {
    return observers_.at(&point).range(o);
  }

  // Mean of each input column of a layer's GEMM (empty when not collected).
  std::vector<double> input_mean(const nn::Layer& layer) const {
    return mean_of(layer, &InputMoments::sums);
  }
  // Mean square of each input column.
  std::vector<double> input_mean_square(const nn::Layer& layer) const {
    return mean_of(layer, &InputMoments::squares);
  }

  std::vector<Tensor<float>> float_points;

 private:
  struct InputMoments {
    std::vector<double> sums, squares;
    std::size_t rows = 0;
  };

  std::vector<double> mean_of(const nn::Layer& layer,
                              std::vector<double> InputMoments::*moment) const {
    const auto it = inputs_.find(&layer);
    if (it == inputs_.end()) return {};
    std::vector<double> mean = it->second.*moment;
    for (double& v : mean) v /= static_cast<double>(std::max<std::size_t>(it->second.rows, 1));
    return mean;
  }

  void add_input(const nn::Layer& layer, const Tensor<float>& x) {
    InputMoments& in = inputs_[&layer];
    std::vector<float> columns;
    const float* rows = x.data.data();
    std::size_t row_count = x.dims.empty() ? 0 : x.dims[0];
    std::size_t depth = static_cast<const nn::MatmulLayer&>(layer).depth();
    if (layer.kind() != nn::LayerKind::linear) {
      // A conv's GEMM reads im2col rows; a depthwise filter reads its own channel's window,
      // so its means are per (tap, channel): the im2col columns, in the [k * k, C] layout of
      // its weights.
      const ImageWindows g = layer.kind() == nn::LayerKind::conv2d
                                 ? static_cast<const nn::Conv2d&>(layer).windows(x.dims)
                                 : static_cast<const nn::DepthwiseConv2d&>(layer).windows(x.dims);
      columns.resize(g.rows() * g.depth());
      im2col(g, x.data.data(), 0.0f, columns.data());
      rows = columns.data();
      row_count = g.rows();
      depth = g.depth();
    }
    in.sums.resize(depth, 0.0);
    in.squares.resize(depth, 0.0);
    for (std::size_t r = 0; r < row_count; ++r) {
      for (std::size_t k = 0; k < depth; ++k) {
        const double v = rows[r * depth + k];
        in.sums[k] += v;
        in.squares[k] += v * v;
      }
    }
    in.rows += row_count;
  }

  bool input_moments_;
  std::map<const nn::Layer*, PointObserver> observers_;
  std::map<const nn::Layer*, InputMoments> inputs_;
};

// Whether any layer's options need the input moments.
inline bool needs_input_moments(const PtqOptions& o) {
  if (o.bias_correction || o.weight_range == WeightRange::output_mse) return true;
  for (const auto& entry : o.layers) {
    if (entry.second.weight_range == WeightRange::output_mse) return true;
  }
  return false;
}

// Per-channel (or per-tensor) scales of [depth, out] weights under the options. For
// WeightRange::output_mse, `input_mean_square` holds the mean square of each GEMM input
// column (per (tap, channel) for a depthwise layer, as its weights are laid out).
inline std::vector<float> weight_scales(const nn::MatmulLayer& l, const PtqOptions& o, int qmax,
                                        const std::vector<double>& input_mean_square = {}) {
  const std::size_t depth = l.depth(), n = l.out_channels();
  const float* w = l.weight().value.data();
  std::vector<double> importance;  // laid out as the weights, [depth, out]
  if (o.weight_range == WeightRange::output_mse) {
    const bool depthwise = l.kind() == nn::LayerKind::depthwise_conv2d;
    if (input_mean_square.size() != (depthwise ? depth * n : depth)) {
      fail(Errc::invalid_argument, "weight_scales: output_mse needs the inputs' mean squares");
    }
    importance.resize(depth * n);
    for (std::size_t k = 0; k < depth; ++k) {
      for (std::size_t c = 0; c < n; ++c)
        importance[k * n + c] = input_mean_square[depthwise ? k * n + c : k];
    }
  }
  const double* weighting = importance.empty() ? nullptr : importance.data();
  std::vector<float> scales(n);
  if (o.per_channel) {
    for (std::size_t c = 0; c < n; ++c) {
      scales[c] = weight_scale(w + c, depth, n, qmax, o.weight_range,
                               weighting != nullptr ? weighting + c : nullptr);
    }
  } else {
    std::fill(scales.begin(), scales.end(),
              weight_scale(w, depth * n, 1, qmax, o.weight_range, weighting));
  }
  return scales;
}

// Quantizes a layer's weights with the given scales, folds its bias and packs both.
inline constexpr int qmax_of_bits(int bits) noexcept {
  return (1 << (bits - 1)) - 1;
}

inline nn::QuantizedMatmul quantize_weights(const nn::MatmulLayer& l, int bits,
                                            std::vector<float> scales, QuantParams input,
                                            const std::vector<double>& input_mean) {
  const int qmax = qmax_of_bits(bits);
  const std::size_t depth = l.depth(), n = l.out_channels();
  const float* w = l.weight().value.data();
  nn::QuantizedMatmul m;
  if (l.kind() == nn::LayerKind::conv2d) {
    const nn::Conv2dOptions& o = static_cast<const nn::Conv2d&>(l).options();
    m.kernel = o.kernel;
    m.stride = o.stride;
    m.padding = o.padding;
    m.in_channels = o.in_channels;
  } else if (l.kind() == nn::LayerKind::depthwise_conv2d) {
    const nn::DepthwiseOptions& o = static_cast<const nn::DepthwiseConv2d&>(l).options();
    m.kernel = o.kernel;
    m.stride = o.stride;
    m.padding = o.padding;
    m.in_channels = o.channels;
    m.depthwise = true;
  } else {
    m.in_channels = depth;
  }
  m.out_channels = n;
  m.bits = bits;
  m.input = input;
  m.weight_scales = std::move(scales);
  m.weight_codes.resize(depth * n);
  for (std::size_t k = 0; k < depth; ++k) {
    for (std::size_t c = 0; c < n; ++c) {
      const float q = RoundHalfToEven::round(w[k * n + c] / m.weight_scales[c]);
      m.weight_codes[k * n + c] =
          static_cast<int8_t>(std::clamp(q, -static_cast<float>(qmax), static_cast<float>(qmax)));
    }
  }
  std::vector<double> shift(n, 0.0);
  if (!input_mean.empty()) {
    for (std::size_t k = 0; k < depth; ++k) {
      for (std::size_t c = 0; c < n; ++c) {
        const double error =
            static_cast<double>(m.weight_codes[k * n + c]) * m.weight_scales[c] - w[k * n + c];
        // A depthwise filter tap reads its own channel: means are per (tap, channel).
        shift[c] += input_mean[m.depthwise ? k * n + c : k] * error;
      }
    }
  }
  std::vector<int32_t> bias(n);
  for (std::size_t c = 0; c < n; ++c) {
    const double q = std::nearbyint((double{l.bias().value[c]} - shift[c]) /
                                    (double{input.scale} * double{m.weight_scales[c]}));
    bias[c] = static_cast<int32_t>(std::clamp(q, double{std::numeric_limits<int32_t>::min()},
                                              double{std::numeric_limits<int32_t>::max()}));
  }
  nn::pack_quantized_weights(m, bias);
  return m;
}

// Sets the clamp of a step whose output point is `out` for the activation fused after chain[i]
// (none: the whole uint8 range).
inline void fused_clamp(const nn::Sequential& chain, std::size_t i, QuantParams out,
                        int32_t& clamp_min, int32_t& clamp_max) {
  clamp_min = 0;
  clamp_max = 255;
  if (point_layer(chain, i) == i) return;
  clamp_min = out.zero_point;
  if (chain[i + 1].kind() == nn::LayerKind::relu6) {
    const double six = std::nearbyint(6.0 / double{out.scale}) + out.zero_point;
    clamp_max = static_cast<int32_t>(std::min(255.0, six));
  }
}

// Builds the quantized steps of a calibrated float model, chain by chain.
class Converter {
 public:
  Converter(const PtqOptions& options, const Calibrator& calibrator, PtqResult& result)
      : options_(options), calibrator_(calibrator), result_(result) {}

  // Fails if PtqOptions::layers names a layer the model does not have (a typo would otherwise
  // pass silently).
  void check_layer_options() const {
    for (const auto& entry : options_.layers) {
      if (entry.first != "input" &&
          std::find(names_.begin(), names_.end(), entry.first) == names_.end()) {
        fail(Errc::invalid_argument,
             "quantize_model: PtqOptions::layers names a layer the model does not have");
      }
    }
  }

  QuantParams point(const std::string& name, Range r) {
    const QuantParams p = choose_params<uint8_t>(r.min, r.max);
    result_.points.push_back({name, r, p});
    return p;
  }

  // Appends the steps of `chain` to `steps`; `current` goes in as the parameters of the chain's
  // input and comes out as those of its output.
  void convert(const nn::Sequential& chain, bool top, const std::string& prefix,
               QuantParams& current, std::vector<nn::QuantizedStep>& steps) {
    for (std::size_t i = 0; i < chain.size(); ++i) {
      const nn::Layer& layer = chain[i];
      const std::string name = layer_name(prefix, layer, i);
      if (requantizes(layer.kind())) names_.push_back(name);
      switch (layer.kind()) {
        case nn::LayerKind::max_pool2d: {
          const auto& p = static_cast<const nn::MaxPool2d&>(layer);
          steps.emplace_back(nn::QuantizedMaxPool{p.kernel(), p.stride()});
          break;
        }
        case nn::LayerKind::avg_pool2d: {
          const auto& p = static_cast<const nn::AvgPool2d&>(layer);
          steps.emplace_back(nn::QuantizedAvgPool{p.kernel(), p.stride(), p.padding(),
                                                  p.count_include_pad(), current.zero_point});
          break;
        }
        case nn::LayerKind::flatten:
          steps.emplace_back(nn::QuantizedFlatten{});
          break;
        case nn::LayerKind::global_avg_pool2d:
          steps.emplace_back(nn::QuantizedGlobalAvgPool{});
          break;
        case nn::LayerKind::residual: {
          const auto& r = static_cast<const nn::Residual&>(layer);
          nn::QuantizedResidual q;
          q.body_output = q.shortcut_output = current;
          convert(r.body(), false, name + ".body.", q.body_output, q.body);
          convert(r.shortcut(), false, name + ".shortcut.", q.shortcut_output, q.shortcut);
          q.output = output_point(chain, i, name);
          fused_clamp(chain, i, q.output, q.clamp_min, q.clamp_max);
          nn::set_add_params(q);
          current = q.output;
          steps.emplace_back(std::move(q));
          break;
        }
        case nn::LayerKind::linear:
        case nn::LayerKind::conv2d:
        case nn::LayerKind::depthwise_conv2d:
          steps.emplace_back(matmul(chain, i, name, top && i + 1 == chain.size(), current));
          break;
        default:
          break;  // an activation or fake quantization, handled with the layer before it
      }
    }
  }

 private:
  QuantParams output_point(const nn::Sequential& chain, std::size_t i, const std::string& name) {
    const std::size_t out = point_layer(chain, i);
    const nn::FakeQuantize* fq = fake_quantize_after(chain, out);
    return point(name, fq != nullptr ? fq->range()
                                     : calibrator_.range(chain[out], options_.for_layer(name)));
  }

  nn::QuantizedMatmul matmul(const nn::Sequential& chain, std::size_t i, const std::string& name,
                             bool last, QuantParams& current) {
    const auto& layer = static_cast<const nn::MatmulLayer&>(chain[i]);
    const PtqOptions o = options_.for_layer(name);
    const nn::WeightFakeQuant* trained = layer.weight_fake_quant();
    const int bits = trained != nullptr ? trained->bits() : o.weight_bits;
    if (bits != 8 && bits != 4)
      fail(Errc::invalid_argument, "quantize_model: weight bits must be 8 or 4");
    std::vector<float> scales =
        trained != nullptr
            ? trained->scales().value
            : weight_scales(layer, o, qmax_of_bits(bits), calibrator_.input_mean_square(layer));
    nn::QuantizedMatmul m =
        quantize_weights(layer, bits, std::move(scales), current,
                         o.bias_correction ? calibrator_.input_mean(layer) : std::vector<double>{});
    m.name = name;
    m.dequantize = last;
    if (!last) {
      m.output = output_point(chain, i, name);
      fused_clamp(chain, i, m.output, m.clamp_min, m.clamp_max);
      current = m.output;
    }
    nn::set_multipliers(m);
    return m;
  }

  const PtqOptions& options_;
  const Calibrator& calibrator_;
  PtqResult& result_;
  std::vector<std::string> names_;
};

}  // namespace detail

// Signal-to-quantization-noise ratio of `test` against `reference`, in dB.
inline double sqnr_db(const std::vector<float>& reference, const std::vector<float>& test) {
  double signal = 0.0, noise = 0.0;
  for (std::size_t i = 0; i < reference.size() && i < test.size(); ++i) {
    signal += double{reference[i]} * reference[i];
    const double d = double{reference[i]} - test[i];
    noise += d * d;
  }
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

// Post-training quantization in three steps, for calibration data that arrives batch by batch:
//
//   calib::PtqSession session = calib::prepare_ptq(model, options);   // checks the model
//   for (const Tensor<float>& batch : batches) session.calibrate(batch);
//   calib::PtqResult int8 = session.convert();
//
// Supported chains: conv or linear layers each optionally followed by ReLU / ReLU6, pooling
// and flattening between them, residual blocks (optionally followed by ReLU / ReLU6) whose
// branches are such chains, and a conv or linear layer last. A model prepared for QAT
// (calib/qat.hpp) carries its own ranges and weight scales in its fake-quantization layers,
// which take precedence. The model must stay unchanged between the steps.
class PtqSession {
 public:
  PtqSession(nn::Sequential& model, PtqOptions options)
      : model_(model),
        options_(std::move(options)),
        calibrator_(detail::needs_input_moments(options_)) {
    if (options_.weight_bits != 8 && options_.weight_bits != 4) {
      fail(Errc::invalid_argument, "quantize_model: weight_bits must be 8 or 4");
    }
    const std::size_t count = model.size();
    if (count == 0 || !nn::has_weights(model[count - 1].kind())) {
      fail(Errc::invalid_argument,
           "quantize_model: the model must end with a conv or linear layer");
    }
    detail::check_chain(model);
  }

  // Observes one batch ([N, ...], the model's input) at every quantization point. The first
  // batch is kept for the SQNR report.
  void calibrate(const Tensor<float>& batch) {
    const bool first = batches_ == 0;
    if (first) first_batch_ = batch;
    input_observer_.observe(batch);
    Tensor<float> logits = calibrator_.run(model_, batch, true, first);
    if (first) float_logits_ = std::move(logits);
    ++batches_;
  }

  // The int8 model from what calibrate() observed, with a report of every point.
  PtqResult convert() const {
    if (batches_ == 0) fail(Errc::invalid_argument, "PtqSession: convert() before calibrate()");
    PtqResult result;
    detail::Converter converter(options_, calibrator_, result);
    const bool input_fake_quantized = model_[0].kind() == nn::LayerKind::fake_quantize;
    result.model.input = converter.point(
        "input", input_fake_quantized ? static_cast<const nn::FakeQuantize&>(model_[0]).range()
                                      : input_observer_.range(options_.for_layer("input")));
    QuantParams current = result.model.input;
    converter.convert(model_, true, "", current, result.model.steps);
    converter.check_layer_options();

    std::size_t at = 0;
    const Tensor<float> logits =
        result.model.forward(first_batch_, {}, [&](const Tensor<uint8_t>& codes, QuantParams p) {
          std::vector<float> real(codes.size());
          for (std::size_t i = 0; i < real.size(); ++i) {
            real[i] = static_cast<float>(codes.data[i] - p.zero_point) * p.scale;
          }
          if (at < calibrator_.float_points.size()) {
            result.points[at + 1].sqnr_db = sqnr_db(calibrator_.float_points[at].data, real);
          }
          ++at;
        });
    result.points.push_back({"logits", {}, {}, sqnr_db(float_logits_.data, logits.data)});
    return result;
  }

 private:
  nn::Sequential& model_;
  PtqOptions options_;
  detail::PointObserver input_observer_;
  detail::Calibrator calibrator_;
  std::size_t batches_ = 0;
  Tensor<float> first_batch_, float_logits_;
};

inline PtqSession prepare_ptq(nn::Sequential& model, const PtqOptions& options) {
  return PtqSession(model, options);
}

// All three steps over a dataset, in batches of options.batch_size.
inline PtqResult quantize_model(nn::Sequential& model, const train::Dataset& calibration,
                                const PtqOptions& options) {
  PtqSession session(model, options);
  if (options.batch_size == 0) fail(Errc::invalid_argument, "quantize_model: batch_size is 0");
  std::vector<std::size_t> indices(calibration.size());
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  for (std::size_t first = 0; first < calibration.size(); first += options.batch_size) {
    const std::size_t n = std::min(options.batch_size, calibration.size() - first);
    session.calibrate(calibration.batch(&indices[first], n));
  }
  return session.convert();
}

}  // namespace qinfer::calib
