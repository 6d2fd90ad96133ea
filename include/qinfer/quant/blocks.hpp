// SPDX-License-Identifier: Apache-2.0
//
// Block-quantized weights for LLM weight-only quantization, in llama.cpp's (ggml's) three
// basic layouts, byte for byte, so that a model's tensors load as they are stored:
//
//   Q8_0: 32 weights, one fp16 scale d:           x = d q,        q int8       34 bytes
//   Q4_0: 32 weights, one fp16 scale d:           x = d (q - 8),  q in 0..15   18 bytes
//   Q4_1: 32 weights, fp16 scale d and minimum m: x = d q + m,    q in 0..15   20 bytes
//
// In the 4-bit blocks, byte j < 16 holds weight j in its low nibble and weight j + 16 in its
// high nibble. A block spans 32 consecutive weights along K of one output row (a row of the
// [N, K] weight matrix is K / 32 blocks): group-wise quantization with groups of 32.
//
// The quantizers reproduce ggml's reference rounding (ggml-quants.c, quantize_row_*_ref), so
// that our blocks of a float tensor equal llama.cpp's: Q8_0 scales by max|x| / 127 and rounds
// half away from zero; Q4_0 divides by the value of largest magnitude over -8 (the first such,
// sign kept), adds 8.5 and truncates, capping at 15; Q4_1 spans [min, max] in 15 steps, adds 0.5
// and truncates. The codes come from the float scale; the block stores it rounded to fp16.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/half.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer {

inline constexpr std::size_t block_size = 32;  // weights per block, along K

struct BlockQ8_0 {
  uint16_t d;  // fp16
  int8_t qs[block_size];
};
struct BlockQ4_0 {
  uint16_t d;  // fp16
  uint8_t qs[block_size / 2];
};
struct BlockQ4_1 {
  uint16_t d;  // fp16
  uint16_t m;  // fp16
  uint8_t qs[block_size / 2];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20,
              "block layouts must match llama.cpp's byte for byte");

template <class Block>
inline constexpr bool is_weight_block =
    std::is_same_v<Block, BlockQ8_0> || std::is_same_v<Block, BlockQ4_0> ||
    std::is_same_v<Block, BlockQ4_1>;

// Code j (0..31) of a block: int8 for Q8_0, 0..15 for the 4-bit blocks.
inline int32_t block_code(const BlockQ8_0& b, std::size_t j) noexcept {
  return b.qs[j];
}
template <class Block, class = std::enable_if_t<!std::is_same_v<Block, BlockQ8_0>>>
inline int32_t block_code(const Block& b, std::size_t j) noexcept {
  return j < block_size / 2 ? b.qs[j] & 0x0f : b.qs[j - block_size / 2] >> 4;
}

// Weight j of a block, as float.
inline float block_weight(const BlockQ8_0& b, std::size_t j) noexcept {
  return half_to_float(b.d) * static_cast<float>(block_code(b, j));
}
inline float block_weight(const BlockQ4_0& b, std::size_t j) noexcept {
  return half_to_float(b.d) * static_cast<float>(block_code(b, j) - 8);
}
inline float block_weight(const BlockQ4_1& b, std::size_t j) noexcept {
  return half_to_float(b.d) * static_cast<float>(block_code(b, j)) + half_to_float(b.m);
}

// Whether a block's stored scale (and minimum) are finite: a block read from a file may hold
// anything.
template <class Block>
bool block_is_finite(const Block& b) noexcept {
  if constexpr (std::is_same_v<Block, BlockQ4_1>) {
    if (!std::isfinite(half_to_float(b.m))) return false;
  }
  return std::isfinite(half_to_float(b.d));
}

namespace detail {

inline void pack_nibbles(const uint8_t (&codes)[block_size],
                         uint8_t (&qs)[block_size / 2]) noexcept {
  for (std::size_t j = 0; j < block_size / 2; ++j) {
    qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + block_size / 2] << 4));
  }
}

// ggml's 4-bit code: truncation of a non-negative value, capped at 15.
inline uint8_t nibble(float shifted) noexcept {
  return static_cast<uint8_t>(std::min(15, static_cast<int>(shifted)));
}

}  // namespace detail

