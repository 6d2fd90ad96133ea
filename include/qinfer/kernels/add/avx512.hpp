// SPDX-License-Identifier: Apache-2.0
//
// The requantizing add (reference/elementwise.hpp) 16 values at a time in AVX-512, with the
// fixed-point steps of quant/convert/avx512.hpp; the tail runs in the same registers under a
// mask. Bit-exact with reference::add_one.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/quant/convert/avx512.hpp"
#include "qinfer/reference/elementwise.hpp"

// GCC 12 bug 105593 (see quant/convert/avx512.hpp): the widening intrinsics warn about the
// undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::avx512 {

template <class T>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline __m512i widen_codes(
    const T* x, __mmask16 mask) noexcept {
  const __m128i bytes = _mm_maskz_loadu_epi8(mask, x);
  return std::is_same_v<T, int8_t> ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}

template <class T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void add(
    const T* a, const T* b, T* out, std::size_t n, const reference::AddParams& p) noexcept {
  using convert::avx512::apply;
  const convert::avx512::MultiplierLanes am = convert::avx512::broadcast(p.a_multiplier);
  const convert::avx512::MultiplierLanes bm = convert::avx512::broadcast(p.b_multiplier);
  const convert::avx512::MultiplierLanes om = convert::avx512::broadcast(p.out_multiplier);
  const __m512i a_zero = _mm512_set1_epi32(p.a_zero_point);
  const __m512i b_zero = _mm512_set1_epi32(p.b_zero_point);
  const __m512i out_zero = _mm512_set1_epi32(p.out_zero_point);
  // saturate(v + zp, min, max) == clamp(v, min - zp, max - zp) + zp, without overflow.
  const __m512i lo = _mm512_set1_epi32(p.clamp.min - p.out_zero_point);
  const __m512i hi = _mm512_set1_epi32(p.clamp.max - p.out_zero_point);
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? __mmask16{0xFFFF} : _cvtu32_mask16((1u << (n - i)) - 1);
    const __m512i x = _mm512_slli_epi32(_mm512_sub_epi32(widen_codes(a + i, mask), a_zero),
                                        reference::add_left_shift);
    const __m512i y = _mm512_slli_epi32(_mm512_sub_epi32(widen_codes(b + i, mask), b_zero),
                                        reference::add_left_shift);
    const __m512i sum =
        _mm512_add_epi32(apply(DoubleRounding{}, x, am), apply(DoubleRounding{}, y, bm));
    const __m512i v = apply(DoubleRounding{}, sum, om);
    convert::avx512::store16(
        out + i, _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), out_zero), mask);
  }
}

}  // namespace qinfer::kernels::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
