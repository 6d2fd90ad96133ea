// SPDX-License-Identifier: Apache-2.0
//
// AVX-VNNI GEMM micro-kernel, 6x32c4: vpdpbusd on ymm (u8 x s8, 4 k per lane). A pass covers
// 6 rows x 16 columns and two passes cover the panel (each weight byte is still loaded once per
// tile). Six rows give 12 independent accumulators: vpdpbusd's latency (5 cycles) times its
// throughput (2 per cycle) needs at least 10, and 4 rows (8 accumulators) ran 25-30% slower at
// 512^3-1024^3. 2 weight vectors and 6 broadcasts: 8 loads for 12 vpdpbusd, 15 of the 16 ymm.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::avxvnni {

inline constexpr std::size_t mr = 6;

template <std::size_t Rows, class TA>
__attribute__((target("avx2,avxvnni"))) void gemm_rows(const TA* a, std::size_t lda, std::size_t k,
                                                       const int8_t* panel, const int32_t* init,
                                                       int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  const std::size_t full_groups = k / gemm_kr, tail = k % gemm_kr;
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    __m256i sum[Rows][2];
    const auto* column_init = reinterpret_cast<const __m256i*>(init + half * (gemm_nr / 2));
#pragma GCC unroll 16
    for (auto& row : sum) {
      row[0] = _mm256_loadu_si256(column_init);
      row[1] = _mm256_loadu_si256(column_init + 1);
    }
    const auto accumulate = [&](std::size_t g, auto&& word_of_row)
        __attribute__((always_inline, target("avx2,avxvnni"))) {
      const __m256i b0 =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weights + g * gemm_nr * gemm_kr));
      const __m256i b1 = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(weights + g * gemm_nr * gemm_kr + 32));
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        const __m256i a4 = _mm256_set1_epi32(static_cast<int>(word_of_row(a + m * lda)));
        sum[m][0] = _mm256_dpbusd_avx_epi32(sum[m][0], a4, b0);
        sum[m][1] = _mm256_dpbusd_avx_epi32(sum[m][1], a4, b1);
      }
    };
    for (std::size_t g = 0; g < full_groups; ++g) {
      accumulate(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
    }
    if (tail != 0) {
      accumulate(full_groups, [&](const TA* row) {
        return activation_tail_word(row, full_groups * gemm_kr, mask, tail);
      });
    }
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      int32_t* out = acc + m * gemm_nr + half * (gemm_nr / 2);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sum[m][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), sum[m][1]);
    }
  }
}

template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t rows, std::size_t k, const int8_t* panel,
               const int32_t* init, int32_t* acc) noexcept {
  dispatch_rows<mr>(rows,
                    [&](auto r) { gemm_rows<decltype(r)::value>(a, lda, k, panel, init, acc); });
}

template <class TA>
constexpr GemmMicrokernel<TA> gemm_microkernel() noexcept {
  return {"avxvnni vpdpbusd 6x32c4", Isa::avxvnni, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::avxvnni
#endif
