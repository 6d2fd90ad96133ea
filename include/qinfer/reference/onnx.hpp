// SPDX-License-Identifier: Apache-2.0
//
// ONNX operators with ONNX semantics (opset 13 QuantizeLinear/DequantizeLinear, opset 11
// DynamicQuantizeLinear, opset 10 MatMulInteger/QLinearMatMul/ConvInteger/QLinearConv), on
// owning tensors in ONNX layouts (NCHW activations, OIHW weights). They are conformance
// references built on the NHWC reference kernels, converting layouts on the way in and out;
// tests/reference/onnx_conformance.cpp runs ONNX's own node tests through them.
//
// An optional input (a zero point, a bias) is an empty Tensor. Scales are float, zero points
// have the quantized type; per-axis parameters are 1-D tensors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/layout.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/core/tensor.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/quant/quantizer.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/reference/gemm.hpp"

namespace qinfer::onnx {

namespace detail {

using qinfer::detail::check_finite;

template <class T>
Status check_tensor(const Tensor<T>& t, const char* message) noexcept {
  std::size_t count = 1;
  for (std::size_t d : t.dims) {
    if (!checked_mul(count, d, count)) return {Errc::size_overflow, message};
  }
  return count == t.data.size() ? Status{} : Status(Errc::shape_mismatch, message);
}

inline Status normalize_axis(int64_t axis, std::size_t rank, std::size_t& out) noexcept {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) return {Errc::invalid_argument, "axis out of range"};
  out = static_cast<std::size_t>(axis < 0 ? axis + r : axis);
  return {};
}

// Per-tensor (one value) or per-axis (1-D of the axis extent) parameters.
template <class T>
Status check_axis_param(const Tensor<T>& p, std::size_t extent, const char* message) noexcept {
  const bool per_tensor = p.data.size() == 1 && p.rank() <= 1;
  const bool per_axis = p.rank() == 1 && p.data.size() == extent;
  return per_tensor || per_axis ? Status{} : Status(Errc::shape_mismatch, message);
}

inline Status check_scales(const Tensor<float>& scales, const char* message) noexcept {
  for (float s : scales.data) {
    if (!is_valid_scale(s)) return {Errc::invalid_scale, message};
  }
  return {};
}

template <class T>
T value_at(const Tensor<T>& t, std::size_t i, T absent) noexcept {
  return t.data.empty() ? absent : t.data[t.data.size() == 1 ? 0 : i];
}

// Element-wise over an axis layout with parameters indexed by the axis coordinate.
template <class Fn>
void for_each_axis_run(AxisLayout l, Fn&& fn) {
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t c = 0; c < l.extent; ++c) fn((o * l.extent + c) * l.inner, l.inner, c);
  }
}

// The runs sharing parameters: the whole tensor for per-tensor parameters (ONNX ignores axis
// then), the blocks along `axis` otherwise.
template <class T>
Status layout_for(const Tensor<T>& x, const Tensor<float>& scale, int64_t axis,
                  AxisLayout& layout) noexcept {
  layout = {};
  if (scale.data.size() == 1 && scale.rank() <= 1) {
    layout.inner = x.data.size();
    return {};
  }
  std::size_t ax = 0;
  if (auto s = normalize_axis(axis, x.rank(), ax); !s) return s;
  layout.extent = x.dims[ax];
  for (std::size_t d = 0; d < x.rank(); ++d) {
    if (d < ax) layout.outer *= x.dims[d];
    if (d > ax) layout.inner *= x.dims[d];
  }
  return {};
}

}  // namespace detail

// QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor or per
// `axis`. An absent zero point means 0.
template <class Q>
Result<Tensor<Q>> quantize_linear(const Tensor<float>& x, const Tensor<float>& y_scale,
                                  const Tensor<Q>& y_zero_point = {}, int64_t axis = 1) {
  using R = Tensor<Q>;
  if (auto s = detail::check_tensor(x, "QuantizeLinear: x's data does not match its shape"); !s) {
    return fail<R>(s);
  }
  AxisLayout layout;
  if (auto s = detail::layout_for(x, y_scale, axis, layout); !s) return fail<R>(s);
  if (auto s = detail::check_axis_param(y_scale, layout.extent, "QuantizeLinear: y_scale shape");
      !s) {
    return fail<R>(s);
  }
  if (!y_zero_point.empty()) {
    if (auto s = detail::check_axis_param(y_zero_point, layout.extent,
                                          "QuantizeLinear: y_zero_point shape");
        !s) {
      return fail<R>(s);
    }
  }
  if (auto s = detail::check_scales(y_scale, "QuantizeLinear: y_scale must be finite and > 0");
      !s) {
    return fail<R>(s);
  }
  R y{x.dims, std::vector<Q>(x.data.size())};
  detail::for_each_axis_run(layout, [&](std::size_t offset, std::size_t length, std::size_t c) {
    const QuantizeRange range{detail::value_at(y_scale, c, 1.0f),
                              int32_t{detail::value_at(y_zero_point, c, Q{0})},
                              StorageTraits<Q>::min, StorageTraits<Q>::max};
    quantize_n<Q, RoundHalfToEven>(x.data.data() + offset, length, y.data.data() + offset, range);
  });
  return y;
}

