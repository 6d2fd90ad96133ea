// SPDX-License-Identifier: Apache-2.0
//
// llama.cpp's block layouts (quant/blocks.hpp): hand-built blocks read byte for byte, ggml's
// reference rounding on values whose codes are known, the error of random rows against their
// scales, and malformed inputs rejected.
#include "qinfer/quant/blocks.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "support/errors.hpp"

using namespace qinfer;

namespace {

template <class Block>
std::vector<uint8_t> bytes_of(const std::vector<Block>& blocks) {
  std::vector<uint8_t> bytes(blocks.size() * sizeof(Block));
  std::memcpy(bytes.data(), blocks.data(), bytes.size());
  return bytes;
}

}  // namespace

TEST_CASE("blocks read as llama.cpp stores them", "[blocks]") {
  // Q4_0: scale 0.5 (fp16 0x3800) in bytes 0-1, then byte j = code j | code (j + 16) << 4.
  std::vector<uint8_t> q4_0 = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) q4_0.push_back(static_cast<uint8_t>(j | (15 - j) << 4));
  const auto a = read_blocks<BlockQ4_0>(Span<const uint8_t>(q4_0), 1, 32);
  const std::vector<float> x = dequantize_blocks(a);
  for (int j = 0; j < 16; ++j) {
    CHECK(x[static_cast<std::size_t>(j)] == 0.5f * static_cast<float>(j - 8));
    CHECK(x[static_cast<std::size_t>(j) + 16] == 0.5f * static_cast<float>(7 - j));
  }
  // Q4_1: d = 1 (0x3c00), m = -2 (0xc000): x = q - 2.
  std::vector<uint8_t> q4_1 = {0x00, 0x3c, 0x00, 0xc0};
  for (int j = 0; j < 16; ++j) q4_1.push_back(static_cast<uint8_t>(j | j << 4));
  const auto b = read_blocks<BlockQ4_1>(Span<const uint8_t>(q4_1), 1, 32);
  for (std::size_t j = 0; j < 32; ++j) {
    CHECK(dequantize_blocks(b)[j] == static_cast<float>(j % 16) - 2.0f);
  }
  // Q8_0, two rows of one block: d = 0.25 (0x3400), codes j - 16 and 16 - j.
  std::vector<uint8_t> q8_0;
  for (int row = 0; row < 2; ++row) {
    q8_0.push_back(0x00);
    q8_0.push_back(0x34);
    for (int j = 0; j < 32; ++j) q8_0.push_back(static_cast<uint8_t>(row == 0 ? j - 16 : 16 - j));
  }
  const auto c = read_blocks<BlockQ8_0>(Span<const uint8_t>(q8_0), 2, 32);
  CHECK(c.row(1)[0].qs[0] == 16);
  for (std::size_t j = 0; j < 32; ++j) {
    CHECK(dequantize_blocks(c)[j] == 0.25f * (static_cast<float>(j) - 16.0f));
  }
}

