// SPDX-License-Identifier: Apache-2.0
//
// What the EmbeddingBag kernels need of a table row, the same for row-wise quantized tables and
// float tables, so one kernel body serves both: where the row starts, its bytes (to prefetch),
// its scale (1 for floats, so that a = w * scale is w exactly, as reference::pool_bag has it)
// and its bias (none for floats).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "qinfer/core/matrix.hpp"
#include "qinfer/quant/rowwise.hpp"
#include "qinfer/reference/embedding_bag.hpp"

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

template <class Make, std::size_t... I>
constexpr auto instantiations(Make make, std::index_sequence<I...> /*counts*/) noexcept {
  return std::array{make(std::integral_constant<std::size_t, I + 1>{})...};
}

// {make(1), ..., make(N)}, each count a std::integral_constant: a chunk kernel's instantiations
// for 1 to N vectors, indexed by a run-time count - 1.
template <std::size_t N, class Make>
constexpr auto instantiations(Make make) noexcept {
  return instantiations(make, std::make_index_sequence<N>{});
}

// A bag in chunks of whole Lanes-column slices, up to kernels.size() slices a chunk, through
// kernels[slices - 1](table, idx, count, ahead, weights, pooling, j0, out); the last
// dim % Lanes columns, which a whole slice would read past, through the reference's own loop.
// Only the first chunk prefetches: the later ones find the bag's rows in cache.
template <std::size_t Lanes, class Kernels, class Table, class Index>
void pool_whole_slices(const Kernels& kernels, const Table& table, const Index* idx,
                       std::size_t count, std::size_t ahead, const float* weights, Pooling pooling,
                       float* out) noexcept {
  const std::size_t dim = TableRows<Table>::dim(table), chunk = Lanes * kernels.size();
  const std::size_t whole = dim - dim % Lanes;
  for (std::size_t j0 = 0; j0 < whole; j0 += chunk) {
    const std::size_t slices = std::min(whole - j0, chunk) / Lanes;
    kernels[slices - 1](table, idx, count, j0 == 0 ? ahead : 0, weights, pooling, j0, out);
  }
  if (whole != dim) reference::pool_columns(table, idx, count, weights, pooling, whole, dim, out);
}

}  // namespace qinfer::kernels
