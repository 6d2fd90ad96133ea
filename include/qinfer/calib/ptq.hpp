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

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
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

// How a weight channel's scale is chosen: max|w| / qmax, or the clipping threshold with the
// least squared error (it matters at 4 bits, where max|w| wastes levels on one outlier).
enum class WeightRange { max_abs, mse };

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

// Symmetric codes of one weight channel (values strided by `stride`) with scale `scale`.
inline double channel_error(const float* w, std::size_t count, std::size_t stride, float scale,
                            int qmax) {
  double error = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    const float v = w[i * stride];
    const float q = std::clamp(RoundHalfToEven::round(v / scale), -static_cast<float>(qmax),
                               static_cast<float>(qmax));
    const double d = double{v} - double{q} * scale;
    error += d * d;
  }
  return error;
}

// The scale of a channel under `rule`.
inline float weight_scale(const float* w, std::size_t count, std::size_t stride, int qmax,
                          WeightRange rule) {
  float amax = 0.0f;
  for (std::size_t i = 0; i < count; ++i) amax = std::max(amax, std::fabs(w[i * stride]));
  if (amax == 0.0f) return 1.0f;
  float best = amax / static_cast<float>(qmax);
  if (rule == WeightRange::mse) {
    // Thresholds from 30% to 100% of max|w| in 1% steps.
    double best_error = channel_error(w, count, stride, best, qmax);
    for (int percent = 30; percent < 100; ++percent) {
      const float scale = amax * static_cast<float>(percent) / 100.0f / static_cast<float>(qmax);
      const double e = channel_error(w, count, stride, scale, qmax);
      if (e < best_error) best_error = e, best = scale;
    }
  }
  return best;
}

namespace detail {

// One observer per quantization point, of the kind the options ask for.
class PointObserver {
 public:
  explicit PointObserver(const PtqOptions& o) : options_(o) {}
  void observe(const Tensor<float>& x) {
    if (options_.calibration == Calibration::min_max) {
      min_max_.observe(x.data);
    } else {
      histogram_.observe(x.data);
    }
  }
  Range range() const {
    switch (options_.calibration) {
      case Calibration::min_max:
        return min_max_.range();
      case Calibration::percentile:
        return histogram_.range(HistogramRule::percentile, 255, options_.percentile);
      case Calibration::entropy:
        return histogram_.range(HistogramRule::entropy, 255);
      case Calibration::mse:
        return histogram_.range(HistogramRule::mse, 255);
    }
    return {};
  }

