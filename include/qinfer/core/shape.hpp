// SPDX-License-Identifier: Apache-2.0
//
// Overflow-checked size arithmetic: every element count derived from user-supplied extents goes
// through these, so a hostile shape yields Errc::size_overflow instead of a short allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "qinfer/core/error.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer {

// a * b, or false when the product does not fit.
constexpr bool checked_mul(std::size_t a, std::size_t b, std::size_t& out) noexcept {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  out = a * b;
  return true;
}

constexpr bool checked_add(std::size_t a, std::size_t b, std::size_t& out) noexcept {
  if (b > std::numeric_limits<std::size_t>::max() - a) return false;
  out = a + b;
  return true;
}

// The product of the extents, or Errc::size_overflow.
inline Result<std::size_t> element_count(Span<const std::size_t> dims) {
  std::size_t count = 1;
  for (std::size_t d : dims) {
    if (!checked_mul(count, d, count)) {
      return fail<std::size_t>(Errc::size_overflow, "element_count: product of extents overflows");
    }
  }
  return count;
}

// Status-returning check that `data` may be dereferenced over `count` elements.
template <class T>
constexpr Status check_data(const T* data, std::size_t count, const char* message) noexcept {
  return data == nullptr && count != 0 ? Status(Errc::null_pointer, message) : Status{};
}

}  // namespace qinfer