// DequantizeLinear: y = (x - x_zero_point) * x_scale, per tensor or per `axis`. For int32 input
// the zero point must be 0 (ONNX).
template <class Q>
Result<Tensor<float>> dequantize_linear(const Tensor<Q>& x, const Tensor<float>& x_scale,
                                        const Tensor<Q>& x_zero_point = {}, int64_t axis = 1) {
  using R = Tensor<float>;
  if (auto s = detail::check_tensor(x, "DequantizeLinear: x's data does not match its shape"); !s) {
    return fail<R>(s);
  }
  AxisLayout layout;
  if (auto s = detail::layout_for(x, x_scale, axis, layout); !s) return fail<R>(s);
  if (auto s = detail::check_axis_param(x_scale, layout.extent, "DequantizeLinear: x_scale shape");
      !s) {
    return fail<R>(s);
  }
  if (!x_zero_point.empty()) {
    if (auto s = detail::check_axis_param(x_zero_point, layout.extent,
                                          "DequantizeLinear: x_zero_point shape");
        !s) {
      return fail<R>(s);
    }
    if constexpr (std::is_same_v<Q, int32_t>) {
      for (int32_t v : x_zero_point.data) {
        if (v != 0)
          return fail<R>(Errc::invalid_zero_point, "DequantizeLinear: int32 zero point must be 0");
      }
    }
  }
  if (auto s = detail::check_scales(x_scale, "DequantizeLinear: x_scale must be finite and > 0");
      !s) {
    return fail<R>(s);
  }
  R y{x.dims, std::vector<float>(x.data.size())};
  detail::for_each_axis_run(layout, [&](std::size_t offset, std::size_t length, std::size_t c) {
    const QuantParams p{detail::value_at(x_scale, c, 1.0f),
                        int32_t{detail::value_at(x_zero_point, c, Q{0})}};
    dequantize_n(x.data.data() + offset, length, y.data.data() + offset, p);
  });
  return y;
}

struct DynamicQuantized {
  Tensor<uint8_t> y;
  float y_scale = 1.0f;
  uint8_t y_zero_point = 0;
};

// DynamicQuantizeLinear, computed in float32 as the ONNX function body does:
//   x_min = min(0, min(x)), x_max = max(0, max(x)), y_scale = (x_max - x_min) / 255,
//   y_zero_point = saturate(round_half_even(0 - x_min / y_scale)),
//   y = saturate(round_half_even(x / y_scale) + y_zero_point).
// An all-zero x (where ONNX would divide by a zero scale) gives scale 1 and zero point 0, as
// ONNX Runtime does. x must be finite.
inline Result<DynamicQuantized> dynamic_quantize_linear(const Tensor<float>& x) {
  using R = DynamicQuantized;
  if (auto s = detail::check_tensor(x, "DynamicQuantizeLinear: x's data does not match its shape");
      !s) {
    return fail<R>(s);
  }
  if (auto s = detail::check_finite(x.data, "DynamicQuantizeLinear: x holds NaN or Inf"); !s) {
    return fail<R>(s);
  }
  float lo = 0.0f;
  float hi = 0.0f;
  for (float v : x.data) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  R out;
  if (hi > lo) {
    out.y_scale = (hi - lo) / 255.0f;
    const float zp = std::nearbyint(0.0f - lo / out.y_scale);
    out.y_zero_point = static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, zp)));
  }
  out.y = {x.dims, std::vector<uint8_t>(x.data.size())};
  quantize_n<uint8_t, RoundHalfToEven>(x.data.data(), x.data.size(), out.y.data.data(),
                                       {out.y_scale, out.y_zero_point, 0, 255});
  return out;
}

