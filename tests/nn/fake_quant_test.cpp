// SPDX-License-Identifier: Apache-2.0
#include "qinfer/nn/fake_quant.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace qinfer::nn {
namespace {

TEST_CASE("FakeQuantize rounds to the uint8 grid of its range and stops gradients outside",
          "[nn][qat]") {
  // [0, 2.55]: scale 0.01, zero point 0.
  FakeQuantize fq({0.0f, 2.55f});
  fq.freeze();
  CHECK(fq.params().zero_point == 0);
  CHECK(fq.params().scale == Approx(0.01f));
  const Tensor<float> x({1, 5}, {0.004f, 0.016f, 1.0049f, 3.0f, -1.0f});
  const Tensor<float> y = fq.forward(x, true);
  CHECK(y.data[0] == 0.0f);
  CHECK(y.data[1] == Approx(0.02f));
  CHECK(y.data[2] == Approx(1.0f));
  CHECK(y.data[3] == Approx(2.55f));  // clamped to the top code
  CHECK(y.data[4] == 0.0f);           // and to the bottom one
  const Tensor<float> dx = fq.backward(Tensor<float>({1, 5}, {1, 1, 1, 1, 1}));
  CHECK(dx.data == std::vector<float>{1, 1, 1, 0, 0});
}

TEST_CASE("FakeQuantize's range follows training batches until frozen", "[nn][qat]") {
  FakeQuantize fq({0.0f, 1.0f}, 0.5f);
  fq.forward(Tensor<float>({1, 2}, {0.0f, 3.0f}), true);
  CHECK(fq.range().max == Approx(2.0f));
  fq.forward(Tensor<float>({1, 2}, {0.0f, 9.0f}), false);  // inference does not observe
  CHECK(fq.range().max == Approx(2.0f));
  fq.freeze();
  fq.forward(Tensor<float>({1, 2}, {0.0f, 9.0f}), true);
  CHECK(fq.range().max == Approx(2.0f));
}

TEST_CASE("WeightFakeQuant applies per-channel grids and LSQ gradients", "[nn][qat]") {
  // Two channels (columns) of depth 2: scales 0.5 and 1 at 4 bits (codes -7..7).
  WeightFakeQuant q(4, 2, {0.5f, 1.0f});
  const std::vector<float> w{0.6f, 2.2f,     // row 0
                             -9.0f, -0.4f};  // row 1: -9 / 0.5 clamps to -7
  const std::vector<float> e = q.apply(w);
  CHECK(e[0] == Approx(0.5f));
  CHECK(e[1] == Approx(2.0f));
  CHECK(e[2] == Approx(-3.5f));
  CHECK(e[3] == Approx(0.0f));
  std::vector<float> w_grad(4, 0.0f);
  q.backward(w, {1.0f, 1.0f, 1.0f, 1.0f}, w_grad);
  CHECK(w_grad == std::vector<float>{1, 1, 0, 1});
  // dq/ds: round(w/s) - w/s inside, the clamped code outside; times 1 / sqrt(depth * qmax).
  const float g = 1.0f / std::sqrt(2.0f * 7.0f);
  CHECK(q.scales().grad[0] == Approx(g * ((1.0f - 1.2f) + -7.0f)));
  CHECK(q.scales().grad[1] == Approx(g * ((2.0f - 2.2f) + (0.0f + 0.4f))));
  CHECK_THROWS_AS(WeightFakeQuant(4, 2, {0.5f, 0.0f}), Error);
  CHECK_THROWS_AS(WeightFakeQuant(9, 2, {0.5f, 1.0f}), Error);
}

}  // namespace
}  // namespace qinfer::nn
