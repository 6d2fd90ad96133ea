// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 VNNI GEMM micro-kernel, 8x32c4: up to 8 rows x 32 columns of raw sums in 16 zmm
// accumulators of vpdpbusd (u8 x s8, 4 k per lane, wrapping int32 adds). Per group of 4 k it
// loads the two 64-byte weight vectors once and broadcasts 4 activation bytes per row: 10 loads
// for 16 vpdpbusd, inside the 3 loads per cycle the core sustains. Compiled through target
// attributes; dispatch runs it only where the active level is avx512vnni or above.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::avx512vnni {

inline constexpr std::size_t mr = 8;

template <std::size_t Rows, class TA>
__attribute__((target("avx512f,avx512vnni"))) void gemm_rows(const TA* a, std::size_t lda,
                                                             std::size_t k, const int8_t* panel,
                                                             const int32_t* init,
                                                             int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  __m512i sum[Rows][2];
  const __m512i init0 = _mm512_loadu_si512(init), init1 = _mm512_loadu_si512(init + 16);
  for (auto& row : sum) {
    row[0] = init0;
    row[1] = init1;
  }
  const auto accumulate = [&](std::size_t g, auto&& word_of_row)
      __attribute__((always_inline, target("avx512f,avx512vnni"))) {
    const __m512i b0 = _mm512_loadu_si512(panel + g * gemm_nr * gemm_kr);
    const __m512i b1 = _mm512_loadu_si512(panel + g * gemm_nr * gemm_kr + 64);
    for (std::size_t m = 0; m < Rows; ++m) {
      const __m512i a4 = _mm512_set1_epi32(static_cast<int>(word_of_row(a + m * lda)));
      sum[m][0] = _mm512_dpbusd_epi32(sum[m][0], a4, b0);
      sum[m][1] = _mm512_dpbusd_epi32(sum[m][1], a4, b1);
    }
  };
  const std::size_t full_groups = k / gemm_kr;
  for (std::size_t g = 0; g < full_groups; ++g) {
    accumulate(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
  }
  if (const std::size_t tail = k % gemm_kr; tail != 0) {
    accumulate(full_groups, [&](const TA* row) {
      return activation_word<TA, 1>(row, full_groups * gemm_kr, mask, tail);
    });
  }
  for (std::size_t m = 0; m < Rows; ++m) {
    _mm512_storeu_si512(acc + m * gemm_nr, sum[m][0]);
    _mm512_storeu_si512(acc + m * gemm_nr + 16, sum[m][1]);
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
  return {"avx512vnni vpdpbusd 8x32c4", Isa::avx512vnni, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::avx512vnni
#endif
