// SPDX-License-Identifier: Apache-2.0
//
// Block-quantized weights (quant/blocks.hpp) repacked for the weight-only GEMM kernels, 16
// output rows at a time: a vector lane per output row, so that each lane accumulates one output
// in reference::block_gemm's order. Per group of 16 rows and per block of G k, a record holds
//
//   the 16 rows' scales (fp16 or fp32, as the blocks store them), then for int4_min their
//   minimums, then the codes in sub-blocks of 32 k, as vpdpbusd's unsigned operand:
//   - int8: G / 4 vectors of 64 bytes, vector t holding in dword j the codes 4t .. 4t + 3 of row
//     j plus 128;
//   - int4: G / 8 vectors of 64 bytes, 4 per sub-block s; byte i of dword j of the sub-block's
//     vector t holds code 32s + 4t + i of row j in its low nibble and code 32s + 16 + 4t + i in
//     its high nibble.
//
// The scales keep their stored format (the hardware widens fp16 exactly), so the packed weights
// take the bytes the blocks do, and a kernel streams each weight byte once per pass. Rows past N
// in the last group have zero scales and codes. A 16-lane record serves the 8-lane (AVX2) and
// 4-lane (NEON) kernels too: they take its vectors in 32- or 16-byte slices.
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
  static_assert(is_weight_block<Block>, "a WeightBlock");
  static constexpr bool has_min = Block::has_min;
  static constexpr bool int8_codes = Block::codes == BlockCodes::int8;
  static constexpr std::size_t group = Block::group;
  static constexpr std::size_t subblocks = group / block_size;
  static constexpr std::size_t scale_size = sizeof(ScaleStorage<Block::scale_format>);
  static constexpr std::size_t scale_bytes = (has_min ? 2 : 1) * block_rows * scale_size;
  static constexpr std::size_t code_bytes = block_rows * Block::code_bytes;
  static constexpr std::size_t record_bytes = scale_bytes + code_bytes;
  // What the stored codes carry beyond the block's: 128 for int8 (made unsigned), 8 for int4.
  static constexpr int32_t stored_offset = int8_codes ? 128 : Block::code_offset;

  std::size_t n = 0;       // output rows
  std::size_t k = 0;       // a multiple of the group
  std::size_t groups = 0;  // ceil(n / block_rows)
  AlignedVector<uint8_t> data;

  std::size_t blocks() const noexcept { return k / group; }
  const uint8_t* record(std::size_t row_group, std::size_t block) const noexcept {
    return data.data() + (row_group * blocks() + block) * record_bytes;
  }
  // Where code j (0 .. G - 1) of lane `lane` sits among a record's codes: byte, and bit shift.
  static constexpr std::size_t code_byte(std::size_t j, std::size_t lane) noexcept {
    if constexpr (int8_codes) {
      return 64 * (j / 4) + 4 * lane + j % 4;
    } else {
      const std::size_t low = j % 16;  // codes j and j + 16 of a sub-block share a byte
      return 64 * (4 * (j / block_size) + low / 4) + 4 * lane + low % 4;
    }
  }
  static constexpr unsigned code_shift(std::size_t j) noexcept {
    return int8_codes || j % block_size < 16 ? 0 : 4;
  }
};

template <class Block>
PackedBlocks<Block> pack_blocks(const BlockMatrix<Block>& m) {
  using Packed = PackedBlocks<Block>;
  constexpr std::size_t scale_size = Packed::scale_size;
  Packed p;
  p.n = m.rows;
  p.k = m.cols;
  p.groups = (m.rows + block_rows - 1) / block_rows;
  p.data.assign(p.groups * p.blocks() * Packed::record_bytes, 0);
  for (std::size_t row = 0; row < m.rows; ++row) {
    const std::size_t row_group = row / block_rows, lane = row % block_rows;
    for (std::size_t b = 0; b < p.blocks(); ++b) {
      const Block& block = m.row(row)[b];
      uint8_t* record = p.data.data() + (row_group * p.blocks() + b) * Packed::record_bytes;
      std::memcpy(record + scale_size * lane, &block.d, scale_size);
      if constexpr (Packed::has_min) {
        std::memcpy(record + scale_size * (block_rows + lane), &block.m, scale_size);
      }
      uint8_t* codes = record + Packed::scale_bytes;
      for (std::size_t j = 0; j < Block::group; ++j) {
        const int32_t code = block_code(block, j) + (Packed::int8_codes ? 128 : 0);
        codes[Packed::code_byte(j, lane)] |= static_cast<uint8_t>(code << Packed::code_shift(j));
      }
    }
  }
  return p;
}

}  // namespace qinfer