namespace detail {

// numpy.matmul geometry: batch dimensions broadcast, 1-D operands promoted and their unit
// dimension dropped from the output.
struct MatmulPlan {
  std::size_t m = 0;
  std::size_t k = 0;
  std::size_t n = 0;
  std::vector<std::size_t> out_dims;
  std::vector<std::size_t> a_offsets;  // per output batch: element offset of its A matrix
  std::vector<std::size_t> b_offsets;
};

inline Status plan_matmul(const std::vector<std::size_t>& a_dims,
                          const std::vector<std::size_t>& b_dims, MatmulPlan& plan) {
  if (a_dims.empty() || b_dims.empty()) {
    return {Errc::shape_mismatch, "MatMul: operands must have rank >= 1"};
  }
  std::vector<std::size_t> a = a_dims.size() == 1 ? std::vector<std::size_t>{1, a_dims[0]} : a_dims;
  std::vector<std::size_t> b = b_dims.size() == 1 ? std::vector<std::size_t>{b_dims[0], 1} : b_dims;
  plan.m = a[a.size() - 2];
  plan.k = a.back();
  plan.n = b.back();
  if (b[b.size() - 2] != plan.k) return {Errc::shape_mismatch, "MatMul: inner dimensions differ"};
  const std::size_t a_batch_rank = a.size() - 2;
  const std::size_t b_batch_rank = b.size() - 2;
  const std::size_t rank = std::max(a_batch_rank, b_batch_rank);
  std::vector<std::size_t> batch(rank);
  std::vector<std::size_t> a_stride(rank, 0), b_stride(rank, 0);
  std::size_t a_step = plan.m * plan.k;
  std::size_t b_step = plan.k * plan.n;
  for (std::size_t i = rank; i-- > 0;) {
    const std::size_t from_end = rank - 1 - i;
    const std::size_t ad = from_end < a_batch_rank ? a[a_batch_rank - 1 - from_end] : 1;
    const std::size_t bd = from_end < b_batch_rank ? b[b_batch_rank - 1 - from_end] : 1;
    if (ad != bd && ad != 1 && bd != 1) {
      return {Errc::shape_mismatch, "MatMul: batch dimensions do not broadcast"};
    }
    batch[i] = std::max(ad, bd);
    if (ad == 0 || bd == 0) batch[i] = 0;
    a_stride[i] = ad == 1 ? 0 : a_step;
    b_stride[i] = bd == 1 ? 0 : b_step;
    a_step *= ad;
    b_step *= bd;
  }
  std::size_t batches = 1;
  for (std::size_t d : batch) batches *= d;
  plan.a_offsets.assign(batches, 0);
  plan.b_offsets.assign(batches, 0);
  for (std::size_t flat = 0; flat < batches; ++flat) {
    std::size_t rest = flat;
    for (std::size_t i = rank; i-- > 0;) {
      const std::size_t idx = rest % batch[i];
      rest /= batch[i];
      plan.a_offsets[flat] += idx * a_stride[i];
      plan.b_offsets[flat] += idx * b_stride[i];
    }
  }
  plan.out_dims = batch;
  if (a_dims.size() > 1) plan.out_dims.push_back(plan.m);
  if (b_dims.size() > 1) plan.out_dims.push_back(plan.n);
  return {};
}

// Runs the reference GEMM for every batch and row; a_zero_point may hold one entry per row of
// A (MatMulInteger's per-row form).
template <class TA, class TB, class Stage>
Status run_matmul(const Tensor<TA>& a, const Tensor<TB>& b, const Tensor<TA>& a_zero_point,
                  const Tensor<TB>& b_zero_point, const Stage& stage,
                  Tensor<typename Stage::Output>& out) {
  if (auto s = check_tensor(a, "MatMul: A's data does not match its shape"); !s) return s;
  if (auto s = check_tensor(b, "MatMul: B's data does not match its shape"); !s) return s;
  MatmulPlan plan;
  if (auto s = plan_matmul(a.dims, b.dims, plan); !s) return s;
  if (auto s = check_axis_param(a_zero_point.empty() ? Tensor<TA>::scalar(0) : a_zero_point, plan.m,
                                "MatMul: a_zero_point must be a scalar or have M entries");
      !s) {
    return s;
  }
  if (auto s = check_axis_param(b_zero_point.empty() ? Tensor<TB>::scalar(0) : b_zero_point, plan.n,
                                "MatMul: b_zero_point must be a scalar or have N entries");
      !s) {
    return s;
  }
  std::vector<int32_t> b_zps(b_zero_point.data.begin(), b_zero_point.data.end());
  if (b_zps.empty()) b_zps.push_back(0);
  out = {plan.out_dims,
         std::vector<typename Stage::Output>(plan.a_offsets.size() * plan.m * plan.n)};
  for (std::size_t batch = 0; batch < plan.a_offsets.size(); ++batch) {
    for (std::size_t row = 0; row < plan.m; ++row) {
      const MatrixView<const TA> a_row{a.data.data() + plan.a_offsets[batch] + row * plan.k, 1,
                                       plan.k, plan.k, 1};
      const MatrixView<const TB> b_mat{b.data.data() + plan.b_offsets[batch], plan.k, plan.n,
                                       plan.n, 1};
      const MatrixView<typename Stage::Output> c_row{
          out.data.data() + (batch * plan.m + row) * plan.n, 1, plan.n, plan.n, 1};
      const reference::GemmOffsets offsets{int32_t{value_at(a_zero_point, row, TA{0})}, b_zps, {}};
      if (auto s = reference::validate_gemm(a_row, b_mat, offsets, stage, c_row); !s) return s;
      reference::gemm_unchecked(a_row, b_mat, offsets, stage, c_row);
    }
  }
  return {};
}

}  // namespace detail

