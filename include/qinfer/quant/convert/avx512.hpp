// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 (F, BW, DQ, VL) conversions, compiled through function-level target attributes;
// dispatch runs them only where the avx512vnni level is supported, which requires all four.
// Bit-exact with convert/scalar.hpp; see there for the reciprocal and near-tie argument.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "qinfer/quant/convert/scalar.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/requantize.hpp"
#include "qinfer/quant/rounding.hpp"

// GCC 12's unmasked AVX-512 intrinsics pass _mm512_undefined_*() to their builtins and then
// warn about it (-Wmaybe-uninitialized, GCC bug 105593, fixed in GCC 13) in every user's build.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qinfer::convert::avx512 {

struct QuantizeConstants {
  __m512 scale, inverse, lo, hi;
  __m512 tie_margin;  // 0.5 - the near-tie distance delta (convert/scalar.hpp)
  __m512 zero_point_float;
  __m512i zero_point;
};

// Rounds 16 values v = x * (1 / scale) + zero_point to nearest even, unclamped, and gives their
// signed distances e = v - level. A lane needs the division (convert/scalar.hpp) when |e| is
// within delta of 1/2, when v is NaN (e is NaN), or when |v| >= 2^31: that converts to
// INT32_MIN, so |e| is large. Elsewhere no half-integer lies within delta of v, so the rounding
// mode cannot matter.
__attribute__((target("avx512f"))) inline __m512i fast_levels(__m512 v, __m512& e) noexcept {
  const __m512i k = _mm512_cvtps_epi32(v);  // ties to even under the default MXCSR
  e = _mm512_sub_ps(v, _mm512_cvtepi32_ps(k));
  return k;
}

// max(|a|, |b|) in one vrangeps; a NaN operand gives NaN, so NaN lanes stay flagged.
__attribute__((target("avx512f,avx512dq"))) inline __m512 max_abs(__m512 a, __m512 b) noexcept {
  constexpr int max_abs_clear_sign = 0b1011;
  return _mm512_range_ps(a, b, max_abs_clear_sign);
}

// Levels (zero point added) of 16 floats by true division, clamped: NaN -> zero point.
template <class Rounding>
__attribute__((target("avx512f"))) inline __m512i divided_levels(
    const float* x, const QuantizeConstants& c) noexcept {
  const __m512 quotient = _mm512_div_ps(_mm512_loadu_ps(x), c.scale);
  __m512 v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(quotient, quotient, _CMP_ORD_Q), quotient);
  v = _mm512_min_ps(c.hi, _mm512_max_ps(c.lo, v));
  __m512i k;
  if constexpr (std::is_same_v<Rounding, RoundHalfToEven>) {
    k = _mm512_cvtps_epi32(v);
  } else {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(v, t);
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 r =
        _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(f, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t, one);
    r = _mm512_mask_sub_ps(r, _mm512_cmp_ps_mask(f, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), r, one);
    k = _mm512_cvttps_epi32(r);
  }
  return _mm512_add_epi32(k, c.zero_point);
}

