// SPDX-License-Identifier: Apache-2.0
//
// Quantize, dequantize and requantize over contiguous buffers.
//
//   quantize:    q = saturate(round(x / scale) + zero_point)   (NaN -> zero_point)
//   dequantize:  x = float(q - zero_point) * scale
//   requantize:  out[r][c] = stage(acc[r][c], c)               (see output_stage.hpp)
//
// x / scale is a true division, as ONNX and TFLite specify: x * (1 / scale) differs from it in
// the last bit often enough to move ties. The `*_scalar` functions are the reference; the public
// functions take the xsimd path when it is enabled and produce the same bits (tests/quant).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/simd.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer {

// The integer levels a quantize call may produce and the parameters it uses.
struct QuantizeRange {
  float scale;
  int32_t zero_point;
  int32_t qmin;
  int32_t qmax;
};

template <class Storage, class Rounding = RoundHalfToEven>
void quantize_scalar(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  const auto lo = static_cast<float>(r.qmin - r.zero_point);
  const auto hi = static_cast<float>(r.qmax - r.zero_point);
  for (std::size_t i = 0; i < n; ++i) {
    q[i] = static_cast<Storage>(round_clamped<Rounding>(x[i] / r.scale, lo, hi) + r.zero_point);
  }
}

template <class Storage>
void dequantize_scalar(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(int32_t{q[i]} - p.zero_point) * p.scale;
  }
}

// Applies `stage` to a row-major [rows, channels] block of accumulators.
template <class Stage>
void requantize_scalar(const int32_t* acc, std::size_t rows, std::size_t channels,
                       const Stage& stage, typename Stage::Output* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < channels; ++c) out[r * channels + c] = stage(acc[r * channels + c], c);
  }
}

#if QINFER_USE_XSIMD
namespace simd {

using FloatBatch = xsimd::batch<float>;
using IntBatch = xsimd::batch<int32_t>;
static_assert(FloatBatch::size == IntBatch::size, "xsimd float and int32 batches must match");
inline constexpr std::size_t lanes = FloatBatch::size;
// Elements narrowed or widened through a stack buffer at a time: xsimd 8 has no saturating
// pack, so conversions between int32 lanes and 8-bit storage go through a loop the compiler
// vectorizes. 256 keeps the buffer in L1 and amortizes the loop overhead.
inline constexpr std::size_t chunk = 256;

inline IntBatch round_to_int(RoundHalfToEven, FloatBatch v) noexcept {
  return xsimd::nearbyint_as_int(v);  // cvtps2dq / fcvtns: ties to even
}

// trunc(v) plus one step away from zero when the dropped fraction is at least one half. v - t
// is exact because v and t share an exponent range.
inline IntBatch round_to_int(RoundHalfAwayFromZero, FloatBatch v) noexcept {
  const FloatBatch t = xsimd::trunc(v);
  const FloatBatch f = v - t;
  const FloatBatch one(1.0f), zero(0.0f);
  const FloatBatch r = t + xsimd::select(f >= FloatBatch(0.5f), one, zero) -
                       xsimd::select(f <= FloatBatch(-0.5f), one, zero);
  return xsimd::batch_cast<int32_t>(r);
}

template <class Storage, class Rounding>
void quantize(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  const FloatBatch scale(r.scale);
  const FloatBatch lo(static_cast<float>(r.qmin - r.zero_point));
  const FloatBatch hi(static_cast<float>(r.qmax - r.zero_point));
  const FloatBatch zero(0.0f);
  const IntBatch zero_point(r.zero_point);
  alignas(64) int32_t levels[chunk];
  std::size_t i = 0;
  for (; i + chunk <= n; i += chunk) {
    for (std::size_t j = 0; j < chunk; j += lanes) {
      FloatBatch v = FloatBatch::load_unaligned(x + i + j) / scale;
      v = xsimd::select(v != v, zero, v);  // NaN -> 0
      v = xsimd::min(xsimd::max(v, lo), hi);
      (round_to_int(Rounding{}, v) + zero_point).store_aligned(levels + j);
    }
    for (std::size_t j = 0; j < chunk; ++j) q[i + j] = static_cast<Storage>(levels[j]);
  }
  quantize_scalar<Storage, Rounding>(x + i, n - i, q + i, r);
}

template <class Storage>
void dequantize(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  const FloatBatch scale(p.scale);
  const IntBatch zero_point(p.zero_point);
  alignas(64) int32_t levels[chunk];
  std::size_t i = 0;
  for (; i + chunk <= n; i += chunk) {
    for (std::size_t j = 0; j < chunk; ++j) levels[j] = q[i + j];
    for (std::size_t j = 0; j < chunk; j += lanes) {
      const IntBatch v = IntBatch::load_aligned(levels + j) - zero_point;
      (xsimd::batch_cast<float>(v) * scale).store_unaligned(x + i + j);
    }
  }
  dequantize_scalar(q + i, n - i, x + i, p);
}

template <class Out>
void requantize(const int32_t* acc, std::size_t rows, std::size_t channels,
                const RequantizeFloat<Out>& stage, Out* out) noexcept {
  const bool per_tensor = stage.multipliers.size() == 1;
  const FloatBatch lo(static_cast<float>(stage.min - stage.zero_point));
  const FloatBatch hi(static_cast<float>(stage.max - stage.zero_point));
  const IntBatch zero_point(stage.zero_point);
  alignas(64) int32_t levels[lanes];
  for (std::size_t r = 0; r < rows; ++r) {
    const int32_t* row = acc + r * channels;
    Out* dst = out + r * channels;
    std::size_t c = 0;
    for (; c + lanes <= channels; c += lanes) {
      const FloatBatch m = per_tensor ? FloatBatch(stage.multipliers[0])
                                      : FloatBatch::load_unaligned(stage.multipliers.data() + c);
      FloatBatch v = xsimd::batch_cast<float>(IntBatch::load_unaligned(row + c)) * m;
      v = xsimd::min(xsimd::max(v, lo), hi);
      (xsimd::nearbyint_as_int(v) + zero_point).store_aligned(levels);
      for (std::size_t j = 0; j < lanes; ++j) dst[c + j] = static_cast<Out>(levels[j]);
    }
    for (; c < channels; ++c) dst[c] = stage(row[c], c);
  }
}

}  // namespace simd
#endif

