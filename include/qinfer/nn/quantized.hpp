// SPDX-License-Identifier: Apache-2.0
//
// An int8 model: a chain of quantized steps on uint8 activations, from a float input (quantized
// at the boundary) to float logits (the last step dequantizes in its output stage); a residual
// block is a step that holds two chains. Built by calib::quantize_model from a float
// nn::Sequential; every linear layer runs on the packed int8 GEMM (ops/gemm.hpp) and every
// convolution on qinfer::conv2d (ops/conv2d.hpp: the GEMM on the image itself for 1x1 layers,
// im2col in chunks that stay in L2 for the others, the depthwise kernels for depthwise layers),
// with bias, requantization and fused ReLU / ReLU6 in the output stage, so the model follows the
// scalar reference bit for bit on every ISA path. Pooling and residual adds run on the
// vectorized operators of ops/pool.hpp and ops/elementwise.hpp.
//
// Affine uint8 activations (zero point z, scale s) and symmetric int8 weights per output
// channel (scale w_c):
//
//   y_c = s_in w_c (sum (x - z_in) q_c + round(bias_c / (s_in w_c)))
//   q_out = clamp(round(y_c / s_out) + z_out, lo, hi)     lo = z_out after a ReLU
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "qinfer/core/matrix.hpp"
#include "qinfer/core/tensor.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/ops/conv2d.hpp"
#include "qinfer/ops/elementwise.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/ops/pool.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantizer.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/reference/elementwise.hpp"
#include "qinfer/reference/pool.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer::nn {

// A convolution (kernel > 0) or a linear layer (kernel == 0) on the int8 GEMM.
struct QuantizedMatmul {
  std::string name;
  std::size_t kernel = 0, stride = 1, padding = 0;
  std::size_t in_channels = 0, out_channels = 0;
  std::vector<float> weight_scales;  // per output channel
  // [depth, out], depth in (ky, kx, in channel) order; kept for the model file and reports.
  std::vector<int8_t> weight_codes;
  std::vector<int32_t> bias;  // per output channel, in units of s_in w_c
  // A depthwise convolution: depth = kernel^2, one filter per channel (out = in channels).
  bool depthwise = false;
  PackedWeights weights;  // a linear layer's
  PackedConv2d conv;      // a convolution's
  int bits = 8;           // of the weight codes
  QuantParams input;
  // Requantizing steps: the output's parameters and clamp; the last step dequantizes instead.
  bool dequantize = false;
  QuantParams output;
  int32_t clamp_min = 0, clamp_max = 255;
  std::vector<float> multipliers;  // s_in w_c / s_out, or s_in w_c when dequantizing
};

// Packs m.weight_codes ([depth, out], symmetric at m.bits) with `bias` into m.weights or m.conv;
// the scheme's range check rejects codes outside [-7, 7] at 4 bits or [-127, 127] at 8.
inline void pack_quantized_weights(QuantizedMatmul& m, const std::vector<int32_t>& bias) {
  if (m.out_channels == 0 || m.weight_codes.size() % m.out_channels != 0 ||
      bias.size() != m.out_channels) {
    fail(Errc::shape_mismatch, "QuantizedMatmul: weight codes must be [depth, out], one bias each");
  }
  if (m.bits != 8 && m.bits != 4) {
    fail(Errc::invalid_argument, "QuantizedMatmul: weight bits must be 8 or 4");
  }
  m.bias = bias;
  const std::size_t depth = m.weight_codes.size() / m.out_channels;
  const int32_t zero_point = 0;
  const Span<const int32_t> zero_points(&zero_point, 1);
  if (m.kernel == 0) {
    const MatrixView<const int8_t> codes =
        row_major<const int8_t>(m.weight_codes.data(), depth, m.out_channels);
    m.weights = m.bits == 8 ? pack_weights<SymmetricNarrow>(codes, zero_points, bias)
                            : pack_weights<Symmetric<true, 4>>(codes, zero_points, bias);
    return;
  }
  const Conv2dFilter filter{m.out_channels, m.in_channels, m.depthwise ? m.in_channels : 1,
                            m.kernel, m.kernel};
  if (m.in_channels == 0 || depth != filter.depth() ||
      (m.depthwise && m.out_channels != m.in_channels)) {
    fail(Errc::shape_mismatch,
         "QuantizedMatmul: convolution codes must be [kernel^2 x in channels, out] "
         "([kernel^2, channels] when depthwise)");
  }
  std::vector<int8_t> ohwi(m.weight_codes.size());  // [out, ky, kx, in channel]: the transpose
  for (std::size_t d = 0; d < depth; ++d) {
    for (std::size_t c = 0; c < m.out_channels; ++c) {
      ohwi[c * depth + d] = m.weight_codes[d * m.out_channels + c];
    }
  }
  const Span<const int8_t> codes(ohwi);
  m.conv =
      m.bits == 8
          ? pack_conv2d<SymmetricNarrow>(filter, codes, zero_points, Span<const int32_t>(bias))
          : pack_conv2d<Symmetric<true, 4>>(filter, codes, zero_points, Span<const int32_t>(bias));
}

