// SPDX-License-Identifier: Apache-2.0
//
// Element-wise operators on the dispatched kernels:
//   add:              the requantizing add of two quantized tensors (a residual connection),
//                     bit-exact with reference::add (TFLite's integer algorithm, spelled out in
//                     reference/elementwise.hpp), on kernels/add/ at the active level;
//   concat_channels:  NHWC tensors joined along channels. The inputs must already hold codes of
//                     the output's quantization (as quantized models arrange for concatenated
//                     branches), so the copy is exact; each pixel's slice is one memcpy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/kernels/add/dispatch.hpp"
#include "qinfer/reference/elementwise.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

// Values per task of add() on an executor: 16 KiB of each operand, long against a hand-out.
inline constexpr std::size_t add_task_values = std::size_t{16} << 10;

// out = a + b, requantized: params from reference::make_add_params<T>(a, b, out quantization).
// out may be a or b itself (an in-place residual add). An executor shares out runs of
// add_task_values values.
template <class T, class Executor = SerialExecutor>
Result<void> add(const AddParams& params, Span<const T> a, Span<const T> b, Span<T> out,
                 Executor&& executor = Executor{}) {
  for (Span<const T> operand : {a, b}) {
    if (auto s = detail::check_buffers(operand, out, "add: a, b and out differ in size",
                                       "add: null buffer");
        !s) {
      return fail(s);
    }
  }
  const auto kernel = kernels::add_kernel<T>(active_isa());
  const std::size_t size = out.size();
  executor((size + add_task_values - 1) / add_task_values, [&](std::size_t task) {
    const std::size_t first = task * add_task_values;
    kernel(a.data() + first, b.data() + first, out.data() + first,
           std::min(add_task_values, size - first), params);
  });
  return ok();
}

// One input of concat_channels: `channels` codes per pixel.
template <class T>
struct ConcatInput {
  Span<const T> data;
  std::size_t channels;
};

// output[p, offset_i + c] = inputs[i].data[p * inputs[i].channels + c] for each of `pixels`
// pixels (batch x height x width), where offset_i sums the channels of the inputs before i.
template <class T>
Result<void> concat_channels(std::size_t pixels, Span<const ConcatInput<T>> inputs,
                             Span<T> output) {
  std::size_t total = 0;
  for (const ConcatInput<T>& in : inputs) {
    std::size_t size = 0;
    if (!checked_mul(pixels, in.channels, size) || !checked_add(total, in.channels, total)) {
      return fail(Status(Errc::size_overflow, "concat_channels: tensor size overflows"));
    }
    if (in.data.size() != size) {
      return fail(Status(Errc::shape_mismatch,
                         "concat_channels: an input's size is not pixels x its channels"));
    }
    if (auto s = check_data(in.data.data(), size, "concat_channels: null input"); !s) {
      return fail(s);
    }
  }
  std::size_t out_size = 0;
  if (!checked_mul(pixels, total, out_size)) {
    return fail(Status(Errc::size_overflow, "concat_channels: tensor size overflows"));
  }
  if (output.size() != out_size) {
    return fail(Status(Errc::shape_mismatch,
                       "concat_channels: output size is not pixels x the channels' sum"));
  }
  if (auto s = check_data(output.data(), out_size, "concat_channels: null output"); !s) {
    return fail(s);
  }
  for (std::size_t p = 0; p < pixels; ++p) {
    T* dst = output.data() + p * total;
    for (const ConcatInput<T>& in : inputs) {
      if (in.channels == 0) continue;  // its data may be null
      std::memcpy(dst, in.data.data() + p * in.channels, in.channels * sizeof(T));
      dst += in.channels;
    }
  }
  return ok();
}

}  // namespace qinfer