// Unchecked entry points taking the xsimd path when enabled; the checked functions below and the
// quantizer types call these.
template <class Storage, class Rounding = RoundHalfToEven>
void quantize_n(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
#if QINFER_USE_XSIMD
  simd::quantize<Storage, Rounding>(x, n, q, r);
#else
  quantize_scalar<Storage, Rounding>(x, n, q, r);
#endif
}

template <class Storage>
void dequantize_n(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
#if QINFER_USE_XSIMD
  simd::dequantize(q, n, x, p);
#else
  dequantize_scalar(q, n, x, p);
#endif
}

namespace detail {
template <class In, class Out>
Status check_buffers(Span<const In> in, Span<Out> out, const char* mismatch,
                     const char* null) noexcept {
  if (in.size() != out.size()) return {Errc::shape_mismatch, mismatch};
  if (auto s = check_data(in.data(), in.size(), null); !s) return s;
  return check_data(out.data(), out.size(), null);
}
}  // namespace detail

// Quantizes x into q under `scheme` (the scheme bounds the levels: SymmetricNarrow never
// writes -128).
template <class Storage, class Rounding = RoundHalfToEven, class Scheme = Affine>
Result<void> quantize(Span<const float> x, Span<Storage> q, QuantParams p) {
  if (auto s = detail::check_buffers(x, q, "quantize: x and q differ in size",
                                     "quantize: null buffer with non-zero size");
      !s) {
    return fail(s);
  }
  if (auto s = Scheme::template check<Storage>(p); !s) return fail(s);
  const QuantizeRange r{p.scale, p.zero_point, Scheme::template qmin<Storage>,
                        Scheme::template qmax<Storage>};
  quantize_n<Storage, Rounding>(x.data(), x.size(), q.data(), r);
  return ok();
}

template <class Storage>
Result<void> dequantize(Span<const Storage> q, Span<float> x, QuantParams p) {
  if (auto s = detail::check_buffers(q, x, "dequantize: q and x differ in size",
                                     "dequantize: null buffer with non-zero size");
      !s) {
    return fail(s);
  }
  if (auto s = check_scale(p.scale, "dequantize: scale must be finite, normal and > 0"); !s) {
    return fail(s);
  }
  if (auto s = check_zero_point(p.zero_point, StorageTraits<Storage>::min,
                                StorageTraits<Storage>::max,
                                "dequantize: zero_point outside the storage type");
      !s) {
    return fail(s);
  }
  dequantize_n(q.data(), q.size(), x.data(), p);
  return ok();
}

// Applies an output stage to a row-major [rows, channels] block: acc.size() == out.size() ==
// rows * channels.
template <class Stage>
Result<void> requantize(Span<const int32_t> acc, std::size_t channels, const Stage& stage,
                        Span<typename Stage::Output> out) {
  if (auto s = detail::check_buffers(acc, out, "requantize: acc and out differ in size",
                                     "requantize: null buffer with non-zero size");
      !s) {
    return fail(s);
  }
  if (channels == 0 ? !acc.empty() : acc.size() % channels != 0) {
    return fail(Errc::shape_mismatch, "requantize: size is not a multiple of channels");
  }
  if (auto s = stage.check(channels); !s) return fail(s);
  const std::size_t rows = channels == 0 ? 0 : acc.size() / channels;
#if QINFER_USE_XSIMD
  if constexpr (std::is_same_v<Stage, RequantizeFloat<typename Stage::Output>>) {
    simd::requantize(acc.data(), rows, channels, stage, out.data());
    return ok();
  }
#endif
  requantize_scalar(acc.data(), rows, channels, stage, out.data());
  return ok();
}

}  // namespace qinfer
