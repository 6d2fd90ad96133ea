// SPDX-License-Identifier: Apache-2.0
//
// NEON dot-product GEMM micro-kernel (ARMv8.2 sdot), 4x32c4. sdot multiplies signed bytes by
// signed bytes only, so this kernel sees the activation codes minus 128 (activation_offset
// 128, see microkernel.hpp): an XOR of the top bit. A 16-byte weight vector is 4 columns x
// 4 k, exactly sdot's operand; the by-lane form takes 4 k of one row from a 16-byte load of 16
// k, so one activation load serves 4 groups. A pass covers 4 rows x 16 columns (16
// accumulators, 4 activation and 4 weight registers).
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::dotprod {

inline constexpr std::size_t mr = 4;
inline constexpr uint32_t activation_offset = 128;

template <std::size_t Rows, class TA>
__attribute__((target("arch=armv8.2-a+dotprod"))) void gemm_rows(const TA* a, std::size_t lda,
                                                                 std::size_t k, const int8_t* panel,
                                                                 const int32_t* init,
                                                                 int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(activation_offset);
  constexpr std::size_t vectors = 4;          // weight vectors (4 columns each) per pass
  constexpr std::size_t block = gemm_kr * 4;  // k per activation load
  const std::size_t blocks = k / block;
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    int32x4_t sum[Rows][vectors];
#pragma GCC unroll 16
    for (auto& row : sum) {
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        row[v] = vld1q_s32(init + half * (gemm_nr / 2) + 4 * v);
      }
    }
    const auto weight = [&](std::size_t g, std::size_t v) __attribute__((always_inline)) {
      return vld1q_s8(weights + g * gemm_nr * gemm_kr + 16 * v);
    };
    const int8x16_t flip = vreinterpretq_s8_u32(vdupq_n_u32(mask));
    for (std::size_t blk = 0; blk < blocks; ++blk) {
      int8x16_t a16[Rows];
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        a16[m] =
            veorq_s8(vld1q_s8(reinterpret_cast<const int8_t*>(a + m * lda + blk * block)), flip);
      }
      const std::size_t g = blk * 4;
      const auto lane = [&](auto l)
          __attribute__((always_inline, target("arch=armv8.2-a+dotprod"))) {
#pragma GCC unroll 16
        for (std::size_t v = 0; v < vectors; ++v) {
          const int8x16_t b = weight(g + decltype(l)::value, v);
#pragma GCC unroll 16
          for (std::size_t m = 0; m < Rows; ++m) {
            sum[m][v] = vdotq_laneq_s32(sum[m][v], b, a16[m], decltype(l)::value);
          }
        }
      };
      lane(std::integral_constant<int, 0>{});
      lane(std::integral_constant<int, 1>{});
      lane(std::integral_constant<int, 2>{});
      lane(std::integral_constant<int, 3>{});
    }
    // The groups after the last whole block, the last one possibly partial.
    for (std::size_t first = blocks * block; first < k; first += gemm_kr) {
      const std::size_t count = k - first < gemm_kr ? k - first : gemm_kr;
      int8x16_t a4[Rows];
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        a4[m] = vreinterpretq_s8_u32(
            vdupq_n_u32(activation_tail_word(a + m * lda, first, mask, count)));
      }
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        const int8x16_t b = weight(first / gemm_kr, v);
#pragma GCC unroll 16
        for (std::size_t m = 0; m < Rows; ++m) sum[m][v] = vdotq_s32(sum[m][v], b, a4[m]);
      }
    }
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      int32_t* out = acc + m * gemm_nr + half * (gemm_nr / 2);
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) vst1q_s32(out + 4 * v, sum[m][v]);
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
  return {"dotprod sdot 4x32c4", Isa::dotprod,  mr, gemm_nr, gemm_kr,
          activation_offset,     &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::dotprod
#endif
