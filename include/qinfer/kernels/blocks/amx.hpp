// SPDX-License-Identifier: Apache-2.0
//
// AMX-INT8 weight-only GEMM kernel (contract in kernels/blocks/scalar.hpp) for 16 activation
// rows and more; fewer rows, and the rows past the last whole 16, run the AVX-512 VNNI kernel.
//
// Per sub-block of 32 k, a packed record's codes are already a tile of tdpbsud's unsigned
// operand: 8 rows of 4 k x 16 output rows (kernels/blocks/packing.hpp), int8 as stored and int4
// once its nibbles are split into 8 vectors. The activation codes of 16 rows of one sub-block
// lie contiguous in the workspace (32 bytes a row), the signed operand. Each block's integer
// dots gather in one accumulator tile per 16 activation rows, over the block's sub-blocks; then
// they go through memory into zmm lanes, where the stored codes' offset comes back out through
// the block's activation sums and the scales enter with the AVX-512 VNNI kernel's fma per row:
// the same integer dot and the same float operations in the same order as every other path.
//
// Two accumulator tiles (32 rows) share each weight tile, so the weights stream from memory once
// per 32 rows, and two sets of tiles alternate between blocks (BlockTileConfig). The int4
// nibbles of a block are split a block ahead of the tile loads that read them: a tile load
// right behind the stores that fill its buffer waits for them (kernels/gemm/amx.hpp).
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/blocks/avx512vnni.hpp"
#include "qinfer/kernels/blocks/packing.hpp"
#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/kernels/gemm/amx.hpp"

// GCC 12 bug 105593 (see convert/avx512.hpp): the conversion intrinsics warn about the
// undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::amx {

inline constexpr std::size_t block_tiles_max = 2;  // accumulator tiles sharing a weight tile
inline constexpr std::size_t subblock_tile_bytes = 8 * tile_bytes;

// Palette 1. Two sets of accumulator and weight tiles alternate between blocks, so that a
// block's dots need not wait for the stores that take the previous block's out: with one set,
// M = 32 on Q8_0 ran at 13.7k rows/s, with two at 14.3-14.8k. Set S: accumulators 2S and
// 2S + 1 (16 rows x 16 int32), weights 6 + S (8 rows of 4 k x 16 output rows). Activations:
// tile 4 for accumulator 2S, tile 5 for 2S + 1 (16 rows x 32 codes), in both sets.
struct alignas(64) BlockTileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, block_size, block_size, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 8, 8};
};
inline const BlockTileConfig block_tile_config{};

template <int Tile>
__attribute__((always_inline, target("amx-tile"))) inline void load_tile(
    const void* from, std::size_t stride) noexcept {
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm%c2" ::"r"(from), "r"(stride), "i"(Tile) : "memory");
}

template <int Tile>
__attribute__((always_inline, target("amx-tile"))) inline void store_tile(int32_t* to) noexcept {
  __asm__ volatile("tilestored %%tmm%c2, (%0,%1,1)" ::"r"(to), "r"(std::size_t{64}), "i"(Tile)
                   : "memory");
}

template <int Tile>
__attribute__((always_inline, target("amx-tile"))) inline void zero_tile() noexcept {
  __asm__ volatile("tilezero %%tmm%c0" ::"i"(Tile));
}

// Tile C += tile A x tile B, signed by unsigned bytes.
template <int C, int A, int B>
__attribute__((always_inline, target("amx-tile,amx-int8"))) inline void
dot_signed_unsigned() noexcept {
  __asm__ volatile("tdpbsud %%tmm%c0, %%tmm%c1, %%tmm%c2" ::"i"(B), "i"(A), "i"(C));
}

// f(std::integral_constant<int, t>) for the accumulator tiles t < Tiles.
template <std::size_t Tiles, class F>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) inline void
for_each_tile(F&& f) noexcept {
  f(std::integral_constant<int, 0>{});
  if constexpr (Tiles > 1) f(std::integral_constant<int, 1>{});
}

// Block b's int4 codes as tdpbsud's weight tiles, one per sub-block: the low nibbles of the 4
// stored vectors are rows 0-3 of 4 k, the high ones rows 4-7.
template <class Block>
__attribute__((always_inline, target("avx512f,avx512bw"))) inline void split_nibbles(
    const PackedBlocks<Block>& w, std::size_t group, std::size_t b, uint8_t* to) noexcept {
  using Packed = PackedBlocks<Block>;
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const uint8_t* codes = w.record(group, b) + Packed::scale_bytes;
#pragma GCC unroll 16
  for (std::size_t v = 0; v < 4 * Packed::subblocks; ++v) {
    const __m512i packed = _mm512_loadu_si512(codes + 64 * v);
    uint8_t* tile = to + subblock_tile_bytes * (v / 4) + 64 * (v % 4);
    _mm512_store_si512(tile, _mm512_and_si512(packed, nibble));
    _mm512_store_si512(tile + 4 * 64, _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble));
  }
}

