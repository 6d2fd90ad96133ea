// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 (F and BW) conversions, compiled through function-level target attributes; dispatch
// runs them only where cpu_features().avx512bw holds. Bit-exact with convert/scalar.hpp; see there
// for the reciprocal and near-tie argument.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/quant/convert/scalar.hpp"
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
  __m512 delta;       // the near-tie distance (convert/scalar.hpp)
  __m512 tie_margin;  // 0.5 - delta
};

// As in avx2.hpp: levels of 16 values, NaN and near-tie lanes in `near`.
template <class Rounding>
__attribute__((target("avx512f"))) inline __m512i levels(__m512 v, const QuantizeConstants& c,
                                                         __mmask16& near) noexcept {
  v = _mm512_min_ps(c.hi, _mm512_max_ps(c.lo, v));
  if constexpr (std::is_same_v<Rounding, RoundHalfToEven>) {
    const __m512i k = _mm512_cvtps_epi32(v);  // ties to even under the default MXCSR
    const __m512 e = _mm512_abs_ps(_mm512_sub_ps(v, _mm512_cvtepi32_ps(k)));
    near = _mm512_cmp_ps_mask(e, c.tie_margin, _CMP_NLT_UQ);
    return k;
  } else {
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(v, t);
    near = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(_mm512_abs_ps(f), half)), c.delta,
                              _CMP_NGT_UQ);
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 r = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(f, half, _CMP_GE_OQ), t, one);
    r = _mm512_mask_sub_ps(r, _mm512_cmp_ps_mask(f, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), r, one);
    return _mm512_cvttps_epi32(r);
  }
}

// Levels (zero point not yet added) of 16 floats whose quotient needs the division: NaN -> 0.
template <class Rounding>
__attribute__((target("avx512f"))) inline __m512i divided_levels(
    const float* x, const QuantizeConstants& c) noexcept {
  const __m512 quotient = _mm512_div_ps(_mm512_loadu_ps(x), c.scale);
  __mmask16 unused = 0;
  return levels<Rounding>(
      _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(quotient, quotient, _CMP_ORD_Q), quotient), c, unused);
}

template <class Storage, class Rounding>
__attribute__((target("avx512f,avx512bw"))) void quantize(const float* x, std::size_t n, Storage* q,
                                                          QuantizeRange r) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  const float delta = near_tie_delta(r);
  const QuantizeConstants c{_mm512_set1_ps(r.scale),
                            _mm512_set1_ps(1.0f / r.scale),
                            _mm512_set1_ps(static_cast<float>(r.qmin - r.zero_point)),
                            _mm512_set1_ps(static_cast<float>(r.qmax - r.zero_point)),
                            _mm512_set1_ps(delta),
                            _mm512_set1_ps(0.5f - delta)};
  const __m512i zero_point = _mm512_set1_epi16(static_cast<int16_t>(r.zero_point));
  // packs_epi32 then packs_epi16 leave each 128-bit lane holding 4 levels of each of the four
  // vectors; this dword permutation restores element order.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512i k[4];
    __mmask16 near[4];
    for (int j = 0; j < 4; ++j) {
      k[j] =
          levels<Rounding>(_mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * j), c.inverse), c, near[j]);
    }
    if ((near[0] | near[1] | near[2] | near[3]) != 0) {
      for (int j = 0; j < 4; ++j) {
        if (near[j] != 0) k[j] = divided_levels<Rounding>(x + i + 16 * j, c);
      }
    }
    // Levels lie in [qmin - zp, qmax - zp], so every saturating pack below is exact; the zero
    // point is added once per 32 lanes, in int16.
    const __m512i k01 = _mm512_add_epi16(_mm512_packs_epi32(k[0], k[1]), zero_point);
    const __m512i k23 = _mm512_add_epi16(_mm512_packs_epi32(k[2], k[3]), zero_point);
    const __m512i bytes = std::is_same_v<Storage, int8_t> ? _mm512_packs_epi16(k01, k23)
                                                          : _mm512_packus_epi16(k01, k23);
    _mm512_storeu_si512(q + i, _mm512_permutexvar_epi32(order, bytes));
  }
  quantize_scalar<Storage, Rounding>(x + i, n - i, q + i, r);
}

template <class Storage, bool Streaming>
__attribute__((target("avx512f"))) void dequantize_aligned(const Storage* q, std::size_t n,
                                                           float* x, QuantParams p) noexcept {
  const __m512 scale = _mm512_set1_ps(p.scale);
  const __m512i zero_point = _mm512_set1_epi32(p.zero_point);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i));
    const __m512i wide =
        std::is_same_v<Storage, int8_t> ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(wide, zero_point)), scale);
    if constexpr (Streaming) {
      _mm512_stream_ps(x + i, v);
    } else {
      _mm512_store_ps(x + i, v);
    }
  }
  if constexpr (Streaming) _mm_sfence();  // order the streamed stores before any later store
  dequantize_scalar(q + i, n - i, x + i, p);
}

template <class Storage>
void dequantize(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  dequantize_aligned_vectors<64>(q, n, x, p,
                                 [](const Storage* body_q, std::size_t body_n, float* body_x,
                                    QuantParams body_p, auto streaming) {
                                   dequantize_aligned<Storage, decltype(streaming)::value>(
                                       body_q, body_n, body_x, body_p);
                                 });
}

}  // namespace qinfer::convert::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
