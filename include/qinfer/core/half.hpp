// SPDX-License-Identifier: Apache-2.0
//
// 16-bit floats as bit patterns: IEEE binary16 (the scales of llama.cpp's blocks, safetensors'
// F16) and bfloat16. Conversions to float are exact; float to binary16 rounds to nearest, ties
// to even, as the hardware converters (vcvtps2ph, fcvt) do, with overflow to infinity.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace qinfer {

// IEEE binary16 to float, exactly (every half is a float).
inline float half_to_float(uint16_t h) noexcept {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // Inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    uint32_t m = mantissa, e = 113;
    while ((m & 0x400u) == 0) m <<= 1, --e;
    bits = sign | (e << 23) | ((m & 0x3ffu) << 13);
  }
  float f = 0.0f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// float to IEEE binary16, rounding to nearest even; NaN stays NaN (quiet), magnitudes from
// 65520 up become infinity.
inline uint16_t float_to_half(float f) noexcept {
  uint32_t bits = 0;
  std::memcpy(&bits, &f, sizeof bits);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {
    const uint32_t nan = magnitude > 0x7f800000u ? 0x200u | ((magnitude >> 13) & 0x3ffu) : 0u;
    return static_cast<uint16_t>(sign | 0x7c00u | nan);
  }
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520
  if (magnitude >= 0x38800000u) {  // a normal half (>= 2^-14): round at bit 13, rebias by 112
    const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (magnitude < 0x33000000u) return sign;  // below 2^-25: zero (2^-25 itself ties to zero)
  // A subnormal half: units of 2^-24, the float's 24-bit significand shifted right by 126 - e.
  // A carry into bit 10 gives the smallest normal half, which is the right answer.
  const uint32_t e = magnitude >> 23, significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - e;
  const uint32_t units =
      (significand + (1u << (shift - 1)) - 1 + ((significand >> shift) & 1u)) >> shift;
  return static_cast<uint16_t>(sign | units);
}

// bfloat16 is the top half of a float.
inline float bfloat16_to_float(uint16_t b) noexcept {
  const uint32_t bits = uint32_t{b} << 16;
  float f = 0.0f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// How a quantized format stores its scales (and minimums, biases): fp32, or fp16 to halve them.
enum class ScaleFormat : uint8_t { fp32, fp16 };

template <ScaleFormat F>
using ScaleStorage = std::conditional_t<F == ScaleFormat::fp32, float, uint16_t>;

inline float scale_value(float stored) noexcept {
  return stored;
}
inline float scale_value(uint16_t stored) noexcept {
  return half_to_float(stored);
}

// v as format F stores it: itself, or rounded to fp16.
template <ScaleFormat F>
ScaleStorage<F> store_scale(float v) noexcept {
  if constexpr (F == ScaleFormat::fp32) {
    return v;
  } else {
    return float_to_half(v);
  }
}

}  // namespace qinfer
