// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM over block-quantized weights (quant/blocks.hpp): y [M, N] = a [M, K] x w^T
// with w packed once by pack_blocks() (kernels/blocks/packing.hpp), bit-exact with
// reference::block_gemm on every path. The activation rows are quantized first (the active
// level's version of the reference's quantize_activation_row, bit for bit), then the executor
// shares out the groups of 16 output rows, each running the kernel of the active level over all
// activation rows.
//
// Paths (kernels/blocks/): AMX-INT8 (from 16 activation rows; fewer run AVX-512 VNNI), AVX-512
// VNNI, AVX-VNNI, AVX2, NEON, NEON dotprod (also at the i8mm level), and the portable kernel.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <utility>

#include "qinfer/core/aligned.hpp"
#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/kernels/blocks/dispatch.hpp"
#include "qinfer/kernels/blocks/packing.hpp"
#include "qinfer/reference/block_gemm.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

namespace detail {

// The activations' arrays in a block_gemm workspace: one row's codes, all rows' codes in the
// kernels' sub-block-major layout, per-block sums and per-row scales.
struct BlockGemmWorkspace {
  Span<int8_t> row_codes, codes;
  Span<int32_t> sums;
  Span<float> scales;

  BlockGemmWorkspace(BufferCarver& carver, std::size_t m, std::size_t k, std::size_t blocks) {
    std::size_t values = 0, block_count = 0;
    if (!checked_mul(m, k, values) || !checked_mul(m, blocks, block_count)) {
      carver.overflow();
      return;
    }
    row_codes = carver.take<int8_t>(k);
    codes = carver.take<int8_t>(values);
    sums = carver.take<int32_t>(block_count);
    scales = carver.take<float>(m);
  }
};

}  // namespace detail

// Bytes of the workspace block_gemm() takes for M rows of activations against N x K weights of
// Block; 0 for a K that is not a multiple of the group or a size past size_t.
template <class Block>
std::size_t block_gemm_workspace_size(std::size_t m, std::size_t k) noexcept {
  if (k % Block::group != 0) return 0;
  BufferCarver carver;
  const detail::BlockGemmWorkspace layout(carver, m, k, k / Block::group);
  return carver.size();
}

// y [M, N] = a [M, K] x w^T with a caller's workspace of block_gemm_workspace_size<Block>(M, K)
// bytes, 64-byte aligned: allocates nothing.
template <class Block, class Executor = SerialExecutor>
Result<void> block_gemm(MatrixView<const float> a, const PackedBlocks<Block>& w,
                        MatrixView<float> y, Span<std::byte> workspace,
                        Executor&& executor = Executor{}) {
  if (a.cols != w.k || y.rows != a.rows || y.cols != w.n) {
    return fail(Errc::shape_mismatch, "block_gemm: a must be M x K and y M x N for weights N x K");
  }
  if (auto s = check_view(a, "block_gemm: a"); !s) return fail(s);
  if (auto s = check_view(y, "block_gemm: y"); !s) return fail(s);
  if (a.col_stride != 1 || y.col_stride != 1) {
    return fail(Errc::invalid_argument, "block_gemm: a's and y's columns must be contiguous");
  }
  const std::size_t m = a.rows, k = a.cols, blocks = w.blocks();
  if (!fits_carved(workspace, block_gemm_workspace_size<Block>(m, k))) {
    return fail(Errc::invalid_argument,
                "block_gemm: workspace not 64-byte aligned or smaller than "
                "block_gemm_workspace_size()");
  }
  BufferCarver carver(workspace.data());
  const detail::BlockGemmWorkspace buffers(carver, m, k, blocks);
  const BlockActivations acts{buffers.codes.data(), buffers.sums.data(), buffers.scales.data(), m};
  const Isa isa = active_isa();
  const kernels::QuantizeRowFn quantize = kernels::quantize_row_kernel(isa);
  int8_t* const row_codes = buffers.row_codes.data();
  for (std::size_t r = 0; r < m; ++r) {
    const Span<const float> row(a.data + r * a.row_stride, k);
    if (!std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
      return fail(Errc::invalid_argument, "block_gemm: an activation is NaN or infinite");
    }
    buffers.scales[r] = quantize(row.data(), k, row_codes);
    for (std::size_t sub = 0; sub < k / block_size; ++sub) {
      std::copy_n(row_codes + sub * block_size, block_size,
                  buffers.codes.data() + (sub * m + r) * block_size);
    }
    for (std::size_t b = 0; b < blocks; ++b) {
      const int8_t* q = row_codes + b * Block::group;
      buffers.sums[b * m + r] = std::accumulate(q, q + Block::group, int32_t{0});
    }
  }
  const kernels::BlockGroupFn<Block> kernel = kernels::block_group_kernel<Block>(isa);
  executor(w.groups, [&](std::size_t group) {
    const std::size_t first = group * block_rows;
    kernel(w, group, acts, 0, m, y.data + first, y.row_stride, std::min(block_rows, w.n - first));
  });
  return ok();
}

// The same, allocating the workspace (M x K bytes and a little more) per call.
template <class Block, class Executor = SerialExecutor,
          class = std::enable_if_t<!std::is_convertible_v<Executor, Span<std::byte>>>>
Result<void> block_gemm(MatrixView<const float> a, const PackedBlocks<Block>& w,
                        MatrixView<float> y, Executor&& executor = Executor{}) {
  if (a.cols != w.k) {
    return fail(Errc::shape_mismatch, "block_gemm: a must be M x K and y M x N for weights N x K");
  }
  const std::size_t size = block_gemm_workspace_size<Block>(a.rows, a.cols);
  if (size == 0 && a.rows != 0) {
    return fail(Errc::size_overflow, "block_gemm: the workspace's size overflows");
  }
  AlignedVector<std::byte> workspace(size);
  return block_gemm(a, w, y, Span<std::byte>(workspace), std::forward<Executor>(executor));
}

}  // namespace qinfer
