// SPDX-License-Identifier: Apache-2.0
//
// Portable fp32 micro-kernel, 4x8: what every target without AVX2+FMA runs (compilers
// vectorize the column loop for the baseline ISA).
#pragma once

#include <cstddef>

#include "qinfer/kernels/sgemm/microkernel.hpp"

namespace qinfer::kernels::sgemm::scalar {

inline constexpr std::size_t mr = 4;
inline constexpr std::size_t nr = 8;
static_assert(mr <= sgemm_max_mr && nr <= sgemm_max_nr, "the driver's buffers hold the tile");

inline void tile(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc,
                 bool accumulate) noexcept {
  float acc[mr][nr] = {};
  for (std::size_t p = 0; p < kc; ++p, a += mr, b += nr) {
    for (std::size_t i = 0; i < mr; ++i) {
      for (std::size_t j = 0; j < nr; ++j) acc[i][j] += a[i] * b[j];
    }
  }
  for (std::size_t i = 0; i < mr; ++i) {
    for (std::size_t j = 0; j < nr; ++j)
      c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + acc[i][j];
  }
}

constexpr SgemmMicrokernel microkernel() noexcept {
  return {"sgemm scalar 4x8", mr, nr, &tile};
}

}  // namespace qinfer::kernels::sgemm::scalar