TEST_CASE("block quantizers follow ggml's reference rounding", "[blocks]") {
  // Q4_0: the value of largest magnitude is -4, so d = 0.5 and every multiple of 0.5 in
  // [-4, 3.5] is exact: code 2 x + 8.
  std::vector<float> x(32);
  for (std::size_t j = 0; j < 32; ++j)
    x[j] = 0.5f * static_cast<float>(static_cast<int>(j % 16) - 8);
  const auto q4 = quantize_blocks<BlockQ4_0>(Span<const float>(x), 1, 32);
  CHECK(half_to_float(q4.blocks[0].d) == 0.5f);
  for (std::size_t j = 0; j < 32; ++j)
    CHECK(block_code(q4.blocks[0], j) == static_cast<int>(j % 16));
  // A positive extreme gives a negative scale, and code 0 is its value (ggml's choice).
  x.assign(32, 0.0f);
  x[3] = 2.0f;
  x[7] = -1.0f;
  const auto positive = quantize_blocks<BlockQ4_0>(Span<const float>(x), 1, 32);
  CHECK(half_to_float(positive.blocks[0].d) == -0.25f);
  CHECK(block_code(positive.blocks[0], 3) == 0);
  CHECK(block_code(positive.blocks[0], 7) == 12);
  CHECK(block_code(positive.blocks[0], 0) == 8);
  // Q8_0 rounds half away from zero: with amax 127 (d = 1), 2.5 -> 3 and -0.5 -> -1.
  x.assign(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -0.5f;
  const auto q8 = quantize_blocks<BlockQ8_0>(Span<const float>(x), 1, 32);
  CHECK(q8.blocks[0].qs[0] == 127);
  CHECK(q8.blocks[0].qs[1] == 3);
  CHECK(q8.blocks[0].qs[2] == -1);
  // Q4_1 over [-1, 2]: d = 0.2, m = -1; 0.5 is 7.5 steps up, truncated after + 0.5: code 8.
  x.assign(32, 0.0f);
  x[0] = -1.0f;
  x[1] = 2.0f;
  x[2] = 0.5f;
  const auto q41 = quantize_blocks<BlockQ4_1>(Span<const float>(x), 1, 32);
  CHECK(half_to_float(q41.blocks[0].m) == -1.0f);
  CHECK(block_code(q41.blocks[0], 0) == 0);
  CHECK(block_code(q41.blocks[0], 1) == 15);
  CHECK(block_code(q41.blocks[0], 2) == 8);
  CHECK(block_code(q41.blocks[0], 3) == 5);
  // All zeros: a zero scale and codes that dequantize to zero.
  x.assign(32, 0.0f);
  CHECK(dequantize_blocks(quantize_blocks<BlockQ4_0>(Span<const float>(x), 1, 32)) == x);
  CHECK(dequantize_blocks(quantize_blocks<BlockQ4_1>(Span<const float>(x), 1, 32)) == x);
  CHECK(dequantize_blocks(quantize_blocks<BlockQ8_0>(Span<const float>(x), 1, 32)) == x);
}

TEST_CASE("groups of 64 and 128 and fp32 scales keep llama.cpp's rules", "[blocks]") {
  static_assert(sizeof(WeightBlock<BlockCodes::int8, 128, ScaleFormat::fp32>) == 132);
  static_assert(sizeof(WeightBlock<BlockCodes::int4, 64, ScaleFormat::fp16>) == 34);
  static_assert(sizeof(WeightBlock<BlockCodes::int4_min, 128, ScaleFormat::fp32>) == 72);
  // int4, G = 64, fp32 d = 0.5 (0x3f000000): byte j < 32 holds code j and code j + 32.
  using Q4x64 = WeightBlock<BlockCodes::int4, 64, ScaleFormat::fp32>;
  std::vector<uint8_t> q4 = {0x00, 0x00, 0x00, 0x3f};
  for (int j = 0; j < 32; ++j) q4.push_back(static_cast<uint8_t>(j % 16 | (15 - j % 16) << 4));
  const std::vector<float> x4 =
      dequantize_blocks(read_blocks<Q4x64>(Span<const uint8_t>(q4), 1, 64));
  for (std::size_t j = 0; j < 32; ++j) {
    CHECK(x4[j] == 0.5f * static_cast<float>(static_cast<int>(j % 16) - 8));
    CHECK(x4[j + 32] == 0.5f * static_cast<float>(7 - static_cast<int>(j % 16)));
  }
  // int4_min, G = 128, fp16 d = 1, m = -2: x = q - 2, codes j and j + 64 share byte j.
  using Q41x128 = WeightBlock<BlockCodes::int4_min, 128, ScaleFormat::fp16>;
  std::vector<uint8_t> q41 = {0x00, 0x3c, 0x00, 0xc0};
  for (int j = 0; j < 64; ++j) q41.push_back(static_cast<uint8_t>(j % 16 | (j / 16) << 4));
  const std::vector<float> x41 =
      dequantize_blocks(read_blocks<Q41x128>(Span<const uint8_t>(q41), 1, 128));
  for (std::size_t j = 0; j < 64; ++j) {
    CHECK(x41[j] == static_cast<float>(j % 16) - 2.0f);
    CHECK(x41[j + 64] == static_cast<float>(j / 16) - 2.0f);
  }
  // One scale spans the whole group: the extreme of 64 values, here at index 50, sets it, and
  // an fp32 scale is stored as computed (4 / 127 is not an fp16 value).
  using Q8x64 = WeightBlock<BlockCodes::int8, 64, ScaleFormat::fp32>;
  std::vector<float> x(64, 1.0f);
  x[50] = -4.0f;
  const auto q8 = quantize_blocks<Q8x64>(Span<const float>(x), 1, 64);
  CHECK(q8.blocks.size() == 1);
  CHECK(q8.blocks[0].d == 4.0f / 127.0f);
  CHECK(q8.blocks[0].qs[50] == -127);
  CHECK(q8.blocks[0].qs[0] == 32);  // 31.75 rounds to 32
  // Q4_0's rule over 64: the first value of largest magnitude, sign kept, over -8.
  x[10] = 4.0f;
  const auto q40 = quantize_blocks<Q4x64>(Span<const float>(x), 1, 64);
  CHECK(q40.blocks[0].d == -0.5f);
  CHECK(block_code(q40.blocks[0], 10) == 0);
  CHECK(block_code(q40.blocks[0], 50) == 15);  // 16.5, capped
}

namespace {

// Quantizes Gaussian rows (with an outlier) and checks each value's error against the largest
// the format allows. The codes come from the float scale; the block keeps it (and the minimum)
// in its format: fp16 is off by up to 2^-11 of each, times the code, fp32 by 2^-24.
template <class Block>
void check_error_bounds() {
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const std::size_t rows = 7, cols = 384;
  std::vector<float> x(rows * cols);
  for (float& v : x) v = gauss(rng);
  x[5] = 40.0f;  // an outlier inflates its block's step, not the others'
  const BlockMatrix<Block> m = quantize_blocks<Block>(Span<const float>(x), rows, cols);
  const std::vector<float> y = dequantize_blocks(m);
  constexpr float eps = Block::scale_format == ScaleFormat::fp16 ? 0x1p-11f : 0x1p-24f;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const Block& b = m.blocks[i / Block::group];
    const float stored = std::fabs(scale_value(b.d)), d = stored * (1.0f + 2 * eps);
    float bound = 0.0f;
    if constexpr (Block::codes == BlockCodes::int8) {
      bound = d * (0.5f + 127.0f * eps);
    } else if constexpr (Block::codes == BlockCodes::int4) {
      // Q4_0 spans -8 to 7 steps from the extreme's side: past 7.5 steps on the other side the
      // code caps at 15 (ggml's format), up to a whole step off.
      bound = std::max(0.5f * d, std::fabs(x[i]) - 7.0f * stored) + 8.0f * eps * d;
    } else {
      bound = d * (0.5f + 15.0f * eps) + std::fabs(scale_value(b.m)) * eps;
    }
    INFO("group " << Block::group << ", value " << i << ": " << x[i] << " -> " << y[i]);
    CHECK(std::fabs(y[i] - x[i]) <= bound + 1e-6f);
  }
}

template <BlockCodes Codes>
void check_error_bounds_all() {
  check_error_bounds<WeightBlock<Codes, 32, ScaleFormat::fp16>>();
  check_error_bounds<WeightBlock<Codes, 64, ScaleFormat::fp16>>();
  check_error_bounds<WeightBlock<Codes, 128, ScaleFormat::fp16>>();
  check_error_bounds<WeightBlock<Codes, 32, ScaleFormat::fp32>>();
  check_error_bounds<WeightBlock<Codes, 128, ScaleFormat::fp32>>();
}

}  // namespace

