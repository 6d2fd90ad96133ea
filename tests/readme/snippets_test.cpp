// SPDX-License-Identifier: Apache-2.0
//
// The README's C++ snippets (extracted by extract_snippets.py into <build>/tests/readme), each
// compiled and run in a test with the variables it assumes, and its result checked where it
// computes one. A snippet that stops compiling, or stops working, fails here.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/nn/dynamic_linear.hpp"
#include "qinfer/nn/residual.hpp"
#include "qinfer/nn/rnn.hpp"
#include "qinfer/qinfer.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "qinfer/train/optimizer.hpp"
#include "readme/include.inc"
#include "support/random.hpp"

namespace qinfer {
namespace {

std::vector<uint8_t> codes_u8(test::Rng& rng, std::size_t n) {
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = static_cast<uint8_t>(rng.integer(0, 255));
  return v;
}

std::vector<int8_t> codes_s8(test::Rng& rng, std::size_t n) {
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(rng.integer(-127, 127));
  return v;
}

TEST_CASE("README: using it, and a requantizing stage", "[readme]") {
  test::Rng rng(1);
  const std::size_t M = 3, K = 16, N = 5;
  const std::vector<float> x = rng.reals(M * K, -1.0f, 1.0f), w = rng.reals(K * N, -0.5f, 0.5f);
  std::vector<float> y(M * N);
  const QuantParams out{0.02f, 3};
#include "readme/using_it.inc"
  // The next snippet goes on from this one's scales (a blank line keeps the order).

#include "readme/requantize_stage.inc"
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      double exact = 0;
      for (std::size_t k = 0; k < K; ++k) exact += double{x[i * K + k]} * w[k * N + j];
      CHECK(std::fabs(y[i * N + j] - exact) < 0.05);
    }
  }
  CHECK(stage.zero_point == 3);
}

TEST_CASE("README: quantizing a model, with a residual block", "[readme]") {
  test::Rng rng(2);
  const train::Dataset train_set{{28, 28, 1}, rng.reals(8 * 784, 0, 1), {0, 1, 2, 3, 4, 5, 6, 7}};
  const train::Dataset& calibration_set = train_set;
  const Tensor<float> images({2, 28, 28, 1}, rng.reals(2 * 784, 0, 1));
#include "readme/quantize_model.inc"
  CHECK(logits.dims == std::vector<std::size_t>{2, 10});
#include "readme/residual_block.inc"
  CHECK(options.layers.size() == 2);
}

TEST_CASE("README: the packed int8 GEMM", "[readme]") {
  test::Rng rng(3);
  const std::size_t M = 37, K = 70, N = 45;
  const std::vector<uint8_t> x8 = codes_u8(rng, M * K);
  const std::vector<int8_t> w8 = codes_s8(rng, K * N);
  const std::vector<int32_t> bias(N, 100);
  const int32_t x_zero_point = 120;
  const std::vector<float> scales(N, 1.0f / 4096);
  const RequantizeFloat<uint8_t> stage{scales, 5, 0, 255};
  std::vector<uint8_t> y(M * N), expected(M * N);
#include "readme/packed_gemm.inc"
  reference::gemm(row_major(x8.data(), M, K), row_major(w8.data(), K, N),
                  reference::GemmOffsets{x_zero_point, w_zero_point, bias}, stage,
                  row_major(expected.data(), M, N));
  CHECK(y == expected);
}

TEST_CASE("README: convolution and depthwise convolution", "[readme]") {
  test::Rng rng(4);
  const std::size_t N = 2, H = 13, W = 11, Cin = 6, Cout = 8, groups = 2;
  const std::vector<uint8_t> x8 = codes_u8(rng, N * H * W * Cin);
  const int32_t x_zero_point = 128;
  const int32_t w_zero_point[] = {0};
  ThreadPool pool(2);
  {
    const std::vector<float> scales(Cout, 1.0f / 512);
    const RequantizeFloat<uint8_t> stage{scales, 0, 0, 255};
    const std::vector<int8_t> w8 = codes_s8(rng, Cout * 3 * 3 * (Cin / groups));
    const std::vector<int32_t> bias(Cout, -50);
    std::vector<uint8_t> y8(N * ((H + 2 - 3) / 2 + 1) * ((W + 1 - 3) / 2 + 1) * Cout);
#include "readme/conv2d.inc"
    std::vector<uint8_t> expected(y8.size());
    reference::conv2d(shape, Span<const uint8_t>(x8), Span<const int8_t>(w8),
                      reference::GemmOffsets{x_zero_point, w_zero_point, bias}, stage,
                      Span<uint8_t>(expected));
    CHECK(y8 == expected);
  }
  {
    const std::size_t C = Cin;
    const std::vector<float> scales(C, 1.0f / 64);
    const RequantizeFloat<uint8_t> stage{scales, 0, 0, 255};
    const std::vector<int8_t> w8 = codes_s8(rng, C * 9);
    const std::vector<int32_t> bias(C, 7);
    const reference::Conv2dShape shape{N, C, C, C, {H, 3, 1, 1, 1, 1}, {W, 3, 1, 1, 1, 1}};
    std::vector<uint8_t> y8(N * H * W * C);
#include "readme/depthwise.inc"
    std::vector<uint8_t> expected(y8.size());
    reference::conv2d(shape, Span<const uint8_t>(x8), Span<const int8_t>(w8),
                      reference::GemmOffsets{x_zero_point, w_zero_point, bias}, stage,
                      Span<uint8_t>(expected));
    CHECK(y8 == expected);
  }
}