// The output stage's per-channel multipliers: s_in w_c / s_out, or s_in w_c when the step
// dequantizes. One function, so that a model built by PTQ and one loaded from a file agree to
// the bit.
inline void set_multipliers(QuantizedMatmul& m) {
  m.multipliers.clear();
  for (float ws : m.weight_scales) {
    m.multipliers.push_back(m.dequantize ? m.input.scale * ws
                                         : m.input.scale * ws / m.output.scale);
  }
}

struct QuantizedMaxPool {
  std::size_t kernel = 2, stride = 2;
};

// The rounded mean of each window's codes, in the input's parameters (the mean commutes with the
// affine map); with count_include_pad, padded taps hold the input's zero point (real 0.0).
struct QuantizedAvgPool {
  std::size_t kernel = 2, stride = 2, padding = 0;
  bool count_include_pad = true;
  int32_t zero_point = 0;  // of the input
};

struct QuantizedFlatten {};

// [N, H, W, C] codes to [N, C]: the rounded mean of each channel's codes, in the input's
// parameters.
struct QuantizedGlobalAvgPool {};

struct QuantizedStep;

// body(x) + shortcut(x) (an empty shortcut is x itself), each branch a chain of steps that ends
// in its own parameters, added with the reference's integer add into `output`, with a following
// ReLU / ReLU6 fused into the clamp.
struct QuantizedResidual {
  std::vector<QuantizedStep> body, shortcut;
  QuantParams body_output, shortcut_output, output;
  int32_t clamp_min = 0, clamp_max = 255;
  reference::AddParams add;  // derived from the above by set_add_params
};

// Derives r.add from r's parameters; fails on invalid parameters or when a ratio of scales is
// out of the fixed-point multiplier's reach.
inline void set_add_params(QuantizedResidual& r) {
  r.add = reference::make_add_params<uint8_t>(r.body_output, r.shortcut_output, r.output,
                                              {r.clamp_min, r.clamp_max});
}

// A variant that can hold a residual block, whose branches are steps themselves.
struct QuantizedStep : std::variant<QuantizedMatmul, QuantizedMaxPool, QuantizedAvgPool,
                                    QuantizedFlatten, QuantizedGlobalAvgPool, QuantizedResidual> {
  using variant::variant;
};

struct NoOutputObserver {
  void operator()(const Tensor<uint8_t>& /*codes*/, QuantParams /*params*/) const noexcept {}
};

class QuantizedSequential {
 public:
  QuantParams input;  // of the float input's quantization
  std::vector<QuantizedStep> steps;

  // Logits of a float batch ([N, H, W, C] or [N, F]).
  // With `on_output`, called as on_output(codes, params) after each requantizing step and each
  // residual add, in model order (a block's body, then its shortcut, then its add), so that
  // calibration reports can compare every quantized layer output with float.
  template <class OnOutput = NoOutputObserver>
  Tensor<float> forward(const Tensor<float>& x, ParallelForHook executor = {},
                        OnOutput&& on_output = {}) const {
    auto quantizer = Quantizer<uint8_t>::create(input);
    Tensor<uint8_t> q(x.dims, std::vector<uint8_t>(x.size()));
    quantizer.quantize(x.data, q.data);
    Tensor<float> logits;
    run_steps(steps, q, logits, executor, on_output);
    if (logits.dims.empty())
      fail(Errc::invalid_argument, "QuantizedSequential: no dequantizing last step");
    return logits;
  }

