// SPDX-License-Identifier: Apache-2.0
//
// The weight-only reference product (reference/block_gemm.hpp): a hand-checked case, the
// activation quantizer's rule, agreement with the float product of the dequantized weights
// within the activation quantization's error, and its errors.
#include "qinfer/reference/block_gemm.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "support/errors.hpp"

using namespace qinfer;

TEST_CASE("block_gemm: a hand-checked product", "[blocks]") {
  // Activations all 1: codes 127, scale 1/127. Q8_0 weights all 1: codes 127 and d = fp16(1/127),
  // so each block's dot is 32 x 127 x 127 = 516128 and y = 2 x 516128 d / 127, about 64. Q4_1
  // with d = 0.5, m = -1 and codes 2 stands for weights 0: per block 0.5 x 8128 - 4064 = 0.
  const std::vector<float> a(64, 1.0f);
  const std::vector<float> ones(64, 1.0f);
  const auto w8 = quantize_blocks<BlockQ8_0>(Span<const float>(ones), 1, 64);
  CHECK(w8.blocks[0].qs[5] == 127);
  std::vector<float> y(1);
  reference::block_gemm(MatrixView<const float>{a.data(), 1, 64, 64, 1}, w8,
                        MatrixView<float>{y.data(), 1, 1, 1, 1});
  const float d = half_to_float(w8.blocks[0].d);
  CHECK(y[0] == std::fma(d, 516128.0f, d * 516128.0f) * (1.0f / 127.0f));
  CHECK(y[0] == Approx(64.0f).epsilon(1e-3));

  BlockMatrix<BlockQ4_1> w41{1, 64, std::vector<BlockQ4_1>(2)};
  for (BlockQ4_1& b : w41.blocks) {
    b.d = float_to_half(0.5f);
    b.m = float_to_half(-1.0f);
    for (uint8_t& q : b.qs) q = 0x22;
  }
  reference::block_gemm(MatrixView<const float>{a.data(), 1, 64, 64, 1}, w41,
                        MatrixView<float>{y.data(), 1, 1, 1, 1});
  CHECK(y[0] == 0.0f);
}

TEST_CASE("block_gemm quantizes each activation row symmetrically, half to even", "[blocks]") {
  // amax 127: the scale is 1 and 2.5 -> 2, 3.5 -> 4, -0.5 -> -0 (half to even).
  const std::vector<float> a = {127.0f, 2.5f, 3.5f, -0.5f, -127.0f};
  std::vector<int8_t> q(a.size());
  CHECK(reference::quantize_activation_row(Span<const float>(a), Span<int8_t>(q)) == 1.0f);
  CHECK(q == std::vector<int8_t>{127, 2, 4, 0, -127});
  const std::vector<float> zeros(4, 0.0f);
  q.assign(4, 9);
  CHECK(reference::quantize_activation_row(Span<const float>(zeros), Span<int8_t>(q)) == 0.0f);
  CHECK(q == std::vector<int8_t>(4, 0));
}

TEST_CASE("block_gemm agrees with the float product of its dequantized weights", "[blocks]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const std::size_t m = 3, n = 17, k = 256;
  std::vector<float> a(m * k), w(n * k);
  for (float& v : a) v = gauss(rng);
  for (float& v : w) v = gauss(rng);
  const auto check = [&](const auto& blocks) {
    const std::vector<float> wq = dequantize_blocks(blocks);
    std::vector<float> y(m * n);
    reference::block_gemm(MatrixView<const float>{a.data(), m, k, k, 1}, blocks,
                          MatrixView<float>{y.data(), m, n, n, 1});
    for (std::size_t i = 0; i < m; ++i) {
      double amax = 0.0, norm = 0.0;
      for (std::size_t p = 0; p < k; ++p) amax = std::max(amax, std::fabs(double{a[i * k + p]}));
      for (std::size_t j = 0; j < n; ++j) {
        double exact = 0.0;
        norm = 0.0;
        for (std::size_t p = 0; p < k; ++p) {
          exact += double{a[i * k + p]} * double{wq[j * k + p]};
          norm += std::fabs(double{wq[j * k + p]});
        }
        // Each activation moves by at most half a step, amax / 254.
        CHECK(std::fabs(double{y[i * n + j]} - exact) <= amax / 254.0 * norm * 1.01 + 1e-4);
      }
    }
  };
  check(quantize_blocks<BlockQ8_0>(Span<const float>(w), n, k));
  check(quantize_blocks<BlockQ4_0>(Span<const float>(w), n, k));
  check(quantize_blocks<BlockQ4_1>(Span<const float>(w), n, k));
}

TEST_CASE("block_gemm rejects shapes and non-finite activations", "[blocks][errors]") {
  const std::vector<float> w(2 * 32, 0.5f);
  const auto blocks = quantize_blocks<BlockQ4_0>(Span<const float>(w), 2, 32);
  std::vector<float> a(2 * 32, 1.0f), y(2 * 2);
  const auto run = [&](std::size_t rows, std::size_t cols, std::size_t y_cols) {
    return test::error_of([&] {
      reference::block_gemm(MatrixView<const float>{a.data(), rows, cols, cols, 1}, blocks,
                            MatrixView<float>{y.data(), rows, y_cols, y_cols, 1});
    });
  };
  CHECK(run(2, 32, 2) == Errc::ok);
  CHECK(run(1, 64, 2) == Errc::shape_mismatch);
  CHECK(run(2, 32, 1) == Errc::shape_mismatch);
  a[33] = std::numeric_limits<float>::quiet_NaN();
  CHECK(run(2, 32, 2) == Errc::invalid_argument);
}
