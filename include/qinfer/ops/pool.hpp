// SPDX-License-Identifier: Apache-2.0
//
// Max, average and global average pooling over NHWC quantized tensors on the dispatched kernels
// (kernels/pool/), bit-exact with reference/pool.hpp, whose shape type, semantics and checks
// they share: input and output hold codes of the same quantization, padding taps never win a
// max, an average rounds half away from zero over the taps inside the input (or the whole
// window with count_include_pad, padded taps holding the zero point), and the result is clamped
// (a fused ReLU or ReLU6).
//
// Threads: an executor (runtime/parallel.hpp) shares out the output rows; results do not depend
// on the number of workers. No heap: each output pixel's window is gathered as up to
// pool_tap_chunk tap pointers at a time, and an average sums up to pool_channel_block channels
// at a time in int32 on the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/kernels/pool/dispatch.hpp"
#include "qinfer/reference/pool.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

namespace detail {

inline constexpr std::size_t pool_tap_chunk = 64;
inline constexpr std::size_t pool_channel_block = 512;

// The taps of one output position inside the input: rows [y0, y1) and columns [x0, x1).
struct PoolWindow {
  std::size_t y0, y1, x0, x1;
  std::size_t inside() const noexcept { return (y1 - y0) * (x1 - x0); }
};

inline void window_range(const reference::Window1d& w, std::size_t o, std::size_t& begin,
                         std::size_t& end) noexcept {
  const std::ptrdiff_t first = w.coordinate(o, 0);
  const std::ptrdiff_t last = first + static_cast<std::ptrdiff_t>(w.kernel);  // dilation is 1
  const auto input = static_cast<std::ptrdiff_t>(w.input);
  begin = static_cast<std::size_t>(first < 0 ? 0 : first);
  end = static_cast<std::size_t>(last > input ? input : last);
}

// Calls visit(taps, count, first) for the window's taps in chunks; taps[t] points at channel
// `channel` of the tap's pixel in `image` ([height, width, channels]).
template <class T, class Visit>
void for_each_tap_chunk(const Pool2dShape& s, const T* image, const PoolWindow& win,
                        std::size_t channel, Visit visit) noexcept {
  const T* taps[pool_tap_chunk];
  std::size_t count = 0;
  bool first = true;
  for (std::size_t y = win.y0; y < win.y1; ++y) {
    for (std::size_t x = win.x0; x < win.x1; ++x) {
      taps[count++] = image + (y * s.w.input + x) * s.channels + channel;
      if (count == pool_tap_chunk) {
        visit(taps, count, first);
        count = 0;
        first = false;
      }
    }
  }
  if (count != 0) visit(taps, count, first);
}

// Runs pixel(image, window, out) for every output position, one output row per task of the
// executor.
template <class T, class Pixel, class Executor>
void for_each_output(const Pool2dShape& s, const T* input, T* output, Pixel pixel,
                     Executor&& executor) {
  const std::size_t out_h = s.h.output(), out_w = s.w.output();
  executor(s.batch * out_h, [&](std::size_t row) {
    const std::size_t n = row / out_h, oy = row % out_h;
    const T* image = input + n * s.h.input * s.w.input * s.channels;
    T* out = output + row * out_w * s.channels;
    PoolWindow win{};
    window_range(s.h, oy, win.y0, win.y1);
    for (std::size_t ox = 0; ox < out_w; ++ox, out += s.channels) {
      window_range(s.w, ox, win.x0, win.x1);
      pixel(image, win, out);
    }
  });
}

}  // namespace detail

template <class T, class Executor = SerialExecutor>
Result<void> max_pool2d(const Pool2dShape& shape, Span<const T> input, Span<T> output,
                        ClampBounds clamp = {StorageTraits<T>::min, StorageTraits<T>::max},
                        Executor&& executor = Executor{}) {
  if (auto s = reference::detail::check_pool(shape, input, output, clamp); !s) return fail(s);
  const auto row_kernels = kernels::pool::pool_kernels<T>(active_isa());
  detail::for_each_output(
      shape, input.data(), output.data(),
      [&](const T* image, const detail::PoolWindow& win, T* out) {
        detail::for_each_tap_chunk(
            shape, image, win, 0, [&](const T* const* taps, std::size_t count, bool first) {
              row_kernels.max_taps(out, taps, count, shape.channels, first, clamp);
            });
      },
      executor);
  return ok();
}

template <class T, class Executor = SerialExecutor>
Result<void> avg_pool2d(const Pool2dShape& shape, Span<const T> input, Span<T> output,
                        ClampBounds clamp = {StorageTraits<T>::min, StorageTraits<T>::max},
                        Executor&& executor = Executor{}) {
  if (auto s = reference::detail::check_pool(shape, input, output, clamp); !s) return fail(s);
  std::size_t window = 0;
  if (!checked_mul(shape.h.kernel, shape.w.kernel, window) ||
      window > static_cast<std::size_t>(kernels::pool::max_float_count)) {
    // Windows this large (a global pool over more than 2^16 pixels) are outside the kernels'
    // exact float division; the reference's int64 sums are exact at any size.
    return reference::avg_pool2d(shape, input, output, clamp);
  }
  const auto row_kernels = kernels::pool::pool_kernels<T>(active_isa());
  detail::for_each_output(
      shape, input.data(), output.data(),
      [&](const T* image, const detail::PoolWindow& win, T* out) {
        const std::size_t inside = win.inside();
        kernels::pool::Average average{0, static_cast<int32_t>(inside), clamp};
        if (shape.count_include_pad) {
          average.bias = static_cast<int32_t>(window - inside) * shape.zero_point;
          average.count = static_cast<int32_t>(window);
        }
        int32_t sums[detail::pool_channel_block];
        for (std::size_t c = 0; c < shape.channels; c += detail::pool_channel_block) {
          const std::size_t block = shape.channels - c < detail::pool_channel_block
                                        ? shape.channels - c
                                        : detail::pool_channel_block;
          detail::for_each_tap_chunk(shape, image, win, c,
                                     [&](const T* const* taps, std::size_t count, bool first) {
                                       row_kernels.sum_taps(sums, taps, count, block, first);
                                     });
          row_kernels.average_row(out + c, sums, block, average);
        }
      },
      executor);
  return ok();
}

// Average over the whole H x W of each channel: input [batch, height, width, channels], output
// [batch, channels]; an executor shares out the images.
template <class T, class Executor = SerialExecutor>
Result<void> global_avg_pool2d(std::size_t batch, std::size_t height, std::size_t width,
                               std::size_t channels, Span<const T> input, Span<T> output,
                               ClampBounds clamp = {StorageTraits<T>::min, StorageTraits<T>::max},
                               Executor&& executor = Executor{}) {
  return avg_pool2d(Pool2dShape::global(batch, height, width, channels), input, output, clamp,
                    std::forward<Executor>(executor));
}

}  // namespace qinfer
