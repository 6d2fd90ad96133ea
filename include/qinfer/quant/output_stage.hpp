// SPDX-License-Identifier: Apache-2.0
//
// Output stages: what a GEMM or convolution does with each int32 accumulator (bias already
// added) of output channel `channel`. A kernel takes the stage as a template parameter and calls
// it in its epilogue, so a new output scheme is a new stage, never a new kernel (fbgemm's
// ReQuantizeOutput chain, gemmlowp's output pipelines).
//
// Stages are small non-owning views: per-channel parameters live in caller storage, with either
// one entry (per tensor) or one per output channel. `check(channels)` validates a stage before
// a kernel runs; the call operator itself never fails.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qinfer/core/error.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/requantize.hpp"

namespace qinfer {

// The raw accumulator (ONNX MatMulInteger / ConvInteger).
struct StoreInt32 {
  using Output = int32_t;
  Status check(std::size_t /*channels*/) const noexcept { return {}; }
  int32_t operator()(int32_t acc, std::size_t /*channel*/) const noexcept { return acc; }
};

namespace detail {

// Whether every value is finite and above 0, in one pass without an early exit that the compiler
// vectorizes (NaN fails both comparisons): stages check all their channels on every call, and
// an early-exit loop over 960 multipliers was 5% of a 7x7 depthwise layer's time, twice per call.
inline bool all_finite_positive(Span<const float> values) noexcept {
  int valid = 1;
  for (float v : values) valid &= (v > 0.0f) & (v <= std::numeric_limits<float>::max());
  return valid != 0;
}

}  // namespace detail

// Real-valued output: acc * scales[channel], where scales holds a_scale * b_scale[channel].
struct DequantizeFloat {
  using Output = float;
  Span<const float> scales;

  Status check(std::size_t channels) const noexcept {
    if (!is_broadcastable(scales, channels)) {
      return {Errc::shape_mismatch, "DequantizeFloat: scales must have 1 or channels entries"};
    }
    if (!detail::all_finite_positive(scales)) {
      return {Errc::invalid_scale, "DequantizeFloat: scales must be finite and > 0"};
    }
    return {};
  }
  float operator()(int32_t acc, std::size_t channel) const noexcept {
    return static_cast<float>(acc) * broadcast_at(scales, channel);
  }
};

// Quantized clamp bounds of an output: a fused activation (see activation_bounds).
struct ClampBounds {
  int32_t min;
  int32_t max;
};

template <class T>
constexpr Status check_clamp(ClampBounds b, const char* message) noexcept {
  return b.min <= b.max && b.min >= StorageTraits<T>::min && b.max <= StorageTraits<T>::max
             ? Status{}
             : Status(Errc::invalid_argument, message);
}

namespace detail {
template <class Out>
Status check_output_bounds(int32_t zero_point, int32_t min, int32_t max, const char* who) noexcept {
  if (auto s = check_zero_point(zero_point, StorageTraits<Out>::min, StorageTraits<Out>::max, who);
      !s) {
    return s;
  }
  return check_clamp<Out>({min, max}, "output stage: clamp bounds outside the output type");
}
}  // namespace detail

// Float requantization (family 1 in requantize.hpp), clamped to [min, max].
template <class Out>
struct RequantizeFloat {
  using Output = Out;
  Span<const float> multipliers;  // a_scale * b_scale[c] / out_scale
  int32_t zero_point = 0;
  int32_t min = StorageTraits<Out>::min;
  int32_t max = StorageTraits<Out>::max;

