// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM (ops/block_gemm.hpp) on every level this CPU has against
// reference::block_gemm, exactly: the three block layouts, M 1-33 around the 8-row tiles, N
// around the 16-row groups, K from one block to 16, Gaussian weights with outlier channels,
// activations with outliers, an all-zero row, strided a and y, and 1, 2 and 7 threads.
#include "qinfer/ops/block_gemm.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qinfer/runtime/thread_pool.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"

using namespace qinfer;

namespace {

template <class Block>
void check_shape(std::mt19937& rng, std::size_t m, std::size_t n, std::size_t k,
                 std::size_t threads) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> w(n * k);
  for (float& v : w) v = gauss(rng);
  for (std::size_t row = 0; row < n; ++row) w[row * k + (row * 7) % k] *= 40.0f;
  // Strided a and y: 3 extra columns each.
  const std::size_t lda = k + 3, ldy = n + 3;
  std::vector<float> a(m * lda, 99.0f);
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t p = 0; p < k; ++p) a[r * lda + p] = r == 1 ? 0.0f : gauss(rng);
    a[r * lda + (r * 5) % k] *= 30.0f;
  }
  const BlockMatrix<Block> blocks = quantize_blocks<Block>(Span<const float>(w), n, k);
  const PackedBlocks<Block> packed = pack_blocks(blocks);
  std::vector<float> expected(m * ldy, -1.0f), ours(m * ldy, -1.0f);
  reference::block_gemm(MatrixView<const float>{a.data(), m, k, lda, 1}, blocks,
                        MatrixView<float>{expected.data(), m, n, ldy, 1});
  ThreadPool pool(threads);
  const MatrixView<float> y{ours.data(), m, n, ldy, 1};
  const MatrixView<const float> av{a.data(), m, k, lda, 1};
  if (threads == 1) {
    block_gemm(av, packed, y);
  } else {
    block_gemm(av, packed, y, pool);
  }
  INFO("M " << m << ", N " << n << ", K " << k << ", threads " << threads);
  // Bit for bit, the padding columns of y untouched.
  for (std::size_t i = 0; i < ours.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::memcmp(&ours[i], &expected[i], sizeof(float)) == 0);
  }
}

template <class Block>
void check_all() {
  std::mt19937 rng(3);
  for (std::size_t m : {1, 2, 7, 8, 9, 17, 33}) {
    for (std::size_t n : {1, 15, 16, 17, 40}) {
      for (std::size_t k : {32, 96, 512}) check_shape<Block>(rng, m, n, k, 1);
    }
  }
  for (std::size_t threads : {2, 7}) check_shape<Block>(rng, 5, 70, 128, threads);
}

}  // namespace

TEST_CASE("block_gemm equals the reference on every level", "[blocks][simd]") {
  test::for_each_level("block_gemm", [] {
    check_all<BlockQ8_0>();
    check_all<BlockQ4_0>();
    check_all<BlockQ4_1>();
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
