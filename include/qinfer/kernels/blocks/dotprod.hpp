// SPDX-License-Identifier: Apache-2.0
//
// AArch64 NEON dot-product weight-only GEMM kernel (ARMv8.2 sdot; contract in
// kernels/blocks/scalar.hpp), also used at the i8mm level. The record's 16 lanes are four
// quarters of 4 output rows; a code vector (made signed as in kernels/blocks/neon.hpp) is
// exactly sdot's operand, and the by-lane form takes 4 k of a row from a 16-byte activation
// load, so one load serves 4 code vectors. One sdot per 16 multiply-adds and row.
//
// smmla does 32 multiply-adds, but on 2-row tiles of both operands, and here each vector lane
// is an output row of its own. An smmla kernel on these records (2 output rows x 2 activation
// rows an instruction, its weight operands a 32-bit zip of two code vectors) passed the tests,
// but issues as many vector operations: per 4 output rows x 4 activation rows x 32 k, 16 smmla
// and 8 zips of codes, plus 8 more that pair the activation rows (64-bit zips at best), against
// 32 sdot; both build the same 8 code vectors. With no i8mm core here to show a gain, it is not
// in.
//
// Four activation rows share each code vector: 16 float accumulators, 4 dots, 8 activation
// vectors and a code vector, 29 of the 32 q registers.
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/kernels/blocks/neon.hpp"
#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::dotprod {

inline constexpr std::size_t block_mr = 4;

template <class Block, std::size_t Rows>
__attribute__((target("arch=armv8.2-a+dotprod"))) void block_tile(
    const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
    std::size_t first_row, float* y, std::size_t ldy, std::size_t count) noexcept {
  using Packed = PackedBlocks<Block>;
  using neon::add_block_terms, neon::code_vector, neon::store_tile;
  float32x4_t acc[4][Rows];
  for (auto& quarter : acc) {
    for (auto& v : quarter) v = vdupq_n_f32(0.0f);
  }
  for (std::size_t b = 0; b < w.blocks(); ++b) {
    const uint8_t* record = w.record(group, b);
    const uint8_t* codes = record + Packed::scale_bytes;
    const int32_t* sums = a.block_sums(b, first_row);
    for (std::size_t quarter = 0; quarter < 4; ++quarter) {
      int32x4_t dot[Rows];
      for (std::size_t r = 0; r < Rows; ++r) {
        dot[r] = vdupq_n_s32(-Block::code_offset * sums[r]);
      }
      for (std::size_t s = 0; s < Packed::subblocks; ++s) {
        const int8_t* xs = a.subblock(b * Packed::subblocks + s, first_row);
        int8x16_t x[Rows][2];  // the sub-block's 32 activation codes of each row
        for (std::size_t r = 0; r < Rows; ++r) {
          x[r][0] = vld1q_s8(xs + block_size * r);
          x[r][1] = vld1q_s8(xs + block_size * r + 16);
        }
        const auto step = [&](auto t)
            __attribute__((always_inline, target("arch=armv8.2-a+dotprod"))) {
          constexpr std::size_t word = decltype(t)::value;
          const int8x16_t c = code_vector<Packed>(codes, s, word, quarter);
          for (std::size_t r = 0; r < Rows; ++r) {
            dot[r] = vdotq_laneq_s32(dot[r], c, x[r][word / 4], word % 4);
          }
        };
        step(std::integral_constant<std::size_t, 0>{});
        step(std::integral_constant<std::size_t, 1>{});
        step(std::integral_constant<std::size_t, 2>{});
        step(std::integral_constant<std::size_t, 3>{});
        step(std::integral_constant<std::size_t, 4>{});
        step(std::integral_constant<std::size_t, 5>{});
        step(std::integral_constant<std::size_t, 6>{});
        step(std::integral_constant<std::size_t, 7>{});
      }
      add_block_terms<Block>(record, quarter, dot, sums, acc[quarter]);
    }
  }
  store_tile(acc, a, first_row, y, ldy, count);
}

template <class Block>
void block_group(const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
                 std::size_t first_row, std::size_t rows, float* y, std::size_t ldy,
                 std::size_t count) noexcept {
  for_each_row_tile<block_mr>(0, rows, [&](std::size_t r, auto tile) {
    block_tile<Block, decltype(tile)::value>(w, group, a, first_row + r, y + r * ldy, ldy, count);
  });
}

}  // namespace qinfer::kernels::dotprod
#endif
