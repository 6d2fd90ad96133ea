// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM (ops/block_gemm.hpp) on every level this CPU has against
// reference::block_gemm, exactly: llama.cpp's three block layouts and groups of 64 and 128 with
// fp16 and fp32 scales; M 1-80 around the 8-row tiles, 32-row passes and AMX's 16-row tiles
// (1 or 2 of them a pass, the rest on AVX-512 VNNI), N around the 16-row
// groups, K from one block to 16; Gaussian weights with outlier channels, activations with
// outliers, an all-zero row, the codes and activations nearest the int16 limits; strided a and
// y; 1, 2 and 7 threads. The activation rows' quantization on each level against the reference.
#include "qinfer/ops/block_gemm.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qinfer/runtime/thread_pool.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"

using namespace qinfer;

namespace {

// block_gemm against the reference for activations a ([m, k], row stride lda): bit for bit,
// and the padding columns of y untouched.
template <class Block>
void check_product(const BlockMatrix<Block>& blocks, const std::vector<float>& a, std::size_t m,
                   std::size_t lda, std::size_t threads) {
  const std::size_t n = blocks.rows, k = blocks.cols, ldy = n + 3;
  const PackedBlocks<Block> packed = pack_blocks(blocks);
  std::vector<float> expected(m * ldy, -1.0f), ours(m * ldy, -1.0f);
  const MatrixView<const float> av{a.data(), m, k, lda, 1};
  reference::block_gemm(av, blocks, MatrixView<float>{expected.data(), m, n, ldy, 1});
  ThreadPool pool(threads);
  const MatrixView<float> y{ours.data(), m, n, ldy, 1};
  if (threads == 1) {
    block_gemm(av, packed, y);
  } else {
    block_gemm(av, packed, y, pool);
  }
  INFO("group " << Block::group << ", M " << m << ", N " << n << ", K " << k << ", threads "
                << threads);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::memcmp(&ours[i], &expected[i], sizeof(float)) == 0);
  }
}

template <class Block>
void check_shape(std::mt19937& rng, std::size_t m, std::size_t n, std::size_t k,
                 std::size_t threads) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> w(n * k);
  for (float& v : w) v = gauss(rng);
  for (std::size_t row = 0; row < n; ++row) w[row * k + (row * 7) % k] *= 40.0f;
  const std::size_t lda = k + 3;  // strided: 3 extra columns
  std::vector<float> a(m * lda, 99.0f);
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t p = 0; p < k; ++p) a[r * lda + p] = r == 1 ? 0.0f : gauss(rng);
    a[r * lda + (r * 5) % k] *= 30.0f;
  }
  check_product(quantize_blocks<Block>(Span<const float>(w), n, k), a, m, lda, threads);
}

// The codes whose products come closest to the ymm kernels' int16 limits: int8 codes of -128
// (a file may hold them though ggml's quantizer never makes them) and 127, nibbles of 15,
// against activation codes of +-127, all of one sign or alternating; 20 rows, so that AMX's
// tile takes 16 of them.
template <class Block>
void check_extremes() {
  const std::size_t n = 19, k = 1024, m = 20;
  const std::vector<float> ones(n * k, 1.0f);
  BlockMatrix<Block> blocks = quantize_blocks<Block>(Span<const float>(ones), n, k);
  for (std::size_t i = 0; i < blocks.blocks.size(); ++i) {
    const bool even = i / blocks.blocks_per_row() % 2 == 0;
    for (auto& q : blocks.blocks[i].qs) {
      if constexpr (Block::codes == BlockCodes::int8) {
        q = even ? int8_t{-128} : int8_t{127};
      } else {
        q = even ? uint8_t{0xff} : uint8_t{0x0f};
      }
    }
  }
  std::vector<float> a(m * k);
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t p = 0; p < k; ++p) {
      const float alternating = p % 2 == 0 ? 1.0f : -1.0f, halves = p % 64 < 32 ? -1.0f : 1.0f;
      const float values[] = {1.0f, -1.0f, alternating, halves};
      a[r * k + p] = values[r % 4];
    }
  }
  check_product(blocks, a, m, k, 1);
}

template <class Block>
void check_all() {
  std::mt19937 rng(3);
  for (std::size_t m : {1, 2, 7, 8, 9, 16, 17, 24, 33, 40, 49, 80}) {
    for (std::size_t n : {1, 15, 16, 17, 40}) {
      for (std::size_t k : {Block::group, 3 * Block::group, std::size_t{512}}) {
        check_shape<Block>(rng, m, n, k, 1);
      }
    }
  }
  for (std::size_t threads : {2, 7}) {
    check_shape<Block>(rng, 5, 70, 256, threads);
    check_shape<Block>(rng, 37, 70, 256, threads);  // AMX's tiles on each worker
  }
  check_extremes<Block>();
}

}  // namespace

TEST_CASE("block_gemm equals the reference on every level", "[blocks][simd]") {
  test::for_each_level("block_gemm", [] {
    check_all<BlockQ8_0>();
    check_all<BlockQ4_0>();
    check_all<BlockQ4_1>();
  });
}

TEST_CASE("block_gemm with groups of 64 and 128 and fp32 scales equals the reference",
          "[blocks][simd]") {
  test::for_each_level("block_gemm groups", [] {
    check_all<WeightBlock<BlockCodes::int8, 64, ScaleFormat::fp32>>();
    check_all<WeightBlock<BlockCodes::int8, 128, ScaleFormat::fp16>>();
    check_all<WeightBlock<BlockCodes::int4, 64, ScaleFormat::fp16>>();
    check_all<WeightBlock<BlockCodes::int4, 128, ScaleFormat::fp32>>();
    check_all<WeightBlock<BlockCodes::int4_min, 64, ScaleFormat::fp32>>();
    check_all<WeightBlock<BlockCodes::int4_min, 128, ScaleFormat::fp16>>();
    check_all<WeightBlock<BlockCodes::int4_min, 32, ScaleFormat::fp32>>();
  });
}

