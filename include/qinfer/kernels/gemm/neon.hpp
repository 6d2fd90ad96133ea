// SPDX-License-Identifier: Apache-2.0
//
// NEON GEMM micro-kernel (ARMv8.0, no dot product), 2x32c4. A u8 x s8 product always fits
// int16 (-32640 .. 32385), so vmull_u8 on the weights' raw bytes gives it exactly: the uint16
// product is congruent to the true one modulo 2^16, and read as int16 it is the true one.
// vpadalq_s16 then adds product pairs into int32 lanes, two per column, folded once per tile.
// A pass covers 2 rows x 16 columns (16 accumulators of the 32 registers).
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::neon {

inline constexpr std::size_t mr = 2;

template <std::size_t Rows, class TA>
void gemm_rows(const TA* a, std::size_t lda, std::size_t k, const int8_t* panel,
               int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  constexpr std::size_t vectors = 4;  // 16-byte weight vectors (4 columns x 4 k) per pass
  const std::size_t full_groups = k / gemm_kr, tail = k % gemm_kr;
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    // Lanes of sum[m][2v + h]: columns 4v + 2h and 4v + 2h + 1, two partial sums each.
    int32x4_t sum[Rows][2 * vectors];
    for (auto& row : sum) {
      for (auto& v : row) v = vdupq_n_s32(0);
    }
    const auto accumulate = [&](std::size_t g, auto&& word_of_row) __attribute__((always_inline)) {
      uint8x16_t b[vectors];
      for (std::size_t v = 0; v < vectors; ++v) {
        b[v] = vreinterpretq_u8_s8(vld1q_s8(weights + g * gemm_nr * gemm_kr + 16 * v));
      }
      for (std::size_t m = 0; m < Rows; ++m) {
        const uint8x16_t a4 = vreinterpretq_u8_u32(vdupq_n_u32(word_of_row(a + m * lda)));
        for (std::size_t v = 0; v < vectors; ++v) {
          sum[m][2 * v] = vpadalq_s16(
              sum[m][2 * v], vreinterpretq_s16_u16(vmull_u8(vget_low_u8(a4), vget_low_u8(b[v]))));
          sum[m][2 * v + 1] =
              vpadalq_s16(sum[m][2 * v + 1], vreinterpretq_s16_u16(vmull_high_u8(a4, b[v])));
        }
      }
    };
    for (std::size_t g = 0; g < full_groups; ++g) {
      accumulate(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
    }
    if (tail != 0) {
      accumulate(full_groups, [&](const TA* row) {
        return activation_word<TA, 1>(row, full_groups * gemm_kr, mask, tail);
      });
    }
    for (std::size_t m = 0; m < Rows; ++m) {
      int32_t* out = acc + m * gemm_nr + half * (gemm_nr / 2);
      for (std::size_t v = 0; v < vectors; ++v) {
        vst1q_s32(out + 4 * v, vpaddq_s32(sum[m][2 * v], sum[m][2 * v + 1]));
      }
    }
  }
}

template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t rows, std::size_t k, const int8_t* panel,
               int32_t* acc) noexcept {
  dispatch_rows<mr>(rows, [&](auto r) { gemm_rows<decltype(r)::value>(a, lda, k, panel, acc); });
}

template <class TA>
constexpr GemmMicrokernel<TA> gemm_microkernel() noexcept {
  return {"neon umull+sadalp 2x32c4", Isa::neon, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::neon
#endif
