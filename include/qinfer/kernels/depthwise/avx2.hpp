// SPDX-License-Identifier: Apache-2.0
//
// AVX2 depthwise kernel (contract in kernels/depthwise/scalar.hpp): 8 channels per ymm. Per tap
// pair, each tap's 8 activations are widened to int32 lanes, the second tap's moved to the upper
// 16 bits and blended over the first's, so that one vpmaddwd multiplies both taps by their packed
// int16 weights and sums them per channel: exact, as both products and their sum fit int32.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/depthwise/scalar.hpp"

namespace qinfer::kernels::avx2 {

// 8 activations widened to int32 lanes, sign- or zero-extended as TA is.
template <class TA>
__attribute__((always_inline, target("avx2"))) inline __m256i widen8(const uint8_t* x) noexcept {
  int64_t bytes = 0;
  std::memcpy(&bytes, x, sizeof bytes);
  const __m128i v = _mm_cvtsi64_si128(bytes);
  return std::is_same_v<TA, int8_t> ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

template <class TA>
__attribute__((target("avx2"))) void depthwise(const DepthwiseRun& run) noexcept {
  constexpr std::size_t lanes = 8;
  for (std::size_t p = 0; p < run.pixels; ++p) {
    const int32_t* init = run.init + p * run.init_stride;
    int32_t* out = run.out + p * run.out_stride;
    const std::size_t offset = p * run.step;
    std::size_t c = 0;
    for (; c + lanes <= run.channels; c += lanes) {
      __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(init + c));
      for (std::size_t q = 0; q < run.groups; ++q) {
        const __m256i first = widen8<TA>(run.taps[2 * q] + offset + c);
        const __m256i second = _mm256_slli_epi32(widen8<TA>(run.taps[2 * q + 1] + offset + c), 16);
        const __m256i x = _mm256_blend_epi16(first, second, 0xAA);
        const __m256i w = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(run.pairs + q * run.pair_stride + 2 * c));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), acc);
    }
    scalar::depthwise_channels<TA>(run, p, c);
  }
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_kernel() noexcept {
  return {"avx2 vpmaddwd x8", Isa::avx2, 2, false, &depthwise<TA>};
}

}  // namespace qinfer::kernels::avx2
#endif