// Quantizes the whole blocks of 64 values and returns how many values that was. ClampBytes is
// false when [qmin, qmax] is the storage type's whole range, which the saturating packs give.
template <class Storage, class Rounding, bool ClampBytes>
__attribute__((target("avx512f,avx512bw,avx512dq"))) std::size_t quantize_blocks(
    const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  const float delta = near_tie_delta(r);
  const QuantizeConstants c{_mm512_set1_ps(r.scale),
                            _mm512_set1_ps(1.0f / r.scale),
                            _mm512_set1_ps(static_cast<float>(r.qmin - r.zero_point)),
                            _mm512_set1_ps(static_cast<float>(r.qmax - r.zero_point)),
                            _mm512_set1_ps(0.5f - delta),
                            _mm512_set1_ps(static_cast<float>(r.zero_point)),
                            _mm512_set1_epi32(r.zero_point)};
  const __m512i qmin = _mm512_set1_epi8(static_cast<char>(r.qmin));
  const __m512i qmax = _mm512_set1_epi8(static_cast<char>(r.qmax));
  // packs_epi32 then packs_epi16 leave each 128-bit lane holding 4 levels of each of the four
  // vectors; this dword permutation restores element order.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512i k[4];
    __m512 e[4];
    for (int j = 0; j < 4; ++j) {
      const __m512 v =
          _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16 * j), c.inverse, c.zero_point_float);
      k[j] = fast_levels(v, e[j]);
    }
    // One test for all 64 lanes: the largest |e| (NaN if any is) against the margin.
    const __m512 largest = max_abs(max_abs(e[0], e[1]), max_abs(e[2], e[3]));
    if (_mm512_cmp_ps_mask(largest, c.tie_margin, _CMP_NLT_UQ) != 0) {
      for (int j = 0; j < 4; ++j) {
        if (_mm512_cmp_ps_mask(_mm512_abs_ps(e[j]), c.tie_margin, _CMP_NLT_UQ) != 0) {
          k[j] = divided_levels<Rounding>(x + i + 16 * j, c);
        }
      }
    }
    // The clamp runs on bytes, four vectors at a time: each step saturates into a range that
    // holds the next (int32, int16, the storage type, [qmin, qmax]), so the nested saturations
    // equal one clamp to [qmin, qmax].
    const __m512i k01 = _mm512_packs_epi32(k[0], k[1]);
    const __m512i k23 = _mm512_packs_epi32(k[2], k[3]);
    __m512i bytes;
    if constexpr (std::is_same_v<Storage, int8_t>) {
      bytes = _mm512_packs_epi16(k01, k23);
      if constexpr (ClampBytes) bytes = _mm512_min_epi8(qmax, _mm512_max_epi8(qmin, bytes));
    } else {
      bytes = _mm512_packus_epi16(k01, k23);
      if constexpr (ClampBytes) bytes = _mm512_min_epu8(qmax, _mm512_max_epu8(qmin, bytes));
    }
    _mm512_storeu_si512(q + i, _mm512_permutexvar_epi32(order, bytes));
  }
  return i;
}

template <class Storage, class Rounding>
void quantize(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  using Limits = std::numeric_limits<Storage>;
  const bool whole_range = r.qmin == Limits::min() && r.qmax == Limits::max();
  const std::size_t done = whole_range ? quantize_blocks<Storage, Rounding, false>(x, n, q, r)
                                       : quantize_blocks<Storage, Rounding, true>(x, n, q, r);
  quantize_scalar<Storage, Rounding>(x + done, n - done, q + done, r);
}

// (q - zero point) * scale for 16 values.
template <class Storage>
__attribute__((target("avx512f"))) inline __m512 dequantize16(const Storage* q, __m512i zero_point,
                                                              __m512 scale) noexcept {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m512i wide =
      std::is_same_v<Storage, int8_t> ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(wide, zero_point)), scale);
}

// Dequantize is bound by its stores (four output bytes per input byte), so the body stores whole
// cache lines from the first 64-byte boundary of x on. The head before it and the tail after it
// are each one unaligned vector that overlaps the body and stores the same values again. Scalar
// head and tail loops made a 4 KiB call 7-25% slower. Masked ones were worse on AMD Zen 5: a
// tail load whose masked-off lanes reach into the next page ran 3x slower (4 KiB from a
// page-aligned input). Streaming (non-temporal) stores need the alignment, which a float-aligned
// x always reaches.
template <class Storage, bool Streaming>
__attribute__((target("avx512f"))) void dequantize_lines(const Storage* q, std::size_t n, float* x,
                                                         std::size_t head, QuantParams p) noexcept {
  const __m512 scale = _mm512_set1_ps(p.scale);
  const __m512i zero_point = _mm512_set1_epi32(p.zero_point);
  if (head != 0) _mm512_storeu_ps(x, dequantize16(q, zero_point, scale));
  std::size_t i = head;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = dequantize16(q + i, zero_point, scale);
    if constexpr (Streaming) {
      _mm512_stream_ps(x + i, v);
    } else {
      _mm512_storeu_ps(x + i, v);
    }
  }
  if constexpr (Streaming) _mm_sfence();  // order the streamed stores before any later store
  if (i < n) _mm512_storeu_ps(x + n - 16, dequantize16(q + n - 16, zero_point, scale));
}

