// SPDX-License-Identifier: Apache-2.0
//
// NEON depthwise kernel (contract in kernels/depthwise/scalar.hpp): 8 channels per iteration in
// two int32x4 accumulators. vld2q_s16 splits the packed tap pairs into each tap's 8 weights, and
// vmlal_s16 multiplies the widened activations by them: the int16 products of the AVX kernels,
// accumulated in int32, exact.
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/kernels/depthwise/scalar.hpp"

namespace qinfer::kernels::neon {

template <class TA>
inline int16x8_t widen8(const uint8_t* x) noexcept {
  const uint8x8_t bytes = vld1_u8(x);
  if constexpr (std::is_same_v<TA, int8_t>) {
    return vmovl_s8(vreinterpret_s8_u8(bytes));
  } else {
    return vreinterpretq_s16_u16(vmovl_u8(bytes));
  }
}

template <class TA>
void depthwise(const DepthwiseRun& run) noexcept {
  for (std::size_t p = 0; p < run.pixels; ++p) {
    const int32_t* init = run.init + p * run.init_stride;
    int32_t* out = run.out + p * run.out_stride;
    const std::size_t offset = p * run.step;
    std::size_t c = 0;
    for (; c + 8 <= run.channels; c += 8) {
      int32x4_t lo = vld1q_s32(init + c), hi = vld1q_s32(init + c + 4);
      for (std::size_t q = 0; q < run.groups; ++q) {
        const int16x8x2_t w = vld2q_s16(run.pairs + q * run.pair_stride + 2 * c);
        const int16x8_t first = widen8<TA>(run.taps[2 * q] + offset + c);
        const int16x8_t second = widen8<TA>(run.taps[2 * q + 1] + offset + c);
        lo = vmlal_s16(lo, vget_low_s16(first), vget_low_s16(w.val[0]));
        hi = vmlal_high_s16(hi, first, w.val[0]);
        lo = vmlal_s16(lo, vget_low_s16(second), vget_low_s16(w.val[1]));
        hi = vmlal_high_s16(hi, second, w.val[1]);
      }
      vst1q_s32(out + c, lo);
      vst1q_s32(out + c + 4, hi);
    }
    scalar::depthwise_channels<TA>(run, p, c);
  }
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_kernel() noexcept {
  return {"neon smlal x8", Isa::neon, 2, false, &depthwise<TA>};
}

}  // namespace qinfer::kernels::neon
#endif
