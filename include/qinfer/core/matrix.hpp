// SPDX-License-Identifier: Apache-2.0
//
// A strided 2-D view: element (r, c) is data[r * row_stride + c * col_stride]. Strides are in
// elements. The reference kernels take any strides, so a transposed operand is a view, not a copy.
#pragma once

#include <cstddef>
#include <type_traits>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"

namespace qinfer {

template <class T>
struct MatrixView {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t row_stride = 0;
  std::size_t col_stride = 1;

  T& operator()(std::size_t r, std::size_t c) const noexcept {
    return data[r * row_stride + c * col_stride];
  }
  // Views of const elements convert to themselves through the copy constructor.
  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator MatrixView<const U>() const noexcept {  // NOLINT(google-explicit-constructor)
    return {data, rows, cols, row_stride, col_stride};
  }
};

// A row-major view of a contiguous [rows, cols] buffer.
template <class T>
MatrixView<T> row_major(T* data, std::size_t rows, std::size_t cols) noexcept {
  return {data, rows, cols, cols, 1};
}

// Checks that every element of the view lies inside one addressable allocation: the offset of
// the last element must not overflow.
template <class T>
Status check_view(const MatrixView<T>& m, const char* message) noexcept {
  if (m.rows == 0 || m.cols == 0) return {};
  if (m.data == nullptr) return {Errc::null_pointer, message};
  std::size_t last_row = 0;
  std::size_t last_col = 0;
  std::size_t last = 0;
  if (!checked_mul(m.rows - 1, m.row_stride, last_row) ||
      !checked_mul(m.cols - 1, m.col_stride, last_col) || !checked_add(last_row, last_col, last)) {
    return {Errc::size_overflow, message};
  }
  return {};
}

}  // namespace qinfer
