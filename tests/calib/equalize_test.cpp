// SPDX-License-Identifier: Apache-2.0
#include "qinfer/calib/equalize.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/nn/residual.hpp"
#include "support/random.hpp"

namespace qinfer::calib {
namespace {

// A CNN whose first layer's channels have ranges 1000x apart, as real trained models have.
void build(nn::Sequential& model, bool relu6_in_the_middle) {
  model.add<nn::Conv2d>(nn::Conv2dOptions{2, 6, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Conv2d>(nn::Conv2dOptions{6, 4, 3, 1, 1});
  if (relu6_in_the_middle) {
    model.add<nn::ReLU6>();
  } else {
    model.add<nn::ReLU>();
  }
  model.add<nn::Flatten>();
  model.add<nn::Linear>(4 * 4 * 4, 5);
  model.initialize(7);
  auto& first = static_cast<nn::MatmulLayer&>(model[0]);
  for (std::size_t k = 0; k < first.depth(); ++k) {
    for (std::size_t c = 0; c < 6; ++c)
      first.weight().value[k * 6 + c] *= std::pow(4.0f, static_cast<float>(c) - 2.0f);
  }
  for (std::size_t c = 0; c < 6; ++c) first.bias().value[c] = 0.1f * static_cast<float>(c);
}

// Mean squared error of quantizing every conv / linear layer's weights per tensor at `bits`.
double per_tensor_weight_error(nn::Sequential& model, int bits) {
  double total = 0.0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i].kind() != nn::LayerKind::conv2d && model[i].kind() != nn::LayerKind::linear)
      continue;
    const auto& l = static_cast<const nn::MatmulLayer&>(model[i]);
    const std::vector<float>& w = l.weight().value;
    const int qmax = (1 << (bits - 1)) - 1;
    const float scale = weight_scale(w.data(), w.size(), 1, qmax, WeightRange::max_abs);
    total += channel_error(w.data(), w.size(), 1, scale, qmax) / static_cast<double>(w.size());
  }
  return total;
}

TEST_CASE("cross-layer equalization keeps the float function and evens the ranges",
          "[calib][cle]") {
  test::Rng rng(41);
  nn::Sequential model;
  build(model, false);
  const Tensor<float> x({3, 8, 8, 2}, rng.reals(3 * 8 * 8 * 2, -1, 1));
  const std::vector<float> before = model.forward(x).data;
  const double error_before = per_tensor_weight_error(model, 8);
  CHECK(equalize_cross_layer(model) == 2);
  const std::vector<float> after = model.forward(x).data;
  for (std::size_t i = 0; i < before.size(); ++i) {
    CHECK(after[i] == Approx(before[i]).epsilon(1e-4).margin(1e-5));
  }
  CHECK(per_tensor_weight_error(model, 8) < 0.5 * error_before);
  // The first pair's channel ranges end equal (its first layer belongs to no other pair).
  const auto& first = static_cast<const nn::MatmulLayer&>(model[0]);
  const auto& second = static_cast<const nn::MatmulLayer&>(model[3]);
  for (std::size_t c = 0; c < 6; ++c) {
    float r2 = 0.0f;
    for (std::size_t row = c; row < second.depth(); row += 6) {
      for (std::size_t o = 0; o < 4; ++o)
        r2 = std::max(r2, std::fabs(second.weight().value[row * 4 + o]));
    }
    float r1 = 0.0f;
    for (std::size_t k = 0; k < first.depth(); ++k)
      r1 = std::max(r1, std::fabs(first.weight().value[k * 6 + c]));
    CHECK(r1 == Approx(r2).epsilon(0.05));
  }
}

TEST_CASE("cross-layer equalization runs through depthwise-separable chains", "[calib][cle]") {
  test::Rng rng(43);
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{2, 6, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{6, 3, 2, 1});
  model.add<nn::ReLU>();
  model.add<nn::Conv2d>(nn::Conv2dOptions{6, 5, 1, 1, 0});
  model.add<nn::ReLU>();
  model.add<nn::GlobalAvgPool2d>();
  model.add<nn::Linear>(5, 3);
  model.initialize(11);
  for (nn::Parameter* p : model.parameters()) {
    if (p->name == "bias") p->value = rng.reals(p->value.size(), -0.2f, 0.5f);
  }
  auto& dw = static_cast<nn::MatmulLayer&>(model[2]);
  for (std::size_t t = 0; t < 9; ++t) {
    for (std::size_t c = 0; c < 6; ++c)
      dw.weight().value[t * 6 + c] *= std::pow(5.0f, static_cast<float>(c) - 3.0f);
  }
  const Tensor<float> x({2, 8, 8, 2}, rng.reals(256, -1, 1));
  const std::vector<float> before = model.forward(x).data;
  // What equalization is for: per-tensor int8 weights, judged by the logits' SQNR.
  train::Dataset calibration{{8, 8, 2}, rng.reals(64 * 128, -1, 1), std::vector<uint8_t>(64)};
  PtqOptions per_tensor;
  per_tensor.per_channel = false;
  const double sqnr_before = quantize_model(model, calibration, per_tensor).points.back().sqnr_db;
  // conv -> dw and dw -> pointwise; the global pool stops the chain.
  CHECK(equalize_cross_layer(model) == 2);
  const std::vector<float> after = model.forward(x).data;
  for (std::size_t i = 0; i < before.size(); ++i) {
    CHECK(after[i] == Approx(before[i]).epsilon(1e-4).margin(1e-5));
  }
  const double sqnr_after = quantize_model(model, calibration, per_tensor).points.back().sqnr_db;
  INFO("per-tensor int8 logits SQNR " << sqnr_before << " dB -> " << sqnr_after << " dB");
  CHECK(sqnr_after > sqnr_before + 6.0);
}

TEST_CASE("cross-layer equalization works inside residual blocks, not across the add",
          "[calib][cle]") {
  test::Rng rng(43);
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{2, 4, 3, 1, 1});
  auto& block = model.add<nn::Residual>();
  block.body().add<nn::Conv2d>(nn::Conv2dOptions{4, 6, 3, 1, 1});
  block.body().add<nn::ReLU>();
  block.body().add<nn::Conv2d>(nn::Conv2dOptions{6, 4, 1, 1, 0});
  model.add<nn::ReLU>();
  model.add<nn::Flatten>();
  model.add<nn::Linear>(5 * 5 * 4, 3);
  model.initialize(5);
  auto& wide = static_cast<nn::MatmulLayer&>(block.body()[0]);
  for (std::size_t k = 0; k < wide.depth(); ++k) {
    for (std::size_t c = 0; c < 6; ++c)
      wide.weight().value[k * 6 + c] *= std::pow(4.0f, static_cast<float>(c) - 2.0f);
  }
  const Tensor<float> x({2, 5, 5, 2}, rng.reals(2 * 5 * 5 * 2, -1, 1));
  const std::vector<float> before = model.forward(x).data;
  // Only the pair inside the body: the stem feeds the add, and so does the body's last layer.
  CHECK(equalize_cross_layer(model) == 1);
  const std::vector<float> after = model.forward(x).data;
  for (std::size_t i = 0; i < before.size(); ++i) {
    CHECK(after[i] == Approx(before[i]).epsilon(1e-4).margin(1e-5));
  }
  // Each channel's range is now the same in both layers of the pair.
  const auto& narrow = static_cast<const nn::MatmulLayer&>(block.body()[2]);
  for (std::size_t c = 0; c < 6; ++c) {
    float r1 = 0.0f, r2 = 0.0f;
    for (std::size_t k = 0; k < wide.depth(); ++k)
      r1 = std::max(r1, std::fabs(wide.weight().value[k * 6 + c]));
    for (std::size_t o = 0; o < 4; ++o)
      r2 = std::max(r2, std::fabs(narrow.weight().value[c * 4 + o]));
    CHECK(r1 == Approx(r2).epsilon(0.05));
  }
}

