// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag, the definition every kernel reproduces bit for bit: bag b pools the table rows
// indices[offsets[b] .. offsets[b + 1]) into row b of the output, as a sum (optionally weighted
// per sample) or a mean. Offsets have one entry per bag plus the end, as fbgemm takes them and
// PyTorch with include_last_offset; offsets_from_lengths() turns lengths into them.
//
// The arithmetic, per bag, with w the sample's weight (1 without weights):
//
//   a = w * scale(row)                        once per row, rounded to float
//   acc[j] = fma(a, code[j], acc[j])           per element, one fused multiply-add
//   bias_sum = fma(w, bias(row), bias_sum)     once per row
//   out[j] = acc[j] + bias_sum                 (divided by the row count for a mean)
//
// so a SIMD kernel pays one FMA per element and row, and the order of every rounding is fixed.
// A float table has no bias: acc[j] = fma(w, x[j], acc[j]) and out[j] = acc[j] (/ count). An
// empty bag gives zeros. Weights go with sum pooling only, as in PyTorch: what a weighted mean
// would divide by is ambiguous.
//
// Every index is checked against the table before anything is written: an out-of-range index
// is an error, never a read outside the table.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/rowwise.hpp"

namespace qinfer {

enum class Pooling : uint8_t { sum, mean };

struct EmbeddingBagOptions {
  Pooling pooling = Pooling::sum;
  Span<const float> per_sample_weights{};  // empty, or one per index (sum pooling only)
};

// Offsets (lengths.size() + 1 entries, starting at 0) for bags given by their lengths.
template <class Index>
Result<std::vector<Index>> offsets_from_lengths(Span<const Index> lengths) {
  static_assert(std::is_same_v<Index, int32_t> || std::is_same_v<Index, int64_t>,
                "indices are int32_t or int64_t");
  std::vector<Index> offsets(lengths.size() + 1, 0);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 0) {
      return fail<std::vector<Index>>(Errc::invalid_argument, "offsets_from_lengths: a length < 0");
    }
    if (lengths[b] > std::numeric_limits<Index>::max() - offsets[b]) {
      return fail<std::vector<Index>>(Errc::size_overflow,
                                      "offsets_from_lengths: lengths overflow the index type");
    }
    offsets[b + 1] = static_cast<Index>(offsets[b] + lengths[b]);
  }
  return offsets;
}

namespace detail {

// The checks every embedding_bag makes before it writes anything.
template <class Index>
Status check_embedding_bag(std::size_t table_rows, std::size_t dim, Span<const Index> indices,
                           Span<const Index> offsets, const MatrixView<float>& out,
                           const EmbeddingBagOptions& options) noexcept {
  static_assert(std::is_same_v<Index, int32_t> || std::is_same_v<Index, int64_t>,
                "indices are int32_t or int64_t");
  if (offsets.empty())
    return {Errc::invalid_argument, "embedding_bag: offsets need bags + 1 entries"};
  if (offsets[0] != 0) return {Errc::invalid_argument, "embedding_bag: offsets[0] must be 0"};
  for (std::size_t b = 1; b < offsets.size(); ++b) {
    if (offsets[b] < offsets[b - 1]) {
      return {Errc::invalid_argument, "embedding_bag: offsets must not decrease"};
    }
  }
  if (static_cast<std::make_unsigned_t<Index>>(offsets[offsets.size() - 1]) != indices.size()) {
    return {Errc::shape_mismatch, "embedding_bag: the last offset must be the number of indices"};
  }
  if (indices.size() != 0 && indices.data() == nullptr) {
    return {Errc::null_pointer, "embedding_bag: indices"};
  }
  for (const Index i : indices) {
    if (i < 0 || static_cast<std::make_unsigned_t<Index>>(i) >= table_rows) {
      return {Errc::index_out_of_range, "embedding_bag: an index is outside the table"};
    }
  }
  if (!options.per_sample_weights.empty()) {
    if (options.per_sample_weights.size() != indices.size()) {
      return {Errc::shape_mismatch, "embedding_bag: per_sample_weights needs one per index"};
    }
    if (options.per_sample_weights.data() == nullptr) {
      return {Errc::null_pointer, "embedding_bag: per_sample_weights"};
    }
    if (options.pooling != Pooling::sum) {
      return {Errc::invalid_argument, "embedding_bag: per_sample_weights need sum pooling"};
    }
  }
  if (out.rows != offsets.size() - 1 || out.cols != dim) {
    return {Errc::shape_mismatch, "embedding_bag: out must be bags x dim"};
  }
  if (auto s = check_view(out, "embedding_bag: out"); !s) return s;
  if (out.col_stride != 1)
    return {Errc::invalid_argument, "embedding_bag: out's rows must be contiguous"};
  return {};
}

template <class Format, class Index>
Status check_embedding_bag(const RowwiseTableView<Format>& table, Span<const Index> indices,
                           Span<const Index> offsets, const MatrixView<float>& out,
                           const EmbeddingBagOptions& options) noexcept {
  if (table.rows != 0 && table.data == nullptr) return {Errc::null_pointer, "embedding_bag: table"};
  return check_embedding_bag(table.rows, table.dim, indices, offsets, out, options);
}

template <class Index>
Status check_embedding_bag(const MatrixView<const float>& table, Span<const Index> indices,
                           Span<const Index> offsets, const MatrixView<float>& out,
                           const EmbeddingBagOptions& options) noexcept {
  if (auto s = check_view(table, "embedding_bag: table"); !s) return s;
  if (table.col_stride != 1) {
    return {Errc::invalid_argument, "embedding_bag: the table's rows must be contiguous"};
  }
  return check_embedding_bag(table.rows, table.cols, indices, offsets, out, options);
}

}  // namespace detail

