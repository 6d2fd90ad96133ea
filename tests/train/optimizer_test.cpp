// SPDX-License-Identifier: Apache-2.0
#include "qinfer/train/optimizer.hpp"

#include <catch2/catch.hpp>
#include <cmath>

#include "qinfer/nn/linear.hpp"
#include "qinfer/train/loop.hpp"

namespace qinfer::train {
namespace {

// Steps f(p) = sum (p_i - target_i)^2 from p = 0 and returns the final distance to the target.
template <class Optimizer>
float minimize_quadratic(Optimizer& optimizer, nn::Parameter& p, int steps) {
  const float target[] = {1.0f, -2.0f, 0.5f};
  for (int s = 0; s < steps; ++s) {
    for (std::size_t i = 0; i < 3; ++i) p.grad[i] = 2.0f * (p.value[i] - target[i]);
    optimizer.step();
  }
  float distance = 0.0f;
  for (std::size_t i = 0; i < 3; ++i) distance += std::fabs(p.value[i] - target[i]);
  return distance;
}

TEST_CASE("SGD with momentum and Adam minimise a quadratic", "[train]") {
  nn::Parameter a("a", {3});
  Sgd sgd({&a}, 0.05f, 0.9f);
  CHECK(minimize_quadratic(sgd, a, 300) < 1e-3f);
  nn::Parameter b("b", {3});
  Adam adam({&b}, 0.05f);
  CHECK(minimize_quadratic(adam, b, 600) < 1e-2f);
}

TEST_CASE("Adam's first step moves each parameter by the learning rate", "[train]") {
  nn::Parameter p("p", {2});
  p.grad = {10.0f, -0.001f};
  Adam adam({&p}, 0.1f);
  adam.step();
  CHECK(p.value[0] == Approx(-0.1f));
  CHECK(p.value[1] == Approx(0.1f).epsilon(1e-3));
}

TEST_CASE("learning-rate schedules", "[train]") {
  CHECK(cosine_learning_rate(0.1f, 0, 10) == Approx(0.1f));
  CHECK(cosine_learning_rate(0.1f, 5, 10) == Approx(0.05f));
  CHECK(cosine_learning_rate(0.1f, 10, 10) == 0.0f);
  CHECK(cosine_learning_rate(0.1f, 2, 3) == Approx(0.025f));
  CHECK(step_learning_rate(1.0f, 9, 10, 0.5f) == 1.0f);
  CHECK(step_learning_rate(1.0f, 25, 10, 0.5f) == Approx(0.25f));
}

TEST_CASE("train_epoch shuffles reproducibly and fits a separable problem", "[train]") {
  // Two classes on either side of x0 + x1 = 0.
  Dataset data{{2}, {}, {}};
  for (int i = 0; i < 200; ++i) {
    const float x0 = static_cast<float>(i % 20) / 10.0f - 0.95f,
                x1 = static_cast<float>(i / 20) / 5.0f - 0.9f;
    data.values.push_back(x0);
    data.values.push_back(x1);
    data.labels.push_back(x0 + x1 > 0 ? 1 : 0);
  }
  const auto fit = [&] {
    nn::Sequential model;
    model.add<nn::Linear>(2, 2);
    model.initialize(4);
    Sgd sgd(model.parameters(), 0.5f);
    for (std::size_t e = 0; e < 20; ++e) train_epoch(model, sgd, data, {16, 9, e});
    return model.forward(data.batch(std::vector<std::size_t>{0, 57, 199}.data(), 3)).data;
  };
  const std::vector<float> first = fit();
  CHECK(fit() == first);
  nn::Sequential model;
  model.add<nn::Linear>(2, 2);
  model.initialize(4);
  Sgd sgd(model.parameters(), 0.5f);
  for (std::size_t e = 0; e < 20; ++e) train_epoch(model, sgd, data, {16, 9, e});
  CHECK(accuracy([&](const Tensor<float>& x) { return model.forward(x); }, data) > 0.97);
}

}  // namespace
}  // namespace qinfer::train