// MatMulInteger: int32 (A - a_zero_point) x (B - b_zero_point) with numpy.matmul broadcasting;
// a_zero_point is a scalar or per row of A, b_zero_point a scalar or per column of B.
template <class TA, class TB>
Result<Tensor<int32_t>> matmul_integer(const Tensor<TA>& a, const Tensor<TB>& b,
                                       const Tensor<TA>& a_zero_point = {},
                                       const Tensor<TB>& b_zero_point = {}) {
  Tensor<int32_t> y;
  if (auto s = detail::run_matmul(a, b, a_zero_point, b_zero_point, StoreInt32{}, y); !s) {
    return fail<Tensor<int32_t>>(s);
  }
  return y;
}

// QLinearMatMul: y = saturate(round_half_even(acc * (a_scale * b_scale / y_scale)) + y_zero_point)
// with the multiplier formed in float32 as ONNX Runtime does; b_scale and b_zero_point may be
// per column.
template <class TA, class TB, class TY>
Result<Tensor<TY>> qlinear_matmul(const Tensor<TA>& a, const Tensor<float>& a_scale,
                                  const Tensor<TA>& a_zero_point, const Tensor<TB>& b,
                                  const Tensor<float>& b_scale, const Tensor<TB>& b_zero_point,
                                  const Tensor<float>& y_scale, const Tensor<TY>& y_zero_point) {
  using R = Tensor<TY>;
  for (const Tensor<float>* s : {&a_scale, &b_scale, &y_scale}) {
    if (s->data.empty()) return fail<R>(Errc::shape_mismatch, "QLinearMatMul: a scale is missing");
    if (auto st = detail::check_scales(*s, "QLinearMatMul: scales must be finite and > 0"); !st) {
      return fail<R>(st);
    }
  }
  if (a_scale.data.size() != 1 || y_scale.data.size() != 1 || y_zero_point.data.size() > 1) {
    return fail<R>(Errc::shape_mismatch, "QLinearMatMul: a and y parameters must be scalars");
  }
  const std::size_t n = b.dims.empty() ? 0 : (b.dims.size() == 1 ? 1 : b.dims.back());
  if (auto s = detail::check_axis_param(
          b_scale, n, "QLinearMatMul: b_scale must be a scalar or have N entries");
      !s) {
    return fail<R>(s);
  }
  std::vector<float> multipliers(b_scale.data.size());
  for (std::size_t i = 0; i < multipliers.size(); ++i) {
    multipliers[i] = a_scale.data[0] * b_scale.data[i] / y_scale.data[0];
  }
  const RequantizeFloat<TY> stage{multipliers, int32_t{detail::value_at(y_zero_point, 0, TY{0})}};
  Tensor<TY> y;
  if (auto s = detail::run_matmul(a, b, a_zero_point, b_zero_point, stage, y); !s) {
    return fail<R>(s);
  }
  return y;
}