TEST_CASE("block quantization error stays within half a step, as each format allows", "[blocks]") {
  check_error_bounds_all<BlockCodes::int8>();
  check_error_bounds_all<BlockCodes::int4>();
  check_error_bounds_all<BlockCodes::int4_min>();
}

TEST_CASE("malformed blocks and shapes are rejected", "[blocks][errors]") {
  const std::vector<float> x(64, 1.0f);
  CHECK(test::error_of([&] { return quantize_blocks<BlockQ8_0>(Span<const float>(x), 2, 31); }) ==
        Errc::shape_mismatch);
  CHECK(test::error_of([&] { return quantize_blocks<BlockQ8_0>(Span<const float>(x), 3, 32); }) ==
        Errc::shape_mismatch);
  CHECK(test::error_of([&] { return quantize_blocks<BlockQ8_0>(Span<const float>(x), 0, 32); }) ==
        Errc::shape_mismatch);
  std::vector<float> bad = x;
  bad[40] = std::numeric_limits<float>::quiet_NaN();
  CHECK(test::error_of([&] { return quantize_blocks<BlockQ4_0>(Span<const float>(bad), 2, 32); }) ==
        Errc::invalid_argument);
  bad[40] = std::numeric_limits<float>::infinity();
  CHECK(test::error_of([&] { return quantize_blocks<BlockQ4_1>(Span<const float>(bad), 2, 32); }) ==
        Errc::invalid_argument);

  const auto good = quantize_blocks<BlockQ4_1>(Span<const float>(x), 2, 32);
  std::vector<uint8_t> bytes = bytes_of(good.blocks);
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_1>(Span<const uint8_t>(bytes), 2, 32); }) ==
        Errc::ok);
  const Span<const uint8_t> short_bytes(bytes.data(), bytes.size() - 1);
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_1>(short_bytes, 2, 32); }) ==
        Errc::shape_mismatch);
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_1>(Span<const uint8_t>(bytes), 1, 64); }) ==
        Errc::ok);
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_1>(Span<const uint8_t>(bytes), 4, 32); }) ==
        Errc::shape_mismatch);
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_0>(Span<const uint8_t>(bytes), 2, 32); }) ==
        Errc::shape_mismatch);
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(test::error_of([&] {
          return read_blocks<BlockQ4_1>(Span<const uint8_t>(bytes), huge, 64);
        }) == Errc::size_overflow);
  // A minimum of fp16 NaN (0x7e00) in the second block, then a scale of infinity (0x7c00).
  bytes[sizeof(BlockQ4_1) + 2] = 0x00;
  bytes[sizeof(BlockQ4_1) + 3] = 0x7e;
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_1>(Span<const uint8_t>(bytes), 2, 32); }) ==
        Errc::invalid_scale);
  bytes = bytes_of(good.blocks);
  bytes[0] = 0x00;
  bytes[1] = 0x7c;
  CHECK(test::error_of([&] { return read_blocks<BlockQ4_1>(Span<const uint8_t>(bytes), 2, 32); }) ==
        Errc::invalid_scale);

  // Larger groups: K must be a multiple of the group; an fp32 scale may be NaN too.
  using Q8x128 = WeightBlock<BlockCodes::int8, 128, ScaleFormat::fp32>;
  const std::vector<float> wide(2 * 128, 1.0f);
  CHECK(test::error_of([&] { return quantize_blocks<Q8x128>(Span<const float>(wide), 4, 64); }) ==
        Errc::shape_mismatch);
  const auto wide_blocks = quantize_blocks<Q8x128>(Span<const float>(wide), 2, 128);
  bytes = bytes_of(wide_blocks.blocks);
  CHECK(test::error_of([&] { return read_blocks<Q8x128>(Span<const uint8_t>(bytes), 2, 128); }) ==
        Errc::ok);
  CHECK(test::error_of([&] { return read_blocks<Q8x128>(Span<const uint8_t>(bytes), 4, 64); }) ==
        Errc::shape_mismatch);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + sizeof(Q8x128), &nan, sizeof nan);
  CHECK(test::error_of([&] { return read_blocks<Q8x128>(Span<const uint8_t>(bytes), 2, 128); }) ==
        Errc::invalid_scale);
  // A finite fp32 scale whose product with a code overflows (the fuzzer found it): 1e37 x 127.
  const float overflowing = 1e37f;
  std::memcpy(bytes.data() + sizeof(Q8x128), &overflowing, sizeof overflowing);
  CHECK(test::error_of([&] { return read_blocks<Q8x128>(Span<const uint8_t>(bytes), 2, 128); }) ==
        Errc::invalid_scale);
  const float large_but_safe = 1e35f;  // x 128 stays below float's maximum
  std::memcpy(bytes.data() + sizeof(Q8x128), &large_but_safe, sizeof large_but_safe);
  CHECK(test::error_of([&] { return read_blocks<Q8x128>(Span<const uint8_t>(bytes), 2, 128); }) ==
        Errc::ok);

  // A value beyond 127 x 65504 overflows an fp16 scale: an error, not infinite weights. fp32
  // scales hold it.
  std::vector<float> large(32, 1.0f);
  large[3] = 1e7f;
  CHECK(test::error_of([&] {
          return quantize_blocks<BlockQ8_0>(Span<const float>(large), 1, 32);
        }) == Errc::invalid_range);
  CHECK(test::error_of([&] {
          return quantize_blocks<BlockQ4_1>(Span<const float>(large), 1, 32);
        }) == Errc::invalid_range);
  using Q8f32 = WeightBlock<BlockCodes::int8, 32, ScaleFormat::fp32>;
  CHECK(test::error_of([&] { return quantize_blocks<Q8f32>(Span<const float>(large), 1, 32); }) ==
        Errc::ok);
  // A span past float's range: Q4_1's (max - min) / 15 is infinite in any format.
  using Q41f32 = WeightBlock<BlockCodes::int4_min, 32, ScaleFormat::fp32>;
  large[3] = 3e38f;
  large[4] = -3e38f;
  CHECK(test::error_of([&] { return quantize_blocks<Q41f32>(Span<const float>(large), 1, 32); }) ==
        Errc::invalid_range);
}