  // Bytes of the weights as stored (codes at their bit width, scales, bias).
  std::size_t weight_bytes() const noexcept { return weight_bytes(steps); }

 private:
  static std::size_t weight_bytes(const std::vector<QuantizedStep>& chain) noexcept {
    std::size_t bytes = 0;
    for (const QuantizedStep& step : chain) {
      if (const auto* m = std::get_if<QuantizedMatmul>(&step)) {
        bytes += (m->weight_codes.size() * static_cast<std::size_t>(m->bits) + 7) / 8;
        bytes += m->out_channels * (sizeof(float) + sizeof(int32_t));
      } else if (const auto* r = std::get_if<QuantizedResidual>(&step)) {
        bytes += weight_bytes(r->body) + weight_bytes(r->shortcut);
      }
    }
    return bytes;
  }

  // Runs `chain` on q; a dequantizing step writes `logits` instead.
  template <class OnOutput>
  static void run_steps(const std::vector<QuantizedStep>& chain, Tensor<uint8_t>& q,
                        Tensor<float>& logits, ParallelForHook executor, OnOutput& on_output) {
    for (const QuantizedStep& step : chain) {
      if (const auto* m = std::get_if<QuantizedMatmul>(&step)) {
        if (m->dequantize) {
          logits = run_dequantizing(*m, q, executor);
        } else {
          q = run(*m, q, executor);
          on_output(static_cast<const Tensor<uint8_t>&>(q), m->output);
        }
      } else if (const auto* r = std::get_if<QuantizedResidual>(&step)) {
        Tensor<uint8_t> body = q;
        run_steps(r->body, body, logits, executor, on_output);
        run_steps(r->shortcut, q, logits, executor, on_output);
        if (body.dims != q.dims) {
          fail(Errc::shape_mismatch, "QuantizedSequential: a residual's branches differ in shape");
        }
        qinfer::add<uint8_t>(r->add, body.data, q.data, q.data, executor);
        on_output(static_cast<const Tensor<uint8_t>&>(q), r->output);
      } else if (const auto* p = std::get_if<QuantizedMaxPool>(&step)) {
        q = run(*p, q, executor);
      } else if (const auto* a = std::get_if<QuantizedAvgPool>(&step)) {
        q = run(*a, q, executor);
      } else if (std::holds_alternative<QuantizedGlobalAvgPool>(step)) {
        q = global_average(q, executor);
      } else {
        const std::size_t n = q.dims.at(0);
        q.dims = {n, n == 0 ? 0 : q.size() / n};
      }
    }
  }

  // A linear step's input as the GEMM's A operand, and its output's dimensions.
  static MatrixView<const uint8_t> linear_input(const QuantizedMatmul& m,
                                                const Tensor<uint8_t>& x) {
    if (x.rank() != 2 || x.dims[1] != m.in_channels) {
      fail(Errc::shape_mismatch, "QuantizedSequential: linear input must be [N, in]");
    }
    return row_major(x.data.data(), x.dims[0], m.in_channels);
  }

  static Tensor<uint8_t> global_average(const Tensor<uint8_t>& x, ParallelForHook executor) {
    if (x.rank() != 4) {
      fail(Errc::shape_mismatch,
           "QuantizedSequential: global average pool input must be [N, H, W, C]");
    }
    Tensor<uint8_t> y({x.dims[0], x.dims[3]}, std::vector<uint8_t>(x.dims[0] * x.dims[3]));
    global_avg_pool2d<uint8_t>(x.dims[0], x.dims[1], x.dims[2], x.dims[3], x.data, y.data, {0, 255},
                               executor);
    return y;
  }

  // A convolution step: square kernel, symmetric padding, no dilation.
  template <class Stage>
  static Tensor<typename Stage::Output> run_conv(const QuantizedMatmul& m, const Tensor<uint8_t>& x,
                                                 const Stage& stage, ParallelForHook executor) {
    if (x.rank() != 4 || x.dims[3] != m.in_channels) {
      fail(Errc::shape_mismatch,
           "QuantizedSequential: convolution input must be [N, H, W, in channels]");
    }
    const reference::Conv2dShape shape{x.dims[0],
                                       m.in_channels,
                                       m.out_channels,
                                       m.conv.filter.groups,
                                       {x.dims[1], m.kernel, m.stride, 1, m.padding, m.padding},
                                       {x.dims[2], m.kernel, m.stride, 1, m.padding, m.padding}};
    reference::Conv2dSizes sizes;
    if (auto s = reference::conv2d_sizes(shape, sizes); !s) fail(s);
    Tensor<typename Stage::Output> y(
        {x.dims[0], shape.h.output(), shape.w.output(), m.out_channels},
        std::vector<typename Stage::Output>(sizes.output));
    conv2d(shape, Span<const uint8_t>(x.data), m.input.zero_point, m.conv, stage,
           Span<typename Stage::Output>(y.data), executor);
    return y;
  }

