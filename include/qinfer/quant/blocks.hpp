// SPDX-License-Identifier: Apache-2.0
//
// Block-quantized weights for LLM weight-only quantization: each output row of a [N, K] weight
// matrix is cut along K into groups of 32, 64 or 128 weights, each group a block with its own
// scale (fp16 or fp32). Three kinds of codes:
//
//   int8:     x = d q,        q int8               (llama.cpp's Q8_0 with groups of 32, fp16)
//   int4:     x = d (q - 8),  q in 0..15           (Q4_0)
//   int4_min: x = d q + m,    q in 0..15, minimum m (Q4_1)
//
// A block is its scale, its minimum (int4_min), then its codes; in the 4-bit blocks byte
// j < G/2 holds weight j in its low nibble and weight j + G/2 in its high nibble. With G = 32
// and fp16 these are llama.cpp's (ggml's) layouts byte for byte, so that a model's tensors
// load as they are stored:
//
//   Q8_0: fp16 d, 32 int8 codes                34 bytes
//   Q4_0: fp16 d, 16 bytes of nibbles          18 bytes
//   Q4_1: fp16 d, fp16 m, 16 bytes of nibbles  20 bytes
//
// The quantizers reproduce ggml's reference rounding (ggml-quants.c, quantize_row_*_ref), so
// that our blocks of a float tensor equal llama.cpp's: Q8_0 scales by max|x| / 127 and rounds
// half away from zero; Q4_0 divides by the value of largest magnitude over -8 (the first such,
// sign kept), adds 8.5 and truncates, capping at 15; Q4_1 spans [min, max] in 15 steps, adds 0.5
// and truncates. The codes come from the float scale; the block stores it in its format. Larger
// groups and fp32 scales follow the same rules.
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

// The sub-block every kernel works in: 32 weights, the smallest group.
inline constexpr std::size_t block_size = 32;

enum class BlockCodes : uint8_t { int8, int4, int4_min };

// What every block type states about itself; no data, so it adds no bytes.
template <BlockCodes Codes, std::size_t Group, ScaleFormat Scale>
struct BlockTraits {
  static_assert(Group == 32 || Group == 64 || Group == 128, "groups of 32, 64 or 128 weights");
  static constexpr BlockCodes codes = Codes;
  static constexpr std::size_t group = Group;
  static constexpr ScaleFormat scale_format = Scale;
  static constexpr bool has_min = Codes == BlockCodes::int4_min;
  // What the stored codes are offset by: weights are d (q - offset) (+ m).
  static constexpr int32_t code_offset = Codes == BlockCodes::int4 ? 8 : 0;
  static constexpr std::size_t code_bytes = Codes == BlockCodes::int8 ? Group : Group / 2;
};

template <BlockCodes Codes, std::size_t Group, ScaleFormat Scale>
struct WeightBlock : BlockTraits<Codes, Group, Scale> {
  ScaleStorage<Scale> d;
  std::conditional_t<Codes == BlockCodes::int8, int8_t, uint8_t>
      qs[Codes == BlockCodes::int8 ? Group : Group / 2];
};
template <std::size_t Group, ScaleFormat Scale>
struct WeightBlock<BlockCodes::int4_min, Group, Scale>
    : BlockTraits<BlockCodes::int4_min, Group, Scale> {
  ScaleStorage<Scale> d;
  ScaleStorage<Scale> m;
  uint8_t qs[Group / 2];
};

// llama.cpp's layouts, by their names.
using BlockQ8_0 = WeightBlock<BlockCodes::int8, 32, ScaleFormat::fp16>;
using BlockQ4_0 = WeightBlock<BlockCodes::int4, 32, ScaleFormat::fp16>;
using BlockQ4_1 = WeightBlock<BlockCodes::int4_min, 32, ScaleFormat::fp16>;
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20,
              "block layouts must match llama.cpp's byte for byte");

