// SPDX-License-Identifier: Apache-2.0
//
// Element-wise reference operators on quantized tensors.
//
// add: TFLite's integer algorithm, so results match TFLite bit for bit. Both inputs are
// rescaled to a common scale 2 * max(a_scale, b_scale) after a left shift of 20 bits that keeps
// 20 bits of headroom for the fraction (|q - zp| <= 255 < 2^8, so the shifted value fits in 28
// bits), summed, then rescaled to the output:
//
//   a' = mbqm((a - a_zp) << 20, a_scale / (2 max))        mbqm: multiply_by_quantized_multiplier
//   b' = mbqm((b - b_zp) << 20, b_scale / (2 max))
//   out = clamp(mbqm(a' + b', 2 max / (2^20 out_scale)) + out_zp)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/quant/requantize.hpp"

namespace qinfer {

// The parameters of a requantizing add (make_add_params below). It lives in qinfer, not in
// reference, so that an unqualified add(params, ...) finds the dispatched operator only.
struct AddParams {
  int32_t a_zero_point = 0;
  int32_t b_zero_point = 0;
  int32_t out_zero_point = 0;
  QuantizedMultiplier a_multiplier;
  QuantizedMultiplier b_multiplier;
  QuantizedMultiplier out_multiplier;
  ClampBounds clamp{0, 0};
};

}  // namespace qinfer

namespace qinfer::reference {

using qinfer::AddParams;

inline constexpr int32_t add_left_shift = 20;

template <class T>
Result<AddParams> make_add_params(QuantParams a, QuantParams b, QuantParams out,
                                  ClampBounds clamp = {StorageTraits<T>::min,
                                                       StorageTraits<T>::max}) {
  for (const QuantParams& p : {a, b, out}) {
    if (auto s = Affine::check<T>(p); !s) return fail<AddParams>(s);
  }
  if (auto s = check_clamp<T>(clamp, "add: clamp bounds outside the storage type"); !s) {
    return fail<AddParams>(s);
  }
  const double twice_max = 2.0 * std::max<double>(a.scale, b.scale);
  const double out_real = twice_max / (double(1 << add_left_shift) * out.scale);
  AddParams p;
  p.a_zero_point = a.zero_point;
  p.b_zero_point = b.zero_point;
  p.out_zero_point = out.zero_point;
  p.clamp = clamp;
  // The input ratios lie in [2^-127, 0.5]; only the output multiplier can be out of range.
  for (auto [real, multiplier] :
       {std::pair{a.scale / twice_max, &p.a_multiplier},
        std::pair{b.scale / twice_max, &p.b_multiplier}, std::pair{out_real, &p.out_multiplier}}) {
    if (auto s = quantize_multiplier(real, *multiplier); !s) return fail<AddParams>(s);
  }
  return p;
}

template <class T>
T add_one(const AddParams& p, T a, T b) noexcept {
  const int32_t a_scaled = multiply_by_quantized_multiplier(
      (int32_t{a} - p.a_zero_point) * (1 << add_left_shift), p.a_multiplier);
  const int32_t b_scaled = multiply_by_quantized_multiplier(
      (int32_t{b} - p.b_zero_point) * (1 << add_left_shift), p.b_multiplier);
  const int64_t sum = multiply_by_quantized_multiplier(a_scaled + b_scaled, p.out_multiplier);
  return saturate<T>(sum + p.out_zero_point, p.clamp.min, p.clamp.max);
}

template <class T>
Result<void> add(const AddParams& params, Span<const T> a, Span<const T> b, Span<T> out) {
  for (Span<const T> operand : {a, b}) {
    if (auto s = qinfer::detail::check_buffers(operand, out, "add: a, b and out differ in size",
                                               "add: null buffer");
        !s) {
      return fail(s);
    }
  }
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = add_one(params, a[i], b[i]);
  return ok();
}

template <class T>
Result<void> clamp(Span<const T> input, Span<T> output, ClampBounds bounds) {
  if (auto s = qinfer::detail::check_buffers(
          input, output, "clamp: input and output differ in size", "clamp: null buffer");
      !s) {
    return fail(s);
  }
  if (auto s = check_clamp<T>(bounds, "clamp: bounds outside the storage type"); !s) return fail(s);
  for (std::size_t i = 0; i < input.size(); ++i) {
    output[i] = saturate<T>(input[i], bounds.min, bounds.max);
  }
  return ok();
}

}  // namespace qinfer::reference