TEST_CASE("activation rows quantize as the reference does on every level", "[blocks][simd]") {
  test::for_each_level("quantize_activation_row", [] {
    const kernels::QuantizeRowFn quantize = kernels::quantize_row_kernel(active_isa());
    std::mt19937 rng(11);
    std::normal_distribution<float> gauss(0.0f, 3.0f);
    const auto check = [&](const std::vector<float>& x) {
      std::vector<int8_t> expected(x.size()), ours(x.size(), 99);
      const float s =
          reference::quantize_activation_row(Span<const float>(x), Span<int8_t>(expected));
      CHECK(quantize(x.data(), x.size(), ours.data()) == s);
      CHECK(ours == expected);
    };
    for (std::size_t k : {32, 64, 96, 4096}) {
      std::vector<float> x(k);
      for (float& v : x) v = gauss(rng);
      check(x);
      // The extreme last (the reductions' far end), negative: it maps to -127 exactly.
      x.back() = -100.0f;
      check(x);
      // amax 127 makes the multiplier 1: halves tie, and round to even (2.5 -> 2, -3.5 -> -4).
      for (std::size_t i = 0; i < k; ++i)
        x[i] = static_cast<float>(static_cast<int>(i % 64) - 32) + 0.5f;
      x[k / 2] = 127.0f;
      check(x);
      std::fill(x.begin(), x.end(), 0.0f);
      check(x);
      x[3] = -0.0f;
      check(x);
      // Below reference::activation_floor the row is all zeros (127 / amax would overflow);
      // just above it, codes as usual.
      x[5] = 3e-37f;
      check(x);
      x[5] = 1e-40f;
      check(x);
      x[5] = 2 * reference::activation_floor;
      x[9] = -reference::activation_floor;
      check(x);
    }
  });
}

TEST_CASE("block_gemm rejects shapes, strides and non-finite activations", "[blocks][errors]") {
  const std::vector<float> w(20 * 64, 0.25f);
  const PackedBlocks<BlockQ4_1> packed =
      pack_blocks(quantize_blocks<BlockQ4_1>(Span<const float>(w), 20, 64));
  std::vector<float> a(2 * 64, 1.0f), y(2 * 20);
  const auto run = [&](std::size_t rows, std::size_t cols, std::size_t y_cols,
                       std::size_t y_col_stride) {
    return test::error_of([&] {
      block_gemm(MatrixView<const float>{a.data(), rows, cols, cols, 1}, packed,
                 MatrixView<float>{y.data(), rows, y_cols, y_cols, y_col_stride});
    });
  };
  CHECK(run(2, 64, 20, 1) == Errc::ok);
  CHECK(run(2, 32, 20, 1) == Errc::shape_mismatch);
  CHECK(run(2, 64, 19, 1) == Errc::shape_mismatch);
  CHECK(run(1, 64, 20, 2) == Errc::invalid_argument);
  a[70] = std::numeric_limits<float>::infinity();
  CHECK(run(2, 64, 20, 1) == Errc::invalid_argument);
}

TEST_CASE("block weights and activations in caller-provided buffers, every level",
          "[blocks][simd]") {
  std::mt19937 rng(9);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const std::size_t m = 9, n = 35, k = 256;
  std::vector<float> w(n * k), a(m * k), expected(m * n);
  for (float& v : w) v = gauss(rng);
  for (float& v : a) v = gauss(rng);
  const BlockMatrix<BlockQ4_1> blocks = quantize_blocks<BlockQ4_1>(Span<const float>(w), n, k);
  const MatrixView<const float> av = row_major<const float>(a.data(), m, k);
  reference::block_gemm(av, blocks, row_major(expected.data(), m, n));
  // Three groups of 16 rows x 8 blocks of 20 x 16 bytes; codes, sums and scales of 9 rows.
  REQUIRE(packed_blocks_size<BlockQ4_1>(n, k) == 3 * 8 * 320);
  AlignedVector<std::byte> weights(packed_blocks_size<BlockQ4_1>(n, k));
  AlignedVector<std::byte> workspace(block_gemm_workspace_size<BlockQ4_1>(m, k));
  CHECK(workspace.size() == 256 + 9 * 256 + 320 + 64);
  const PackedBlocks<BlockQ4_1> packed = pack_blocks_into(Span<std::byte>(weights), blocks);
  CHECK(packed.storage == nullptr);
  CHECK(std::memcmp(packed.data.data(), pack_blocks(blocks).data.data(), weights.size()) == 0);
  test::for_each_level("block_gemm in caller buffers", [&] {
    std::vector<float> y(m * n);
    block_gemm(av, packed, row_major(y.data(), m, n), Span<std::byte>(workspace));
    CHECK(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)) == 0);
  });
  std::vector<float> y(m * n);
  CHECK(test::error_of([&] {
          block_gemm(av, packed, row_major(y.data(), m, n),
                     Span<std::byte>(workspace.data(), workspace.size() - 1));
        }) == Errc::invalid_argument);
  CHECK(test::error_of([&] {
          pack_blocks_into(Span<std::byte>(weights.data() + 4, weights.size() - 4), blocks);
        }) == Errc::invalid_argument);
  CHECK(packed_blocks_size<BlockQ4_1>(n, 100) == 0);  // K not a multiple of the group
}