TEST_CASE("README: pooling, add and concat", "[readme]") {
  test::Rng rng(5);
  const std::size_t N = 1, H = 9, W = 7, C = 5, C1 = 2, C2 = 3;
  const std::vector<uint8_t> x8 = codes_u8(rng, N * H * W * C);
  std::vector<uint8_t> y8(N * 5 * 4 * C), features(N * C);
  const int32_t zp = 10;
  ThreadPool thread_pool(2);
  const QuantParams body_params{0.05f, 12}, shortcut_params{0.04f, 9}, out_params{0.08f, 20};
  const std::vector<uint8_t> body8 = codes_u8(rng, 64);
  std::vector<uint8_t> shortcut8 = codes_u8(rng, 64);
  const std::vector<uint8_t> branch1 = codes_u8(rng, N * H * W * C1),
                             branch2 = codes_u8(rng, N * H * W * C2);
  std::vector<uint8_t> joined(N * H * W * (C1 + C2));
#include "readme/pool_add_concat.inc"
  CHECK(std::equal(branch1.begin(), branch1.begin() + C1, joined.begin()));
  CHECK(std::equal(branch2.begin(), branch2.begin() + C2, joined.begin() + C1));
  CHECK(*std::min_element(features.begin(), features.end()) >= zp);
}

TEST_CASE("README: LLM weight blocks", "[readme]") {
  test::Rng rng(6);
  const std::size_t M = 2, N = 8, K = 128;
  const std::vector<float> weights = rng.reals(N * K, -1.0f, 1.0f);
  const BlockMatrix<BlockQ4_0> stored = quantize_blocks<BlockQ4_0>(weights, N, K);
  std::vector<uint8_t> tensor_bytes(stored.blocks.size() * sizeof(BlockQ4_0));
  std::memcpy(tensor_bytes.data(), stored.blocks.data(), tensor_bytes.size());
  const std::vector<float> activations = rng.reals(M * K, -1.0f, 1.0f);
  const float* a = activations.data();
  std::vector<float> result(M * N), first(M * N);
  float* y = result.data();
  ThreadPool pool(2);
  const auto run_dispatched = [&] {
#include "readme/llm_blocks.inc"
    CHECK(std::memcmp(same.blocks.data(), w.blocks.data(), tensor_bytes.size()) == 0);
    CHECK(w128.blocks.size() == N);
  };
  run_dispatched();
  CHECK(std::all_of(result.begin(), result.end(), [](float v) { return std::isfinite(v); }));
}

TEST_CASE("README: embedding tables", "[readme]") {
  test::Rng rng(7);
  const std::size_t rows = 20, dim = 8, bags = 2;
  const std::vector<float> table_values = rng.reals(rows * dim, -1.0f, 1.0f);
  const float* weights = table_values.data();
  const RowwiseTable<Rowwise8> stored = quantize_rowwise<Rowwise8>(row_major(weights, rows, dim));
  const Span<const uint8_t> file_bytes = stored.bytes();
  const std::vector<int64_t> indices{1, 5, 19}, offsets{0, 2, 3};
  const std::vector<float> per_sample_weights{1.0f, 0.5f, 2.0f};
  const std::vector<int32_t> lengths{2, 1};
  std::vector<float> pooled(bags * dim);
  float* out = pooled.data();
  ThreadPool pool(2);
#include "readme/embedding_bag.inc"
  CHECK(offsets2 == std::vector<int32_t>{0, 2, 3});
  CHECK(std::fabs(out[dim] - 2.0f * table_values[19 * dim]) < 0.15f);  // 4-bit codes
  CHECK(mapped.rows == rows);
}

TEST_CASE("README: dynamic quantization", "[readme]") {
  const std::size_t input_size = 6, hidden_size = 4, batch = 2, steps = 3, M = 2, N = 3, K = 5;
  const nn::RnnWeights pytorch =
      nn::initial_rnn_weights(nn::RnnKind::lstm, input_size, hidden_size, 11);
  const std::vector<float>&w_ih = pytorch.w_ih, &w_hh = pytorch.w_hh, &b_ih = pytorch.b_ih,
        &b_hh = pytorch.b_hh;
  test::Rng rng(8);
  const std::vector<float> x = rng.reals(steps * batch * input_size, -1.0f, 1.0f);
  std::vector<float> out(steps * batch * hidden_size), state(2 * batch * hidden_size, 0.0f);
  float* h = state.data();
  float* c = state.data() + batch * hidden_size;
  const float* x_t = x.data();
  const MatrixView<float> h_view = row_major(h, batch, hidden_size),
                          c_view = row_major(c, batch, hidden_size);
  ThreadPool pool(2);
  const std::vector<float> fc_weights = rng.reals(N * K, -1.0f, 1.0f),
                           x_values = rng.reals(M * K, -1.0f, 1.0f);
  const float* w_fc = fc_weights.data();
  const float* x_fc = x_values.data();
  const std::vector<float> bias(N, 0.25f);
  std::vector<float> result(M * N);
  float* y = result.data();
#include "readme/dynamic_lstm.inc"
  CHECK(std::all_of(out.begin(), out.end(), [](float v) { return std::fabs(v) < 1.0f; }));
  CHECK(std::all_of(result.begin(), result.end(), [](float v) { return std::isfinite(v); }));
}

}  // namespace
}  // namespace qinfer
