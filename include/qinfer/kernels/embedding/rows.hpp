// SPDX-License-Identifier: Apache-2.0
//
// What the EmbeddingBag kernels need of a table row, the same for row-wise quantized tables and
// float tables, so one kernel body serves both: where the row starts, its bytes (to prefetch),
// its scale (1 for floats, so that a = w * scale is w exactly, as reference::pool_bag has it)
// and its bias (none for floats).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/matrix.hpp"
#include "qinfer/quant/rowwise.hpp"

namespace qinfer::kernels {

template <class Table>
struct TableRows;

template <class Format>
struct TableRows<RowwiseTableView<Format>> {
  static constexpr bool has_bias = true;
  static std::size_t dim(const RowwiseTableView<Format>& t) noexcept { return t.dim; }
  static std::size_t row_bytes(const RowwiseTableView<Format>& t) noexcept { return t.row_bytes(); }
  static const uint8_t* row(const RowwiseTableView<Format>& t, std::size_t i) noexcept {
    return t.row(i);
  }
  static float scale(const RowwiseTableView<Format>& t, std::size_t i) noexcept {
    return t.scale(i);
  }
  static float bias(const RowwiseTableView<Format>& t, std::size_t i) noexcept { return t.bias(i); }
};

template <>
struct TableRows<MatrixView<const float>> {
  static constexpr bool has_bias = false;
  static std::size_t dim(const MatrixView<const float>& t) noexcept { return t.cols; }
  static std::size_t row_bytes(const MatrixView<const float>& t) noexcept {
    return t.cols * sizeof(float);
  }
  static const uint8_t* row(const MatrixView<const float>& t, std::size_t i) noexcept {
    return reinterpret_cast<const uint8_t*>(t.data + i * t.row_stride);
  }
  static float scale(const MatrixView<const float>& /*t*/, std::size_t /*i*/) noexcept {
    return 1.0f;
  }
  static float bias(const MatrixView<const float>& /*t*/, std::size_t /*i*/) noexcept {
    return 0.0f;
  }
};

// How far ahead of the row being pooled the kernels prefetch, in indices, across bag boundaries
// (idx[r + prefetch_distance] while the batch has that many left). Random rows from a table far
// beyond the caches are one DRAM miss each, and the loop consumes a row in 5-10 ns: 16 rows ahead
// left 8-bit rows of 64 at 84M rows/s, 64 ahead gives 160-190M (Zen 5, AVX-512); 128 measured
// the same as 64.
inline constexpr std::size_t prefetch_distance = 64;

}  // namespace qinfer::kernels
