// SPDX-License-Identifier: Apache-2.0
//
// im2col for NHWC images: row (n, oh, ow) of the result holds the window of output pixel
// (oh, ow) of image n, taps in (kh, kw, channel) order, padding filled with `pad`. A KxK
// convolution is then one GEMM with HWIO weights ([kh * kw * cin, cout]). col2im is its
// adjoint (window gradients summed back into the image), for the float layers' backward pass.
// The whole matrix is rows x kh*kw*channels elements, which the float layers take; conv2d
// (ops/conv2d.hpp) takes it a chunk of rows at a time, in a bounded workspace.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
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

namespace detail {

// Copies n values of a window row. Rows of a few channels are a few bytes long, and a library
// memmove call per row cost more than the copy: in the demo's int8 CNN at batch 64 (rows of 3
// and 48 bytes) the calls took 16% of the model's time. Up to 64 bytes, two overlapping
// fixed-size copies cover any length without a loop or a call.
template <class T>
[[gnu::always_inline]] inline void copy_run(const T* src, std::size_t n, T* dst) noexcept {
  const std::size_t bytes = n * sizeof(T);
  auto* d = reinterpret_cast<unsigned char*>(dst);
  const auto* s = reinterpret_cast<const unsigned char*>(src);
  const auto two = [&](auto size) {
    std::memcpy(d, s, size);
    std::memcpy(d + bytes - size, s + bytes - size, size);
  };
  if (bytes > 64) {
    std::memcpy(d, s, bytes);
  } else if (bytes > 32) {
    two(std::integral_constant<std::size_t, 32>());
  } else if (bytes > 16) {
    two(std::integral_constant<std::size_t, 16>());
  } else if (bytes > 8) {
    two(std::integral_constant<std::size_t, 8>());
  } else if (bytes >= 4) {
    two(std::integral_constant<std::size_t, 4>());
  } else if (bytes > 0) {  // 1 to 3 bytes: first, middle and last cover them
    d[0] = s[0];
    d[bytes / 2] = s[bytes / 2];
    d[bytes - 1] = s[bytes - 1];
  }
}

}  // namespace detail

// Rows [first, first + count) of the im2col matrix, from an image of `image_channels` channels
// per pixel whose channels [first_channel, first_channel + g.channels) the windows take (a
// group's slice; all of them when the two counts are equal). Output row by output row, one
// kernel row at a time, so that the checks that depend on the kernel row alone are made once
// per image row, not once per window.
template <class T>
void im2col_rows(const ImageWindows& g, std::size_t image_channels, std::size_t first_channel,
                 const T* image, T pad, std::size_t first, std::size_t count, T* columns) noexcept {
  const std::size_t oh_n = g.height.output(), ow_n = g.width.output(), c = g.channels;
  const std::size_t depth = g.depth(), span = g.width.kernel * c;
  const auto width = static_cast<std::ptrdiff_t>(g.width.input);
  // A window row inside the image is one run of bytes when it takes every channel of
  // consecutive pixels.
  const bool runs = g.width.dilation == 1 && c == image_channels;
  const std::size_t end = first + count;
  for (std::size_t r = first; r < end;) {
    const std::size_t oh = r / ow_n % oh_n, ow_begin = r % ow_n;
    const std::size_t ow_end = std::min(ow_n, ow_begin + (end - r));
    const T* img =
        image + r / (ow_n * oh_n) * g.height.input * g.width.input * image_channels + first_channel;
    for (std::size_t kh = 0; kh < g.height.kernel; ++kh) {
      T* out = columns + kh * span;
      const std::ptrdiff_t ih = g.height.coordinate(oh, kh);
      if (ih < 0 || static_cast<std::size_t>(ih) >= g.height.input) {
        for (std::size_t ow = ow_begin; ow < ow_end; ++ow, out += depth) {
          std::fill_n(out, span, pad);
        }
        continue;
      }
      const T* row = img + static_cast<std::size_t>(ih) * g.width.input * image_channels;
      for (std::size_t ow = ow_begin; ow < ow_end; ++ow, out += depth) {
        const std::ptrdiff_t first_x = g.width.coordinate(ow, 0);
        if (runs && first_x >= 0 && g.width.coordinate(ow, g.width.kernel - 1) < width) {
          detail::copy_run(row + static_cast<std::size_t>(first_x) * c, span, out);
          continue;
        }
        for (std::size_t kw = 0; kw < g.width.kernel; ++kw) {
          const std::ptrdiff_t iw = g.width.coordinate(ow, kw);
          if (iw >= 0 && iw < width) {
            detail::copy_run(row + static_cast<std::size_t>(iw) * image_channels, c, out + kw * c);
          } else {
            std::fill_n(out + kw * c, c, pad);
          }
        }
      }
    }
    columns += (ow_end - ow_begin) * depth;
    r += ow_end - ow_begin;
  }
}

template <class T>
void im2col(const ImageWindows& g, const T* image, T pad, T* columns) noexcept {
  im2col_rows(g, g.channels, 0, image, pad, 0, g.rows(), columns);
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
