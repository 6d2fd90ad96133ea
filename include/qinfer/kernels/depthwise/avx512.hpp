// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 depthwise kernel (contract in kernels/depthwise/scalar.hpp): 16 channels per zmm, the
// AVX2 kernel's tap-pair scheme with vpdpwssd (AVX-512 VNNI), which multiplies both taps, sums
// them and accumulates in one instruction. The channel tail runs the same loop under a mask.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/kernels/depthwise/scalar.hpp"

// GCC 12 bug 105593 (see quant/convert/avx512.hpp): the widening intrinsics warn about the
// undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::avx512 {

// Activations of channels [c, c + 16) under `mask`, widened to int32 lanes as TA is signed.
template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline __m512i widen16(
    const uint8_t* x, __mmask16 mask) noexcept {
  const __m128i v = _mm_maskz_loadu_epi8(mask, x);
  return std::is_same_v<TA, int8_t> ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
depthwise_block(const DepthwiseRun& run, std::size_t offset, const int32_t* init, std::size_t c,
                __mmask16 mask, int32_t* out) noexcept {
  __m512i acc = _mm512_maskz_loadu_epi32(mask, init + c);
  for (std::size_t q = 0; q < run.pairs; ++q) {
    const __m512i first = widen16<TA>(run.taps[2 * q] + offset + c, mask);
    const __m512i second =
        _mm512_slli_epi32(widen16<TA>(run.taps[2 * q + 1] + offset + c, mask), 16);
    const __m512i x = _mm512_mask_blend_epi16(0xAAAAAAAAu, first, second);
    // Packed weights are padded to whole vectors: the full load stays inside them.
    const __m512i w = _mm512_loadu_si512(run.weights + q * run.pair_stride + 2 * c);
    acc = _mm512_dpwssd_epi32(acc, x, w);
  }
  _mm512_mask_storeu_epi32(out + c, mask, acc);
}

template <class TA>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void depthwise(
    const DepthwiseRun& run) noexcept {
  constexpr std::size_t lanes = 16;
  const std::size_t full = run.channels / lanes * lanes;
  const auto tail = static_cast<__mmask16>((1u << (run.channels - full)) - 1);
  for (std::size_t p = 0; p < run.pixels; ++p) {
    const int32_t* init = run.init + p * run.init_stride;
    int32_t* out = run.out + p * run.out_stride;
    const std::size_t offset = p * run.step;
    for (std::size_t c = 0; c < full; c += lanes) {
      depthwise_block<TA>(run, offset, init, c, 0xFFFF, out);
    }
    if (tail != 0) depthwise_block<TA>(run, offset, init, full, tail, out);
  }
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_kernel() noexcept {
  return {"avx512vnni vpdpwssd x16", Isa::avx512vnni, &depthwise<TA>};
}

}  // namespace qinfer::kernels::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
