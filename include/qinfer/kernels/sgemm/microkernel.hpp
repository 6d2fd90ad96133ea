// SPDX-License-Identifier: Apache-2.0
//
// fp32 GEMM micro-kernels: the training half of the library (float forward and backward of the
// nn layers, fake-quantized during QAT) runs on them. They share the classic packed layout:
//
// - A is packed in strips of MR rows: for each k, the strip's MR values (zero past the last row);
// - B is packed in panels of NR columns: for each k, the panel's NR values (zero past the last
//   column);
// - a micro-kernel multiplies one strip by one panel over kc steps of k and stores (or adds)
//   the full MR x NR tile to C with row stride ldc. The driver (ops/sgemm.hpp) gives edge tiles
//   a scratch tile, so kernels have no tails.
#pragma once

#include <cstddef>

namespace qinfer::kernels::sgemm {

// Bounds of every kernel's tile, for the driver's stack buffers.
inline constexpr std::size_t sgemm_max_mr = 6;
inline constexpr std::size_t sgemm_max_nr = 32;

using SgemmTileFn = void (*)(std::size_t kc, const float* a, const float* b, float* c,
                             std::size_t ldc, bool accumulate) noexcept;

struct SgemmMicrokernel {
  const char* name;
  std::size_t mr;
  std::size_t nr;
  SgemmTileFn tile;
};

}  // namespace qinfer::kernels::sgemm
