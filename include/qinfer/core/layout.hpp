// SPDX-License-Identifier: Apache-2.0
//
// Channel-order conversions between ONNX/PyTorch layouts (NCHW activations, OIHW weights) and
// ours (NHWC activations, OHWI weights). Both are the same permutation, [outer][channels][spatial]
// <-> [outer][spatial][channels]; they are done once at a model's boundary, never per layer.
#pragma once

#include <cstddef>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer {

namespace detail {
template <class T>
Status check_permute(Span<const T> src, std::size_t outer, std::size_t channels,
                     std::size_t spatial, Span<T> dst) noexcept {
  std::size_t count = 0;
  if (!checked_mul(outer, channels, count) || !checked_mul(count, spatial, count)) {
    return {Errc::size_overflow, "layout: product of extents overflows"};
  }
  if (src.size() != count || dst.size() != count) {
    return {Errc::shape_mismatch, "layout: buffers do not match outer * channels * spatial"};
  }
  if (auto s = check_data(src.data(), count, "layout: null buffer"); !s) return s;
  return check_data(dst.data(), count, "layout: null buffer");
}

// Precondition: check_permute() passed. transpose_inner(src, outer, a, b, dst) turns
// [outer][a][b] into [outer][b][a].
template <class T>
void transpose_inner(const T* src, std::size_t outer, std::size_t a, std::size_t b,
                     T* dst) noexcept {
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < a; ++i) {
      for (std::size_t j = 0; j < b; ++j) dst[(o * b + j) * a + i] = src[(o * a + i) * b + j];
    }
  }
}
}  // namespace detail

// [outer][channels][spatial] -> [outer][spatial][channels]: NCHW -> NHWC (outer = N,
// spatial = H*W) and OIHW -> OHWI (outer = O, channels = I).
template <class T>
Result<void> channels_first_to_last(Span<const T> src, std::size_t outer, std::size_t channels,
                                    std::size_t spatial, Span<T> dst) {
  if (auto s = detail::check_permute(src, outer, channels, spatial, dst); !s) return fail(s);
  detail::transpose_inner(src.data(), outer, channels, spatial, dst.data());
  return ok();
}

// [outer][spatial][channels] -> [outer][channels][spatial]: NHWC -> NCHW.
template <class T>
Result<void> channels_last_to_first(Span<const T> src, std::size_t outer, std::size_t channels,
                                    std::size_t spatial, Span<T> dst) {
  if (auto s = detail::check_permute(src, outer, channels, spatial, dst); !s) return fail(s);
  detail::transpose_inner(src.data(), outer, spatial, channels, dst.data());
  return ok();
}

}  // namespace qinfer
