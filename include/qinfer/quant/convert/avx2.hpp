// SPDX-License-Identifier: Apache-2.0
//
// AVX2 conversions, compiled through function-level target attributes so that any x86-64 build
// carries them; dispatch (quant/quantize.hpp) runs them only where cpu_features().avx2 holds.
// Bit-exact with convert/scalar.hpp; see there for the reciprocal and near-tie argument.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/quant/convert/scalar.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/requantize.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer::convert::avx2 {

struct QuantizeConstants {
  __m256 scale, inverse, lo, hi;
  __m256 tie_margin;  // 0.5 - the near-tie distance delta (convert/scalar.hpp)
};

// Levels of 8 products x * (1 / scale), unclamped and rounded to nearest even; `near` gets the
// lanes the division must redo (convert/scalar.hpp): within delta of a half-integer, NaN, or
// |v| >= 2^31, which converts to INT32_MIN and so lies far from its level. Elsewhere no
// half-integer lies within delta, so the rounding mode cannot matter.
__attribute__((target("avx2"))) inline __m256i fast_levels(__m256 v, const QuantizeConstants& c,
                                                           __m256& near) noexcept {
  const __m256i k = _mm256_cvtps_epi32(v);  // ties to even under the default MXCSR
  const __m256 e = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, _mm256_cvtepi32_ps(k)));
  near = _mm256_cmp_ps(e, c.tie_margin, _CMP_NLT_UQ);
  return k;
}

// Levels (zero point not yet added) of 8 floats by true division, clamped: NaN -> 0. NaN
// propagates through max(lo, v) and min(hi, v) (they return their second operand when one is
// NaN), so it is zeroed first.
template <class Rounding>
__attribute__((target("avx2"))) inline __m256i divided_levels(const float* x,
                                                              const QuantizeConstants& c) noexcept {
  const __m256 quotient = _mm256_div_ps(_mm256_loadu_ps(x), c.scale);
  __m256 v = _mm256_and_ps(quotient, _mm256_cmp_ps(quotient, quotient, _CMP_ORD_Q));
  v = _mm256_min_ps(c.hi, _mm256_max_ps(c.lo, v));
  if constexpr (std::is_same_v<Rounding, RoundHalfToEven>) {
    return _mm256_cvtps_epi32(v);
  } else {
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(v, t);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(f, half, _CMP_GE_OQ), one);
    const __m256 down = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(-0.5f), _CMP_LE_OQ), one);
    return _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(t, up), down));
  }
}

template <class Storage, class Rounding>
__attribute__((target("avx2"))) void quantize(const float* x, std::size_t n, Storage* q,
                                              QuantizeRange r) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  const float delta = near_tie_delta(r);
  const QuantizeConstants c{_mm256_set1_ps(r.scale), _mm256_set1_ps(1.0f / r.scale),
                            _mm256_set1_ps(static_cast<float>(r.qmin - r.zero_point)),
                            _mm256_set1_ps(static_cast<float>(r.qmax - r.zero_point)),
                            _mm256_set1_ps(0.5f - delta)};
  const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(r.zero_point));
  const __m256i qmin = _mm256_set1_epi8(static_cast<char>(r.qmin));
  const __m256i qmax = _mm256_set1_epi8(static_cast<char>(r.qmax));
  // packs_epi32 then packs_epi16 leave the four inputs' 4-lane halves interleaved per 128-bit
  // lane; this dword permutation restores element order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i k[4];
    __m256 near[4];
    for (int j = 0; j < 4; ++j) {
      k[j] = fast_levels(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), c.inverse), c, near[j]);
    }
    const __m256 any = _mm256_or_ps(_mm256_or_ps(near[0], near[1]), _mm256_or_ps(near[2], near[3]));
    if (_mm256_movemask_ps(any) != 0) {
      for (int j = 0; j < 4; ++j) {
        if (_mm256_movemask_ps(near[j]) != 0) k[j] = divided_levels<Rounding>(x + i + 8 * j, c);
      }
    }
    // The clamp runs on bytes, four vectors at a time: each step saturates into a range that
    // holds the next (int32, int16, the storage type, [qmin, qmax]), so the nested saturations
    // equal one clamp of level + zero point to [qmin, qmax].
    const __m256i k01 = _mm256_adds_epi16(_mm256_packs_epi32(k[0], k[1]), zero_point);
    const __m256i k23 = _mm256_adds_epi16(_mm256_packs_epi32(k[2], k[3]), zero_point);
    __m256i bytes;
    if constexpr (std::is_same_v<Storage, int8_t>) {
      bytes = _mm256_min_epi8(qmax, _mm256_max_epi8(qmin, _mm256_packs_epi16(k01, k23)));
    } else {
      bytes = _mm256_min_epu8(qmax, _mm256_max_epu8(qmin, _mm256_packus_epi16(k01, k23)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i),
                        _mm256_permutevar8x32_epi32(bytes, order));
  }
  quantize_scalar<Storage, Rounding>(x + i, n - i, q + i, r);
}

