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
#include "qinfer/quant/rounding.hpp"

namespace qinfer::convert::avx2 {

struct QuantizeConstants {
  __m256 scale, inverse, lo, hi;
  __m256 delta;       // the near-tie distance (convert/scalar.hpp)
  __m256 tie_margin;  // 0.5 - delta
};

// Rounded levels (before the zero point) of 8 values; `near` gets the lanes that are NaN or
// within delta of a rounding boundary. NaN propagates through max(lo, v) and min(hi, v) (they
// return their second operand when one is NaN) into the near lanes.
template <class Rounding>
__attribute__((target("avx2"))) inline __m256i levels(__m256 v, const QuantizeConstants& c,
                                                      int& near) noexcept {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  v = _mm256_min_ps(c.hi, _mm256_max_ps(c.lo, v));
  if constexpr (std::is_same_v<Rounding, RoundHalfToEven>) {
    const __m256i k = _mm256_cvtps_epi32(v);  // ties to even under the default MXCSR
    const __m256 e = _mm256_andnot_ps(sign, _mm256_sub_ps(v, _mm256_cvtepi32_ps(k)));
    near = _mm256_movemask_ps(_mm256_cmp_ps(e, c.tie_margin, _CMP_NLT_UQ));
    return k;
  } else {
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(v, t);
    const __m256 distance = _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_andnot_ps(sign, f), half));
    near = _mm256_movemask_ps(_mm256_cmp_ps(distance, c.delta, _CMP_NGT_UQ));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(f, half, _CMP_GE_OQ), one);
    const __m256 down = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(-0.5f), _CMP_LE_OQ), one);
    return _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(t, up), down));
  }
}

// Levels (zero point not yet added) of 8 floats whose quotient needs the division: NaN -> 0.
template <class Rounding>
__attribute__((target("avx2"))) inline __m256i divided_levels(const float* x,
                                                              const QuantizeConstants& c) noexcept {
  const __m256 quotient = _mm256_div_ps(_mm256_loadu_ps(x), c.scale);
  int unused = 0;
  return levels<Rounding>(_mm256_and_ps(quotient, _mm256_cmp_ps(quotient, quotient, _CMP_ORD_Q)), c,
                          unused);
}

template <class Storage, class Rounding>
__attribute__((target("avx2"))) void quantize(const float* x, std::size_t n, Storage* q,
                                              QuantizeRange r) noexcept {
  static_assert(std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>);
  const float delta = near_tie_delta(r);
  const QuantizeConstants c{_mm256_set1_ps(r.scale),
                            _mm256_set1_ps(1.0f / r.scale),
                            _mm256_set1_ps(static_cast<float>(r.qmin - r.zero_point)),
                            _mm256_set1_ps(static_cast<float>(r.qmax - r.zero_point)),
                            _mm256_set1_ps(delta),
                            _mm256_set1_ps(0.5f - delta)};
  const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(r.zero_point));
  // packs_epi32 then packs_epi16 leave the four inputs' 4-lane halves interleaved per 128-bit
  // lane; this dword permutation restores element order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i k[4];
    int near[4];
    for (int j = 0; j < 4; ++j) {
      k[j] = levels<Rounding>(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), c.inverse), c, near[j]);
    }
    if ((near[0] | near[1] | near[2] | near[3]) != 0) {
      for (int j = 0; j < 4; ++j) {
        if (near[j] != 0) k[j] = divided_levels<Rounding>(x + i + 8 * j, c);
      }
    }
    // Levels lie in [qmin - zp, qmax - zp], so every saturating pack below is exact; the zero
    // point is added once per 16 lanes, in int16.
    const __m256i k01 = _mm256_add_epi16(_mm256_packs_epi32(k[0], k[1]), zero_point);
    const __m256i k23 = _mm256_add_epi16(_mm256_packs_epi32(k[2], k[3]), zero_point);
    const __m256i bytes = std::is_same_v<Storage, int8_t> ? _mm256_packs_epi16(k01, k23)
                                                          : _mm256_packus_epi16(k01, k23);
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

}  // namespace qinfer::convert::avx2
#endif
