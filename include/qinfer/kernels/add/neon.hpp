// SPDX-License-Identifier: Apache-2.0
//
// The requantizing add (reference/elementwise.hpp) 8 values at a time in NEON; the last n % 8
// values run reference::add_one. NEON has gemmlowp's fixed-point steps as instructions:
// VQRDMULH is the saturating rounding doubling high multiply, VQSHL the saturating left shift,
// and VRSHL by a negative count a right shift rounding ties up, which a preceding -1 on
// negative values turns into RoundingDivideByPOT's ties away from zero. Bit-exact with
// reference::add_one.
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/reference/elementwise.hpp"

namespace qinfer::kernels::neon {

// DoubleRounding::apply (quant/requantize.hpp) on 4 lanes.
inline int32x4_t multiply_by_quantized_multiplier(int32x4_t x, QuantizedMultiplier m) noexcept {
  const int32_t left = m.shift > 0 ? m.shift : 0;
  const int32x4_t right = vdupq_n_s32(m.shift > 0 ? 0 : m.shift);  // <= 0: a right shift
  x = vqrdmulhq_n_s32(vqshlq_s32(x, vdupq_n_s32(left)), m.multiplier);
  // -1 where x < 0 and the shift is not 0: the sign bits of x & right.
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
  return vrshlq_s32(vqaddq_s32(x, fixup), right);
}

template <class T>
void add(const T* a, const T* b, T* out, std::size_t n, const reference::AddParams& p) noexcept {
  const auto widen = [](const T* x, int32x4_t& low, int32x4_t& high, int32_t zero_point) {
    int16x8_t words;
    if constexpr (std::is_same_v<T, int8_t>) {
      words = vmovl_s8(vld1_s8(x));
    } else {
      words = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(x)));
    }
    const int32x4_t zp = vdupq_n_s32(zero_point);
    low = vshlq_n_s32(vsubq_s32(vmovl_s16(vget_low_s16(words)), zp), reference::add_left_shift);
    high = vshlq_n_s32(vsubq_s32(vmovl_s16(vget_high_s16(words)), zp), reference::add_left_shift);
  };
  const int32x4_t lo = vdupq_n_s32(p.clamp.min - p.out_zero_point);
  const int32x4_t hi = vdupq_n_s32(p.clamp.max - p.out_zero_point);
  const int32x4_t out_zero = vdupq_n_s32(p.out_zero_point);
  const auto finish = [&](int32x4_t x, int32x4_t y) {
    const int32x4_t sum = vaddq_s32(multiply_by_quantized_multiplier(x, p.a_multiplier),
                                    multiply_by_quantized_multiplier(y, p.b_multiplier));
    const int32x4_t v = multiply_by_quantized_multiplier(sum, p.out_multiplier);
    return vaddq_s32(vminq_s32(vmaxq_s32(v, lo), hi), out_zero);
  };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int32x4_t a_low, a_high, b_low, b_high;
    widen(a + i, a_low, a_high, p.a_zero_point);
    widen(b + i, b_low, b_high, p.b_zero_point);
    // The levels lie inside T's range, so the saturating narrowing only narrows them.
    const int16x8_t words =
        vcombine_s16(vqmovn_s32(finish(a_low, b_low)), vqmovn_s32(finish(a_high, b_high)));
    if constexpr (std::is_same_v<T, int8_t>) {
      vst1_s8(out + i, vqmovn_s16(words));
    } else {
      vst1_u8(out + i, vqmovun_s16(words));
    }
  }
  for (; i < n; ++i) out[i] = reference::add_one(p, a[i], b[i]);
}

}  // namespace qinfer::kernels::neon

#endif