template <class Storage, bool Streaming>
__attribute__((target("avx2"))) void dequantize_aligned(const Storage* q, std::size_t n, float* x,
                                                        QuantParams p) noexcept {
  const __m256 scale = _mm256_set1_ps(p.scale);
  const __m256i zero_point = _mm256_set1_epi32(p.zero_point);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
    const __m256i wide =
        std::is_same_v<Storage, int8_t> ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
    const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(wide, zero_point)), scale);
    if constexpr (Streaming) {
      _mm256_stream_ps(x + i, v);
    } else {
      _mm256_store_ps(x + i, v);
    }
  }
  if constexpr (Streaming) _mm_sfence();  // order the streamed stores before any later store
  dequantize_scalar(q + i, n - i, x + i, p);
}

template <class Storage>
void dequantize(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  dequantize_aligned_vectors<32>(q, n, x, p,
                                 [](const Storage* body_q, std::size_t body_n, float* body_x,
                                    QuantParams body_p, auto streaming) {
                                   dequantize_aligned<Storage, decltype(streaming)::value>(
                                       body_q, body_n, body_x, body_p);
                                 });
}

// ---------------------------------------------------------------------------------------------
// Requantization of int32 accumulators (quant/requantize.hpp), 8 lanes at a time. The
// register-level functions are the epilogue building blocks for SIMD GEMM kernels. Lane layout
// of the 64-bit steps: _mm256_mul_epi32 multiplies the even lanes; the odd lanes are moved down
// by 32 bits first, and each result dword is blended back into its lane.

// round(a * m / 2^31), ties up, for m in [0, 2^31): quantize_multiplier never gives more, so the
// INT32_MIN * INT32_MIN saturation of the scalar version cannot arise. The result is bits 31..62
// of the nudged 64-bit product.
__attribute__((target("avx2"))) inline __m256i high_mul(__m256i a, __m256i m) noexcept {
  const __m256i nudge = _mm256_set1_epi64x(int64_t{1} << 30);
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, m), nudge);
  const __m256i odd =
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(m, 32)), nudge);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xaa);
}

// round(x / 2^e), ties away from zero, e in [0, 31] per lane.
__attribute__((target("avx2"))) inline __m256i rounding_divide_by_pot(__m256i x,
                                                                      __m256i e) noexcept {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
  const __m256i negative = _mm256_cmpgt_epi32(_mm256_setzero_si256(), x);  // -1 where x < 0
  const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), negative);
  const __m256i round_up = _mm256_cmpgt_epi32(_mm256_and_si256(x, mask), threshold);  // -1
  return _mm256_sub_epi32(_mm256_srav_epi32(x, e), round_up);
}

// x * 2^left saturated to int32, left in [0, 30] per lane.
__attribute__((target("avx2"))) inline __m256i saturating_left_shift(__m256i x,
                                                                     __m256i left) noexcept {
  const __m256i shifted = _mm256_sllv_epi32(x, left);
  const __m256i exact = _mm256_cmpeq_epi32(_mm256_srav_epi32(shifted, left), x);
  const __m256i saturated =
      _mm256_xor_si256(_mm256_set1_epi32(INT32_MAX), _mm256_srai_epi32(x, 31));
  return _mm256_blendv_epi8(saturated, shifted, exact);
}

// (p + 2^(t-1)) >> t in 64 bits, t in [1, 62] per lane, saturated to int32 (in the low dword).
// AVX2 has no 64-bit arithmetic shift: shift the value with its sign folded out, fold it back.
__attribute__((target("avx2"))) inline __m256i rounding_shift_64(__m256i p, __m256i t) noexcept {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i sum = _mm256_add_epi64(p, _mm256_sllv_epi64(one, _mm256_sub_epi64(t, one)));
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), sum);
  const __m256i shifted = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(sum, sign), t), sign);
  const __m256i high = _mm256_set1_epi64x(INT32_MAX);
  const __m256i low = _mm256_set1_epi64x(INT32_MIN);
  const __m256i below = _mm256_blendv_epi8(shifted, high, _mm256_cmpgt_epi64(shifted, high));
  return _mm256_blendv_epi8(below, low, _mm256_cmpgt_epi64(low, below));
}

