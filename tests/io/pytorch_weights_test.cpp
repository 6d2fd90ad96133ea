// SPDX-License-Identifier: Apache-2.0
// PyTorch's names and layouts: weights written as PyTorch stores them (OIHW convolutions,
// [out, in] linear layers, CHW flattening) give, after loading, the outputs a PyTorch-semantics
// forward pass computes from the same numbers.
#include "qinfer/io/pytorch_weights.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/depthwise.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/residual.hpp"
#include "support/random.hpp"

namespace qinfer::io {
namespace {

constexpr std::size_t h = 4, w = 4, cin = 2, cout = 3, k = 3, outputs = 4;

void build(nn::Sequential& model) {
  model.add<nn::Conv2d>(nn::Conv2dOptions{cin, cout, k, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Flatten>();
  model.add<nn::Linear>(cout * 2 * 2, outputs);
}

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The forward pass as PyTorch defines it, on an NCHW image.
std::vector<float> pytorch_forward(const std::vector<float>& x_chw,
                                   const std::vector<float>& conv_w,
                                   const std::vector<float>& conv_b, const std::vector<float>& fc_w,
                                   const std::vector<float>& fc_b) {
  std::vector<float> y(cout * h * w);
  for (std::size_t co = 0; co < cout; ++co) {
    for (std::size_t i = 0; i < h; ++i) {
      for (std::size_t j = 0; j < w; ++j) {
        float s = conv_b[co];
        for (std::size_t ci = 0; ci < cin; ++ci) {
          for (std::size_t ky = 0; ky < k; ++ky) {
            for (std::size_t kx = 0; kx < k; ++kx) {
              const auto yy = static_cast<std::ptrdiff_t>(i + ky) - 1,
                         xx = static_cast<std::ptrdiff_t>(j + kx) - 1;
              if (yy < 0 || xx < 0 || yy >= static_cast<std::ptrdiff_t>(h) ||
                  xx >= static_cast<std::ptrdiff_t>(w))
                continue;
              s +=
                  conv_w[((co * cin + ci) * k + ky) * k + kx] *
                  x_chw[(ci * h + static_cast<std::size_t>(yy)) * w + static_cast<std::size_t>(xx)];
            }
          }
        }
        y[(co * h + i) * w + j] = std::max(s, 0.0f);
      }
    }
  }
  std::vector<float> flat(cout * 2 * 2);  // max pool 2, flattened (c, h, w)
  for (std::size_t c = 0; c < cout; ++c) {
    for (std::size_t i = 0; i < 2; ++i) {
      for (std::size_t j = 0; j < 2; ++j) {
        const float* p = &y[(c * h + 2 * i) * w + 2 * j];
        flat[(c * 2 + i) * 2 + j] = std::max({p[0], p[1], p[w], p[w + 1]});
      }
    }
  }
  std::vector<float> out(outputs);
  for (std::size_t o = 0; o < outputs; ++o) {
    out[o] = fc_b[o];
    for (std::size_t f = 0; f < flat.size(); ++f) out[o] += fc_w[o * flat.size() + f] * flat[f];
  }
  return out;
}

TEST_CASE("weights in PyTorch layouts give PyTorch's outputs", "[io][pytorch]") {
  test::Rng rng(11);
  const std::vector<float> conv_w = rng.reals(cout * cin * k * k, -1, 1),
                           conv_b = rng.reals(cout, -1, 1);
  const std::vector<float> fc_w = rng.reals(outputs * cout * 4, -1, 1),
                           fc_b = rng.reals(outputs, -1, 1);
  const std::vector<uint8_t> file = write_safetensors({
      {"conv1.weight", Dtype::f32, {cout, cin, k, k}, bytes_of(conv_w)},
      {"conv1.bias", Dtype::f32, {cout}, bytes_of(conv_b)},
      {"fc1.weight", Dtype::f32, {outputs, cout * 4}, bytes_of(fc_w)},
      {"fc1.bias", Dtype::f32, {outputs}, bytes_of(fc_b)},
  });
  nn::Sequential model;
  build(model);
  const std::vector<std::string> names{"conv1", "fc1"};
  load_pytorch_weights(model, Safetensors::parse(file), names, {h, w, cin});

  const std::vector<float> x_hwc = rng.reals(h * w * cin, -1, 1);
  std::vector<float> x_chw(x_hwc.size());
  for (std::size_t i = 0; i < h * w; ++i) {
    for (std::size_t c = 0; c < cin; ++c) x_chw[c * h * w + i] = x_hwc[i * cin + c];
  }
  const std::vector<float> ours = model.forward(Tensor<float>({1, h, w, cin}, x_hwc)).data;
  const std::vector<float> theirs = pytorch_forward(x_chw, conv_w, conv_b, fc_w, fc_b);
  for (std::size_t o = 0; o < outputs; ++o) CHECK(ours[o] == Approx(theirs[o]).margin(1e-5));

  // Saving writes the same PyTorch tensors back.
  const Safetensors saved =
      Safetensors::parse(save_pytorch_weights(model, names, {h, w, cin}, {{"k", "v"}}));
  CHECK(saved.to_float(*saved.find("conv1.weight")) == conv_w);
  CHECK(saved.to_float(*saved.find("fc1.weight")) == fc_w);
  CHECK(saved.to_float(*saved.find("fc1.bias")) == fc_b);
  CHECK(saved.find("fc1.weight")->shape == std::vector<std::size_t>{outputs, cout * 4});
}

TEST_CASE("depthwise weights round-trip through PyTorch's [C, 1, k, k] layout", "[io][pytorch]") {
  test::Rng rng(12);
  const std::vector<float> filters = rng.reals(3 * 9, -1, 1), b = rng.reals(3, -1, 1);
  nn::Sequential model;
  model.add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{3, 3, 1, 1});
  load_pytorch_weights(model,
                       Safetensors::parse(write_safetensors(
                           {{"dw.weight", Dtype::f32, {3, 1, 3, 3}, bytes_of(filters)},
                            {"dw.bias", Dtype::f32, {3}, bytes_of(b)}})),
                       {"dw"}, {4, 4, 3});
  // PyTorch's output at pixel (1, 1), channel c: the 3x3 window of channel c times its filter.
  const std::vector<float> x = rng.reals(4 * 4 * 3, -1, 1);
  const std::vector<float> y = model.forward(Tensor<float>({1, 4, 4, 3}, x)).data;
  for (std::size_t c = 0; c < 3; ++c) {
    float expected = b[c];
    for (std::size_t ky = 0; ky < 3; ++ky) {
      for (std::size_t kx = 0; kx < 3; ++kx)
        expected += filters[c * 9 + ky * 3 + kx] * x[(ky * 4 + kx) * 3 + c];
    }
    CHECK(y[(1 * 4 + 1) * 3 + c] == Approx(expected).margin(1e-5));
  }
  const Safetensors saved = Safetensors::parse(save_pytorch_weights(model, {"dw"}, {4, 4, 3}));
  CHECK(saved.to_float(*saved.find("dw.weight")) == filters);
  CHECK(saved.find("dw.weight")->shape == std::vector<std::size_t>{3, 1, 3, 3});
}

TEST_CASE("a residual block's layers take names body first, then shortcut", "[io][pytorch]") {
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{2, 4, 3, 1, 1});
  auto& block = model.add<nn::Residual>();
  block.body().add<nn::Conv2d>(nn::Conv2dOptions{4, 4, 3, 2, 1});
  block.shortcut().add<nn::Conv2d>(nn::Conv2dOptions{4, 4, 1, 2, 0});
  model.add<nn::Flatten>();
  model.add<nn::Linear>(2 * 2 * 4, 3);
  model.initialize(3);
  const std::vector<std::string> names{"conv1", "layer1.0.conv1", "layer1.0.downsample.0", "fc"};
  const Safetensors saved = Safetensors::parse(save_pytorch_weights(model, names, {4, 4, 2}));
  CHECK(saved.find("layer1.0.conv1.weight")->shape == std::vector<std::size_t>{4, 4, 3, 3});
  CHECK(saved.find("layer1.0.downsample.0.weight")->shape == std::vector<std::size_t>{4, 4, 1, 1});
  // The linear layer after the block's [2, 2, 4] output takes PyTorch's (c, h, w) features.
  CHECK(saved.find("fc.weight")->shape == std::vector<std::size_t>{3, 16});
  nn::Sequential copy;
  copy.add<nn::Conv2d>(nn::Conv2dOptions{2, 4, 3, 1, 1});
  auto& copied = copy.add<nn::Residual>();
  copied.body().add<nn::Conv2d>(nn::Conv2dOptions{4, 4, 3, 2, 1});
  copied.shortcut().add<nn::Conv2d>(nn::Conv2dOptions{4, 4, 1, 2, 0});
  copy.add<nn::Flatten>();
  copy.add<nn::Linear>(2 * 2 * 4, 3);
  load_pytorch_weights(copy, saved, names, {4, 4, 2});
  test::Rng rng(14);
  const Tensor<float> x({2, 4, 4, 2}, rng.reals(64, -1, 1));
  CHECK(copy.forward(x).data == model.forward(x).data);
}

TEST_CASE("loading rejects missing tensors and wrong shapes", "[io][pytorch][errors]") {
  nn::Sequential model;
  build(model);
  const std::vector<float> four(4), three(3);
  const Safetensors missing =
      Safetensors::parse(write_safetensors({{"conv1.bias", Dtype::f32, {3}, bytes_of(three)}}));
  CHECK_THROWS_AS(load_pytorch_weights(model, missing, {"conv1", "fc1"}, {h, w, cin}), Error);
  CHECK_THROWS_AS(load_pytorch_weights(model, missing, {"conv1"}, {h, w, cin}), Error);
  const std::vector<float> wrong(cout * cin * k * k);
  const Safetensors transposed = Safetensors::parse(
      write_safetensors({{"conv1.weight", Dtype::f32, {cin, cout, k, k}, bytes_of(wrong)},
                         {"conv1.bias", Dtype::f32, {cout}, bytes_of(three)}}));
  CHECK_THROWS_AS(load_pytorch_weights(model, transposed, {"conv1", "fc1"}, {h, w, cin}), Error);
}

}  // namespace
}  // namespace qinfer::io