  Status check(std::size_t channels) const noexcept {
    if (!is_broadcastable(multipliers, channels)) {
      return {Errc::shape_mismatch, "RequantizeFloat: multipliers must have 1 or channels entries"};
    }
    if (!detail::all_finite_positive(multipliers)) {
      return {Errc::invalid_scale, "RequantizeFloat: multipliers must be finite and > 0"};
    }
    return detail::check_output_bounds<Out>(zero_point, min, max,
                                            "RequantizeFloat: zero_point outside the output type");
  }
  Out operator()(int32_t acc, std::size_t channel) const noexcept {
    const int32_t v = requantize_float(acc, broadcast_at(multipliers, channel),
                                       static_cast<float>(min - zero_point),
                                       static_cast<float>(max - zero_point));
    return static_cast<Out>(v + zero_point);
  }
};

// Fixed-point requantization (family 2 in requantize.hpp), clamped to [min, max].
template <class Out, class Rounding = DoubleRounding>
struct RequantizeFixedPoint {
  using Output = Out;
  Span<const QuantizedMultiplier> multipliers;
  int32_t zero_point = 0;
  int32_t min = StorageTraits<Out>::min;
  int32_t max = StorageTraits<Out>::max;

  Status check(std::size_t channels) const noexcept {
    if (!is_broadcastable(multipliers, channels)) {
      return {Errc::shape_mismatch,
              "RequantizeFixedPoint: multipliers must have 1 or channels entries"};
    }
    for (const QuantizedMultiplier& m : multipliers) {
      const bool zero = m.multiplier == 0 && m.shift == 0;
      const bool normalized = m.multiplier >= (int32_t{1} << 30) &&
                              m.shift >= min_multiplier_shift && m.shift <= max_multiplier_shift;
      if (!zero && !normalized) {
        return {Errc::invalid_scale,
                "RequantizeFixedPoint: multipliers must come from quantize_multiplier"};
      }
    }
    return detail::check_output_bounds<Out>(
        zero_point, min, max, "RequantizeFixedPoint: zero_point outside the output type");
  }
  Out operator()(int32_t acc, std::size_t channel) const noexcept {
    const int64_t v =
        int64_t{Rounding::apply(acc, broadcast_at(multipliers, channel))} + zero_point;
    return saturate<Out>(v, min, max);
  }
};

// A stage restricted to channels [first, first + count): per-channel parameters are sliced,
// per-tensor ones kept. Kernels apply stages tile by tile with this.
template <class T>
Span<const T> slice_channels(Span<const T> values, std::size_t first, std::size_t count) noexcept {
  return values.size() == 1 ? values : values.subspan(first, count);
}
inline StoreInt32 slice_channels(const StoreInt32& stage, std::size_t, std::size_t) noexcept {
  return stage;
}
inline DequantizeFloat slice_channels(const DequantizeFloat& stage, std::size_t first,
                                      std::size_t count) noexcept {
  return {slice_channels(stage.scales, first, count)};
}
template <class Out>
RequantizeFloat<Out> slice_channels(const RequantizeFloat<Out>& stage, std::size_t first,
                                    std::size_t count) noexcept {
  return {slice_channels(stage.multipliers, first, count), stage.zero_point, stage.min, stage.max};
}
template <class Out, class Rounding>
RequantizeFixedPoint<Out, Rounding> slice_channels(const RequantizeFixedPoint<Out, Rounding>& stage,
                                                   std::size_t first, std::size_t count) noexcept {
  return {slice_channels(stage.multipliers, first, count), stage.zero_point, stage.min, stage.max};
}

// Fused activations expressed as quantized clamp bounds.
enum class Activation { none, relu, relu6 };

// The quantized [min, max] that applies `activation` to an output quantized with `out`.
template <class Out>
ClampBounds activation_bounds(Activation activation, QuantParams out) noexcept {
  constexpr int32_t qmin = StorageTraits<Out>::min;
  constexpr int32_t qmax = StorageTraits<Out>::max;
  switch (activation) {
    case Activation::none:
      return {qmin, qmax};
    case Activation::relu:
      return {std::max(qmin, out.zero_point), qmax};
    case Activation::relu6: {
      const double six = std::nearbyint(6.0 / out.scale) + out.zero_point;
      return {std::max(qmin, out.zero_point), static_cast<int32_t>(std::min<double>(qmax, six))};
    }
  }
  return {qmin, qmax};
}

}  // namespace qinfer