  template <class Stage>
  static Tensor<typename Stage::Output> run_step(const QuantizedMatmul& m, const Tensor<uint8_t>& x,
                                                 const Stage& stage, ParallelForHook executor) {
    if (m.kernel > 0) return run_conv(m, x, stage, executor);
    const MatrixView<const uint8_t> a = linear_input(m, x);
    Tensor<typename Stage::Output> y({a.rows, m.out_channels},
                                     std::vector<typename Stage::Output>(a.rows * m.out_channels));
    gemm(a, m.input.zero_point, m.weights, stage, row_major(y.data.data(), a.rows, m.out_channels),
         executor);
    return y;
  }

  static Tensor<uint8_t> run(const QuantizedMatmul& m, const Tensor<uint8_t>& x,
                             ParallelForHook executor) {
    return run_step(
        m, x,
        RequantizeFloat<uint8_t>{m.multipliers, m.output.zero_point, m.clamp_min, m.clamp_max},
        executor);
  }

  static Tensor<float> run_dequantizing(const QuantizedMatmul& m, const Tensor<uint8_t>& x,
                                        ParallelForHook executor) {
    return run_step(m, x, DequantizeFloat{m.multipliers}, executor);
  }

  static Tensor<uint8_t> run(const QuantizedAvgPool& p, const Tensor<uint8_t>& x,
                             ParallelForHook executor) {
    if (x.rank() != 4) {
      fail(Errc::shape_mismatch, "QuantizedSequential: average pool input must be [N, H, W, C]");
    }
    Pool2dShape shape;
    shape.batch = x.dims[0];
    shape.channels = x.dims[3];
    shape.h = {x.dims[1], p.kernel, p.stride, 1, p.padding, p.padding};
    shape.w = {x.dims[2], p.kernel, p.stride, 1, p.padding, p.padding};
    shape.count_include_pad = p.count_include_pad;
    shape.zero_point = p.zero_point;
    if (auto s = shape.h.check("QuantizedSequential: average pool window does not fit"); !s) {
      fail(s);
    }
    if (auto s = shape.w.check("QuantizedSequential: average pool window does not fit"); !s) {
      fail(s);
    }
    Tensor<uint8_t> y({x.dims[0], shape.h.output(), shape.w.output(), x.dims[3]}, {});
    y.data.resize(y.dims[0] * y.dims[1] * y.dims[2] * y.dims[3]);
    avg_pool2d<uint8_t>(shape, x.data, y.data, {0, 255}, executor);
    return y;
  }

  static Tensor<uint8_t> run(const QuantizedMaxPool& p, const Tensor<uint8_t>& x,
                             ParallelForHook executor) {
    if (x.rank() != 4) {
      fail(Errc::shape_mismatch, "QuantizedSequential: max pool input must be [N, H, W, C]");
    }
    // Pooling the codes is exact: max commutes with a monotonic quantization.
    Pool2dShape shape;
    shape.batch = x.dims[0];
    shape.channels = x.dims[3];
    shape.h = {x.dims[1], p.kernel, p.stride};
    shape.w = {x.dims[2], p.kernel, p.stride};
    if (auto s = shape.h.check("QuantizedSequential: max pool window does not fit"); !s) fail(s);
    if (auto s = shape.w.check("QuantizedSequential: max pool window does not fit"); !s) fail(s);
    Tensor<uint8_t> y({x.dims[0], shape.h.output(), shape.w.output(), x.dims[3]}, {});
    y.data.resize(y.dims[0] * y.dims[1] * y.dims[2] * y.dims[3]);
    max_pool2d<uint8_t>(shape, x.data, y.data, {0, 255}, executor);
    return y;
  }
};

}  // namespace qinfer::nn
