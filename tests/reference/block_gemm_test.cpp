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
#include "support/llm_data.hpp"

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

namespace {

// Relative L2 errors against the float product of the unquantized weights, in double: of the
// whole product through the blocks (activations quantized per row), and of the dequantized
// weights alone times the float activations.
struct Errors {
  double product;
  double weights;
};

template <class Block>
Errors error_against_fp32(const std::vector<float>& a, const std::vector<float>& w, std::size_t m,
                          std::size_t n, std::size_t k) {
  const BlockMatrix<Block> blocks = quantize_blocks<Block>(Span<const float>(w), n, k);
  const std::vector<float> wq = dequantize_blocks(blocks);
  std::vector<float> y(m * n);
  reference::block_gemm(MatrixView<const float>{a.data(), m, k, k, 1}, blocks,
                        MatrixView<float>{y.data(), m, n, n, 1});
  double product = 0.0, weights = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double exact = 0.0, dequantized = 0.0;
      for (std::size_t p = 0; p < k; ++p) {
        exact += double{a[i * k + p]} * w[j * k + p];
        dequantized += double{a[i * k + p]} * wq[j * k + p];
      }
      product += (y[i * n + j] - exact) * (y[i * n + j] - exact);
      weights += (dequantized - exact) * (dequantized - exact);
      norm += exact * exact;
    }
  }
  return {std::sqrt(product / norm), std::sqrt(weights / norm)};
}

}  // namespace

// The accuracy report: Gaussian weights and activations (K = 4096), then the same with
// 4 of the 4096 input channels 20-50x larger in the weights, then in the activations (LLM
// activations have such channels). The errors are printed; the bounds are loose ceilings.
TEST_CASE("block_gemm's error against fp32, with and without outlier channels", "[blocks]") {
  const test::LlmData d = test::llm_data(4, 64, 4096, 17);
  const std::size_t m = d.m, n = d.n, k = d.k;
  struct Case {
    const char* name;
    const std::vector<float>* a;
    const std::vector<float>* w;
    double q8_bound, q4_bound;
  };
  for (const Case& c : {Case{"Gaussian", &d.a, &d.w, 0.02, 0.12},
                        Case{"outlier weight channels", &d.a, &d.w_outliers, 0.03, 0.16},
                        Case{"outlier activation channels", &d.a_outliers, &d.w, 0.12, 0.18}}) {
    const Errors q8 = error_against_fp32<BlockQ8_0>(*c.a, *c.w, m, n, k);
    const Errors q40 = error_against_fp32<BlockQ4_0>(*c.a, *c.w, m, n, k);
    const Errors q41 = error_against_fp32<BlockQ4_1>(*c.a, *c.w, m, n, k);
    WARN("relative error against fp32, "
         << c.name << " (product / weights alone): Q8_0 " << q8.product << " / " << q8.weights
         << ", Q4_0 " << q40.product << " / " << q40.weights << ", Q4_1 " << q41.product << " / "
         << q41.weights);
    CHECK(q8.product < c.q8_bound);
    CHECK(q40.product < c.q4_bound);
    CHECK(q41.product < c.q4_bound);
    // The weights alone never err more than the whole product by much: the rest is the
    // activations' int8 rounding.
    CHECK(q8.weights < q8.product);
  }
}

// Larger groups trade accuracy for bytes: one scale per 64 or 128 weights. Printed for the
// README's table; the checks hold only what must be so: a larger group errs more on 4-bit
// codes, and fp32 scales are not worse than fp16 ones.
TEST_CASE("block_gemm's error against fp32 by group size and scale format", "[blocks]") {
  const test::LlmData d = test::llm_data(4, 64, 4096, 17);
  const auto error = [&](auto block) {
    using Block = decltype(block);
    return error_against_fp32<Block>(d.a, d.w, d.m, d.n, d.k).product;
  };
  using C = BlockCodes;
  constexpr ScaleFormat f16 = ScaleFormat::fp16, f32 = ScaleFormat::fp32;
  const double int4[] = {error(WeightBlock<C::int4, 32, f16>{}),
                         error(WeightBlock<C::int4, 64, f16>{}),
                         error(WeightBlock<C::int4, 128, f16>{})};
  const double int4_min[] = {error(WeightBlock<C::int4_min, 32, f16>{}),
                             error(WeightBlock<C::int4_min, 64, f16>{}),
                             error(WeightBlock<C::int4_min, 128, f16>{})};
  const double int8[] = {error(WeightBlock<C::int8, 32, f16>{}),
                         error(WeightBlock<C::int8, 64, f16>{}),
                         error(WeightBlock<C::int8, 128, f16>{})};
  const double int4_f32 = error(WeightBlock<C::int4, 32, f32>{});
  const double int8_f32 = error(WeightBlock<C::int8, 32, f32>{});
  WARN("relative error against fp32, Gaussian, groups 32 / 64 / 128 (fp16 scales): int8 "
       << int8[0] << " / " << int8[1] << " / " << int8[2] << ", int4 " << int4[0] << " / "
       << int4[1] << " / " << int4[2] << ", int4_min " << int4_min[0] << " / " << int4_min[1]
       << " / " << int4_min[2] << "; groups of 32 with fp32 scales: int8 " << int8_f32 << ", int4 "
       << int4_f32);
  CHECK(int4[0] < int4[1]);
  CHECK(int4[1] < int4[2]);
  CHECK(int4_min[0] < int4_min[2]);
  CHECK(int8[2] < 0.03);
  CHECK(int4[2] < 0.15);
  CHECK(int4_f32 <= int4[0] * 1.01);
  CHECK(int8_f32 <= int8[0] * 1.01);
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