template <class Storage>
void dequantize(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  if (n < 16) return dequantize_scalar(q, n, x, p);
  constexpr std::size_t line = 64;
  const std::size_t misalignment = reinterpret_cast<std::uintptr_t>(x) % line;
  const bool float_aligned = misalignment % sizeof(float) == 0;
  const std::size_t head = float_aligned ? (line - misalignment) % line / sizeof(float) : 0;
  if (float_aligned && n - head > streaming_threshold() / sizeof(float)) {
    dequantize_lines<Storage, true>(q, n, x, head, p);
  } else {
    dequantize_lines<Storage, false>(q, n, x, head, p);
  }
}

// ---------------------------------------------------------------------------------------------
// Requantization of int32 accumulators, 16 lanes at a time; the same steps as in avx2.hpp with
// mask registers and native 64-bit arithmetic shifts.

__attribute__((target("avx512f"))) inline __m512i high_mul(__m512i a, __m512i m) noexcept {
  const __m512i nudge = _mm512_set1_epi64(int64_t{1} << 30);
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(a, m), nudge);
  const __m512i odd =
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(m, 32)), nudge);
  return _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64(even, 31), _mm512_slli_epi64(odd, 1));
}

__attribute__((target("avx512f"))) inline __m512i rounding_divide_by_pot(__m512i x,
                                                                         __m512i e) noexcept {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, e), one);
  const __m512i half = _mm512_srli_epi32(mask, 1);
  const __m512i threshold =
      _mm512_mask_add_epi32(half, _mm512_cmplt_epi32_mask(x, _mm512_setzero_si512()), half, one);
  const __m512i quotient = _mm512_srav_epi32(x, e);
  return _mm512_mask_add_epi32(
      quotient, _mm512_cmpgt_epi32_mask(_mm512_and_si512(x, mask), threshold), quotient, one);
}

__attribute__((target("avx512f"))) inline __m512i saturating_left_shift(__m512i x,
                                                                        __m512i left) noexcept {
  const __m512i shifted = _mm512_sllv_epi32(x, left);
  const __m512i saturated =
      _mm512_xor_si512(_mm512_set1_epi32(INT32_MAX), _mm512_srai_epi32(x, 31));
  return _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(_mm512_srav_epi32(shifted, left), x),
                                 saturated, shifted);
}

__attribute__((target("avx512f"))) inline __m512i rounding_shift_64(__m512i p, __m512i t) noexcept {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i sum = _mm512_add_epi64(p, _mm512_sllv_epi64(one, _mm512_sub_epi64(t, one)));
  const __m512i shifted = _mm512_srav_epi64(sum, t);
  return _mm512_max_epi64(_mm512_min_epi64(shifted, _mm512_set1_epi64(INT32_MAX)),
                          _mm512_set1_epi64(INT32_MIN));
}

struct MultiplierLanes {
  __m512i multiplier, shift;
};

__attribute__((target("avx512f"))) inline MultiplierLanes broadcast(
    QuantizedMultiplier m) noexcept {
  return {_mm512_set1_epi32(m.multiplier), _mm512_set1_epi32(m.shift)};
}

// Deinterleaves 16 consecutive {multiplier, shift} pairs, or those of the lanes in `mask` (the
// others read nothing and hold zeros).
__attribute__((target("avx512f"))) inline MultiplierLanes load(const QuantizedMultiplier* m,
                                                               __mmask16 mask = 0xFFFF) noexcept {
  static_assert(sizeof(QuantizedMultiplier) == 2 * sizeof(int32_t));
  // Each lane's pair is two 32-bit words: lane i's bit becomes bits 2i and 2i + 1.
  uint32_t words = 0;
  for (unsigned i = 0; i < 16; ++i) words |= ((mask >> i) & 1u) * (3u << (2 * i));
  const __m512i a = _mm512_maskz_loadu_epi32(static_cast<__mmask16>(words), m);
  const __m512i b = _mm512_maskz_loadu_epi32(static_cast<__mmask16>(words >> 16), m + 8);
  const __m512i evens =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  return {_mm512_permutex2var_epi32(a, evens, b), _mm512_permutex2var_epi32(a, odds, b)};
}