// Multipliers and shifts of 8 channels.
struct MultiplierLanes {
  __m256i multiplier, shift;
};

__attribute__((target("avx2"))) inline MultiplierLanes broadcast(QuantizedMultiplier m) noexcept {
  return {_mm256_set1_epi32(m.multiplier), _mm256_set1_epi32(m.shift)};
}

// Deinterleaves 8 consecutive {multiplier, shift} pairs.
__attribute__((target("avx2"))) inline MultiplierLanes load(const QuantizedMultiplier* m) noexcept {
  static_assert(sizeof(QuantizedMultiplier) == 2 * sizeof(int32_t));
  const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i a =
      _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(m)), split);
  const __m256i b = _mm256_permutevar8x32_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 4)), split);
  return {_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31)};
}

// acc * M exactly as DoubleRounding::apply, per lane.
__attribute__((target("avx2"))) inline __m256i apply(DoubleRounding, __m256i acc,
                                                     MultiplierLanes m) noexcept {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i left = _mm256_max_epi32(m.shift, zero);
  const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, m.shift), zero);
  return rounding_divide_by_pot(high_mul(saturating_left_shift(acc, left), m.multiplier), right);
}

// acc * M exactly as SingleRounding::apply, per lane.
__attribute__((target("avx2"))) inline __m256i apply(SingleRounding, __m256i acc,
                                                     MultiplierLanes m) noexcept {
  const __m256i total = _mm256_sub_epi32(_mm256_set1_epi32(31), m.shift);
  const __m256i even = rounding_shift_64(_mm256_mul_epi32(acc, m.multiplier),
                                         _mm256_and_si256(total, _mm256_set1_epi64x(0xffffffff)));
  const __m256i odd = rounding_shift_64(
      _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(m.multiplier, 32)),
      _mm256_srli_epi64(total, 32));
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
}

// Stores 8 levels already inside Out's range.
template <class Out>
__attribute__((target("avx2"))) inline void store8(Out* dst, __m256i v) noexcept {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i bytes =
      std::is_same_v<Out, int8_t> ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
}

// The shared loop of the requantize kernels: levels(row + c, c) gives the 8 output levels
// (zero point added) of channels c .. c + 7; the stage itself finishes each row's tail.
template <class Stage, class Levels>
__attribute__((target("avx2"))) inline void requantize_rows(
    const int32_t* acc, std::size_t rows, std::size_t channels, const Stage& stage,
    typename Stage::Output* out, RowStrides strides, Levels levels) noexcept {
  const std::size_t vector_end = channels - channels % 8;
  for (std::size_t r = 0; r < rows; ++r) {
    const int32_t* row = acc + r * strides.acc;
    typename Stage::Output* dst = out + r * strides.out;
    for (std::size_t c = 0; c < vector_end; c += 8) store8(dst + c, levels(row + c, c));
    for (std::size_t c = vector_end; c < channels; ++c) dst[c] = stage(row[c], c);
  }
}

// The lanes whose index is below `count` (0..8), as a mask for the masked loads.
__attribute__((target("avx2"))) inline __m256i first_lanes(std::size_t count) noexcept {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first `count` (0..8) of 8 consecutive {multiplier, shift} pairs; the other lanes hold 0.
// The masked loads read no pair past them.
__attribute__((target("avx2"))) inline MultiplierLanes load(const QuantizedMultiplier* m,
                                                            std::size_t count) noexcept {
  const std::size_t low = count < 4 ? count : 4;
  const auto* words = reinterpret_cast<const int*>(m);
  const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i a =
      _mm256_permutevar8x32_epi32(_mm256_maskload_epi32(words, first_lanes(2 * low)), split);
  const __m256i b = _mm256_permutevar8x32_epi32(
      _mm256_maskload_epi32(words + 8, first_lanes(2 * (count - low))), split);
  return {_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31)};
}

