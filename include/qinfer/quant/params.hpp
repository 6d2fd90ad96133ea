// SPDX-License-Identifier: Apache-2.0
//
// Quantization parameters and the schemes that choose them.
//
//   real = scale * (q - zero_point)
//
// A scheme fixes the integer range a quantizer may use and how (scale, zero_point) follow from a
// real range [min, max]:
//   - Affine: the full storage range, any zero point. The range is first widened to contain 0
//     and the zero point is then rounded ("nudged") to an integer, so that real 0.0 has an exact
//     code: zero padding and ReLU's 0 must not carry a rounding error into every layer
//     (gemmlowp, doc/quantization.md).
//   - Symmetric<narrow>: the zero point is the middle of the storage range (0 for int8, 128 for
//     uint8). With narrow = true the lowest code is unused (int8: [-127, 127]), as TFLite
//     requires for weights so that -w is representable for every w.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "qinfer/core/error.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer {

struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;

  friend constexpr bool operator==(const QuantParams& a, const QuantParams& b) noexcept {
    return a.scale == b.scale && a.zero_point == b.zero_point;
  }
};

// A scale must be a positive, finite, normal float: a subnormal scale loses the precision of
// every dequantized value and its reciprocal overflows.
inline constexpr bool is_valid_scale(float scale) noexcept {
  return scale >= FLT_MIN && scale <= FLT_MAX;  // false for NaN too
}

inline Status check_scale(float scale, const char* message) noexcept {
  return is_valid_scale(scale) ? Status{} : Status(Errc::invalid_scale, message);
}

inline Status check_zero_point(int32_t zero_point, int32_t qmin, int32_t qmax,
                               const char* message) noexcept {
  return zero_point >= qmin && zero_point <= qmax ? Status{}
                                                  : Status(Errc::invalid_zero_point, message);
}

inline Status check_range(float min, float max) noexcept {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    return {Errc::invalid_range, "range: min and max must be finite"};
  }
  if (min > max) return {Errc::invalid_range, "range: min must not exceed max"};
  return {};
}

struct Affine {
  template <class Storage>
  static constexpr int32_t qmin = StorageTraits<Storage>::min;
  template <class Storage>
  static constexpr int32_t qmax = StorageTraits<Storage>::max;

  template <class Storage>
  static Status check(QuantParams p) noexcept {
    if (auto s = check_scale(p.scale, "quantizer: scale must be finite, normal and > 0"); !s) {
      return s;
    }
    return check_zero_point(p.zero_point, qmin<Storage>, qmax<Storage>,
                            "quantizer: zero_point outside the storage type's range");
  }

  // Precondition: check_range(min, max) passed.
  template <class Storage>
  static QuantParams params_from_range(float min, float max) noexcept {
    const double lo = std::min(0.0, static_cast<double>(min));
    const double hi = std::max(0.0, static_cast<double>(max));
    if (hi == lo) return {1.0f, qmin<Storage>};  // all zeros: any scale represents them exactly
    const float scale =
        std::max(static_cast<float>((hi - lo) / (qmax<Storage> - qmin<Storage>)), FLT_MIN);
    // lo <= 0 so the ideal zero point qmin - lo/scale is >= qmin; rounding it is the nudge.
    const double zero_point = qmin<Storage> - std::nearbyint(lo / scale);
    return {scale, static_cast<int32_t>(std::min<double>(zero_point, qmax<Storage>))};
  }
};

// Codes symmetric about the zero point (the middle of the storage type's range), optionally
// without the lowest code (NarrowRange, as TFLite's weights), and optionally limited to Bits
// bits around the zero point: 7-bit weights let the AVX2 GEMM use vpmaddubsw without overflow
// (kernels/gemm/avx2.hpp).
template <bool NarrowRange = false, int Bits = 8>
struct Symmetric {
  template <class Storage>
  static constexpr int32_t zero_point = StorageTraits<Storage>::min == 0
                                            ? (StorageTraits<Storage>::max + 1) / 2
                                            : 0;
  template <class Storage>
  static constexpr int32_t half_range = [] {
    static_assert(Bits >= 2 && Bits <= 8 * int{sizeof(Storage)}, "Symmetric: Bits out of range");
    return int32_t{1} << (Bits - 1);
  }();
  template <class Storage>
  static constexpr int32_t qmin = zero_point<Storage> - half_range<Storage> + (NarrowRange ? 1 : 0);
  template <class Storage>
  static constexpr int32_t qmax = zero_point<Storage> + half_range<Storage> - 1;

  template <class Storage>
  static Status check(QuantParams p) noexcept {
    if (auto s = check_scale(p.scale, "quantizer: scale must be finite, normal and > 0"); !s) {
      return s;
    }
    return p.zero_point == zero_point<Storage>
               ? Status{}
               : Status(Errc::invalid_zero_point,
                        "symmetric quantizer: zero_point must be the middle of the range");
  }

  // The larger magnitude maps to the last code on the shorter side of the zero point, so
  // nothing inside [min, max] is clipped.
  template <class Storage>
  static QuantParams params_from_range(float min, float max) noexcept {
    const double amax = std::max(std::fabs(static_cast<double>(min)), std::fabs(double{max}));
    const int32_t levels =
        std::min(qmax<Storage> - zero_point<Storage>, zero_point<Storage> - qmin<Storage>);
    if (amax == 0.0) return {1.0f, zero_point<Storage>};
    return {std::max(static_cast<float>(amax / levels), FLT_MIN), zero_point<Storage>};
  }
};

using SymmetricNarrow = Symmetric<true>;
// [-63, 63] in int8: weights for the AVX2 GEMM's fast kernel.
using SymmetricSevenBit = Symmetric<true, 7>;

// Parameters for [min, max] under a scheme, with the range checked.
template <class Storage, class Scheme = Affine>
Result<QuantParams> choose_params(float min, float max) {
  if (auto s = check_range(min, max); !s) return fail<QuantParams>(s);
  return Scheme::template params_from_range<Storage>(min, max);
}

}  // namespace qinfer
