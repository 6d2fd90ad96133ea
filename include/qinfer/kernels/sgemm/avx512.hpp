// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 fp32 micro-kernel, 6x32: 12 zmm accumulators for 2 B loads and 6 broadcasts per k,
// enough independent FMAs to cover their latency on two FMA ports.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>

#include "qinfer/kernels/sgemm/microkernel.hpp"

namespace qinfer::kernels::sgemm::avx512 {

inline constexpr std::size_t mr = 6;
inline constexpr std::size_t nr = 32;
static_assert(mr <= sgemm_max_mr && nr <= sgemm_max_nr, "the driver's buffers hold the tile");

__attribute__((target("avx512f"))) inline void tile(std::size_t kc, const float* a, const float* b,
                                                    float* c, std::size_t ldc,
                                                    bool accumulate) noexcept {
  __m512 acc[mr][2];
#pragma GCC unroll 6
  for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p, a += mr, b += nr) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 6
    for (std::size_t i = 0; i < mr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (std::size_t i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(row));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[i][0]);
    _mm512_storeu_ps(row + 16, acc[i][1]);
  }
}

constexpr SgemmMicrokernel microkernel() noexcept {
  return {"sgemm avx512 6x32", mr, nr, &tile};
}

}  // namespace qinfer::kernels::sgemm::avx512

#endif
