// SPDX-License-Identifier: Apache-2.0
//
// Rounding policies for float -> integer quantization, and saturation.
//
// ONNX QuantizeLinear rounds half to even; TFLite rounds half away from zero. The two differ only
// on exact ties (2.5 -> 2 vs 3), which real data hits often: x / scale is a tie whenever x is an
// odd multiple of scale / 2. A policy is a type so a quantizer's rounding is fixed at compile time.
// Each policy has a scalar `round` (the reference) and a batch `round_to_int` used by the xsimd
// paths; tests hold the two bit-identical. Both assume the default floating-point environment
// (round-to-nearest), as every peer does.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace qinfer {

// Round half to even: ONNX QuantizeLinear, numpy.rint, x86 cvtps2dq.
struct RoundHalfToEven {
  static float round(float v) noexcept { return std::nearbyint(v); }
};

// Round half away from zero: TFLite's TfLiteRound, std::round.
struct RoundHalfAwayFromZero {
  static float round(float v) noexcept { return std::round(v); }
};

// The integer range of a storage type. Packed int4 will add tag types with min -8 / max 7.
template <class Storage>
struct StorageTraits {
  static_assert(std::numeric_limits<Storage>::is_integer && sizeof(Storage) <= 4,
                "quantized storage must be an integer type of at most 32 bits");
  static constexpr int32_t min = std::numeric_limits<Storage>::min();
  static constexpr int32_t max = std::numeric_limits<Storage>::max();
};

// Clamps an int64 into [lo, hi] and narrows: the one saturating conversion in the library.
template <class Out>
constexpr Out saturate(int64_t v, int32_t lo = StorageTraits<Out>::min,
                       int32_t hi = StorageTraits<Out>::max) noexcept {
  return static_cast<Out>(v < lo ? lo : (v > hi ? hi : v));
}

// Float to integer level, defined for every input: NaN becomes 0 (the zero point after the
// caller adds it), values are clamped into [lo, hi] before rounding so the conversion never
// overflows. lo and hi are integers, so clamping before rounding equals clamping after.
template <class Rounding>
inline int32_t round_clamped(float v, float lo, float hi) noexcept {
  if (std::isnan(v)) v = 0.0f;
  v = v < lo ? lo : (v > hi ? hi : v);
  return static_cast<int32_t>(Rounding::round(v));
}

}  // namespace qinfer
