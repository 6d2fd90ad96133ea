// SPDX-License-Identifier: Apache-2.0
//
// fp32 GEMM for the float side of the library (training, QAT, the fp32 baseline of the demo):
//
//   C = A x B          or, with accumulate, C += A x B
//
// A and B are any strided views (a transposed operand is a view with swapped strides, packing
// absorbs it); C needs contiguous columns. Blocked as in Goto & van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication" (2008): a kc-deep slice of B is packed into panels
// once and stays in L2, a strip of A is packed per task and stays in L1, and the micro-kernel
// (kernels/sgemm/) streams both. Results do not depend on the executor: each element of C is
// summed in the same order whatever the split.
#pragma once

#include <algorithm>
#include <cstddef>

#include "qinfer/core/aligned.hpp"
#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/kernels/sgemm/dispatch.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

// Depth of a packed slice: a 6 x 256 strip of A is 6 KiB and a 256 x 32 panel of B 32 KiB, so
// both sit in L1 (48 KiB here) while the micro-kernel runs.
inline constexpr std::size_t sgemm_kc = 256;
// Rows per task: a multiple of every micro-kernel's MR (4 and 6).
inline constexpr std::size_t sgemm_task_rows = 96;

namespace detail {

// Packs rows [row, row + mr) x depth [p0, p0 + kc) of A as kc groups of mr (zeros past A's end).
inline void pack_sgemm_a(MatrixView<const float> a, std::size_t row, std::size_t mr, std::size_t p0,
                         std::size_t kc, float* out) noexcept {
  const std::size_t rows = std::min(mr, a.rows - row);
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t i = 0; i < rows; ++i) out[p * mr + i] = a(row + i, p0 + p);
    for (std::size_t i = rows; i < mr; ++i) out[p * mr + i] = 0.0f;
  }
}

// Packs depth [p0, p0 + kc) of B into panels of nr columns (zeros past B's last column).
inline void pack_sgemm_b(MatrixView<const float> b, std::size_t nr, std::size_t p0, std::size_t kc,
                         float* out) noexcept {
  for (std::size_t j0 = 0; j0 < b.cols; j0 += nr) {
    const std::size_t cols = std::min(nr, b.cols - j0);
    for (std::size_t p = 0; p < kc; ++p, out += nr) {
      for (std::size_t j = 0; j < cols; ++j) out[j] = b(p0 + p, j0 + j);
      for (std::size_t j = cols; j < nr; ++j) out[j] = 0.0f;
    }
  }
}

}  // namespace detail

inline Status validate_sgemm(MatrixView<const float> a, MatrixView<const float> b,
                             MatrixView<float> c) noexcept {
  if (a.cols != b.rows) return {Errc::shape_mismatch, "sgemm: A columns != B rows"};
  if (c.rows != a.rows || c.cols != b.cols) {
    return {Errc::shape_mismatch, "sgemm: C must be A rows x B columns"};
  }
  if (c.col_stride != 1 && c.cols > 1) {
    return {Errc::invalid_argument, "sgemm: C's columns must be contiguous (col_stride 1)"};
  }
  if (auto s = check_view(a, "sgemm: A"); !s) return s;
  if (auto s = check_view(b, "sgemm: B"); !s) return s;
  return check_view(c, "sgemm: C");
}

enum class Accumulate : bool { no, yes };

template <class Executor = SerialExecutor>
Result<void> sgemm(MatrixView<const float> a, MatrixView<const float> b, MatrixView<float> c,
                   Accumulate accumulate = Accumulate::no, Executor&& executor = Executor{}) {
  if (auto s = validate_sgemm(a, b, c); !s) return fail(s);
  if (c.rows == 0 || c.cols == 0) return ok();
  if (a.cols == 0) {
    if (accumulate == Accumulate::no) {
      for (std::size_t i = 0; i < c.rows; ++i) std::fill_n(&c(i, 0), c.cols, 0.0f);
    }
    return ok();
  }
  const kernels::sgemm::SgemmMicrokernel kernel = sgemm_microkernel(active_isa());
  const std::size_t mr = kernel.mr, nr = kernel.nr;
  const std::size_t panels = (b.cols + nr - 1) / nr;
  const std::size_t task_rows = sgemm_task_rows;
  const std::size_t tasks = (c.rows + task_rows - 1) / task_rows;
  AlignedVector<float> packed_b(panels * nr * std::min(sgemm_kc, a.cols));
  for (std::size_t p0 = 0; p0 < a.cols; p0 += sgemm_kc) {
    const std::size_t kc = std::min(sgemm_kc, a.cols - p0);
    const bool add = accumulate == Accumulate::yes || p0 > 0;
    detail::pack_sgemm_b(b, nr, p0, kc, packed_b.data());
    executor(tasks, [&](std::size_t task) {
      alignas(64) float strip[kernels::sgemm::sgemm_max_mr * sgemm_kc];
      alignas(64) float edge[kernels::sgemm::sgemm_max_mr * kernels::sgemm::sgemm_max_nr];
      const std::size_t row_end = std::min(c.rows, (task + 1) * task_rows);
      for (std::size_t row = task * task_rows; row < row_end; row += mr) {
        const std::size_t rows = std::min(mr, row_end - row);
        detail::pack_sgemm_a(a, row, mr, p0, kc, strip);
        for (std::size_t panel = 0; panel < panels; ++panel) {
          const std::size_t col = panel * nr, cols = std::min(nr, c.cols - col);
          const float* bp = packed_b.data() + panel * nr * kc;
          if (rows == mr && cols == nr) {
            kernel.tile(kc, strip, bp, &c(row, col), c.row_stride, add);
            continue;
          }
          kernel.tile(kc, strip, bp, edge, nr, false);
          for (std::size_t i = 0; i < rows; ++i) {
            float* out = &c(row + i, col);
            for (std::size_t j = 0; j < cols; ++j)
              out[j] = (add ? out[j] : 0.0f) + edge[i * nr + j];
          }
        }
      }
    });
  }
  return ok();
}

}  // namespace qinfer
