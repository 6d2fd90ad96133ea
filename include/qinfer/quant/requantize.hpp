// SPDX-License-Identifier: Apache-2.0
//
// Requantization: int32 accumulator -> quantized output. This header is normative: every kernel
// in the library reproduces these functions bit for bit.
//
// An accumulator `acc` of products (a - a_zp) * (b - b_zp) stands for the real value
// acc * a_scale * b_scale. Expressed in the output's quantization:
//
//   q_out = zp_out + acc * M,   M = a_scale * b_scale / out_scale   (M is positive, usually < 1)
//
// Two families compute the product acc * M:
//
// 1. Float (ONNX QLinearMatMul / QLinearConv, XNNPACK's fp32 requantization):
//      q_out = saturate(round_half_even(float(acc) * float(M)) + zp_out)
//    float(acc) rounds to nearest-even for |acc| > 2^24. The multiply is a single IEEE operation,
//    so every ISA with IEEE floats gives the same bits; there is no a*b+c pattern that a
//    compiler could contract into an FMA.
//
// 2. Fixed point (TFLite, gemmlowp, CMSIS-NN): M = m * 2^(shift - 31) with a Q31 multiplier
//    m in [2^30, 2^31), computed once by quantize_multiplier(). Two roundings are in use:
//    - DoubleRounding (gemmlowp, TFLite's reference kernels): a saturating rounding doubling
//      high multiply, round(acc * m / 2^31) with ties toward +infinity (ARM VQRDMULH), then a
//      rounding right shift by -shift with ties away from zero (RoundingDivideByPOT).
//    - SingleRounding (TFLITE_SINGLE_ROUNDING, ruy, CMSIS_NN_USE_SINGLE_ROUNDING): the exact
//      64-bit product acc * m shifted right by 31 - shift once, ties toward +infinity.
//    They disagree by one on roughly 2% of outputs (tflite-micro#3252); pick the one matching
//    the model's producer. Positive shifts (M >= 1) are applied as a saturating left shift of
//    acc first, which gemmlowp leaves undefined on overflow.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "qinfer/core/error.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer {

// real multiplier = multiplier * 2^(shift - 31); multiplier is 0 or in [2^30, 2^31).
struct QuantizedMultiplier {
  int32_t multiplier = 0;
  int32_t shift = 0;
};

// The largest left shift kept, so real multipliers must stay below 2^30: no product of sane
// scales comes near it, and a larger shift would overflow any non-trivial accumulator.
inline constexpr int32_t max_multiplier_shift = 30;
// Below 2^-32 every int32 accumulator rounds to 0, which multiplier 0 reproduces exactly.
inline constexpr int32_t min_multiplier_shift = -31;

// Q31 multiplier and shift for a real multiplier in (0, 2^30). Rounds the mantissa half away
// from zero as TFLite's QuantizeMultiplier does.
inline Status quantize_multiplier(double real, QuantizedMultiplier& out) noexcept {
  if (!(real > 0.0) || !std::isfinite(real)) {
    return {Errc::invalid_scale, "quantize_multiplier: real multiplier must be finite and > 0"};
  }
  int exponent = 0;
  const double fraction = std::frexp(real, &exponent);  // real = fraction * 2^exponent
  auto q = static_cast<int64_t>(std::round(fraction * 2147483648.0));
  if (q == (int64_t{1} << 31)) {  // the fraction rounded up to 1.0
    q /= 2;
    ++exponent;
  }
  if (exponent > max_multiplier_shift) {
    return {Errc::invalid_scale, "quantize_multiplier: real multiplier exceeds 2^30"};
  }
  out = exponent < min_multiplier_shift ? QuantizedMultiplier{0, 0}
                                        : QuantizedMultiplier{static_cast<int32_t>(q), exponent};
  return {};
}

inline Result<QuantizedMultiplier> quantize_multiplier(double real) {
  QuantizedMultiplier m;
  if (auto s = quantize_multiplier(real, m); !s) return fail<QuantizedMultiplier>(s);
  return m;
}

// round(a * b / 2^31), ties toward +infinity, saturating the single overflow case
// INT32_MIN * INT32_MIN. Identical to ARM's VQRDMULH and gemmlowp's
// SaturatingRoundingDoublingHighMul.
constexpr int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) noexcept {
  if (a == std::numeric_limits<int32_t>::min() && b == a) {
    return std::numeric_limits<int32_t>::max();
  }
  const int64_t ab = int64_t{a} * b;
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : 1 - (int64_t{1} << 30);
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));  // C++ division truncates
}

// round(x / 2^exponent), ties away from zero, for exponent in [0, 31].
constexpr int32_t rounding_divide_by_pot(int32_t x, int32_t exponent) noexcept {
  const int64_t mask = (int64_t{1} << exponent) - 1;
  const int64_t remainder = x & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<int32_t>((int64_t{x} >> exponent) + (remainder > threshold ? 1 : 0));
}

// x * 2^shift for shift >= 0, saturated to int32.
constexpr int32_t saturating_left_shift(int32_t x, int32_t shift) noexcept {
  return saturate<int32_t>(int64_t{x} * (int64_t{1} << shift));
}

struct DoubleRounding {
  static constexpr int32_t apply(int32_t x, QuantizedMultiplier m) noexcept {
    const int32_t left = m.shift > 0 ? m.shift : 0;
    const int32_t right = m.shift > 0 ? 0 : -m.shift;
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(saturating_left_shift(x, left), m.multiplier), right);
  }
};

struct SingleRounding {
  static constexpr int32_t apply(int32_t x, QuantizedMultiplier m) noexcept {
    const int32_t total_shift = 31 - m.shift;  // in [1, 62]
    const int64_t rounded =
        (int64_t{x} * m.multiplier + (int64_t{1} << (total_shift - 1))) >> total_shift;
    return saturate<int32_t>(rounded);
  }
};

// TFLite's name for the classic double-rounding product.
constexpr int32_t multiply_by_quantized_multiplier(int32_t x, QuantizedMultiplier m) noexcept {
  return DoubleRounding::apply(x, m);
}

// Family 1: the float requantization of ONNX QLinear* operators, before the zero point.
inline int32_t requantize_float(int32_t acc, float multiplier, float lo, float hi) noexcept {
  return round_clamped<RoundHalfToEven>(static_cast<float>(acc) * multiplier, lo, hi);
}

}  // namespace qinfer
