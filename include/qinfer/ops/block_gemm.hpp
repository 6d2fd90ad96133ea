// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM over block-quantized weights (quant/blocks.hpp): y [M, N] = a [M, K] x w^T
// with w packed once by pack_blocks() (kernels/blocks/packing.hpp), bit-exact with
// reference::block_gemm on every path. The activation rows are quantized first (the active
// level's version of the reference's quantize_activation_row, bit for bit), then the executor
// shares out the groups of 16 output rows, each running the kernel of the active level over all
// activation rows.
//
// Paths (kernels/blocks/): AVX-512 VNNI (also at the AMX level), AVX-VNNI, AVX2, NEON, NEON
// dotprod (also at the i8mm level), and the portable kernel.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/kernels/blocks/dispatch.hpp"
#include "qinfer/kernels/blocks/packing.hpp"
#include "qinfer/reference/block_gemm.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

// Allocates the activations' codes (M x K bytes, in the kernels' sub-block-major layout, and
// M x K / G sums) per call.
template <class Block, class Executor = SerialExecutor>
Result<void> block_gemm(MatrixView<const float> a, const PackedBlocks<Block>& w,
                        MatrixView<float> y, Executor&& executor = Executor{}) {
  if (a.cols != w.k || y.rows != a.rows || y.cols != w.n) {
    return fail(Errc::shape_mismatch, "block_gemm: a must be M x K and y M x N for weights N x K");
  }
  if (auto s = check_view(a, "block_gemm: a"); !s) return fail(s);
  if (auto s = check_view(y, "block_gemm: y"); !s) return fail(s);
  if (a.col_stride != 1 || y.col_stride != 1) {
    return fail(Errc::invalid_argument, "block_gemm: a's and y's columns must be contiguous");
  }
  const std::size_t m = a.rows, k = a.cols, blocks = w.blocks();
  std::vector<int8_t> row_codes(k), codes(m * k);
  std::vector<int32_t> sums(m * blocks);
  std::vector<float> scales(m);
  const BlockActivations acts{codes.data(), sums.data(), scales.data(), m};
  const Isa isa = active_isa();
  const kernels::QuantizeRowFn quantize = kernels::quantize_row_kernel(isa);
  for (std::size_t r = 0; r < m; ++r) {
    const Span<const float> row(a.data + r * a.row_stride, k);
    if (!std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
      return fail(Errc::invalid_argument, "block_gemm: an activation is NaN or infinite");
    }
    scales[r] = quantize(row.data(), k, row_codes.data());
    for (std::size_t sub = 0; sub < k / block_size; ++sub) {
      std::copy_n(row_codes.data() + sub * block_size, block_size,
                  codes.data() + (sub * m + r) * block_size);
    }
    for (std::size_t b = 0; b < blocks; ++b) {
      const int8_t* q = row_codes.data() + b * Block::group;
      sums[b * m + r] = std::accumulate(q, q + Block::group, int32_t{0});
    }
  }
  const kernels::BlockGroupFn<Block> kernel = kernels::block_group_kernel<Block>(isa);
  executor(w.groups, [&](std::size_t group) {
    const std::size_t first = group * block_rows;
    kernel(w, group, acts, 0, m, y.data + first, y.row_stride, std::min(block_rows, w.n - first));
  });
  return ok();
}

}  // namespace qinfer
