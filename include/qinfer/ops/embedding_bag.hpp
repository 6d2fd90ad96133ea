// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag over a row-wise quantized table (quant/rowwise.hpp) or a float table, on the
// kernel of the active level, bit-exact with reference::embedding_bag (whose header defines the
// arithmetic, the offsets and the pooling). Every index is checked before anything is written.
//
// The executor shares out tasks of bags_per_task consecutive bags; each task prefetches only
// rows of its own bags.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/kernels/embedding/dispatch.hpp"
#include "qinfer/quant/rowwise.hpp"
#include "qinfer/reference/embedding_bag.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

inline constexpr std::size_t bags_per_task = 32;

namespace detail {
template <class Format>
RowwiseTableView<Format> as_table(const RowwiseTable<Format>& table) noexcept {
  return table.view();
}
template <class Format>
RowwiseTableView<Format> as_table(const RowwiseTableView<Format>& table) noexcept {
  return table;
}
inline MatrixView<const float> as_table(const MatrixView<const float>& table) noexcept {
  return table;
}
}  // namespace detail

// out [bags, dim] (contiguous rows, any row stride); table a RowwiseTable, a RowwiseTableView or
// a MatrixView<const float> with contiguous rows.
template <class Table, class Index, class Executor = SerialExecutor>
Result<void> embedding_bag(const Table& table, Span<const Index> indices, Span<const Index> offsets,
                           MatrixView<float> out, const EmbeddingBagOptions& options = {},
                           Executor&& executor = Executor{}) {
  const auto view = detail::as_table(table);
  using View = std::remove_const_t<decltype(view)>;
  if (auto s = detail::check_embedding_bag(view, indices, offsets, out, options); !s) {
    return fail(s);
  }
  const auto kernel = kernels::pool_bag_kernel<View, Index>(active_isa());
  const std::size_t bags = offsets.size() - 1;
  const std::size_t per_task =
      runs_serially(executor) ? std::max<std::size_t>(bags, 1) : bags_per_task;
  const float* weights =
      options.per_sample_weights.empty() ? nullptr : options.per_sample_weights.data();
  executor((bags + per_task - 1) / per_task, [&](std::size_t task) {
    const std::size_t first_bag = task * per_task, end_bag = std::min(bags, first_bag + per_task);
    const auto end = static_cast<std::size_t>(offsets[end_bag]);
    for (std::size_t b = first_bag; b < end_bag; ++b) {
      const auto first = static_cast<std::size_t>(offsets[b]);
      kernel(view, indices.data() + first, static_cast<std::size_t>(offsets[b + 1]) - first,
             end - first, weights != nullptr ? weights + first : nullptr, options.pooling,
             out.data + b * out.row_stride);
    }
  });
  return ok();
}

}  // namespace qinfer
