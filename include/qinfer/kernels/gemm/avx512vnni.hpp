// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 VNNI GEMM kernel: one 8 x 32 tile (or fewer rows) of raw sums over packed weights, 16
// accumulators of vpdpbusd (u8 x s8, 4 k per lane, wrapping int32 adds). Per group of 4 k it loads
// the two 64-byte weight vectors once and broadcasts 4 activation bytes per row: 10 loads for 16
// vpdpbusd, inside the 3 loads per cycle the core sustains. Compiled through target attributes;
// dispatch runs it only where active_isa() >= Isa::avx512vnni.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/kernels/gemm/scalar.hpp"

namespace qinfer::kernels::avx512vnni {

// The 4 activation codes of row `a` from k = first as one int32; `count` < 4 zero-pads the group
// past k (padding multiplies zero weights). A constant count compiles to one load.
template <class TA, std::size_t count = gemm_kr>
inline int32_t activation_group(const TA* a, std::size_t first, std::size_t tail = count) noexcept {
  uint32_t word = 0;
  std::memcpy(&word, a + first, count == gemm_kr ? gemm_kr : tail);
  if constexpr (std::is_same_v<TA, int8_t>) word ^= 0x80808080u;
  int32_t group = 0;
  std::memcpy(&group, &word, sizeof group);
  return group;
}

// A tile of `Rows` rows: short tiles (M < 8, the M = 1 GEMV above all) do no wasted work.
template <std::size_t Rows, class TA>
__attribute__((target("avx512f,avx512vnni"))) void gemm_rows(const TA* a, std::size_t lda,
                                                             std::size_t k, const int8_t* panel,
                                                             int32_t* acc) noexcept {
  __m512i sum[Rows][2];
  for (auto& row : sum) row[0] = row[1] = _mm512_setzero_si512();
  const auto accumulate = [&](std::size_t g, auto&& group_of_row)
      __attribute__((always_inline, target("avx512f,avx512vnni"))) {
    const __m512i b0 = _mm512_loadu_si512(panel + g * gemm_nr * gemm_kr);
    const __m512i b1 = _mm512_loadu_si512(panel + g * gemm_nr * gemm_kr + 64);
    for (std::size_t m = 0; m < Rows; ++m) {
      const __m512i a4 = _mm512_set1_epi32(group_of_row(a + m * lda));
      sum[m][0] = _mm512_dpbusd_epi32(sum[m][0], a4, b0);
      sum[m][1] = _mm512_dpbusd_epi32(sum[m][1], a4, b1);
    }
  };
  const std::size_t full_groups = k / gemm_kr;
  for (std::size_t g = 0; g < full_groups; ++g) {
    accumulate(g, [&](const TA* row) { return activation_group(row, g * gemm_kr); });
  }
  if (const std::size_t tail = k % gemm_kr; tail != 0) {
    accumulate(full_groups, [&](const TA* row) {
      return activation_group<TA, 1>(row, full_groups * gemm_kr, tail);
    });
  }
  for (std::size_t m = 0; m < Rows; ++m) {
    _mm512_storeu_si512(acc + m * gemm_nr, sum[m][0]);
    _mm512_storeu_si512(acc + m * gemm_nr + 16, sum[m][1]);
  }
}

// Rows [0, mr) of A times one packed panel into the gemm_mr x gemm_nr tile acc.
template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t mr, std::size_t k, const int8_t* panel,
               int32_t* acc) noexcept {
  switch (mr) {
    case 1:
      return gemm_rows<1>(a, lda, k, panel, acc);
    case 2:
      return gemm_rows<2>(a, lda, k, panel, acc);
    case 3:
      return gemm_rows<3>(a, lda, k, panel, acc);
    case 4:
      return gemm_rows<4>(a, lda, k, panel, acc);
    case 5:
      return gemm_rows<5>(a, lda, k, panel, acc);
    case 6:
      return gemm_rows<6>(a, lda, k, panel, acc);
    case 7:
      return gemm_rows<7>(a, lda, k, panel, acc);
    default:
      return gemm_rows<gemm_mr>(a, lda, k, panel, acc);
  }
}

}  // namespace qinfer::kernels::avx512vnni
#endif
