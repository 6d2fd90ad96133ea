// SPDX-License-Identifier: Apache-2.0
//
// NEON i8mm GEMM micro-kernel (ARMv8.6 usmmla), 4x32c4. usmmla multiplies a 2 x 8 block of
// unsigned activations by an 8 x 2 block of signed weights into a 2 x 2 int32 block, so it
// takes the codes as they are (activation_offset 0). Its weight operand is 2 columns x 8 k: the
// 32c4 layout gives 4 columns x 4 k per 16 bytes, and one zip of the vectors of two
// consecutive groups rearranges them into two such operands (a permute per two usmmla at 4
// rows, where a layout of its own would need none but would split the packed format by path).
// A pass covers 4 rows x 16 columns in 16 accumulators; an odd row count repeats its last row
// and drops the copy's results.
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::i8mm {

inline constexpr std::size_t mr = 4;

template <std::size_t Rows, class TA>
__attribute__((target("arch=armv8.2-a+i8mm"))) void gemm_rows(const TA* a, std::size_t lda,
                                                              std::size_t k, const int8_t* panel,
                                                              const int32_t* init,
                                                              int32_t* acc) noexcept {
  constexpr std::size_t pairs = (Rows + 1) / 2;
  constexpr std::size_t vectors = 4;          // 16-byte weight vectors (4 columns x 4 k) per pass
  constexpr std::size_t depth = 2 * gemm_kr;  // k per usmmla
  const uint8x16_t flip = vreinterpretq_u8_u32(vdupq_n_u32(code_mask<TA>(0)));
  const TA* rows[2 * pairs];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < 2 * pairs; ++r) rows[r] = a + (r < Rows ? r : Rows - 1) * lda;
  const std::size_t steps = k / depth, rest = k % depth;
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    // sum[p][2v + h] is rows 2p, 2p + 1 by columns 4v + 2h, 4v + 2h + 1.
    int32x4_t sum[pairs][2 * vectors];
#pragma GCC unroll 16
    for (auto& pair : sum) {
#pragma GCC unroll 16
      for (std::size_t c = 0; c < 2 * vectors; ++c) {
        const int32x2_t columns = vld1_s32(init + half * (gemm_nr / 2) + 2 * c);
        pair[c] = vcombine_s32(columns, columns);
      }
    }
    // `second` is false when the step's second group lies past K (its weights are then zero).
    const auto accumulate = [&](std::size_t g, bool second, const uint8x16_t* a8)
        __attribute__((always_inline, target("arch=armv8.2-a+i8mm"))) {
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        const int8_t* first = weights + g * gemm_nr * gemm_kr + 16 * v;
        const int32x4_t lo = vreinterpretq_s32_s8(vld1q_s8(first));
        const int32x4_t hi =
            second ? vreinterpretq_s32_s8(vld1q_s8(first + gemm_nr * gemm_kr)) : vdupq_n_s32(0);
        const int8x16_t b0 = vreinterpretq_s8_s32(vzip1q_s32(lo, hi));
        const int8x16_t b1 = vreinterpretq_s8_s32(vzip2q_s32(lo, hi));
#pragma GCC unroll 16
        for (std::size_t p = 0; p < pairs; ++p) {
          sum[p][2 * v] = vusmmlaq_s32(sum[p][2 * v], a8[p], b0);
          sum[p][2 * v + 1] = vusmmlaq_s32(sum[p][2 * v + 1], a8[p], b1);
        }
      }
    };
    uint8x16_t a8[pairs];
    for (std::size_t s = 0; s < steps; ++s) {
#pragma GCC unroll 16
      for (std::size_t p = 0; p < pairs; ++p) {
        const auto* r0 = reinterpret_cast<const uint8_t*>(rows[2 * p] + s * depth);
        const auto* r1 = reinterpret_cast<const uint8_t*>(rows[2 * p + 1] + s * depth);
        a8[p] = veorq_u8(vcombine_u8(vld1_u8(r0), vld1_u8(r1)), flip);
      }
      accumulate(2 * s, true, a8);
    }
    if (rest != 0) {
#pragma GCC unroll 16
      for (std::size_t p = 0; p < pairs; ++p) {
        uint8_t bytes[2 * depth] = {};
        std::memcpy(bytes, rows[2 * p] + steps * depth, rest);
        std::memcpy(bytes + depth, rows[2 * p + 1] + steps * depth, rest);
        a8[p] = veorq_u8(vld1q_u8(bytes), flip);
      }
      accumulate(2 * steps, rest > gemm_kr, a8);
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      int32_t* out = acc + r * gemm_nr + half * (gemm_nr / 2);
#pragma GCC unroll 16
      for (std::size_t c = 0; c < 2 * vectors; ++c) {
        const int32x4_t block = sum[r / 2][c];
        vst1_s32(out + 2 * c, r % 2 == 0 ? vget_low_s32(block) : vget_high_s32(block));
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
  return {"i8mm usmmla 4x32c4", Isa::i8mm, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::i8mm
#endif