// The bytes of packs_epi16(packs_epi32(k0, k1), packs_epi32(k2, k3)) (or packus) in the order
// of k0's 8 lanes, then k1's, k2's and k3's: the packs leave each 128-bit lane with the lower or
// upper halves of the four, which this dword permutation restores.
__attribute__((target("avx2"))) inline __m256i ordered_bytes(__m256i bytes) noexcept {
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Stores the first `count` (0..16) bytes of `bytes`; the other bytes of dst are not touched.
template <class Out>
__attribute__((target("avx2"))) inline void store_first(Out* dst, __m128i bytes,
                                                        std::size_t count) noexcept {
  if (count == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), bytes);
    return;
  }
  alignas(16) Out lanes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), bytes);
  for (std::size_t i = 0; i < count; ++i) dst[i] = lanes[i];
}

// The levels (zero point added, inside the output bounds) of 8 accumulators of channels
// c .. c + 7 under a requantizing stage, with the stage's constants held in registers: shared by
// the requantize kernels below and the fused epilogues of the AVX-VNNI GEMM and depthwise
// kernels. levels() and pack() are the epilogues' form: pack(levels(...) x 4) gives the output
// bytes of four vectors, in the order of ordered_bytes().
template <class Stage>
struct StageLanes;

// The top bit of each byte when the StageLanes of an Out stage built from a From stage store int8
// levels as their uint8 codes (fused_stage_t): a byte xor that pack() applies, 0 otherwise.
template <class From, class Out>
__attribute__((target("avx2"))) inline __m256i code_flip() noexcept {
  return _mm256_set1_epi8(static_cast<char>(code_shift<From, Out> == 0 ? 0 : 0x80));
}

// Built from the stage itself or, for a uint8 stage, from its int8 form (fused_stage_t): the
// levels are then 128 higher, and pack() flips the top bit of each byte back (`flip`).
template <class Out, class Rounding>
struct StageLanes<RequantizeFixedPoint<Out, Rounding>> {
  template <class From>
  __attribute__((target("avx2"))) explicit StageLanes(
      const RequantizeFixedPoint<From, Rounding>& stage) noexcept
      : multipliers(stage.multipliers.data()),
        per_tensor(stage.multipliers.size() == 1),
        tensor_multiplier(broadcast(stage.multipliers[0])),
        // saturate(v + zp, min, max) == clamp(v, min - zp, max - zp) + zp, without overflow.
        lo(_mm256_set1_epi32(stage.min - stage.zero_point)),
        hi(_mm256_set1_epi32(stage.max - stage.zero_point)),
        zero_point(_mm256_set1_epi32(stage.zero_point + code_shift<From, Out>)),
        flip(code_flip<From, Out>()) {
    static_assert(is_code_shift_valid<From, Out>);
  }

  // The multipliers of channels [c, c + count), count in 1..8.
  __attribute__((always_inline, target("avx2"))) MultiplierLanes multiplier(
      std::size_t c, std::size_t count = 8) const noexcept {
    if (per_tensor) return tensor_multiplier;
    return count == 8 ? load(multipliers + c) : load(multipliers + c, count);
  }
  __attribute__((always_inline, target("avx2"))) __m256i levels(
      __m256i acc, const MultiplierLanes& m) const noexcept {
    const __m256i v = apply(Rounding{}, acc, m);
    return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(v, lo), hi), zero_point);
  }
  __attribute__((always_inline, target("avx2"))) __m256i operator()(__m256i acc,
                                                                    std::size_t c) const noexcept {
    return levels(acc, multiplier(c));
  }
  // The levels lie inside Out's range, so the saturating packs are exact.
  __attribute__((always_inline, target("avx2"))) __m256i pack(__m256i k0, __m256i k1, __m256i k2,
                                                              __m256i k3) const noexcept {
    const __m256i k01 = _mm256_packs_epi32(k0, k1), k23 = _mm256_packs_epi32(k2, k3);
    const __m256i bytes =
        std::is_same_v<Out, int8_t> ? _mm256_packs_epi16(k01, k23) : _mm256_packus_epi16(k01, k23);
    return ordered_bytes(_mm256_xor_si256(bytes, flip));
  }

  const QuantizedMultiplier* multipliers;
  bool per_tensor;
  MultiplierLanes tensor_multiplier;
  __m256i lo, hi, zero_point, flip;
};

