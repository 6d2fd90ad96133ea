// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM kernel contract, and the portable kernel that defines it on the packed
// layout (kernels/blocks/packing.hpp).
//
// A kernel computes `rows` activation rows against one group of 16 packed output rows:
//
//   y[r][lane] = scale[r] * (sum over blocks b, in order, with fma:
//                            d[lane][b] * dot_b + (Q4_1) m[lane][b] * asum[r][b])
//
// for lanes < count, where dot_b is the exact integer dot product of row r's activation codes
// with the block's codes (minus 8 for Q4_0), and asum[r][b] the sum of row r's codes in block
// b: reference::block_gemm, bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/core/half.hpp"
#include "qinfer/kernels/blocks/packing.hpp"

namespace qinfer {

// Activation rows quantized for the kernels: codes, per-block code sums and scales.
struct BlockActivations {
  const int8_t* codes;  // [rows][k]
  const int32_t* sums;  // [rows][k / 32]
  const float* scales;  // [rows]
  std::size_t k;
};

namespace kernels::scalar {

template <class Block>
void block_group(const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
                 std::size_t first_row, std::size_t rows, float* y, std::size_t ldy,
                 std::size_t count) noexcept {
  constexpr std::size_t scales = PackedBlocks<Block>::scale_bytes;
  for (std::size_t r = first_row; r < first_row + rows; ++r) {
    const int8_t* q = a.codes + r * a.k;
    const int32_t* sums = a.sums + r * w.blocks();
    for (std::size_t lane = 0; lane < count; ++lane) {
      float acc = 0.0f;
      for (std::size_t b = 0; b < w.blocks(); ++b) {
        const uint8_t* record = w.record(group, b);
        uint16_t d = 0;
        std::memcpy(&d, record + 2 * lane, 2);
        int32_t raw = 0;
        for (std::size_t j = 0; j < block_size; ++j) {
          int32_t code = 0;
          if constexpr (std::is_same_v<Block, BlockQ8_0>) {
            code = record[scales + 64 * (j / 4) + 4 * lane + j % 4] - 128;
          } else {
            const std::size_t low = j % 16;
            const uint8_t byte = record[scales + 64 * (low / 4) + 4 * lane + low % 4];
            code = j < 16 ? byte & 0x0f : byte >> 4;
            if constexpr (std::is_same_v<Block, BlockQ4_0>) code -= 8;
          }
          raw += code * q[b * block_size + j];
        }
        acc = std::fma(half_to_float(d), static_cast<float>(raw), acc);
        if constexpr (PackedBlocks<Block>::has_min) {
          uint16_t m = 0;
          std::memcpy(&m, record + 2 * block_rows + 2 * lane, 2);
          acc = std::fma(half_to_float(m), static_cast<float>(sums[b]), acc);
        }
      }
      y[(r - first_row) * ldy + lane] = acc * a.scales[r];
    }
  }
}

}  // namespace kernels::scalar
}  // namespace qinfer