// Tiles x 16 activation rows from first_row over the whole group, in one pass over its blocks:
// block b + 1's dots are started in the other tile set before block b's leave theirs, and int4
// block b + 2's nibbles are split after that start, a block ahead of the loads that read them.
// (int8 codes load from the record; their split buffer is a placeholder of one byte.)
template <class Block, std::size_t Tiles>
__attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) void row_tiles(
    const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
    std::size_t first_row, float* y, std::size_t ldy, std::size_t count) noexcept {
  using Packed = PackedBlocks<Block>;
  constexpr std::size_t rows = Tiles * tile_rows;
  constexpr std::size_t split_bytes =
      Packed::int8_codes ? 1 : Packed::subblocks * subblock_tile_bytes;
  alignas(64) float acc[rows][block_rows] = {};
  alignas(64) int32_t dots[rows][block_rows];
  alignas(64) uint8_t split[3][split_bytes];
  const std::size_t blocks = w.blocks();
  const auto split_block = [&](std::size_t b)
      __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) {
    if constexpr (!Packed::int8_codes) {
      if (b < blocks) split_nibbles(w, group, b, split[b % 3]);
    }
  };
  const auto start_dots = [&](std::size_t b, auto set)
      __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) {
    constexpr int s0 = 2 * decltype(set)::value, b_tile = 6 + decltype(set)::value;
    avx512vnni::prefetch_ahead(w, group, b);
    const uint8_t* weights =
        Packed::int8_codes ? w.record(group, b) + Packed::scale_bytes : split[b % 3];
    for_each_tile<Tiles>([](auto t) __attribute__((
        always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) {
      zero_tile<s0 + decltype(t)::value>();
    });
    for (std::size_t s = 0; s < Packed::subblocks; ++s) {
      load_tile<b_tile>(weights + subblock_tile_bytes * s, 64);
      const int8_t* x = a.subblock(b * Packed::subblocks + s, first_row);
      for_each_tile<Tiles>([&](auto t) __attribute__((
          always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) {
        constexpr int a_tile = 4 + decltype(t)::value;
        load_tile<a_tile>(x + decltype(t)::value * tile_rows * block_size, block_size);
        dot_signed_unsigned<s0 + decltype(t)::value, a_tile, b_tile>();
      });
    }
  };
  // Block b's dots out of tile set `set`, through memory, into the accumulators.
  const auto finish_block = [&](std::size_t b, auto set)
      __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) {
    constexpr int s0 = 2 * decltype(set)::value;
    for_each_tile<Tiles>([&](auto t) __attribute__((
        always_inline, target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))) {
      store_tile<s0 + decltype(t)::value>(dots[decltype(t)::value * tile_rows]);
    });
    const uint8_t* record = w.record(group, b);
    const int32_t* sums = a.block_sums(b, first_row);
    const __m512 d = avx512vnni::load_scales<Block::scale_format>(record);
    for (std::size_t r = 0; r < rows; ++r) {
      const __m512i dot = _mm512_sub_epi32(_mm512_load_si512(dots[r]),
                                           _mm512_set1_epi32(Packed::stored_offset * sums[r]));
      __m512 sum = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot), _mm512_load_ps(acc[r]));
      if constexpr (Packed::has_min) {
        const __m512 m =
            avx512vnni::load_scales<Block::scale_format>(record + block_rows * Packed::scale_size);
        sum = _mm512_fmadd_ps(m, _mm512_set1_ps(static_cast<float>(sums[r])), sum);
      }
      _mm512_store_ps(acc[r], sum);
    }
  };
  constexpr std::integral_constant<int, 0> first_set{};
  constexpr std::integral_constant<int, 1> second_set{};
  split_block(0);
  split_block(1);
  if (blocks > 0) start_dots(0, first_set);
  for (std::size_t b = 0; b < blocks; b += 2) {
    if (b + 1 < blocks) start_dots(b + 1, second_set);
    split_block(b + 2);
    finish_block(b, first_set);
    if (b + 1 < blocks) {
      if (b + 2 < blocks) start_dots(b + 2, first_set);
      split_block(b + 3);
      finish_block(b + 1, second_set);
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    avx512vnni::store_outputs(_mm512_load_ps(acc[r]), a.scales[first_row + r], y + r * ldy, count);
  }
}

template <class Block>
__attribute__((target("amx-tile"))) void block_group(const PackedBlocks<Block>& w,
                                                     std::size_t group, const BlockActivations& a,
                                                     std::size_t first_row, std::size_t rows,
                                                     float* y, std::size_t ldy,
                                                     std::size_t count) noexcept {
  std::size_t r = 0;
  if (rows >= tile_rows) {
    _tile_loadconfig(&block_tile_config);
    while (rows - r >= tile_rows) {
      const std::size_t tiles = std::min(block_tiles_max, (rows - r) / tile_rows);
      float* out = y + r * ldy;
      if (tiles == 2) {
        row_tiles<Block, 2>(w, group, a, first_row + r, out, ldy, count);
      } else {
        row_tiles<Block, 1>(w, group, a, first_row + r, out, ldy, count);
      }
      r += tiles * tile_rows;
    }
    _tile_release();
  }
  if (r < rows) {
    avx512vnni::block_group(w, group, a, first_row + r, rows - r, y + r * ldy, ldy, count);
  }
}

}  // namespace qinfer::kernels::amx

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