__attribute__((target("avx512f"))) inline __m512i apply(DoubleRounding, __m512i acc,
                                                        MultiplierLanes m) noexcept {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i left = _mm512_max_epi32(m.shift, zero);
  const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, m.shift), zero);
  return rounding_divide_by_pot(high_mul(saturating_left_shift(acc, left), m.multiplier), right);
}

__attribute__((target("avx512f"))) inline __m512i apply(SingleRounding, __m512i acc,
                                                        MultiplierLanes m) noexcept {
  const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), m.shift);
  const __m512i even = rounding_shift_64(_mm512_mul_epi32(acc, m.multiplier),
                                         _mm512_and_si512(total, _mm512_set1_epi64(0xffffffff)));
  const __m512i odd = rounding_shift_64(
      _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(m.multiplier, 32)),
      _mm512_srli_epi64(total, 32));
  return _mm512_mask_blend_epi32(0xaaaa, even, _mm512_slli_epi64(odd, 32));
}

// Stores 16 levels already inside Out's range.
template <class Out>
__attribute__((target("avx512f"))) inline void store16(Out* dst, __m512i v) noexcept {
  const __m128i bytes =
      std::is_same_v<Out, int8_t> ? _mm512_cvtsepi32_epi8(v) : _mm512_cvtusepi32_epi8(v);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), bytes);
}

// Stores the levels of the lanes in `mask`; the other bytes of dst are not touched.
template <class Out>
__attribute__((target("avx512f"))) inline void store16(Out* dst, __m512i v,
                                                       __mmask16 mask) noexcept {
  if constexpr (std::is_same_v<Out, int8_t>) {
    _mm512_mask_cvtsepi32_storeu_epi8(dst, mask, v);
  } else {
    _mm512_mask_cvtusepi32_storeu_epi8(dst, mask, v);
  }
}

// The shared loop of the requantize kernels: levels(row + c, c) gives the 16 output levels
// (zero point added) of channels c .. c + 15; the stage itself finishes each row's tail.
template <class Stage, class Levels>
__attribute__((target("avx512f"))) inline void requantize_rows(
    const int32_t* acc, std::size_t rows, std::size_t channels, const Stage& stage,
    typename Stage::Output* out, RowStrides strides, Levels levels) noexcept {
  const std::size_t vector_end = channels - channels % 16;
  for (std::size_t r = 0; r < rows; ++r) {
    const int32_t* row = acc + r * strides.acc;
    typename Stage::Output* dst = out + r * strides.out;
    for (std::size_t c = 0; c < vector_end; c += 16) store16(dst + c, levels(row + c, c));
    for (std::size_t c = vector_end; c < channels; ++c) dst[c] = stage(row[c], c);
  }
}

// The levels (zero point added, inside the output bounds) of 16 accumulators of channels
// c .. c + 15 under a requantizing stage, with the stage's constants held in registers: shared
// by the requantize kernels below and the GEMM kernels' fused epilogues.
template <class Stage>
struct StageLanes;

// The top bit of each byte when the StageLanes of an Out stage built from a From stage store int8
// levels as their uint8 codes (fused_stage_t): a byte xor that the stores apply, 0 otherwise.
template <class From, class Out>
__attribute__((target("avx512f"))) inline __m512i code_flip() noexcept {
  return _mm512_set1_epi8(static_cast<char>(code_shift<From, Out> == 0 ? 0 : 0x80));
}

