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
#include <memory>
#include <type_traits>

#include "qinfer/core/aligned.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
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
  Span<uint8_t> data;      // groups x blocks() records
  // The buffer pack_blocks() made, which copies share; null for a caller's buffer.
  std::shared_ptr<const AlignedVector<std::byte>> storage;

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

// Bytes of the buffer pack_blocks_into() needs for an N x K matrix of Blocks; 0 when K is not
// a multiple of the group or the size overflows.
template <class Block>
std::size_t packed_blocks_size(std::size_t n, std::size_t k) noexcept {
  std::size_t bytes = 0;
  if (k % Block::group != 0 ||
      !checked_mul(n / block_rows + (n % block_rows != 0 ? 1 : 0), k / Block::group, bytes) ||
      !checked_mul(bytes, PackedBlocks<Block>::record_bytes, bytes)) {
    return 0;
  }
  BufferCarver carver;
  carver.take<uint8_t>(bytes);
  return carver.size();
}

// Packs `m` into `buffer`: packed_blocks_size<Block>(m.rows, m.cols) bytes, 64-byte aligned.
// Allocates nothing; the result refers to the buffer.
template <class Block>
Result<PackedBlocks<Block>> pack_blocks_into(Span<std::byte> buffer, const BlockMatrix<Block>& m) {
  using Packed = PackedBlocks<Block>;
  constexpr std::size_t scale_size = Packed::scale_size;
  const std::size_t size = packed_blocks_size<Block>(m.rows, m.cols);
  if ((size == 0 && m.rows != 0 && m.cols != 0) || !fits_carved(buffer, size)) {
    return fail<Packed>(
        Errc::invalid_argument,
        "pack_blocks_into: buffer not 64-byte aligned or smaller than packed_blocks_size()");
  }
  Packed p;
  p.n = m.rows;
  p.k = m.cols;
  p.groups = (m.rows + block_rows - 1) / block_rows;
  BufferCarver carver(buffer.data());
  p.data = carver.take<uint8_t>(p.groups * p.blocks() * Packed::record_bytes);
  if (!p.data.empty()) std::memset(p.data.data(), 0, p.data.size());
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

// The same into a buffer of its own, which copies of the result share.
template <class Block>
Result<PackedBlocks<Block>> pack_blocks(const BlockMatrix<Block>& m) {
  auto storage =
      std::make_shared<AlignedVector<std::byte>>(packed_blocks_size<Block>(m.rows, m.cols));
  PackedBlocks<Block> p;
  if (auto s = take(pack_blocks_into(Span<std::byte>(*storage), m), p); !s) {
    return fail<PackedBlocks<Block>>(s);
  }
  p.storage = std::move(storage);
  return p;
}

}  // namespace qinfer
