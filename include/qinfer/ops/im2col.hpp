// SPDX-License-Identifier: Apache-2.0
//
// im2col for NHWC images: row (n, oh, ow) of the result holds the window of output pixel
// (oh, ow) of image n, taps in (kh, kw, channel) order, padding filled with `pad`. A KxK
// convolution is then one GEMM with HWIO weights ([kh * kw * cin, cout]). col2im is its
// adjoint (window gradients summed back into the image), for the float layers' backward pass.
// The workspace is rows x kh*kw*channels elements: the float layers and the quantized model
// use it; the bounded-workspace convolution of the SIMD conv work replaces it there.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/reference/window.hpp"

namespace qinfer {

struct ImageWindows {
  std::size_t batch = 0;
  std::size_t channels = 0;
  reference::Window1d height;
  reference::Window1d width;

  std::size_t rows() const noexcept { return batch * height.output() * width.output(); }
  std::size_t depth() const noexcept { return height.kernel * width.kernel * channels; }
};

// The windows of a square kernel (symmetric padding, no dilation) over an [N, H, W, channels]
// batch, or why they do not fit.
inline Status square_windows(const std::vector<std::size_t>& dims, std::size_t channels,
                             std::size_t kernel, std::size_t stride, std::size_t padding,
                             ImageWindows& out) noexcept {
  if (dims.size() != 4 || dims[3] != channels) {
    return {Errc::shape_mismatch, "convolution: input must be [N, H, W, in_channels]"};
  }
  out = {dims[0],
         channels,
         {dims[1], kernel, stride, 1, padding, padding},
         {dims[2], kernel, stride, 1, padding, padding}};
  if (auto s = out.height.check("convolution: kernel does not fit the input height"); !s) return s;
  return out.width.check("convolution: kernel does not fit the input width");
}

template <class T>
void im2col(const ImageWindows& g, const T* image, T pad, T* columns) noexcept {
  const std::size_t oh_n = g.height.output(), ow_n = g.width.output(), c = g.channels;
  for (std::size_t n = 0; n < g.batch; ++n) {
    const T* img = image + n * g.height.input * g.width.input * c;
    for (std::size_t oh = 0; oh < oh_n; ++oh) {
      for (std::size_t ow = 0; ow < ow_n; ++ow) {
        for (std::size_t kh = 0; kh < g.height.kernel; ++kh) {
          const std::ptrdiff_t ih = g.height.coordinate(oh, kh);
          const bool row_inside = ih >= 0 && static_cast<std::size_t>(ih) < g.height.input;
          const std::ptrdiff_t first = g.width.coordinate(ow, 0);
          const std::ptrdiff_t last = g.width.coordinate(ow, g.width.kernel - 1);
          if (row_inside && g.width.dilation == 1 && first >= 0 &&
              static_cast<std::size_t>(last) < g.width.input) {
            // The window's row lies inside the image and is contiguous there: one copy of
            // kw * c values (3 values instead of 3 copies of 1 for a one-channel 3x3 layer).
            const std::size_t span = g.width.kernel * c;
            std::copy_n(img + (static_cast<std::size_t>(ih) * g.width.input +
                               static_cast<std::size_t>(first)) *
                                  c,
                        span, columns);
            columns += span;
            continue;
          }
          for (std::size_t kw = 0; kw < g.width.kernel; ++kw, columns += c) {
            const std::ptrdiff_t iw = g.width.coordinate(ow, kw);
            if (row_inside && iw >= 0 && static_cast<std::size_t>(iw) < g.width.input) {
              std::copy_n(img + (static_cast<std::size_t>(ih) * g.width.input +
                                 static_cast<std::size_t>(iw)) *
                                    c,
                          c, columns);
            } else {
              std::fill_n(columns, c, pad);
            }
          }
        }
      }
    }
  }
}

// image += the adjoint of im2col applied to `columns` (the image must start zeroed for a plain
// gradient).
inline void col2im_add(const ImageWindows& g, const float* columns, float* image) noexcept {
  const std::size_t oh_n = g.height.output(), ow_n = g.width.output(), c = g.channels;
  for (std::size_t n = 0; n < g.batch; ++n) {
    float* img = image + n * g.height.input * g.width.input * c;
    for (std::size_t oh = 0; oh < oh_n; ++oh) {
      for (std::size_t ow = 0; ow < ow_n; ++ow) {
        for (std::size_t kh = 0; kh < g.height.kernel; ++kh) {
          const std::ptrdiff_t ih = g.height.coordinate(oh, kh);
          const bool row_inside = ih >= 0 && static_cast<std::size_t>(ih) < g.height.input;
          for (std::size_t kw = 0; kw < g.width.kernel; ++kw, columns += c) {
            const std::ptrdiff_t iw = g.width.coordinate(ow, kw);
            if (!row_inside || iw < 0 || static_cast<std::size_t>(iw) >= g.width.input) continue;
            float* pixel =
                img +
                (static_cast<std::size_t>(ih) * g.width.input + static_cast<std::size_t>(iw)) * c;
            for (std::size_t ch = 0; ch < c; ++ch) pixel[ch] += columns[ch];
          }
        }
      }
    }
  }
}

}  // namespace qinfer