// Attributes of ONNX Conv-family nodes; empty vectors take ONNX's defaults.
struct ConvAttributes {
  std::string auto_pad = "NOTSET";  // NOTSET, SAME_UPPER, SAME_LOWER or VALID
  std::vector<int64_t> dilations;
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> pads;  // [top, left, bottom, right]
  std::vector<int64_t> strides;
  int64_t group = 1;
};

namespace detail {

inline Status window_from(std::size_t input, std::size_t kernel, std::size_t axis,
                          const ConvAttributes& at, reference::Window1d& w) {
  auto attr = [&](const std::vector<int64_t>& v, std::size_t i, int64_t fallback,
                  std::size_t& out) -> Status {
    const int64_t value = v.empty() ? fallback : v[i];
    if (value < 0 || value > (int64_t{1} << 40))
      return {Errc::invalid_argument, "Conv: attribute out of range"};
    out = static_cast<std::size_t>(value);
    return {};
  };
  w.input = input;
  w.kernel = kernel;
  if (auto s = attr(at.strides, axis, 1, w.stride); !s) return s;
  if (auto s = attr(at.dilations, axis, 1, w.dilation); !s) return s;
  if (auto s = attr(at.pads, axis, 0, w.pad_begin); !s) return s;
  if (auto s = attr(at.pads, axis + 2, 0, w.pad_end); !s) return s;
  if (at.auto_pad == "VALID") {
    w.pad_begin = w.pad_end = 0;
  } else if (at.auto_pad == "SAME_UPPER" || at.auto_pad == "SAME_LOWER") {
    if (w.stride == 0) return {Errc::invalid_argument, "Conv: strides must be > 0"};
    const std::size_t out = (input + w.stride - 1) / w.stride;
    const std::size_t needed = (out - 1) * w.stride + (kernel - 1) * w.dilation + 1;
    const std::size_t total = needed > input ? needed - input : 0;
    w.pad_begin = at.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    w.pad_end = total - w.pad_begin;
  } else if (at.auto_pad != "NOTSET") {
    return {Errc::invalid_argument, "Conv: unknown auto_pad"};
  }
  return {};
}

// Runs a 2-D ONNX convolution (x NCHW, w OIHW) through the NHWC reference.
template <class TX, class TW, class Stage>
Status run_conv(const Tensor<TX>& x, const Tensor<TW>& w, int32_t x_zero_point,
                const std::vector<int32_t>& w_zero_points, const std::vector<int32_t>& bias,
                const ConvAttributes& at, const Stage& stage, Tensor<typename Stage::Output>& y) {
  using Out = typename Stage::Output;
  if (auto s = check_tensor(x, "Conv: x's data does not match its shape"); !s) return s;
  if (auto s = check_tensor(w, "Conv: w's data does not match its shape"); !s) return s;
  if (x.rank() != 4 || w.rank() != 4) {
    return {Errc::invalid_argument, "Conv: only 2-D convolution (rank-4 x and w) is supported"};
  }
  if ((!at.kernel_shape.empty() &&
       (at.kernel_shape.size() != 2 || at.kernel_shape[0] != static_cast<int64_t>(w.dims[2]) ||
        at.kernel_shape[1] != static_cast<int64_t>(w.dims[3]))) ||
      (!at.strides.empty() && at.strides.size() != 2) ||
      (!at.dilations.empty() && at.dilations.size() != 2) ||
      (!at.pads.empty() && at.pads.size() != 4)) {
    return {Errc::shape_mismatch, "Conv: attribute lengths do not match a 2-D convolution"};
  }
  if (at.group < 1) return {Errc::invalid_argument, "Conv: group must be >= 1"};
  reference::Conv2dShape shape;
  shape.batch = x.dims[0];
  shape.in_c = x.dims[1];
  shape.out_c = w.dims[0];
  shape.groups = static_cast<std::size_t>(at.group);
  if (w.dims[1] * shape.groups != shape.in_c) {
    return {Errc::shape_mismatch, "Conv: w's second dimension must be C / group"};
  }
  if (auto s = window_from(x.dims[2], w.dims[2], 0, at, shape.h); !s) return s;
  if (auto s = window_from(x.dims[3], w.dims[3], 1, at, shape.w); !s) return s;
  reference::Conv2dSizes sizes;
  if (auto s = reference::conv2d_sizes(shape, sizes); !s) return s;

  std::vector<TX> x_nhwc(x.data.size());
  std::vector<TW> w_ohwi(w.data.size());
  std::vector<Out> y_nhwc(sizes.output);
  qinfer::detail::transpose_inner(x.data.data(), shape.batch, shape.in_c,
                                  shape.h.input * shape.w.input, x_nhwc.data());
  qinfer::detail::transpose_inner(w.data.data(), shape.out_c, shape.in_c_per_group(),
                                  shape.h.kernel * shape.w.kernel, w_ohwi.data());
  const reference::GemmOffsets offsets{x_zero_point, w_zero_points, bias};
  if (auto s = reference::validate_conv2d(shape, Span<const TX>(x_nhwc), Span<const TW>(w_ohwi),
                                          offsets, stage, Span<Out>(y_nhwc));
      !s) {
    return s;
  }
  reference::conv2d_unchecked(shape, x_nhwc.data(), w_ohwi.data(), offsets, stage, y_nhwc.data());
  const std::size_t out_spatial = shape.h.output() * shape.w.output();
  y = {{shape.batch, shape.out_c, shape.h.output(), shape.w.output()},
       std::vector<Out>(y_nhwc.size())};
  qinfer::detail::transpose_inner(y_nhwc.data(), shape.batch, out_spatial, shape.out_c,
                                  y.data.data());
  return {};
}

template <class T>
std::vector<int32_t> widen(const Tensor<T>& t, int32_t absent) {
  if (t.data.empty()) return {absent};
  return {t.data.begin(), t.data.end()};
}

}  // namespace detail

