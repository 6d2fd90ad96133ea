// SPDX-License-Identifier: Apache-2.0
//
// AVX-VNNI weight-only GEMM kernel (contract in kernels/blocks/scalar.hpp): the AVX-512 VNNI
// kernel's arithmetic on the two ymm halves of each packed record. The stored codes are
// vpdpbusd's unsigned operand as they are (int8 plus 128, or nibbles), the activation words its
// signed one; the stored offset (128, or Q4_0's 8) comes back out through the block's activation
// sum. One vpdpbusd per 32 multiply-adds and row.
//
// Three activation rows share each code vector: 6 accumulators (3 rows x 2 halves), 3 dots,
// the codes (two for int4) and a broadcast fit the 16 ymm.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/blocks/avx2.hpp"
#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::avxvnni {

inline constexpr std::size_t block_mr = 3;

template <class Block, std::size_t Rows>
__attribute__((target("avx2,avxvnni,fma,f16c"))) void block_tile(
    const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
    std::size_t first_row, float* y, std::size_t ldy, std::size_t count) noexcept {
  using Packed = PackedBlocks<Block>;
  using avx2::add_block_terms, avx2::broadcast_word, avx2::store_tile;
  __m256 acc[2][Rows];
  for (auto& half : acc) {
    for (auto& v : half) v = _mm256_setzero_ps();
  }
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  for (std::size_t b = 0; b < w.blocks(); ++b) {
    const uint8_t* record = w.record(group, b);
    const uint8_t* codes = record + Packed::scale_bytes;
    const int32_t* sums = a.block_sums(b, first_row);
    for (std::size_t h = 0; h < 2; ++h) {
      __m256i dot[Rows];
      for (std::size_t r = 0; r < Rows; ++r) {
        dot[r] = _mm256_set1_epi32(-Packed::stored_offset * sums[r]);
      }
      for (std::size_t s = 0; s < Packed::subblocks; ++s) {
        const int8_t* xs = a.subblock(b * Packed::subblocks + s, first_row);
        if constexpr (Packed::int8_codes) {
#pragma GCC unroll 8
          for (std::size_t t = 0; t < 8; ++t) {
            const __m256i c = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(codes + 64 * (8 * s + t) + 32 * h));
            for (std::size_t r = 0; r < Rows; ++r) {
              dot[r] =
                  _mm256_dpbusd_avx_epi32(dot[r], c, broadcast_word(xs + block_size * r + 4 * t));
            }
          }
        } else {
#pragma GCC unroll 4
          for (std::size_t t = 0; t < 4; ++t) {
            const __m256i packed = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(codes + 64 * (4 * s + t) + 32 * h));
            const __m256i low = _mm256_and_si256(packed, nibble);
            const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
            for (std::size_t r = 0; r < Rows; ++r) {
              dot[r] =
                  _mm256_dpbusd_avx_epi32(dot[r], low, broadcast_word(xs + block_size * r + 4 * t));
              dot[r] = _mm256_dpbusd_avx_epi32(dot[r], high,
                                               broadcast_word(xs + block_size * r + 16 + 4 * t));
            }
          }
        }
      }
      add_block_terms<Block>(record, h, dot, sums, acc[h]);
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

}  // namespace qinfer::kernels::avxvnni
#endif
