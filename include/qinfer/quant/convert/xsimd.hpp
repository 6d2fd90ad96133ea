// SPDX-License-Identifier: Apache-2.0
//
// Conversions vectorized with xsimd for the ISA the translation unit is compiled for (SSE2 on a
// default x86-64 build, NEON on AArch64). Bit-exact with convert/scalar.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/simd.hpp"
#include "qinfer/quant/convert/scalar.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/rounding.hpp"

#if QINFER_USE_XSIMD
namespace qinfer::convert::portable {

using FloatBatch = xsimd::batch<float>;
using IntBatch = xsimd::batch<int32_t>;
static_assert(FloatBatch::size == IntBatch::size, "xsimd float and int32 batches must match");
inline constexpr std::size_t lanes = FloatBatch::size;
// Elements narrowed or widened through a stack buffer at a time: xsimd 8 has no saturating
// pack, so conversions between int32 lanes and 8-bit storage go through a loop the compiler
// vectorizes. 256 keeps the buffer in L1 and amortizes the loop overhead.
inline constexpr std::size_t chunk = 256;

// Rounded levels of clamped values v, and in `near` the lanes that are NaN or within delta of
// a rounding boundary (convert/scalar.hpp).
inline IntBatch round_to_int(RoundHalfToEven, FloatBatch v, FloatBatch delta,
                             xsimd::batch_bool<float>& near) noexcept {
  const IntBatch k = xsimd::nearbyint_as_int(v);  // cvtps2dq / fcvtns: ties to even
  near = !(xsimd::abs(v - xsimd::batch_cast<float>(k)) < FloatBatch(0.5f) - delta);
  return k;
}

// trunc(v) plus one step away from zero when the dropped fraction is at least one half; v - t
// is exact because both share an exponent range.
inline IntBatch round_to_int(RoundHalfAwayFromZero, FloatBatch v, FloatBatch delta,
                             xsimd::batch_bool<float>& near) noexcept {
  const FloatBatch t = xsimd::trunc(v);
  const FloatBatch f = v - t;
  const FloatBatch one(1.0f), zero(0.0f);
  near = !(xsimd::abs(xsimd::abs(f) - FloatBatch(0.5f)) > delta);
  return xsimd::batch_cast<int32_t>(t + xsimd::select(f >= FloatBatch(0.5f), one, zero) -
                                    xsimd::select(f <= FloatBatch(-0.5f), one, zero));
}

template <class Rounding>
IntBatch levels(FloatBatch v, FloatBatch lo, FloatBatch hi, FloatBatch delta,
                xsimd::batch_bool<float>& near) noexcept {
  // min and max treat NaN differently per ISA; NaN lanes are sent to the division explicitly.
  const xsimd::batch_bool<float> nan = v != v;
  const IntBatch k = round_to_int(Rounding{}, xsimd::min(xsimd::max(v, lo), hi), delta, near);
  near = near || nan;
  return k;
}

template <class Storage, class Rounding>
void quantize(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  const FloatBatch inverse(1.0f / r.scale);
  const FloatBatch delta(near_tie_delta(r));
  const FloatBatch lo(static_cast<float>(r.qmin - r.zero_point));
  const FloatBatch hi(static_cast<float>(r.qmax - r.zero_point));
  const IntBatch zero_point(r.zero_point);
  alignas(64) int32_t buffer[chunk];
  std::size_t i = 0;
  for (; i + chunk <= n; i += chunk) {
    for (std::size_t j = 0; j < chunk; j += lanes) {
      const FloatBatch v = FloatBatch::load_unaligned(x + i + j);
      xsimd::batch_bool<float> near;
      const IntBatch k = levels<Rounding>(v * inverse, lo, hi, delta, near);
      if (xsimd::any(near)) {
        // The exact quotient, lane by lane: xsimd 8.1's float division on AArch64 is a
        // reciprocal estimate refined by Newton steps, not a correctly rounded division.
        for (std::size_t l = 0; l < lanes; ++l) {
          buffer[j + l] = quantize_level<Rounding>(x[i + j + l], r);
        }
        continue;
      }
      (k + zero_point).store_aligned(buffer + j);
    }
    for (std::size_t j = 0; j < chunk; ++j) q[i + j] = static_cast<Storage>(buffer[j]);
  }
  quantize_scalar<Storage, Rounding>(x + i, n - i, q + i, r);
}

template <class Storage>
void dequantize(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  const FloatBatch scale(p.scale);
  const IntBatch zero_point(p.zero_point);
  alignas(64) int32_t buffer[chunk];
  std::size_t i = 0;
  for (; i + chunk <= n; i += chunk) {
    for (std::size_t j = 0; j < chunk; ++j) buffer[j] = q[i + j];
    for (std::size_t j = 0; j < chunk; j += lanes) {
      const IntBatch v = IntBatch::load_aligned(buffer + j) - zero_point;
      (xsimd::batch_cast<float>(v) * scale).store_unaligned(x + i + j);
    }
  }
  dequantize_scalar(q + i, n - i, x + i, p);
}

// Requantization with the float stage (quant/output_stage.hpp), per-tensor or per-channel.
template <class Out>
void requantize(const int32_t* acc, std::size_t rows, std::size_t channels,
                const RequantizeFloat<Out>& stage, Out* out, RowStrides strides) noexcept {
  const bool per_tensor = stage.multipliers.size() == 1;
  const FloatBatch lo(static_cast<float>(stage.min - stage.zero_point));
  const FloatBatch hi(static_cast<float>(stage.max - stage.zero_point));
  const IntBatch zero_point(stage.zero_point);
  alignas(64) int32_t levels[lanes];
  for (std::size_t r = 0; r < rows; ++r) {
    const int32_t* row = acc + r * strides.acc;
    Out* dst = out + r * strides.out;
    const std::size_t vector_end = channels - channels % lanes;
    for (std::size_t c = 0; c < vector_end; c += lanes) {
      const FloatBatch m = per_tensor ? FloatBatch(stage.multipliers[0])
                                      : FloatBatch::load_unaligned(stage.multipliers.data() + c);
      FloatBatch v = xsimd::batch_cast<float>(IntBatch::load_unaligned(row + c)) * m;
      v = xsimd::min(xsimd::max(v, lo), hi);
      (xsimd::nearbyint_as_int(v) + zero_point).store_aligned(levels);
      for (std::size_t j = 0; j < lanes; ++j) dst[c + j] = static_cast<Out>(levels[j]);
    }
    for (std::size_t c = vector_end; c < channels; ++c) dst[c] = stage(row[c], c);
  }
}

}  // namespace qinfer::convert::portable
#endif
