// SPDX-License-Identifier: Apache-2.0
//
// Max pooling over NHWC without padding, the layout the quantized models run in: for each
// output pixel the window's pixels are combined channel vector by channel vector, a loop over
// contiguous channels that compilers vectorize on every target. It gives exactly
// reference::max_pool2d's result for windows without padding (tests/ops/pool_test.cpp).
#pragma once

#include <algorithm>
#include <cstddef>

#include "qinfer/core/error.hpp"
#include "qinfer/reference/window.hpp"

namespace qinfer {

struct MaxPoolShape {
  std::size_t batch = 1;
  std::size_t channels = 1;
  reference::Window1d h;  // padding must be 0
  reference::Window1d w;
};

template <class T>
Status check_max_pool(const MaxPoolShape& s) noexcept {
  if (auto st = s.h.check("max_pool: invalid height window"); !st) return st;
  if (auto st = s.w.check("max_pool: invalid width window"); !st) return st;
  if (s.h.pad_begin + s.h.pad_end + s.w.pad_begin + s.w.pad_end != 0 || s.h.dilation != 1 ||
      s.w.dilation != 1) {
    return {Errc::invalid_argument, "max_pool: padding and dilation are not supported"};
  }
  return {};
}

// in: [batch, h.input, w.input, channels]; out: [batch, h.output(), w.output(), channels].
template <class T>
void max_pool(const MaxPoolShape& s, const T* in, T* out) noexcept {
  const std::size_t c = s.channels, oh_n = s.h.output(), ow_n = s.w.output();
  const std::size_t row = s.w.input * c;
  for (std::size_t n = 0; n < s.batch; ++n) {
    const T* image = in + n * s.h.input * row;
    for (std::size_t oh = 0; oh < oh_n; ++oh) {
      for (std::size_t ow = 0; ow < ow_n; ++ow, out += c) {
        const T* corner = image + oh * s.h.stride * row + ow * s.w.stride * c;
        std::copy_n(corner, c, out);
        for (std::size_t kh = 0; kh < s.h.kernel; ++kh) {
          for (std::size_t kw = 0; kw < s.w.kernel; ++kw) {
            const T* tap = corner + kh * row + kw * c;
            for (std::size_t ch = 0; ch < c; ++ch) out[ch] = std::max(out[ch], tap[ch]);
          }
        }
      }
    }
  }
}

}  // namespace qinfer
