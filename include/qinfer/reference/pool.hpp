// SPDX-License-Identifier: Apache-2.0
//
// Reference pooling over NHWC quantized tensors whose input and output share quantization
// parameters (as TFLite requires), so pooling works on the stored codes directly.
//
//   max:      the largest code among the window's taps inside the input (padding never wins)
//   average:  round_half_away(sum of codes / count), TFLite's rounding; count is the number of
//             taps inside the input, or the whole window with count_include_pad, where padded
//             taps hold the zero point (real 0.0)
//   global:   average over all of H x W
// Then both clamp to [clamp.min, clamp.max] (a fused ReLU/ReLU6). Every padding must be
// smaller than the kernel, so that every window holds at least one real tap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/rounding.hpp"
#include "qinfer/reference/window.hpp"

namespace qinfer {

// The shape of a 2-D pooling, shared by the reference and ops/pool.hpp. It lives in qinfer, not
// in reference, so that an unqualified max_pool2d(shape, ...) finds the dispatched operator only.
struct Pool2dShape {
  std::size_t batch = 1;
  std::size_t channels = 0;
  reference::Window1d h;
  reference::Window1d w;
  bool count_include_pad = false;
  int32_t zero_point = 0;  // the padded taps' code, with count_include_pad

  // One window over each whole image, no padding. An empty image keeps a kernel of 1, so the
  // shape check reports it as a shape mismatch, not as an invalid kernel.
  static Pool2dShape global(std::size_t batch, std::size_t height, std::size_t width,
                            std::size_t channels) noexcept {
    Pool2dShape shape;
    shape.batch = batch;
    shape.channels = channels;
    shape.h = {height, height == 0 ? 1 : height};
    shape.w = {width, width == 0 ? 1 : width};
    return shape;
  }
};

}  // namespace qinfer

namespace qinfer::reference {

using qinfer::Pool2dShape;

// round(sum / count) with ties away from zero, for count > 0.
constexpr int32_t rounded_average(int64_t sum, int64_t count) noexcept {
  return static_cast<int32_t>((sum + (sum >= 0 ? count / 2 : -(count / 2))) / count);
}

namespace detail {

template <class T>
Status check_pool(const Pool2dShape& s, Span<const T> input, Span<T> output,
                  ClampBounds clamp) noexcept {
  if (auto st = s.h.check("pool2d: invalid height geometry"); !st) return st;
  if (auto st = s.w.check("pool2d: invalid width geometry"); !st) return st;
  if (s.h.dilation != 1 || s.w.dilation != 1) {
    return {Errc::invalid_argument, "pool2d: dilation must be 1"};
  }
  if (s.h.pad_begin >= s.h.kernel || s.h.pad_end >= s.h.kernel || s.w.pad_begin >= s.w.kernel ||
      s.w.pad_end >= s.w.kernel) {
    return {Errc::invalid_argument, "pool2d: padding must be smaller than the kernel"};
  }
  const std::size_t in_dims[] = {s.batch, s.h.input, s.w.input, s.channels};
  const std::size_t out_dims[] = {s.batch, s.h.output(), s.w.output(), s.channels};
  std::size_t in_count = 1;
  std::size_t out_count = 1;
  for (std::size_t i = 0; i < 4; ++i) {
    if (!checked_mul(in_count, in_dims[i], in_count) ||
        !checked_mul(out_count, out_dims[i], out_count)) {
      return {Errc::size_overflow, "pool2d: tensor size overflows"};
    }
  }
  if (input.size() != in_count || output.size() != out_count) {
    return {Errc::shape_mismatch, "pool2d: a buffer's size does not match the shape"};
  }
  if (auto st = check_data(input.data(), in_count, "pool2d: null input"); !st) return st;
  if (auto st = check_data(output.data(), out_count, "pool2d: null output"); !st) return st;
  if (s.count_include_pad) {
    if (auto st = check_zero_point(s.zero_point, StorageTraits<T>::min, StorageTraits<T>::max,
                                   "pool2d: zero_point outside the storage type");
        !st) {
      return st;
    }
  }
  return check_clamp<T>(clamp, "pool2d: clamp bounds outside the storage type");
}

// Calls reduce(value) for every in-bounds tap of each output position and writes
// finish(taps_inside) to it.
template <class T, class Start, class Reduce, class Finish>
void pool2d(const Pool2dShape& s, Span<const T> input, Span<T> output, Start start, Reduce reduce,
            Finish finish) {
  const std::size_t out_h = s.h.output();
  const std::size_t out_w = s.w.output();
  for (std::size_t n = 0; n < s.batch; ++n) {
    for (std::size_t oy = 0; oy < out_h; ++oy) {
      for (std::size_t ox = 0; ox < out_w; ++ox) {
        for (std::size_t c = 0; c < s.channels; ++c) {
          auto state = start();
          std::size_t inside = 0;
          for (std::size_t ky = 0; ky < s.h.kernel; ++ky) {
            const std::ptrdiff_t iy = s.h.coordinate(oy, ky);
            if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(s.h.input)) continue;
            for (std::size_t kx = 0; kx < s.w.kernel; ++kx) {
              const std::ptrdiff_t ix = s.w.coordinate(ox, kx);
              if (ix < 0 || ix >= static_cast<std::ptrdiff_t>(s.w.input)) continue;
              const std::size_t pixel = (n * s.h.input + static_cast<std::size_t>(iy)) * s.w.input +
                                        static_cast<std::size_t>(ix);
              reduce(state, input[pixel * s.channels + c]);
              ++inside;
            }
          }
          output[((n * out_h + oy) * out_w + ox) * s.channels + c] = finish(state, inside);
        }
      }
    }
  }
}

}  // namespace detail

template <class T>
Result<void> max_pool2d(const Pool2dShape& shape, Span<const T> input, Span<T> output,
                        ClampBounds clamp = {StorageTraits<T>::min, StorageTraits<T>::max}) {
  if (auto s = detail::check_pool(shape, input, output, clamp); !s) return fail(s);
  detail::pool2d(
      shape, input, output, [] { return StorageTraits<T>::min; },
      [](int32_t& best, T v) { best = std::max<int32_t>(best, v); },
      [&](int32_t best, std::size_t) { return saturate<T>(best, clamp.min, clamp.max); });
  return ok();
}

template <class T>
Result<void> avg_pool2d(const Pool2dShape& shape, Span<const T> input, Span<T> output,
                        ClampBounds clamp = {StorageTraits<T>::min, StorageTraits<T>::max}) {
  if (auto s = detail::check_pool(shape, input, output, clamp); !s) return fail(s);
  const auto window = static_cast<int64_t>(shape.h.kernel * shape.w.kernel);
  detail::pool2d(
      shape, input, output, [] { return int64_t{0}; }, [](int64_t& sum, T v) { sum += v; },
      [&](int64_t sum, std::size_t inside) {
        int64_t count = static_cast<int64_t>(inside);
        if (shape.count_include_pad) {
          sum += (window - count) * shape.zero_point;
          count = window;
        }
        return saturate<T>(rounded_average(sum, count), clamp.min, clamp.max);
      });
  return ok();
}

// Average over the whole H x W of each channel: input [batch, height, width, channels], output
// [batch, channels].
template <class T>
Result<void> global_avg_pool2d(std::size_t batch, std::size_t height, std::size_t width,
                               std::size_t channels, Span<const T> input, Span<T> output,
                               ClampBounds clamp = {StorageTraits<T>::min, StorageTraits<T>::max}) {
  return reference::avg_pool2d(Pool2dShape::global(batch, height, width, channels), input, output,
                               clamp);
}

}  // namespace qinfer::reference
