// SPDX-License-Identifier: Apache-2.0
//
// The reference 2-D convolution: the definition every optimized convolution reproduces exactly.
//
// Activations are NHWC, weights OHWI ([out_c][kernel_h][kernel_w][in_c / groups]), output NHWC.
// For output channel oc in group g = oc / (out_c / groups):
//
//   acc = bias[oc] + sum_{ky,kx,ic} (x[n][iy][ix][g * cpg + ic] - x_zero_point)
//                                   * (w[oc][ky][kx][ic] - w_zero_point[oc])
//   y[n][oy][ox][oc] = stage(acc, oc)
//
// with iy = oy * stride_h + ky * dilation_h - pad_top (likewise ix). Taps in the padding add
// nothing: padding holds the zero point, i.e. real 0.0. Depthwise convolution is
// groups == in_c == out_c / multiplier. Accumulation is modulo 2^32 as in gemm.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/rounding.hpp"
#include "qinfer/reference/gemm.hpp"
#include "qinfer/reference/window.hpp"

namespace qinfer::reference {

struct Conv2dShape {
  std::size_t batch = 1;
  std::size_t in_c = 0;
  std::size_t out_c = 0;
  std::size_t groups = 1;
  Window1d h;
  Window1d w;

  std::size_t in_c_per_group() const noexcept { return in_c / groups; }
  std::size_t out_c_per_group() const noexcept { return out_c / groups; }
};

// Element counts of the three tensors of a convolution.
struct Conv2dSizes {
  std::size_t input = 0;
  std::size_t weights = 0;
  std::size_t output = 0;
};

// Element counts of the three tensors, or why the shape is invalid.
inline Status conv2d_sizes(const Conv2dShape& s, Conv2dSizes& sizes) noexcept {
  if (auto st = s.h.check("conv2d: invalid height geometry"); !st) return st;
  if (auto st = s.w.check("conv2d: invalid width geometry"); !st) return st;
  if (s.groups == 0 || s.in_c == 0 || s.out_c == 0 || s.in_c % s.groups != 0 ||
      s.out_c % s.groups != 0) {
    return {Errc::invalid_argument, "conv2d: channels must be > 0 and divisible by groups"};
  }
  const std::size_t dims[3][4] = {{s.batch, s.h.input, s.w.input, s.in_c},
                                  {s.out_c, s.h.kernel, s.w.kernel, s.in_c_per_group()},
                                  {s.batch, s.h.output(), s.w.output(), s.out_c}};
  std::size_t* counts[3] = {&sizes.input, &sizes.weights, &sizes.output};
  for (std::size_t t = 0; t < 3; ++t) {
    *counts[t] = 1;
    for (std::size_t d : dims[t]) {
      if (!checked_mul(*counts[t], d, *counts[t])) {
        return {Errc::size_overflow, "conv2d: tensor size overflows"};
      }
    }
  }
  return {};
}

template <class TX, class TW, class Stage>
Status validate_conv2d(const Conv2dShape& shape, Span<const TX> input, Span<const TW> weights,
                       const GemmOffsets& offsets, const Stage& stage,
                       Span<typename Stage::Output> output) noexcept {
  Conv2dSizes sizes;
  if (auto s = conv2d_sizes(shape, sizes); !s) return s;
  if (input.size() != sizes.input || weights.size() != sizes.weights ||
      output.size() != sizes.output) {
    return {Errc::shape_mismatch, "conv2d: a buffer's size does not match the shape"};
  }
  if (auto s = check_data(input.data(), input.size(), "conv2d: null input"); !s) return s;
  if (auto s = check_data(weights.data(), weights.size(), "conv2d: null weights"); !s) return s;
  if (auto s = check_data(output.data(), output.size(), "conv2d: null output"); !s) return s;
  if (auto s = detail::check_offsets<TX, TW>(offsets, shape.out_c); !s) return s;
  return stage.check(shape.out_c);
}

// Precondition: validate_conv2d() passed.
template <class TX, class TW, class Stage>
void conv2d_unchecked(const Conv2dShape& shape, const TX* input, const TW* weights,
                      const GemmOffsets& offsets, const Stage& stage,
                      typename Stage::Output* output) noexcept {
  const std::size_t out_h = shape.h.output();
  const std::size_t out_w = shape.w.output();
  const std::size_t cpg = shape.in_c_per_group();
  const std::size_t opg = shape.out_c_per_group();
  for (std::size_t n = 0; n < shape.batch; ++n) {
    for (std::size_t oy = 0; oy < out_h; ++oy) {
      for (std::size_t ox = 0; ox < out_w; ++ox) {
        for (std::size_t oc = 0; oc < shape.out_c; ++oc) {
          const std::size_t first_ic = (oc / opg) * cpg;
          const int32_t w_zero_point = broadcast_at(offsets.b_zero_points, oc);
          uint32_t acc =
              offsets.bias.empty() ? 0u : static_cast<uint32_t>(broadcast_at(offsets.bias, oc));
          for (std::size_t ky = 0; ky < shape.h.kernel; ++ky) {
            const std::ptrdiff_t iy = shape.h.coordinate(oy, ky);
            if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(shape.h.input)) continue;
            for (std::size_t kx = 0; kx < shape.w.kernel; ++kx) {
              const std::ptrdiff_t ix = shape.w.coordinate(ox, kx);
              if (ix < 0 || ix >= static_cast<std::ptrdiff_t>(shape.w.input)) continue;
              const std::size_t pixel =
                  (n * shape.h.input + static_cast<std::size_t>(iy)) * shape.w.input +
                  static_cast<std::size_t>(ix);
              const TX* x = input + pixel * shape.in_c + first_ic;
              const TW* w = weights + ((oc * shape.h.kernel + ky) * shape.w.kernel + kx) * cpg;
              for (std::size_t ic = 0; ic < cpg; ++ic) {
                acc += static_cast<uint32_t>((int32_t{x[ic]} - offsets.a_zero_point) *
                                             (int32_t{w[ic]} - w_zero_point));
              }
            }
          }
          output[((n * out_h + oy) * out_w + ox) * shape.out_c + oc] =
              stage(static_cast<int32_t>(acc), oc);
        }
      }
    }
  }
}

template <class TX, class TW, class Stage>
Result<void> conv2d(const Conv2dShape& shape, Span<const TX> input, Span<const TW> weights,
                    const GemmOffsets& offsets, const Stage& stage,
                    Span<typename Stage::Output> output) {
  static_assert(is_quantized_8bit<TX> && is_quantized_8bit<TW>,
                "conv2d: input and weights must be int8_t or uint8_t");
  if (auto s = validate_conv2d(shape, input, weights, offsets, stage, output); !s) return fail(s);
  conv2d_unchecked(shape, input.data(), weights.data(), offsets, stage, output.data());
  return ok();
}

}  // namespace qinfer::reference
