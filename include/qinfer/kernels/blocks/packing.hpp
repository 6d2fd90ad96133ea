// SPDX-License-Identifier: Apache-2.0
//
// Block-quantized weights (quant/blocks.hpp) repacked for the weight-only GEMM kernels, 16
// output rows at a time: a vector lane per output row, so that each lane accumulates one output
// in reference::block_gemm's order. Per group of 16 rows and per block of 32 k, a record holds
//
//   the 16 rows' fp16 scales (32 bytes), then for Q4_1 their fp16 minimums (32 bytes), then
//   codes as vpdpbusd's unsigned operand: for Q8_0, 8 vectors of 64 bytes, vector t holding in
//   dword j the codes 4t .. 4t + 3 of row j plus 128; for Q4_0 and Q4_1, 4 vectors of 64 bytes,
//   byte i of dword j of vector t holding code 4t + i of row j in its low nibble and code
//   4t + 16 + i in its high nibble.
//
// The fp16 values stay fp16 (the hardware widens them exactly), so the packed weights take the
// bytes llama.cpp's blocks do, and a kernel streams each weight byte once per pass. Rows past N
// in the last group have zero scales and codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/core/aligned.hpp"
#include "qinfer/quant/blocks.hpp"

namespace qinfer {

inline constexpr std::size_t block_rows = 16;  // output rows per packed group: one per lane

template <class Block>
struct PackedBlocks {
  static_assert(is_weight_block<Block>, "BlockQ8_0, BlockQ4_0 or BlockQ4_1");
  static constexpr bool has_min = std::is_same_v<Block, BlockQ4_1>;
  static constexpr std::size_t scale_bytes = (has_min ? 2 : 1) * block_rows * 2;
  static constexpr std::size_t code_bytes =
      std::is_same_v<Block, BlockQ8_0> ? block_rows * block_size : block_rows * block_size / 2;
  static constexpr std::size_t record_bytes = scale_bytes + code_bytes;

  std::size_t n = 0;       // output rows
  std::size_t k = 0;       // a multiple of block_size
  std::size_t groups = 0;  // ceil(n / block_rows)
  AlignedVector<uint8_t> data;

  std::size_t blocks() const noexcept { return k / block_size; }
  const uint8_t* record(std::size_t group, std::size_t block) const noexcept {
    return data.data() + (group * blocks() + block) * record_bytes;
  }
};

template <class Block>
PackedBlocks<Block> pack_blocks(const BlockMatrix<Block>& m) {
  PackedBlocks<Block> p;
  p.n = m.rows;
  p.k = m.cols;
  p.groups = (m.rows + block_rows - 1) / block_rows;
  p.data.assign(p.groups * p.blocks() * PackedBlocks<Block>::record_bytes, 0);
  for (std::size_t row = 0; row < m.rows; ++row) {
    const std::size_t group = row / block_rows, lane = row % block_rows;
    for (std::size_t b = 0; b < p.blocks(); ++b) {
      const Block& block = m.row(row)[b];
      uint8_t* record =
          p.data.data() + (group * p.blocks() + b) * PackedBlocks<Block>::record_bytes;
      std::memcpy(record + 2 * lane, &block.d, 2);
      if constexpr (PackedBlocks<Block>::has_min) {
        std::memcpy(record + 2 * block_rows + 2 * lane, &block.m, 2);
      }
      uint8_t* codes = record + PackedBlocks<Block>::scale_bytes;
      for (std::size_t j = 0; j < block_size; ++j) {
        if constexpr (std::is_same_v<Block, BlockQ8_0>) {
          codes[64 * (j / 4) + 4 * lane + j % 4] = static_cast<uint8_t>(block_code(block, j) + 128);
        } else {
          const std::size_t low = j % 16;  // codes j and j + 16 share a byte
          const auto code = static_cast<uint8_t>(block_code(block, j) << (j < 16 ? 0 : 4));
          codes[64 * (low / 4) + 4 * lane + low % 4] |= code;
        }
      }
    }
  }
  return p;
}

}  // namespace qinfer
