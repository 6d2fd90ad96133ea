// SPDX-License-Identifier: Apache-2.0
//
// NEON dotprod depthwise kernel (contract in kernels/depthwise/scalar.hpp) for weights with the
// quads layout (kernels/depthwise/packing.hpp): sdot multiplies 4 taps per 32-bit lane where
// the NEON kernel's smlal multiplies 1 tap per lane of int16.
//
// Per tap quad, the activations of 16 channels at 4 taps are zipped by bytes and then by
// halfwords into four vectors whose lane k holds the 4 taps of one channel: vector i covers
// channels 4 i .. 4 i + 3 of the 16. In the quads layout those channels' weights are 16
// contiguous bytes, at 64 i + 16 j in the 64-channel block whose j-th 16 channels these are,
// so the x86 layout serves unchanged.
//
// sdot multiplies signed bytes. int8 activations enter as they are; uint8 activations enter as
// x - 128 (the top bit flipped), and 128 times each channel's sum of the run's weights, itself
// an sdot of the weights by ones, restores sum x w'. Both are exact modulo 2^32.
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/depthwise/scalar.hpp"

namespace qinfer::kernels::dotprod {

// acc[i] += the sums of 16 channels (acc[i]: channels 4 i .. 4 i + 3) at taps[t] + offset over
// `groups` quads, whose weights for these channels start at `weights`.
template <class TA>
__attribute__((always_inline, target("arch=armv8.2-a+dotprod"))) inline void sums16(
    const uint8_t* const* taps, std::size_t offset, std::size_t groups, const int8_t* weights,
    std::size_t quad_stride, int32x4_t (&acc)[4]) noexcept {
  const uint8x16_t flip = vdupq_n_u8(std::is_same_v<TA, uint8_t> ? 0x80 : 0);
  for (std::size_t q = 0; q < groups; ++q) {
    int8x16_t x[4];
    for (std::size_t u = 0; u < 4; ++u) {
      x[u] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(taps[4 * q + u] + offset), flip));
    }
    const int16x8_t lo01 = vreinterpretq_s16_s8(vzip1q_s8(x[0], x[1]));
    const int16x8_t hi01 = vreinterpretq_s16_s8(vzip2q_s8(x[0], x[1]));
    const int16x8_t lo23 = vreinterpretq_s16_s8(vzip1q_s8(x[2], x[3]));
    const int16x8_t hi23 = vreinterpretq_s16_s8(vzip2q_s8(x[2], x[3]));
    const int8x16_t quads[4] = {
        vreinterpretq_s8_s16(vzip1q_s16(lo01, lo23)), vreinterpretq_s8_s16(vzip2q_s16(lo01, lo23)),
        vreinterpretq_s8_s16(vzip1q_s16(hi01, hi23)), vreinterpretq_s8_s16(vzip2q_s16(hi01, hi23))};
    const int8_t* w = weights + q * quad_stride;
    for (std::size_t i = 0; i < 4; ++i) acc[i] = vdotq_s32(acc[i], quads[i], vld1q_s8(w + 64 * i));
  }
}

template <class TA>
__attribute__((target("arch=armv8.2-a+dotprod"))) void depthwise(const DepthwiseRun& run) noexcept {
  const std::size_t taps = run.groups * 4;
  // A step of fewer than 16 channels reads zero-padded copies of its activations: a full load
  // could read past the image.
  alignas(16) uint8_t staged[depthwise_run_taps][16] = {};
  const uint8_t* staged_taps[depthwise_run_taps];
  for (std::size_t t = 0; t < taps; ++t) staged_taps[t] = staged[t];
  for (std::size_t c = 0; c < run.channels; c += 16) {
    const std::size_t count = std::min<std::size_t>(16, run.channels - c);
    const int8_t* weights =
        run.quads + c / depthwise_quad_block * depthwise_quad_block * 4 + c % depthwise_quad_block;
    // 128 sum_t w'[t] per channel for uint8 activations, which enter as x - 128.
    int32x4_t start[4];
    for (auto& v : start) v = vdupq_n_s32(0);
    if constexpr (std::is_same_v<TA, uint8_t>) {
      const int8x16_t ones = vdupq_n_s8(1);
      for (std::size_t q = 0; q < run.groups; ++q) {
        for (std::size_t i = 0; i < 4; ++i) {
          start[i] = vdotq_s32(start[i], ones, vld1q_s8(weights + q * run.quad_stride + 64 * i));
        }
      }
      for (auto& v : start) v = vshlq_n_s32(v, 7);
    }
    for (std::size_t p = 0; p < run.pixels; ++p) {
      const int32_t* init = run.init + p * run.init_stride + c;
      int32_t* out = run.out + p * run.out_stride + c;
      int32x4_t acc[4] = {start[0], start[1], start[2], start[3]};
      if (count == 16) {
        sums16<TA>(run.taps, p * run.step + c, run.groups, weights, run.quad_stride, acc);
        for (std::size_t i = 0; i < 4; ++i) {
          vst1q_s32(out + 4 * i, vaddq_s32(vld1q_s32(init + 4 * i), acc[i]));
        }
        continue;
      }
      for (std::size_t t = 0; t < taps; ++t) {
        std::memcpy(staged[t], run.taps[t] + p * run.step + c, count);
      }
      sums16<TA>(staged_taps, 0, run.groups, weights, run.quad_stride, acc);
      alignas(16) int32_t sums[16];
      for (std::size_t i = 0; i < 4; ++i) vst1q_s32(sums + 4 * i, acc[i]);
      for (std::size_t k = 0; k < count; ++k) {
        out[k] =
            static_cast<int32_t>(static_cast<uint32_t>(init[k]) + static_cast<uint32_t>(sums[k]));
      }
    }
  }
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_quads_kernel() noexcept {
  return {"dotprod sdot x16", Isa::dotprod, 4, false, &depthwise<TA>};
}

}  // namespace qinfer::kernels::dotprod
#endif