// The block of 32 finite weights x, as ggml's reference quantizer makes it.
inline BlockQ8_0 quantize_block_q8_0(const float* x) noexcept {
  float amax = 0.0f;
  for (std::size_t j = 0; j < block_size; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  BlockQ8_0 b{};
  b.d = float_to_half(d);
  for (std::size_t j = 0; j < block_size; ++j) {
    b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
  return b;
}

inline BlockQ4_0 quantize_block_q4_0(const float* x) noexcept {
  float amax = 0.0f, max = 0.0f;
  for (std::size_t j = 0; j < block_size; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  uint8_t codes[block_size];
  for (std::size_t j = 0; j < block_size; ++j) codes[j] = detail::nibble(x[j] * id + 8.5f);
  BlockQ4_0 b{};
  b.d = float_to_half(d);
  detail::pack_nibbles(codes, b.qs);
  return b;
}

inline BlockQ4_1 quantize_block_q4_1(const float* x) noexcept {
  float min = x[0], max = x[0];
  for (std::size_t j = 1; j < block_size; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  uint8_t codes[block_size];
  for (std::size_t j = 0; j < block_size; ++j) codes[j] = detail::nibble((x[j] - min) * id + 0.5f);
  BlockQ4_1 b{};
  b.d = float_to_half(d);
  b.m = float_to_half(min);
  detail::pack_nibbles(codes, b.qs);
  return b;
}

// A weight matrix of `rows` output rows (N) by `cols` (K, a multiple of block_size), row-major
// in blocks: row n is blocks [n K / 32, (n + 1) K / 32), as llama.cpp stores a tensor.
template <class Block>
struct BlockMatrix {
  static_assert(is_weight_block<Block>, "BlockQ8_0, BlockQ4_0 or BlockQ4_1");
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<Block> blocks;

  std::size_t blocks_per_row() const noexcept { return cols / block_size; }
  const Block* row(std::size_t n) const noexcept { return blocks.data() + n * blocks_per_row(); }
};

namespace detail {

inline Status check_block_shape(std::size_t rows, std::size_t cols, std::size_t& count) noexcept {
  if (rows == 0 || cols == 0 || cols % block_size != 0) {
    return {Errc::shape_mismatch, "block matrix: K must be a positive multiple of 32, N > 0"};
  }
  if (!checked_mul(rows, cols / block_size, count)) {
    return {Errc::size_overflow, "block matrix: block count overflows"};
  }
  return {};
}

}  // namespace detail

// Quantizes a row-major [rows, cols] float matrix into blocks; every value must be finite.
template <class Block>
Result<BlockMatrix<Block>> quantize_blocks(Span<const float> x, std::size_t rows,
                                           std::size_t cols) {
  std::size_t count = 0;
  if (auto s = detail::check_block_shape(rows, cols, count); !s) return fail<BlockMatrix<Block>>(s);
  if (x.size() / cols != rows || x.size() % cols != 0) {
    return fail<BlockMatrix<Block>>(Errc::shape_mismatch,
                                    "quantize_blocks: x must hold rows x cols values");
  }
  if (!std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); })) {
    return fail<BlockMatrix<Block>>(Errc::invalid_argument,
                                    "quantize_blocks: a value is NaN or infinite");
  }
  BlockMatrix<Block> m{rows, cols, std::vector<Block>(count)};
  for (std::size_t i = 0; i < count; ++i) {
    const float* values = x.data() + i * block_size;
    if constexpr (std::is_same_v<Block, BlockQ8_0>) {
      m.blocks[i] = quantize_block_q8_0(values);
    } else if constexpr (std::is_same_v<Block, BlockQ4_0>) {
      m.blocks[i] = quantize_block_q4_0(values);
    } else {
      m.blocks[i] = quantize_block_q4_1(values);
    }
  }
  return m;
}

// Reads a tensor stored in llama.cpp's layout (little-endian, as every block format is): its
// size must be exactly rows x cols / 32 blocks, and every block's scale and minimum finite.
template <class Block>
Result<BlockMatrix<Block>> read_blocks(Span<const uint8_t> bytes, std::size_t rows,
                                       std::size_t cols) {
  std::size_t count = 0, size = 0;
  if (auto s = detail::check_block_shape(rows, cols, count); !s) return fail<BlockMatrix<Block>>(s);
  if (!checked_mul(count, sizeof(Block), size)) {
    return fail<BlockMatrix<Block>>(Errc::size_overflow, "read_blocks: byte size overflows");
  }
  if (bytes.size() != size) {
    return fail<BlockMatrix<Block>>(Errc::shape_mismatch,
                                    "read_blocks: byte count is not rows x cols / 32 blocks");
  }
  BlockMatrix<Block> m{rows, cols, std::vector<Block>(count)};
  if (count != 0) std::memcpy(m.blocks.data(), bytes.data(), size);
  for (std::size_t i = 0; i < count; ++i) {
    if (!block_is_finite(m.blocks[i])) {
      return fail<BlockMatrix<Block>>(Errc::invalid_scale,
                                      "read_blocks: a block's scale or minimum is NaN or infinite");
    }
  }
  return m;
}

// The float matrix a block matrix stands for, row-major [rows, cols].
template <class Block>
std::vector<float> dequantize_blocks(const BlockMatrix<Block>& m) {
  std::vector<float> x(m.blocks.size() * block_size);
  for (std::size_t i = 0; i < m.blocks.size(); ++i) {
    for (std::size_t j = 0; j < block_size; ++j) {
      x[i * block_size + j] = block_weight(m.blocks[i], j);
    }
  }
  return x;
}

}  // namespace qinfer
