// SPDX-License-Identifier: Apache-2.0
//
// NEON GEMM micro-kernel (ARMv8.0, no dot product), 2x32c4. NEON widens products of equal
// signedness only, so this kernel sees the activation codes minus 128 (activation_offset 128,
// see microkernel.hpp): vmull_s8 then gives s8 x s8 products in int16 exactly (|p| <= 2^14),
// and vpadalq_s16 adds product pairs into int32 lanes, two per column, folded once per tile.
// A pass covers 2 rows x 16 columns (16 accumulators of the 32 registers).
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::neon {

inline constexpr std::size_t mr = 2;
inline constexpr uint32_t activation_offset = 128;

template <std::size_t Rows, class TA>
void gemm_rows(const TA* a, std::size_t lda, std::size_t k, const int8_t* panel,
               const int32_t* init, int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(activation_offset);
  constexpr std::size_t vectors = 4;  // 16-byte weight vectors (4 columns x 4 k) per pass
  const std::size_t full_groups = k / gemm_kr, tail = k % gemm_kr;
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    // Lanes of sum[m][2v + h]: columns 4v + 2h and 4v + 2h + 1, two partial sums each.
    int32x4_t sum[Rows][2 * vectors];
#pragma GCC unroll 16
    for (auto& row : sum) {
#pragma GCC unroll 16
      for (auto& v : row) v = vdupq_n_s32(0);
    }
    const auto accumulate = [&](std::size_t g, auto&& word_of_row) __attribute__((always_inline)) {
      int8x16_t b[vectors];
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        b[v] = vld1q_s8(weights + g * gemm_nr * gemm_kr + 16 * v);
      }
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        const int8x16_t a4 = vreinterpretq_s8_u32(vdupq_n_u32(word_of_row(a + m * lda)));
#pragma GCC unroll 16
        for (std::size_t v = 0; v < vectors; ++v) {
          sum[m][2 * v] = vpadalq_s16(sum[m][2 * v], vmull_s8(vget_low_s8(a4), vget_low_s8(b[v])));
          sum[m][2 * v + 1] = vpadalq_s16(sum[m][2 * v + 1], vmull_high_s8(a4, b[v]));
        }
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
      const std::size_t first = half * (gemm_nr / 2);
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        vst1q_s32(acc + m * gemm_nr + first + 4 * v,
                  vaddq_s32(vld1q_s32(init + first + 4 * v),
                            vpaddq_s32(sum[m][2 * v], sum[m][2 * v + 1])));
      }
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
  return {"neon smull+sadalp 2x32c4", Isa::neon,     mr, gemm_nr, gemm_kr,
          activation_offset,          &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::neon
#endif