template <class Block>
struct is_weight_block_type : std::false_type {};
template <BlockCodes Codes, std::size_t Group, ScaleFormat Scale>
struct is_weight_block_type<WeightBlock<Codes, Group, Scale>> : std::true_type {};
template <class Block>
inline constexpr bool is_weight_block = is_weight_block_type<Block>::value;

// Code j (0 .. G - 1) of a block: int8, or 0..15.
template <class Block>
int32_t block_code(const Block& b, std::size_t j) noexcept {
  if constexpr (Block::codes == BlockCodes::int8) {
    return b.qs[j];
  } else {
    constexpr std::size_t half = Block::group / 2;
    return j < half ? b.qs[j] & 0x0f : b.qs[j - half] >> 4;
  }
}

// Weight j of a block, as float.
template <class Block>
float block_weight(const Block& b, std::size_t j) noexcept {
  const float x = scale_value(b.d) * static_cast<float>(block_code(b, j) - Block::code_offset);
  if constexpr (Block::has_min) {
    return x + scale_value(b.m);
  } else {
    return x;
  }
}

// Whether every weight of a block is finite: its scale and minimum are, and so is the largest
// magnitude they can make, |d| max |q - offset| + |m| (an fp32 scale near float's maximum times
// a code is not). A block read from a file may hold anything, and an fp16 scale overflows for
// values beyond 127 x 65504.
template <class Block>
bool block_is_finite(const Block& b) noexcept {
  constexpr float max_code = Block::codes == BlockCodes::int8   ? 128.0f
                             : Block::codes == BlockCodes::int4 ? 8.0f
                                                                : 15.0f;
  float bound = std::fabs(scale_value(b.d)) * max_code;
  if constexpr (Block::has_min) bound += std::fabs(scale_value(b.m));
  return std::isfinite(bound);
}

namespace detail {

// 1 / d, or 0 where ggml's 1 / d would be infinite (d = 0, or d below about 2^-128): the codes
// are then 0 rather than the undefined conversion of an infinite or NaN product.
inline float inverse_or_zero(float d) noexcept {
  const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  return std::isfinite(inverse) ? inverse : 0.0f;
}

// ggml's 4-bit code: truncation of a non-negative value, capped at 15.
inline uint8_t nibble(float shifted) noexcept {
  return static_cast<uint8_t>(std::min(15, static_cast<int>(shifted)));
}

template <class Block>
void pack_nibbles(const uint8_t* codes, Block& b) noexcept {
  constexpr std::size_t half = Block::group / 2;
  for (std::size_t j = 0; j < half; ++j) {
    b.qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + half] << 4));
  }
}

}  // namespace detail