namespace {

template <class Block>
void check_tiny_block(const std::vector<float>& x) {
  const auto m = quantize_blocks<Block>(Span<const float>(x), 1, x.size());
  for (float v : dequantize_blocks(m)) {
    CHECK(std::isfinite(v));
    CHECK(std::fabs(v) <= 1e-30f);
  }
}

}  // namespace

// Where ggml's 1 / d is infinite (a block of values below about 2^-121), the codes are 0 rather
// than the conversion of an infinite product (UBSan watches in the sanitize preset).
TEST_CASE("blocks of tiny values quantize to small finite weights", "[blocks]") {
  std::vector<float> x(128, 1e-40f);
  x[5] = -3e-39f;
  check_tiny_block<WeightBlock<BlockCodes::int8, 128, ScaleFormat::fp32>>(x);
  check_tiny_block<WeightBlock<BlockCodes::int4, 128, ScaleFormat::fp32>>(x);
  check_tiny_block<WeightBlock<BlockCodes::int4_min, 128, ScaleFormat::fp32>>(x);
  check_tiny_block<WeightBlock<BlockCodes::int4_min, 32, ScaleFormat::fp16>>(x);
  check_tiny_block<BlockQ8_0>(x);
  check_tiny_block<BlockQ4_0>(x);
}