 private:
  PtqOptions options_;
  MinMaxObserver min_max_;
  HistogramObserver histogram_;
};

inline bool is_activation(nn::LayerKind k) noexcept {
  return k == nn::LayerKind::relu || k == nn::LayerKind::relu6;
}

// The layer after `i`, or nullptr.
inline const nn::Layer* next_layer(const nn::Sequential& model, std::size_t i) noexcept {
  return i + 1 < model.size() ? &model[i + 1] : nullptr;
}
inline const nn::FakeQuantize* fake_quantize_after(const nn::Sequential& model, std::size_t i) {
  const nn::Layer* next = next_layer(model, i);
  return next != nullptr && next->kind() == nn::LayerKind::fake_quantize
             ? static_cast<const nn::FakeQuantize*>(next)
             : nullptr;
}

// Per-channel (or per-tensor) scales of [depth, out] weights under the options.
inline std::vector<float> weight_scales(const nn::MatmulLayer& l, const PtqOptions& o, int qmax) {
  const std::size_t depth = l.depth(), n = l.out_channels();
  const float* w = l.weight().value.data();
  std::vector<float> scales(n);
  if (o.per_channel) {
    for (std::size_t c = 0; c < n; ++c)
      scales[c] = weight_scale(w + c, depth, n, qmax, o.weight_range);
  } else {
    std::fill(scales.begin(), scales.end(), weight_scale(w, depth * n, 1, qmax, o.weight_range));
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

// Quantizes `model` with activation ranges observed on `calibration`. Supported chains: conv or
// linear layers each optionally followed by ReLU / ReLU6, max pooling and flattening between
// them, a conv or linear layer last. A model prepared for QAT (calib/qat.hpp) carries its own
// ranges and weight scales in its fake-quantization layers, which take precedence.
inline PtqResult quantize_model(nn::Sequential& model, const train::Dataset& calibration,
                                const PtqOptions& options) {
  if (options.weight_bits != 8 && options.weight_bits != 4) {
    fail(Errc::invalid_argument, "quantize_model: weight_bits must be 8 or 4");
  }
  const std::size_t count = model.size();
  if (count == 0 || !nn::has_weights(model[count - 1].kind())) {
    fail(Errc::invalid_argument, "quantize_model: the model must end with a conv or linear layer");
  }
  // Quantization points: the input, and after layer i when layer i ends a conv/linear group
  // (the layer itself or its activation) that is not the last layer.
  std::vector<bool> point_after(count, false);
  for (std::size_t i = 0; i + 1 < count; ++i) {
    const nn::LayerKind k = model[i].kind();
    if (nn::has_weights(k)) {
      point_after[detail::is_activation(model[i + 1].kind()) ? i + 1 : i] = true;
    } else if (detail::is_activation(k) && (i == 0 || !nn::has_weights(model[i - 1].kind()))) {
      fail(Errc::invalid_argument, "quantize_model: a ReLU must follow a conv or linear layer");
    }
  }
  detail::PointObserver input_observer(options);
  std::vector<detail::PointObserver> observers(count, detail::PointObserver(options));
  // Per conv / linear layer, the sums of its GEMM's input rows (im2col columns for a conv), for
  // bias correction.
  std::vector<std::vector<double>> input_sums(count);
  std::vector<std::size_t> input_rows(count, 0);
  const auto add_input = [&](std::size_t i, const Tensor<float>& x) {
    std::vector<float> columns;
    const float* rows = x.data.data();
    std::size_t row_count = x.dims.empty() ? 0 : x.dims[0];
    if (model[i].kind() == nn::LayerKind::depthwise_conv2d) {
      // Each channel's filter sees its own channel's window: the means per (tap, channel) are
      // the im2col column means, the [k * k, C] layout of the weights.
      const ImageWindows g = static_cast<const nn::DepthwiseConv2d&>(model[i]).windows(x.dims);
      columns.resize(g.rows() * g.depth());
      im2col(g, x.data.data(), 0.0f, columns.data());
      input_sums[i].resize(g.depth(), 0.0);
      for (std::size_t r = 0; r < g.rows(); ++r) {
        for (std::size_t k = 0; k < g.depth(); ++k) input_sums[i][k] += columns[r * g.depth() + k];
      }
      input_rows[i] += g.rows();
      return;
    }
    if (model[i].kind() == nn::LayerKind::conv2d) {
      const ImageWindows g = static_cast<const nn::Conv2d&>(model[i]).windows(x.dims);
      columns.resize(g.rows() * g.depth());
      im2col(g, x.data.data(), 0.0f, columns.data());
      rows = columns.data();
      row_count = g.rows();
    }
    const std::size_t depth = static_cast<const nn::MatmulLayer&>(model[i]).depth();
    input_sums[i].resize(depth, 0.0);
    for (std::size_t r = 0; r < row_count; ++r) {
      for (std::size_t k = 0; k < depth; ++k) input_sums[i][k] += rows[r * depth + k];
    }
    input_rows[i] += row_count;
  };
  // The first batch's float outputs at the points and at the end, for the SQNR report.
  Tensor<float> first_batch;
  std::vector<Tensor<float>> float_points;
  Tensor<float> float_logits;
  std::vector<std::size_t> indices(calibration.size());
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  for (std::size_t first = 0; first < calibration.size(); first += options.batch_size) {
    const std::size_t n = std::min(options.batch_size, calibration.size() - first);
    Tensor<float> x = calibration.batch(&indices[first], n);
    if (first == 0) first_batch = x;
    input_observer.observe(x);
    for (std::size_t i = 0; i < count; ++i) {
      if (options.bias_correction && nn::has_weights(model[i].kind())) add_input(i, x);
      x = model[i].forward(x, false);
      if (point_after[i]) {
        observers[i].observe(x);
        if (first == 0) float_points.push_back(x);
      }
    }
    if (first == 0) float_logits = x;
  }

  PtqResult result;
  const auto point = [&](const std::string& name, Range r) {
    const QuantParams p = choose_params<uint8_t>(r.min, r.max);
    result.points.push_back({name, r, p});
    return p;
  };
  const bool input_fake_quantized = model[0].kind() == nn::LayerKind::fake_quantize;
  result.model.input =
      point("input", input_fake_quantized ? static_cast<const nn::FakeQuantize&>(model[0]).range()
                                          : input_observer.range());
  QuantParams current = result.model.input;
  for (std::size_t i = 0; i < count; ++i) {
    const nn::LayerKind k = model[i].kind();
    if (k == nn::LayerKind::max_pool2d) {
      const auto& p = static_cast<const nn::MaxPool2d&>(model[i]);
      result.model.steps.emplace_back(nn::QuantizedMaxPool{p.kernel(), p.stride()});
      continue;
    }
    if (k == nn::LayerKind::flatten) {
      result.model.steps.emplace_back(nn::QuantizedFlatten{});
      continue;
    }
    if (k == nn::LayerKind::global_avg_pool2d) {
      result.model.steps.emplace_back(nn::QuantizedGlobalAvgPool{});
      continue;
    }
    if (!nn::has_weights(k)) continue;  // an activation or fake quantization, handled here
    const auto& layer = static_cast<const nn::MatmulLayer&>(model[i]);
    const nn::WeightFakeQuant* trained = layer.weight_fake_quant();
    const int bits = trained != nullptr ? trained->bits() : options.weight_bits;
    if (bits != 8 && bits != 4)
      fail(Errc::invalid_argument, "quantize_model: weight bits must be 8 or 4");
    std::vector<float> scales =
        trained != nullptr ? trained->scales().value
                           : detail::weight_scales(layer, options, detail::qmax_of_bits(bits));
    std::vector<double> mean = std::move(input_sums[i]);
    for (double& v : mean) v /= static_cast<double>(std::max<std::size_t>(input_rows[i], 1));
    nn::QuantizedMatmul m = detail::quantize_weights(layer, bits, std::move(scales), current, mean);
    m.name = (k == nn::LayerKind::linear ? "linear"
              : m.depthwise              ? "dwconv"
                                         : "conv") +
             std::to_string(i);
    if (i + 1 == count) {
      m.dequantize = true;
      nn::set_multipliers(m);
    } else {
      const nn::Layer* next = detail::next_layer(model, i);
      const bool fused = detail::is_activation(next->kind());
      const std::size_t out_layer = fused ? i + 1 : i;
      const nn::FakeQuantize* fq = detail::fake_quantize_after(model, out_layer);
      m.output = point(m.name, fq != nullptr ? fq->range() : observers[out_layer].range());
      nn::set_multipliers(m);
      m.clamp_min = fused ? m.output.zero_point : 0;
      m.clamp_max = 255;
      if (fused && next->kind() == nn::LayerKind::relu6) {
        const double six = std::nearbyint(6.0 / double{m.output.scale}) + m.output.zero_point;
        m.clamp_max = static_cast<int32_t>(std::min(255.0, six));
      }
      current = m.output;
    }
    result.model.steps.emplace_back(std::move(m));
  }
  if (!first_batch.empty()) {
    std::size_t at = 0;
    const Tensor<float> logits =
        result.model.forward(first_batch, {}, [&](const Tensor<uint8_t>& codes, QuantParams p) {
          std::vector<float> real(codes.size());
          for (std::size_t i = 0; i < real.size(); ++i) {
            real[i] = static_cast<float>(codes.data[i] - p.zero_point) * p.scale;
          }
          if (at < float_points.size()) {
            result.points[at + 1].sqnr_db = sqnr_db(float_points[at].data, real);
          }
          ++at;
        });
    result.points.push_back({"logits", {}, {}, sqnr_db(float_logits.data, logits.data)});
  }
  return result;
}

}  // namespace qinfer::calib