// The block of Block::group finite weights x, as ggml's reference quantizer makes it.
template <class Block>
Block quantize_block(const float* x) noexcept {
  static_assert(is_weight_block<Block>, "a WeightBlock");
  constexpr std::size_t g = Block::group;
  constexpr ScaleFormat format = Block::scale_format;
  Block b{};
  uint8_t codes[g];
  if constexpr (Block::codes == BlockCodes::int8) {
    float amax = 0.0f;
    for (std::size_t j = 0; j < g; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = detail::inverse_or_zero(d);
    b.d = store_scale<format>(d);
    for (std::size_t j = 0; j < g; ++j) b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    return b;
  } else if constexpr (Block::codes == BlockCodes::int4) {
    float amax = 0.0f, max = 0.0f;
    for (std::size_t j = 0; j < g; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f, id = detail::inverse_or_zero(d);
    for (std::size_t j = 0; j < g; ++j) codes[j] = detail::nibble(x[j] * id + 8.5f);
    b.d = store_scale<format>(d);
  } else {
    float min = x[0], max = x[0];
    for (std::size_t j = 1; j < g; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15.0f, id = detail::inverse_or_zero(d);
    b.d = store_scale<format>(d);
    b.m = store_scale<format>(min);
    if (!std::isfinite(d)) return b;  // max - min overflows: quantize_blocks rejects the block
    for (std::size_t j = 0; j < g; ++j) codes[j] = detail::nibble((x[j] - min) * id + 0.5f);
  }
  detail::pack_nibbles(codes, b);
  return b;
}

// A weight matrix of `rows` output rows (N) by `cols` (K, a multiple of the group size),
// row-major in blocks: row n is blocks [n K / G, (n + 1) K / G), as llama.cpp stores a tensor.
template <class Block>
struct BlockMatrix {
  static_assert(is_weight_block<Block>, "a WeightBlock");
  static_assert(sizeof(Block) == (Block::has_min ? 2 : 1) * sizeof(Block::d) + Block::code_bytes,
                "a block is its bytes, without padding, as files store it");
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<Block> blocks;

  std::size_t blocks_per_row() const noexcept { return cols / Block::group; }
  const Block* row(std::size_t n) const noexcept { return blocks.data() + n * blocks_per_row(); }
};

namespace detail {

inline Status check_block_shape(std::size_t rows, std::size_t cols, std::size_t group,
                                std::size_t& count) noexcept {
  if (rows == 0 || cols == 0 || cols % group != 0) {
    return {Errc::shape_mismatch,
            "block matrix: K must be a positive multiple of the group size, N > 0"};
  }
  if (!checked_mul(rows, cols / group, count)) {
    return {Errc::size_overflow, "block matrix: block count overflows"};
  }
  return {};
}

}  // namespace detail

// Quantizes a row-major [rows, cols] float matrix into blocks. Every value must be finite, and
// every block's scale and minimum representable in its format (fp16 ends at 65504).
template <class Block>
Result<BlockMatrix<Block>> quantize_blocks(Span<const float> x, std::size_t rows,
                                           std::size_t cols) {
  std::size_t count = 0;
  if (auto s = detail::check_block_shape(rows, cols, Block::group, count); !s) {
    return fail<BlockMatrix<Block>>(s);
  }
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
    m.blocks[i] = quantize_block<Block>(x.data() + i * Block::group);
    if (!block_is_finite(m.blocks[i])) {
      return fail<BlockMatrix<Block>>(
          Errc::invalid_range,
          "quantize_blocks: a block's scale or minimum overflows its format or makes a weight "
          "overflow");
    }
  }
  return m;
}

// Reads a tensor stored in the blocks' layout (little-endian, as llama.cpp's files are): its
// size must be exactly rows x cols / G blocks, and every block's weights finite
// (block_is_finite).
template <class Block>
Result<BlockMatrix<Block>> read_blocks(Span<const uint8_t> bytes, std::size_t rows,
                                       std::size_t cols) {
  std::size_t count = 0, size = 0;
  if (auto s = detail::check_block_shape(rows, cols, Block::group, count); !s) {
    return fail<BlockMatrix<Block>>(s);
  }
  if (!checked_mul(count, sizeof(Block), size)) {
    return fail<BlockMatrix<Block>>(Errc::size_overflow, "read_blocks: byte size overflows");
  }
  if (bytes.size() != size) {
    return fail<BlockMatrix<Block>>(Errc::shape_mismatch,
                                    "read_blocks: byte count is not rows x cols / G blocks");
  }
  BlockMatrix<Block> m{rows, cols, std::vector<Block>(count)};
  std::memcpy(m.blocks.data(), bytes.data(), size);
  for (std::size_t i = 0; i < count; ++i) {
    if (!block_is_finite(m.blocks[i])) {
      return fail<BlockMatrix<Block>>(
          Errc::invalid_scale,
          "read_blocks: a block's scale or minimum is NaN or infinite, or makes a weight overflow");
    }
  }
  return m;
}

// The float matrix a block matrix stands for, row-major [rows, cols].
template <class Block>
std::vector<float> dequantize_blocks(const BlockMatrix<Block>& m) {
  constexpr std::size_t g = Block::group;
  std::vector<float> x(m.blocks.size() * g);
  for (std::size_t i = 0; i < m.blocks.size(); ++i) {
    for (std::size_t j = 0; j < g; ++j) x[i * g + j] = block_weight(m.blocks[i], j);
  }
  return x;
}

}  // namespace qinfer