template <class Out>
struct StageLanes<RequantizeFloat<Out>> {
  template <class From>
  __attribute__((target("avx2"))) explicit StageLanes(const RequantizeFloat<From>& stage) noexcept
      : multipliers(stage.multipliers.data()),
        per_tensor(stage.multipliers.size() == 1),
        tensor_multiplier(_mm256_set1_ps(stage.multipliers[0])),
        lo(_mm256_set1_ps(static_cast<float>(stage.min - stage.zero_point))),
        hi(_mm256_set1_ps(static_cast<float>(stage.max - stage.zero_point))),
        zero_point(_mm256_set1_epi32(stage.zero_point + code_shift<From, Out>)),
        zero_point16(
            _mm256_set1_epi16(static_cast<int16_t>(stage.zero_point + code_shift<From, Out>))),
        min_bytes(_mm256_set1_epi8(static_cast<char>(stage.min + code_shift<From, Out>))),
        max_bytes(_mm256_set1_epi8(static_cast<char>(stage.max + code_shift<From, Out>))),
        flip(code_flip<From, Out>()),
        narrow(stage.min != StorageTraits<From>::min || stage.max != StorageTraits<From>::max) {
    static_assert(is_code_shift_valid<From, Out>);
    unclamped = true;
    for (float m : stage.multipliers) unclamped = unclamped && m < 1.0f;
  }

  // The multipliers of channels [c, c + count), count in 1..8.
  __attribute__((always_inline, target("avx2"))) __m256 multiplier(
      std::size_t c, std::size_t count = 8) const noexcept {
    if (per_tensor) return tensor_multiplier;
    return count == 8 ? _mm256_loadu_ps(multipliers + c)
                      : _mm256_maskload_ps(multipliers + c, first_lanes(count));
  }
  // The clamped levels with the zero point added.
  __attribute__((always_inline, target("avx2"))) __m256i clamped(__m256i acc,
                                                                 __m256 m) const noexcept {
    const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), m);
    return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi)),
                            zero_point);
  }
  __attribute__((always_inline, target("avx2"))) __m256i operator()(__m256i acc,
                                                                    std::size_t c) const noexcept {
    return clamped(acc, multiplier(c));
  }
  // As convert/avx512.hpp's packed form: with every multiplier below 1, |acc x m| < 2^31, so the
  // levels are left unclamped and without the zero point, and pack() clamps them through the
  // saturating packs (int16, a saturating int16 add of the zero point, the storage type) and,
  // for a range narrower than the type, min/max on bytes: about half the instructions.
  __attribute__((always_inline, target("avx2"))) __m256i levels(__m256i acc,
                                                                __m256 m) const noexcept {
    return unclamped ? _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), m))
                     : clamped(acc, m);
  }
  __attribute__((always_inline, target("avx2"))) __m256i pack(__m256i k0, __m256i k1, __m256i k2,
                                                              __m256i k3) const noexcept {
    __m256i k01 = _mm256_packs_epi32(k0, k1), k23 = _mm256_packs_epi32(k2, k3);
    if (unclamped) {
      k01 = _mm256_adds_epi16(k01, zero_point16);
      k23 = _mm256_adds_epi16(k23, zero_point16);
    }
    __m256i bytes;
    if constexpr (std::is_same_v<Out, int8_t>) {
      bytes = _mm256_packs_epi16(k01, k23);
      if (unclamped && narrow)
        bytes = _mm256_min_epi8(max_bytes, _mm256_max_epi8(min_bytes, bytes));
    } else {
      bytes = _mm256_packus_epi16(k01, k23);
      if (unclamped && narrow)
        bytes = _mm256_min_epu8(max_bytes, _mm256_max_epu8(min_bytes, bytes));
    }
    return ordered_bytes(_mm256_xor_si256(bytes, flip));
  }

  const float* multipliers;
  bool per_tensor;
  __m256 tensor_multiplier, lo, hi;
  __m256i zero_point, zero_point16, min_bytes, max_bytes, flip;
  bool narrow;
  bool unclamped;
};

// A requantizing stage over a row-major [rows, channels] block; bit-exact with the stage itself.
template <class Stage>
__attribute__((target("avx2"))) void requantize(const int32_t* acc, std::size_t rows,
                                                std::size_t channels, const Stage& stage,
                                                typename Stage::Output* out,
                                                RowStrides strides) noexcept {
  const StageLanes<Stage> lanes(stage);
  requantize_rows(
      acc, rows, channels, stage, out, strides,
      [&](const int32_t* row, std::size_t c) __attribute__((always_inline, target("avx2"))) {
        return lanes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)), c);
      });
}

}  // namespace qinfer::convert::avx2
#endif
