// SPDX-License-Identifier: Apache-2.0
// Each layer's backward pass against central differences of L = sum(y * r), r random, so that
// dL/dy = r.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <vector>

#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/depthwise.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/loss.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/residual.hpp"
#include "qinfer/nn/sequential.hpp"
#include "support/random.hpp"

namespace qinfer::nn {
namespace {

double weighted_sum(const Tensor<float>& y, const std::vector<float>& r) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += double{y.data[i]} * r[i];
  return s;
}

// Compares an analytic gradient with central differences of `loss` in each of `values`.
void check_gradient(std::vector<float>& values, const std::vector<float>& analytic,
                    const std::function<double()>& loss, const char* what) {
  REQUIRE(values.size() == analytic.size());
  constexpr float step = 1e-2f;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float saved = values[i];
    values[i] = saved + step;
    const double up = loss();
    values[i] = saved - step;
    const double down = loss();
    values[i] = saved;
    const double numeric = (up - down) / (2.0 * step);
    INFO(what << " element " << i);
    REQUIRE(analytic[i] == Approx(numeric).margin(2e-3).epsilon(1e-2));
  }
}

// Checks dL/dx and every parameter's dL/dp of `layer` at input x.
void check_layer(Layer& layer, Tensor<float> x, test::Rng& rng) {
  const Tensor<float> y = layer.forward(x, true);
  const std::vector<float> r = rng.reals(y.size(), -1, 1);
  for (Parameter* p : layer.parameters()) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
  const Tensor<float> dx = layer.backward(Tensor<float>(y.dims, r));
  REQUIRE(dx.dims == x.dims);
  const auto loss = [&] { return weighted_sum(layer.forward(x, false), r); };
  check_gradient(x.data, dx.data, loss, "input");
  for (Parameter* p : layer.parameters()) {
    const std::vector<float> grad = p->grad;
    check_gradient(p->value, grad, loss, p->name.c_str());
  }
}

// Values at least `gap` apart, so that no max or ReLU kink lies within a difference step.
std::vector<float> spread_values(std::size_t n, test::Rng& rng) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = (static_cast<float>(i) - static_cast<float>(n) / 2) * 0.05f + 0.025f;
  for (std::size_t i = n; i > 1; --i) std::swap(v[i - 1], v[rng.size(0, i - 1)]);
  return v;
}

TEST_CASE("Linear backward matches numerical gradients", "[nn]") {
  test::Rng rng(1);
  Linear layer(7, 5);
  std::mt19937 init(3);
  layer.initialize(init);
  for (float& b : layer.bias().value) b = rng.real(-1, 1);
  check_layer(layer, Tensor<float>({3, 7}, rng.reals(21, -1, 1)), rng);
}

TEST_CASE("Conv2d backward matches numerical gradients", "[nn]") {
  test::Rng rng(2);
  for (const Conv2dOptions& o : {Conv2dOptions{3, 4, 3, 1, 1}, Conv2dOptions{2, 3, 3, 2, 1},
                                 Conv2dOptions{2, 5, 1, 1, 0}, Conv2dOptions{1, 2, 5, 2, 2}}) {
    Conv2d layer(o);
    std::mt19937 init(4);
    layer.initialize(init);
    for (float& b : layer.bias().value) b = rng.real(-1, 1);
    const std::size_t h = 5, w = 6;
    check_layer(
        layer, Tensor<float>({2, h, w, o.in_channels}, rng.reals(2 * h * w * o.in_channels, -1, 1)),
        rng);
  }
}

TEST_CASE("DepthwiseConv2d and GlobalAvgPool2d backward match numerical gradients", "[nn]") {
  test::Rng rng(6);
  for (const DepthwiseOptions& o : {DepthwiseOptions{3, 3, 1, 1}, DepthwiseOptions{4, 3, 2, 1},
                                    DepthwiseOptions{2, 5, 1, 2}, DepthwiseOptions{5, 1, 1, 0}}) {
    DepthwiseConv2d layer(o);
    std::mt19937 init(8);
    layer.initialize(init);
    for (float& b : layer.bias().value) b = rng.real(-1, 1);
    check_layer(layer, Tensor<float>({2, 5, 6, o.channels}, rng.reals(60 * o.channels, -1, 1)),
                rng);
  }
  GlobalAvgPool2d pool;
  check_layer(pool, Tensor<float>({2, 3, 4, 5}, rng.reals(120, -1, 1)), rng);
  CHECK_THROWS_AS(pool.forward(Tensor<float>({2, 5}, std::vector<float>(10)), false), Error);
  DepthwiseConv2d dw(DepthwiseOptions{3, 3, 1, 1});
  CHECK_THROWS_AS(dw.forward(Tensor<float>({1, 4, 4, 2}, std::vector<float>(32)), false), Error);
}

TEST_CASE("ReLU, ReLU6 and MaxPool2d backward match numerical gradients", "[nn]") {
  test::Rng rng(3);
  ReLU relu;
  check_layer(relu, Tensor<float>({2, 40}, spread_values(80, rng)), rng);
  ReLU6 relu6;
  std::vector<float> wide = spread_values(80, rng);
  for (float& v : wide) v *= 4.0f;  // reaches past 6
  check_layer(relu6, Tensor<float>({2, 40}, wide), rng);
  MaxPool2d pool(2);
  check_layer(pool, Tensor<float>({2, 4, 6, 3}, spread_values(144, rng)), rng);
  MaxPool2d overlapping(3, 2);
  check_layer(overlapping, Tensor<float>({1, 7, 5, 2}, spread_values(70, rng)), rng);
}

