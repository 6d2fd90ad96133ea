// SPDX-License-Identifier: Apache-2.0
//
// The requantizing add (reference/elementwise.hpp) 8 values at a time in AVX2, with the
// fixed-point steps of quant/convert/avx2.hpp; the last n % 8 values run reference::add_one.
// Bit-exact with reference::add_one.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/quant/convert/avx2.hpp"
#include "qinfer/reference/elementwise.hpp"

namespace qinfer::kernels::avx2 {

template <class T>
__attribute__((always_inline, target("avx2"))) inline __m256i widen_codes(const T* x) noexcept {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x));
  return std::is_same_v<T, int8_t> ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

template <class T>
__attribute__((target("avx2"))) void add(const T* a, const T* b, T* out, std::size_t n,
                                         const reference::AddParams& p) noexcept {
  using convert::avx2::apply;
  const convert::avx2::MultiplierLanes am = convert::avx2::broadcast(p.a_multiplier);
  const convert::avx2::MultiplierLanes bm = convert::avx2::broadcast(p.b_multiplier);
  const convert::avx2::MultiplierLanes om = convert::avx2::broadcast(p.out_multiplier);
  const __m256i a_zero = _mm256_set1_epi32(p.a_zero_point);
  const __m256i b_zero = _mm256_set1_epi32(p.b_zero_point);
  const __m256i out_zero = _mm256_set1_epi32(p.out_zero_point);
  // saturate(v + zp, min, max) == clamp(v, min - zp, max - zp) + zp, without overflow.
  const __m256i lo = _mm256_set1_epi32(p.clamp.min - p.out_zero_point);
  const __m256i hi = _mm256_set1_epi32(p.clamp.max - p.out_zero_point);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i x =
        _mm256_slli_epi32(_mm256_sub_epi32(widen_codes(a + i), a_zero), reference::add_left_shift);
    const __m256i y =
        _mm256_slli_epi32(_mm256_sub_epi32(widen_codes(b + i), b_zero), reference::add_left_shift);
    const __m256i sum =
        _mm256_add_epi32(apply(DoubleRounding{}, x, am), apply(DoubleRounding{}, y, bm));
    const __m256i v = _mm256_add_epi32(
        _mm256_min_epi32(_mm256_max_epi32(apply(DoubleRounding{}, sum, om), lo), hi), out_zero);
    // The levels lie inside T's range, so the saturating packs only narrow them.
    const __m128i words =
        _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i bytes =
        std::is_same_v<T, int8_t> ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), bytes);
  }
  for (; i < n; ++i) out[i] = reference::add_one(p, a[i], b[i]);
}

}  // namespace qinfer::kernels::avx2

#endif