// Stores the 16 levels of v as bytes xor flip (code_flip), only the lanes in mask.
template <class Out>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline void store16(
    Out* dst, __m512i v, __m512i flip, __mmask16 mask = 0xFFFF) noexcept {
  const __m128i bytes = _mm_xor_si128(
      std::is_same_v<Out, int8_t> ? _mm512_cvtsepi32_epi8(v) : _mm512_cvtusepi32_epi8(v),
      _mm512_castsi512_si128(flip));
  if (mask == 0xFFFF) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), bytes);
  } else {
    _mm_mask_storeu_epi8(dst, mask, bytes);
  }
}

// Built from the stage itself or, for a uint8 stage, from its int8 form (fused_stage_t): the
// levels are then 128 higher, and the stores flip the top bit of each byte back (`flip`).
template <class Out, class Rounding>
struct StageLanes<RequantizeFixedPoint<Out, Rounding>> {
  template <class From>
  __attribute__((target("avx512f"))) explicit StageLanes(
      const RequantizeFixedPoint<From, Rounding>& stage) noexcept
      : multipliers(stage.multipliers.data()),
        per_tensor(stage.multipliers.size() == 1),
        tensor_multiplier(broadcast(stage.multipliers[0])),
        // saturate(v + zp, min, max) == clamp(v, min - zp, max - zp) + zp, without overflow.
        lo(_mm512_set1_epi32(stage.min - stage.zero_point)),
        hi(_mm512_set1_epi32(stage.max - stage.zero_point)),
        zero_point(_mm512_set1_epi32(stage.zero_point + code_shift<From, Out>)),
        flip(code_flip<From, Out>()) {
    static_assert(is_code_shift_valid<From, Out>);
  }

  // The multipliers of channels [c, c + 16) in `mask`, apart so that a tile's columns load them
  // once.
  __attribute__((always_inline, target("avx512f"))) MultiplierLanes multiplier(
      std::size_t c, __mmask16 mask = 0xFFFF) const noexcept {
    return per_tensor ? tensor_multiplier : load(multipliers + c, mask);
  }
  __attribute__((always_inline, target("avx512f"))) __m512i apply(
      __m512i acc, const MultiplierLanes& m) const noexcept {
    const __m512i v = convert::avx512::apply(Rounding{}, acc, m);
    return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), zero_point);
  }
  __attribute__((always_inline, target("avx512f"))) __m512i operator()(
      __m512i acc, std::size_t c) const noexcept {
    return apply(acc, multiplier(c));
  }

  const QuantizedMultiplier* multipliers;
  bool per_tensor;
  MultiplierLanes tensor_multiplier;
  __m512i lo, hi, zero_point, flip;
};

template <class Out>
struct StageLanes<RequantizeFloat<Out>> {
  template <class From>
  __attribute__((target("avx512f,avx512bw"))) explicit StageLanes(
      const RequantizeFloat<From>& stage) noexcept
      : multipliers(stage.multipliers.data()),
        per_tensor(stage.multipliers.size() == 1),
        tensor_multiplier(_mm512_set1_ps(stage.multipliers[0])),
        lo(_mm512_set1_ps(static_cast<float>(stage.min - stage.zero_point))),
        hi(_mm512_set1_ps(static_cast<float>(stage.max - stage.zero_point))),
        zero_point(_mm512_set1_epi32(stage.zero_point + code_shift<From, Out>)),
        zero_point16(
            _mm512_set1_epi16(static_cast<int16_t>(stage.zero_point + code_shift<From, Out>))),
        min_bytes(_mm512_set1_epi8(static_cast<char>(stage.min + code_shift<From, Out>))),
        max_bytes(_mm512_set1_epi8(static_cast<char>(stage.max + code_shift<From, Out>))),
        flip(code_flip<From, Out>()),
        narrow(stage.min != StorageTraits<From>::min || stage.max != StorageTraits<From>::max) {
    static_assert(is_code_shift_valid<From, Out>);
    unclamped = true;
    for (float m : stage.multipliers) unclamped = unclamped && m < 1.0f;
  }