TEST_CASE("cross-layer equalization leaves pairs across a ReLU6 alone", "[calib][cle]") {
  nn::Sequential model;
  build(model, true);
  CHECK(equalize_cross_layer(model) == 1);
}

TEST_CASE("bias correction removes the mean output shift of weight quantization", "[calib][bias]") {
  test::Rng rng(42);
  nn::Sequential model;
  build(model, false);
  train::Dataset calibration{{8, 8, 2}, rng.reals(200 * 128, 0, 1), std::vector<uint8_t>(200)};
  PtqOptions o;
  o.weight_bits = 4;
  o.per_channel = false;
  const PtqResult plain = quantize_model(model, calibration, o);
  o.bias_correction = true;
  const PtqResult corrected = quantize_model(model, calibration, o);
  // Mean over the calibration images of each logit's error; its average magnitude.
  std::vector<std::size_t> all(200);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const Tensor<float> x = calibration.batch(all.data(), all.size());
  const std::vector<float> reference = model.forward(x).data;
  const auto mean_shift = [&](const PtqResult& q) {
    const std::vector<float> y = q.model.forward(x).data;
    double total = 0.0;
    for (std::size_t c = 0; c < 5; ++c) {
      double shift = 0.0;
      for (std::size_t i = 0; i < all.size(); ++i) shift += y[i * 5 + c] - reference[i * 5 + c];
      total += std::fabs(shift / static_cast<double>(all.size()));
    }
    return total / 5.0;
  };
  const double before = mean_shift(plain), after = mean_shift(corrected);
  INFO("mean logit shift " << before << " -> " << after);
  CHECK(after < 0.5 * before);
}

}  // namespace
}  // namespace qinfer::calib