// ConvInteger: int32 convolution of (x - x_zero_point) and (w - w_zero_point), NCHW / OIHW;
// w_zero_point is a scalar or per output channel.
template <class TX, class TW>
Result<Tensor<int32_t>> conv_integer(const Tensor<TX>& x, const Tensor<TW>& w,
                                     const Tensor<TX>& x_zero_point = {},
                                     const Tensor<TW>& w_zero_point = {},
                                     const ConvAttributes& attributes = {}) {
  using R = Tensor<int32_t>;
  if (x_zero_point.data.size() > 1) {
    return fail<R>(Errc::shape_mismatch, "ConvInteger: x_zero_point must be a scalar");
  }
  Tensor<int32_t> y;
  if (auto s = detail::run_conv(x, w, detail::widen(x_zero_point, 0)[0],
                                detail::widen(w_zero_point, 0), {}, attributes, StoreInt32{}, y);
      !s) {
    return fail<R>(s);
  }
  return y;
}

// QLinearConv: y = saturate(round_half_even((acc + B) * (x_scale * w_scale / y_scale)) + y_zp),
// multiplier formed in float32 per output channel.
template <class TX, class TW, class TY>
Result<Tensor<TY>> qlinear_conv(const Tensor<TX>& x, const Tensor<float>& x_scale,
                                const Tensor<TX>& x_zero_point, const Tensor<TW>& w,
                                const Tensor<float>& w_scale, const Tensor<TW>& w_zero_point,
                                const Tensor<float>& y_scale, const Tensor<TY>& y_zero_point,
                                const Tensor<int32_t>& bias = {},
                                const ConvAttributes& attributes = {}) {
  using R = Tensor<TY>;
  for (const Tensor<float>* s : {&x_scale, &w_scale, &y_scale}) {
    if (s->data.empty()) return fail<R>(Errc::shape_mismatch, "QLinearConv: a scale is missing");
    if (auto st = detail::check_scales(*s, "QLinearConv: scales must be finite and > 0"); !st) {
      return fail<R>(st);
    }
  }
  if (x_scale.data.size() != 1 || y_scale.data.size() != 1 || x_zero_point.data.size() > 1 ||
      y_zero_point.data.size() > 1) {
    return fail<R>(Errc::shape_mismatch, "QLinearConv: x and y parameters must be scalars");
  }
  std::vector<float> multipliers(w_scale.data.size());
  for (std::size_t i = 0; i < multipliers.size(); ++i) {
    multipliers[i] = x_scale.data[0] * w_scale.data[i] / y_scale.data[0];
  }
  const RequantizeFloat<TY> stage{multipliers, int32_t{detail::value_at(y_zero_point, 0, TY{0})}};
  Tensor<TY> y;
  const std::vector<int32_t> b(bias.data.begin(), bias.data.end());
  if (auto s = detail::run_conv(x, w, detail::widen(x_zero_point, 0)[0],
                                detail::widen(w_zero_point, 0), b, attributes, stage, y);
      !s) {
    return fail<R>(s);
  }
  return y;
}

}  // namespace qinfer::onnx