  __attribute__((always_inline, target("avx512f"))) __m512 multiplier(
      std::size_t c, __mmask16 mask = 0xFFFF) const noexcept {
    return per_tensor ? tensor_multiplier : _mm512_maskz_loadu_ps(mask, multipliers + c);
  }
  __attribute__((always_inline, target("avx512f"))) __m512i apply(__m512i acc,
                                                                  __m512 m) const noexcept {
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m);
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi)),
                            zero_point);
  }
  __attribute__((always_inline, target("avx512f"))) __m512i operator()(
      __m512i acc, std::size_t c) const noexcept {
    return apply(acc, multiplier(c));
  }

  // The packed form, for `unclamped` stages: levels rounded but neither clamped nor shifted by
  // the zero point, then stored 32 or 64 at a time. With every multiplier below 1, |acc x m| <
  // 2^31 and the conversion cannot overflow. The saturating packs then clamp to int16 and to the
  // storage type, the zero point is a saturating int16 add in between, and only a range
  // narrower than the type needs min/max on bytes: clamp(k + zp, min, max) in about half the
  // instructions of apply().
  __attribute__((always_inline, target("avx512f"))) __m512i raw_levels(__m512i acc,
                                                                       __m512 m) const noexcept {
    return _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), m));
  }
  // Bytes of packs_epi16(packs_epi32(k0, k1) + zp, packs_epi32(k2, k3) + zp), clamped, xor
  // flip: each 128-bit lane holds 4 levels of each of k0..k3.
  __attribute__((always_inline, target("avx512f,avx512bw"))) __m512i pack(
      __m512i k0, __m512i k1, __m512i k2, __m512i k3) const noexcept {
    const __m512i k01 = _mm512_adds_epi16(_mm512_packs_epi32(k0, k1), zero_point16);
    const __m512i k23 = _mm512_adds_epi16(_mm512_packs_epi32(k2, k3), zero_point16);
    __m512i bytes;
    if constexpr (std::is_same_v<Out, int8_t>) {
      bytes = _mm512_packs_epi16(k01, k23);
      if (narrow) bytes = _mm512_min_epi8(max_bytes, _mm512_max_epi8(min_bytes, bytes));
    } else {
      bytes = _mm512_packus_epi16(k01, k23);
      if (narrow) bytes = _mm512_min_epu8(max_bytes, _mm512_max_epu8(min_bytes, bytes));
    }
    return _mm512_xor_si512(bytes, flip);
  }
  // The 64 bytes of pack(k0, k1, k2, k3) in the order of k0's 16 levels, then k1's, k2's, k3's.
  __attribute__((always_inline, target("avx512f,avx512bw"))) __m512i ordered(
      __m512i k0, __m512i k1, __m512i k2, __m512i k3) const noexcept {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, pack(k0, k1, k2, k3));
  }
  // 64 outputs, channels in order, from the raw levels of 4 x 16 consecutive channels; only the
  // bytes in `mask` are written.
  __attribute__((always_inline, target("avx512f,avx512bw"))) void store64(
      Out* dst, __m512i k0, __m512i k1, __m512i k2, __m512i k3,
      uint64_t mask = ~uint64_t{0}) const noexcept {
    const __m512i bytes = ordered(k0, k1, k2, k3);
    if (mask == ~uint64_t{0}) {
      _mm512_storeu_si512(dst, bytes);
    } else {
      _mm512_mask_storeu_epi8(dst, mask, bytes);
    }
  }
  // 32 outputs from the raw levels of 2 x 16 consecutive channels.
  __attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) void store32(
      Out* dst, __m512i k0, __m512i k1, uint32_t mask = ~uint32_t{0}) const noexcept {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i bytes =
        _mm512_castsi512_si256(_mm512_permutexvar_epi32(order, pack(k0, k1, k0, k1)));
    if (mask == ~uint32_t{0}) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), bytes);
    } else {
      _mm256_mask_storeu_epi8(dst, mask, bytes);
    }
  }

  // 64 outputs in rows of Width (16 or 32), ld apart: four rows of 16 channels (k0 .. k3) or
  // two of 32 (k0 k1, then k2 k3). One pack serves them all, where a row alone would fill only
  // a half or a quarter of it.
  template <std::size_t Width>
  __attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) void store_rows(
      Out* dst, std::size_t ld, __m512i k0, __m512i k1, __m512i k2, __m512i k3) const noexcept {
    static_assert(Width == 16 || Width == 32);
    const __m512i bytes = ordered(k0, k1, k2, k3);
    if constexpr (Width == 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_castsi512_si128(bytes));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + ld), _mm512_extracti32x4_epi32(bytes, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * ld),
                       _mm512_extracti32x4_epi32(bytes, 2));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * ld),
                       _mm512_extracti32x4_epi32(bytes, 3));
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_castsi512_si256(bytes));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + ld),
                          _mm512_extracti64x4_epi64(bytes, 1));
    }
  }

  const float* multipliers;
  bool per_tensor;
  __m512 tensor_multiplier, lo, hi;
  __m512i zero_point, zero_point16, min_bytes, max_bytes, flip;
  bool narrow;
  bool unclamped;
};

