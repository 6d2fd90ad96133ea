// SPDX-License-Identifier: Apache-2.0
//
// AVX2 + FMA fp32 micro-kernel, 6x16: 12 ymm accumulators, two B vectors and a broadcast fill
// the 16 registers; 12 FMAs per 8 loads.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>

#include "qinfer/kernels/sgemm/microkernel.hpp"

namespace qinfer::kernels::sgemm::avx2 {

inline constexpr std::size_t mr = 6;
inline constexpr std::size_t nr = 16;
static_assert(mr <= sgemm_max_mr && nr <= sgemm_max_nr, "the driver's buffers hold the tile");

__attribute__((target("avx2,fma"))) inline void tile(std::size_t kc, const float* a, const float* b,
                                                     float* c, std::size_t ldc,
                                                     bool accumulate) noexcept {
  __m256 acc[mr][2];
#pragma GCC unroll 6
  for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p, a += mr, b += nr) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (std::size_t i = 0; i < mr; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (std::size_t i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(row));
      acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[i][0]);
    _mm256_storeu_ps(row + 8, acc[i][1]);
  }
}

constexpr SgemmMicrokernel microkernel() noexcept {
  return {"sgemm avx2 6x16", mr, nr, &tile};
}

}  // namespace qinfer::kernels::sgemm::avx2
#endif