namespace reference {

// Columns [j0, j1) of one bag: `count` rows of the table named by idx (already checked),
// weights null or one per row, into out[j0 .. j1). The SIMD kernels finish their row tails
// with it.
template <class Format, class Index>
void pool_columns(const RowwiseTableView<Format>& table, const Index* idx, std::size_t count,
                  const float* weights, Pooling pooling, std::size_t j0, std::size_t j1,
                  float* out) noexcept {
  for (std::size_t j = j0; j < j1; ++j) out[j] = 0.0f;
  float bias_sum = 0.0f;
  for (std::size_t r = 0; r < count; ++r) {
    const auto row = static_cast<std::size_t>(idx[r]);
    const float w = weights != nullptr ? weights[r] : 1.0f;
    const float a = w * table.scale(row);
    for (std::size_t j = j0; j < j1; ++j) {
      out[j] = std::fma(a, static_cast<float>(table.code(row, j)), out[j]);
    }
    bias_sum = std::fma(w, table.bias(row), bias_sum);
  }
  const bool mean = pooling == Pooling::mean && count != 0;
  for (std::size_t j = j0; j < j1; ++j) {
    out[j] += bias_sum;
    if (mean) out[j] /= static_cast<float>(count);
  }
}

template <class Index>
void pool_columns(const MatrixView<const float>& table, const Index* idx, std::size_t count,
                  const float* weights, Pooling pooling, std::size_t j0, std::size_t j1,
                  float* out) noexcept {
  for (std::size_t j = j0; j < j1; ++j) out[j] = 0.0f;
  for (std::size_t r = 0; r < count; ++r) {
    const float* x = table.data + static_cast<std::size_t>(idx[r]) * table.row_stride;
    const float w = weights != nullptr ? weights[r] : 1.0f;
    for (std::size_t j = j0; j < j1; ++j) out[j] = std::fma(w, x[j], out[j]);
  }
  if (pooling == Pooling::mean && count != 0) {
    for (std::size_t j = j0; j < j1; ++j) out[j] /= static_cast<float>(count);
  }
}

// One whole bag into out[0 .. dim).
template <class Format, class Index>
void pool_bag(const RowwiseTableView<Format>& table, const Index* idx, std::size_t count,
              const float* weights, Pooling pooling, float* out) noexcept {
  pool_columns(table, idx, count, weights, pooling, 0, table.dim, out);
}

template <class Index>
void pool_bag(const MatrixView<const float>& table, const Index* idx, std::size_t count,
              const float* weights, Pooling pooling, float* out) noexcept {
  pool_columns(table, idx, count, weights, pooling, 0, table.cols, out);
}

// The whole operator over a row-wise table or a float table (contiguous rows), one bag after
// another.
template <class Table, class Index>
Result<void> embedding_bag(const Table& table, Span<const Index> indices, Span<const Index> offsets,
                           MatrixView<float> out, const EmbeddingBagOptions& options = {}) {
  if (auto s = qinfer::detail::check_embedding_bag(table, indices, offsets, out, options); !s) {
    return fail(s);
  }
  const float* weights = options.per_sample_weights.data();
  for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
    const auto first = static_cast<std::size_t>(offsets[b]);
    const auto count = static_cast<std::size_t>(offsets[b + 1]) - first;
    pool_bag(table, indices.data() + first, count,
             options.per_sample_weights.empty() ? nullptr : weights + first, options.pooling,
             out.data + b * out.row_stride);
  }
  return ok();
}

}  // namespace reference
}  // namespace qinfer