// Fixed-point stage over a [rows, channels] block; bit-exact with the stage itself.
template <class Out, class Rounding>
__attribute__((target("avx512f"))) void requantize(const int32_t* acc, std::size_t rows,
                                                   std::size_t channels,
                                                   const RequantizeFixedPoint<Out, Rounding>& stage,
                                                   Out* out, RowStrides strides) noexcept {
  const StageLanes<RequantizeFixedPoint<Out, Rounding>> lanes(stage);
  requantize_rows(
      acc, rows, channels, stage, out, strides,
      [&](const int32_t* row, std::size_t c) __attribute__((always_inline, target("avx512f"))) {
        return lanes(_mm512_loadu_si512(row), c);
      });
}

// Float stage over a [rows, channels] block; bit-exact with the stage itself.
template <class Out>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void requantize(
    const int32_t* acc, std::size_t rows, std::size_t channels, const RequantizeFloat<Out>& stage,
    Out* out, RowStrides strides) noexcept {
  const StageLanes<RequantizeFloat<Out>> lanes(stage);
  if (lanes.unclamped && channels >= 32) {
    // The packed form 32 channels at a time, two rows a pack, row pair by row pair so that the
    // block is read once (channel blocks outermost read a block larger than the caches once per
    // 32 channels: 64 channels of 16 MiB ran 11.5 GB/s against 20.7); the last channels % 32 run
    // below. One row a pack ran 30 GB/s on 4 KiB of accumulators against 37, 38 on 256 KiB
    // against 43 (quantize_bench).
    const std::size_t packed_end = channels - channels % 32;
    for (std::size_t r = 0; r < rows; r += 2) {
      const int32_t* row = acc + r * strides.acc;
      Out* dst = out + r * strides.out;
      for (std::size_t c = 0; c < packed_end; c += 32) {
        const __m512 low = lanes.multiplier(c), high = lanes.multiplier(c + 16);
        const auto levels = [&](const int32_t* at)
            __attribute__((always_inline, target("avx512f"))) {
          return std::pair{lanes.raw_levels(_mm512_loadu_si512(at + c), low),
                           lanes.raw_levels(_mm512_loadu_si512(at + c + 16), high)};
        };
        const auto [k0, k1] = levels(row);
        if (r + 1 < rows) {
          const auto [k2, k3] = levels(row + strides.acc);
          lanes.template store_rows<32>(dst + c, strides.out, k0, k1, k2, k3);
        } else {
          lanes.store32(dst + c, k0, k1);
        }
      }
    }
    if (packed_end == channels) return;
    const RequantizeFloat<Out> rest = slice_channels(stage, packed_end, channels - packed_end);
    requantize(acc + packed_end, rows, channels - packed_end, rest, out + packed_end, strides);
    return;
  }
  requantize_rows(
      acc, rows, channels, stage, out, strides,
      [&](const int32_t* row, std::size_t c) __attribute__((always_inline, target("avx512f"))) {
        return lanes(_mm512_loadu_si512(row), c);
      });
}

}  // namespace qinfer::convert::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
