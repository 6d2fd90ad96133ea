// SPDX-License-Identifier: Apache-2.0
//
// The sliding-window geometry shared by convolution and pooling: one spatial dimension with
// kernel, stride, dilation and (possibly asymmetric) padding.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"

namespace qinfer::reference {

struct Window1d {
  std::size_t input = 0;
  std::size_t kernel = 1;
  std::size_t stride = 1;
  std::size_t dilation = 1;
  std::size_t pad_begin = 0;
  std::size_t pad_end = 0;

  // Precondition: check() passed.
  std::size_t output() const noexcept {
    return (input + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride + 1;
  }
  // Input coordinate of tap t for output o; negative or >= input inside the padding.
  std::ptrdiff_t coordinate(std::size_t o, std::size_t t) const noexcept {
    return static_cast<std::ptrdiff_t>(o * stride + t * dilation) -
           static_cast<std::ptrdiff_t>(pad_begin);
  }

  Status check(const char* message) const noexcept {
    if (kernel == 0 || stride == 0 || dilation == 0) return {Errc::invalid_argument, message};
    std::size_t span = 0;
    std::size_t padded = 0;
    // Keeps every coordinate in ptrdiff_t, whose half is below 2^40 on 32-bit targets.
    constexpr std::size_t limit = std::min<uint64_t>(uint64_t{1} << 40, PTRDIFF_MAX / 2);
    if (!checked_mul(dilation, kernel - 1, span) || !checked_add(input, pad_begin, padded) ||
        !checked_add(padded, pad_end, padded) || padded > limit || span > limit) {
      return {Errc::size_overflow, message};
    }
    if (input == 0 || padded < span + 1) return {Errc::shape_mismatch, message};
    return {};
  }
};

}  // namespace qinfer::reference