TEST_CASE("AvgPool2d averages windows as PyTorch does and backward matches", "[nn]") {
  // 3x3 ones, 3x3 window, stride 1, padding 1: a corner window holds 4 real taps of 9.
  AvgPool2d include_pad(3, 1, 1, true);
  AvgPool2d exclude_pad(3, 1, 1, false);
  const Tensor<float> ones({1, 3, 3, 1}, std::vector<float>(9, 1.0f));
  const Tensor<float> a = include_pad.forward(ones, false);
  const Tensor<float> b = exclude_pad.forward(ones, false);
  REQUIRE(a.dims == std::vector<std::size_t>{1, 3, 3, 1});
  CHECK(a.data[0] == Approx(4.0 / 9));
  CHECK(a.data[1] == Approx(6.0 / 9));
  CHECK(a.data[4] == Approx(1.0));
  for (float v : b.data) CHECK(v == Approx(1.0));
  test::Rng rng(7);
  AvgPool2d pool(2);
  check_layer(pool, Tensor<float>({2, 4, 6, 3}, rng.reals(144, -1, 1)), rng);
  check_layer(include_pad, Tensor<float>({1, 5, 4, 2}, rng.reals(40, -1, 1)), rng);
  AvgPool2d strided(3, 2, 1, false);
  check_layer(strided, Tensor<float>({2, 7, 5, 2}, rng.reals(140, -1, 1)), rng);
  CHECK_THROWS_AS(AvgPool2d(2, 2, 2), Error);
  CHECK_THROWS_AS(pool.forward(Tensor<float>({2, 5}, std::vector<float>(10)), false), Error);
}

TEST_CASE("Residual adds its branches and backward matches numerical gradients", "[nn]") {
  test::Rng rng(8);
  // Identity shortcut: y = conv(conv(x)) + x.
  Residual identity;
  identity.body().add<Conv2d>(Conv2dOptions{3, 3, 3, 1, 1});
  identity.body().add<Conv2d>(Conv2dOptions{3, 3, 1, 1, 0});
  // Projection shortcut that halves the image, as ResNet's downsampling blocks do.
  Residual projection;
  projection.body().add<Conv2d>(Conv2dOptions{3, 4, 3, 2, 1});
  projection.shortcut().add<Conv2d>(Conv2dOptions{3, 4, 1, 2, 0});
  std::mt19937 init(5);
  for (Residual* block : {&identity, &projection}) {
    block->initialize(init);
    for (Parameter* p : block->parameters()) {
      if (p->name == "bias") p->value = rng.reals(p->value.size(), -0.5f, 0.5f);
    }
  }
  CHECK(identity.parameters().size() == 4);
  CHECK(projection.parameters().size() == 4);
  const Tensor<float> x({2, 5, 4, 3}, rng.reals(120, -1, 1));
  const Tensor<float> y = identity.forward(x, false);
  const Tensor<float> body = identity.body().forward(x, false);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y.data[i] == body.data[i] + x.data[i]);
  check_layer(identity, x, rng);
  check_layer(projection, x, rng);
  Residual mismatched;
  mismatched.body().add<Conv2d>(Conv2dOptions{3, 4, 1, 1, 0});
  mismatched.initialize(init);
  CHECK_THROWS_AS(mismatched.forward(x, false), Error);
}

TEST_CASE("softmax cross-entropy gradient matches numerical gradients", "[nn]") {
  test::Rng rng(4);
  Tensor<float> logits({3, 4}, rng.reals(12, -2, 2));
  const std::vector<uint8_t> labels{1, 3, 0};
  const LossAndGradient lg = softmax_cross_entropy(logits, labels);
  check_gradient(
      logits.data, lg.grad.data, [&] { return double{softmax_cross_entropy(logits, labels).loss}; },
      "logits");
  const std::vector<uint8_t> out_of_range{1, 4, 0};
  CHECK_THROWS_AS(softmax_cross_entropy(logits, out_of_range), Error);
}

TEST_CASE("Sequential chains forward and backward through a small CNN", "[nn]") {
  test::Rng rng(5);
  Sequential model;
  model.add<Conv2d>(Conv2dOptions{1, 3, 3, 1, 1});
  model.add<ReLU>();
  model.add<MaxPool2d>(2);
  model.add<Flatten>();
  model.add<Linear>(3 * 2 * 2, 4);
  model.initialize(9);
  Tensor<float> x({2, 4, 4, 1}, rng.reals(32, -1, 1));
  const Tensor<float> y = model.forward(x, true);
  REQUIRE(y.dims == std::vector<std::size_t>{2, 4});
  const std::vector<float> r = rng.reals(y.size(), -1, 1);
  model.zero_grad();
  const Tensor<float> dx = model.backward(Tensor<float>(y.dims, r));
  check_gradient(
      x.data, dx.data, [&] { return weighted_sum(model.forward(x, false), r); }, "input");
}

TEST_CASE("layers reject inputs of the wrong shape", "[nn][errors]") {
  Linear linear(4, 2);
  CHECK_THROWS_AS(linear.forward(Tensor<float>({2, 3}, std::vector<float>(6)), false), Error);
  Conv2d conv(Conv2dOptions{2, 2, 3, 1, 0});
  CHECK_THROWS_AS(conv.forward(Tensor<float>({1, 4, 4, 3}, std::vector<float>(48)), false), Error);
  CHECK_THROWS_AS(conv.forward(Tensor<float>({1, 2, 4, 2}, std::vector<float>(16)), false), Error);
  CHECK_THROWS_AS(Conv2d(Conv2dOptions{2, 2, 0, 1, 0}), Error);
  CHECK_THROWS_AS(linear.backward(Tensor<float>({1, 2}, std::vector<float>(2))), Error);
}

}  // namespace
}  // namespace qinfer::nn
