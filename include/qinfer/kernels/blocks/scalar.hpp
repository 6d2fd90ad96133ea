// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM kernel contract, and the portable kernel that defines it on the packed
// layout (kernels/blocks/packing.hpp).
//
// A kernel computes `rows` activation rows against one group of 16 packed output rows:
//
//   y[r][lane] = scale[r] * (sum over blocks b, in order, with fma:
//                            d[lane][b] * dot_b + (int4_min) m[lane][b] * asum[r][b])
//
// for lanes < count, where dot_b is the exact integer dot product of row r's activation codes
// with the block's G codes (minus 8 for int4), and asum[r][b] the sum of row r's codes in block
// b: reference::block_gemm, bit for bit. The integer dot product is exact in any order, so a
// kernel may form it from its sub-blocks however its instructions like.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/core/half.hpp"
#include "qinfer/kernels/blocks/packing.hpp"

namespace qinfer {

// Activation rows quantized for the kernels: codes, per-block code sums and scales. The codes
// lie in [-127, 127], as quantize_activation_row makes them: the AVX2 kernel's int16 pair sums
// are exact only for those. Codes and sums are stored sub-block-major, so that the rows of a
// kernel's tile lie at fixed distances from one pointer (32 bytes, 4 bytes) and a tile of 8
// rows needs no more address registers than a tile of 1.
struct BlockActivations {
  const int8_t* codes;  // [k / 32][rows][32]
  const int32_t* sums;  // [k / G][rows]
  const float* scales;  // [rows]
  std::size_t rows;

  // The 32 codes of sub-block `sub` (k / 32 of them) of row `row`; the next row's follow.
  const int8_t* subblock(std::size_t sub, std::size_t row) const noexcept {
    return codes + (sub * rows + row) * block_size;
  }
  // The code sums of block b of row `row` on; the next row's follows.
  const int32_t* block_sums(std::size_t b, std::size_t row) const noexcept {
    return sums + b * rows + row;
  }
};

namespace kernels::scalar {

template <class Block>
void block_group(const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
                 std::size_t first_row, std::size_t rows, float* y, std::size_t ldy,
                 std::size_t count) noexcept {
  using Packed = PackedBlocks<Block>;
  using Scale = ScaleStorage<Block::scale_format>;
  const auto scale = [](const uint8_t* p) {
    Scale v{};
    std::memcpy(&v, p, sizeof v);
    return scale_value(v);
  };
  for (std::size_t r = first_row; r < first_row + rows; ++r) {
    for (std::size_t lane = 0; lane < count; ++lane) {
      float acc = 0.0f;
      for (std::size_t b = 0; b < w.blocks(); ++b) {
        const uint8_t* record = w.record(group, b);
        const uint8_t* codes = record + Packed::scale_bytes;
        int32_t dot = 0;
        for (std::size_t j = 0; j < Block::group; ++j) {
          const uint8_t byte = codes[Packed::code_byte(j, lane)];
          const int32_t stored = Packed::int8_codes ? byte : (byte >> Packed::code_shift(j)) & 0x0f;
          const int8_t* x = a.subblock(b * Packed::subblocks + j / block_size, r);
          dot += (stored - Packed::stored_offset) * x[j % block_size];
        }
        acc = std::fma(scale(record + Packed::scale_size * lane), static_cast<float>(dot), acc);
        if constexpr (Packed::has_min) {
          acc = std::fma(scale(record + Packed::scale_size * (block_rows + lane)),
                         static_cast<float>(*a.block_sums(b, r)), acc);
        }
      }
      y[(r - first_row) * ldy + lane] = acc * a.scales[r];
    }
  }
}

}  // namespace kernels::scalar
}  // namespace qinfer
