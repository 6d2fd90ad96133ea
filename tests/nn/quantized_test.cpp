// SPDX-License-Identifier: Apache-2.0
// The int8 model's convolution and pooling steps against the scalar reference operators: a
// step on qinfer::conv2d (im2col chunks + packed GEMM, or the depthwise kernels) with its output
// stage must give reference::conv2d's result exactly.
#include "qinfer/nn/quantized.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <vector>

#include "qinfer/reference/conv.hpp"
#include "qinfer/reference/elementwise.hpp"
#include "qinfer/reference/pool.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace qinfer::nn {
namespace {

TEST_CASE("a quantized conv step computes reference::conv2d exactly", "[nn][quantized]") {
  test::Rng rng(31);
  for (int trial = 0; trial < 80; ++trial) {
    const bool depthwise = trial % 4 == 3;
    const std::size_t k = rng.size(1, 5), stride = rng.size(1, 3), pad = rng.size(0, k - 1);
    const std::size_t cin = rng.size(1, depthwise ? 40 : 9), batch = rng.size(1, 3);
    const std::size_t cout = depthwise ? cin : rng.size(1, 40), cpg = depthwise ? 1 : cin;
    const std::size_t h = rng.size(k, 17), w = rng.size(k, 17);
    QuantizedMatmul m;
    m.kernel = k;
    m.stride = stride;
    m.padding = pad;
    m.in_channels = cin;
    m.out_channels = cout;
    m.depthwise = depthwise;
    m.bits = trial % 2 == 0 ? 8 : 4;
    const int32_t qmax = m.bits == 8 ? 127 : 7;
    m.input = {0.02f, static_cast<int32_t>(rng.integer(0, 255))};
    m.dequantize = trial % 3 == 0;
    m.output = {0.05f, static_cast<int32_t>(rng.integer(0, 255))};
    m.clamp_min = static_cast<int32_t>(rng.integer(0, m.output.zero_point));
    m.clamp_max = 255;
    m.weight_scales = rng.reals(cout, 0.001f, 0.01f);
    // HWIO codes, the GEMM's [k * k * cin, cout] ([k * k, channels] when depthwise).
    m.weight_codes = rng.integers<int8_t>(k * k * cpg * cout, -qmax, qmax);
    const std::vector<int32_t> bias = rng.integers<int32_t>(cout, -5000, 5000);
    pack_quantized_weights(m, bias);
    set_multipliers(m);
    QuantizedSequential model;
    model.input = {1.0f / 255, 0};
    model.steps.emplace_back(m);
    if (!m.dequantize) {
      // Requantizing steps are observed through the output callback; a trailing 1x1 layer
      // that dequantizes ends the model.
      QuantizedMatmul last;
      last.kernel = 1;
      last.in_channels = cout;
      last.out_channels = 1;
      last.input = m.output;
      last.dequantize = true;
      last.weight_scales = {1.0f};
      last.weight_codes = std::vector<int8_t>(cout, 1);
      pack_quantized_weights(last, {0});
      set_multipliers(last);
      model.steps.emplace_back(last);
    }
    // Inputs exactly on the input grid, so that quantizing them gives the codes back.
    const std::vector<uint8_t> codes = rng.integers<uint8_t>(batch * h * w * cin, 0, 255);
    std::vector<float> x(codes.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = codes[i] / 255.0f;
    // The reference wants OHWI weights and the input's own zero point: requantize the image
    // codes into the step's input domain first.
    model.input = m.input;
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] =
          (static_cast<float>(codes[i]) - static_cast<float>(m.input.zero_point)) * m.input.scale;
    }
    std::vector<int8_t> ohwi(m.weight_codes.size());
    for (std::size_t t = 0; t < k * k * cpg; ++t) {
      for (std::size_t o = 0; o < cout; ++o)
        ohwi[o * k * k * cpg + t] = m.weight_codes[t * cout + o];
    }
    const reference::Conv2dShape shape{batch,
                                       cin,
                                       cout,
                                       depthwise ? cin : 1,
                                       {h, k, stride, 1, pad, pad},
                                       {w, k, stride, 1, pad, pad}};
    const int32_t zero = 0;
    const reference::GemmOffsets offsets{m.input.zero_point, Span<const int32_t>(&zero, 1), bias};
    const std::size_t outputs = batch * shape.h.output() * shape.w.output() * cout;
    INFO("trial " << trial << ": k " << k << " stride " << stride << " pad " << pad
                  << (depthwise ? " depthwise" : ""));
    if (m.dequantize) {
      std::vector<float> expected(outputs);
      reference::conv2d<uint8_t, int8_t>(shape, codes, ohwi, offsets,
                                         DequantizeFloat{m.multipliers}, expected);
      const Tensor<float> y = model.forward(Tensor<float>({batch, h, w, cin}, x));
      REQUIRE(y.data == expected);
    } else {
      std::vector<uint8_t> expected(outputs);
      reference::conv2d<uint8_t, int8_t>(
          shape, codes, ohwi, offsets,
          RequantizeFloat<uint8_t>{m.multipliers, m.output.zero_point, m.clamp_min, m.clamp_max},
          expected);
      std::vector<uint8_t> ours;
      model.forward(Tensor<float>({batch, h, w, cin}, x), {},
                    [&](const Tensor<uint8_t>& q, QuantParams) {
                      if (ours.empty()) ours = q.data;
                    });
      REQUIRE(ours == expected);
    }
  }
}

TEST_CASE("pack_quantized_weights rejects codes that do not fit the layer", "[nn][quantized]") {
  QuantizedMatmul m;
  m.kernel = 3;
  m.in_channels = 4;
  m.out_channels = 2;
  m.weight_codes.assign(3 * 3 * 4 * 2, 1);
  const std::vector<int32_t> bias(2);
  REQUIRE(test::error_of([&] { pack_quantized_weights(m, bias); }) == Errc::ok);
  m.weight_codes.assign(3 * 3 * 3 * 2, 1);  // [kernel^2 x 3, out]: one input channel short
  REQUIRE(test::error_of([&] { pack_quantized_weights(m, bias); }) == Errc::shape_mismatch);
  m.depthwise = true;  // depthwise wants [kernel^2, channels], and out == in channels
  m.weight_codes.assign(3 * 3 * 2, 1);
  REQUIRE(test::error_of([&] { pack_quantized_weights(m, bias); }) == Errc::shape_mismatch);
  m.in_channels = 2;
  REQUIRE(test::error_of([&] { pack_quantized_weights(m, bias); }) == Errc::ok);
  m.bits = 5;
  REQUIRE(test::error_of([&] { pack_quantized_weights(m, bias); }) == Errc::invalid_argument);
  m.bits = 4;  // codes of 1 fit 4 bits; 8 does not
  m.weight_codes[5] = 8;
  REQUIRE(test::error_of([&] { pack_quantized_weights(m, bias); }) != Errc::ok);
}

// A 1x1 step over `channels` with identity codes and unit scales: it dequantizes its input
// codes q to (q - zero point) * input scale, which with input scale 1 shows the codes exactly.
QuantizedMatmul identity_dequantizing(std::size_t channels, QuantParams input) {
  QuantizedMatmul m;
  m.kernel = 1;
  m.in_channels = m.out_channels = channels;
  m.input = input;
  m.dequantize = true;
  m.weight_scales.assign(channels, 1.0f);
  m.weight_codes.assign(channels * channels, 0);
  for (std::size_t c = 0; c < channels; ++c) m.weight_codes[c * channels + c] = 1;
  pack_quantized_weights(m, std::vector<int32_t>(channels));
  set_multipliers(m);
  return m;
}

TEST_CASE("a quantized average pool step computes reference::avg_pool2d exactly",
          "[nn][quantized]") {
  test::Rng rng(32);
  for (int trial = 0; trial < 40; ++trial) {
    const std::size_t k = rng.size(1, 4), stride = rng.size(1, 3), pad = rng.size(0, k - 1);
    const std::size_t c = rng.size(1, 7), batch = rng.size(1, 2);
    const std::size_t h = rng.size(k, 12), w = rng.size(k, 12);
    const bool include_pad = trial % 2 == 0;
    const QuantParams input{1.0f, static_cast<int32_t>(rng.integer(0, 255))};
    QuantizedSequential model;
    model.input = input;
    model.steps.emplace_back(QuantizedAvgPool{k, stride, pad, include_pad, input.zero_point});
    model.steps.emplace_back(identity_dequantizing(c, input));
    const std::vector<uint8_t> codes = rng.integers<uint8_t>(batch * h * w * c, 0, 255);
    std::vector<float> x(codes.size());
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<float>(codes[i]) - static_cast<float>(input.zero_point);
    reference::Pool2dShape shape;
    shape.batch = batch;
    shape.channels = c;
    shape.h = {h, k, stride, 1, pad, pad};
    shape.w = {w, k, stride, 1, pad, pad};
    shape.count_include_pad = include_pad;
    shape.zero_point = input.zero_point;
    std::vector<uint8_t> expected(batch * shape.h.output() * shape.w.output() * c);
    reference::avg_pool2d<uint8_t>(shape, codes, expected);
    const Tensor<float> y = model.forward(Tensor<float>({batch, h, w, c}, x));
    INFO("trial " << trial << ": k " << k << " stride " << stride << " pad " << pad);
    REQUIRE(y.size() == expected.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
      REQUIRE(y.data[i] == static_cast<float>(expected[i]) - static_cast<float>(input.zero_point));
    }
  }
}

TEST_CASE("a quantized residual block adds its branches with the reference add",
          "[nn][quantized]") {
  test::Rng rng(33);
  const std::size_t c = 6, h = 5, w = 4;
  const QuantParams input{0.03f, 17};
  // Body: one requantizing 3x3 conv; shortcut: identity, so the add reads the input codes.
  QuantizedMatmul conv;
  conv.kernel = 3;
  conv.padding = 1;
  conv.in_channels = conv.out_channels = c;
  conv.input = input;
  conv.output = {0.05f, 120};
  conv.weight_scales = rng.reals(c, 0.001f, 0.01f);
  conv.weight_codes = rng.integers<int8_t>(9 * c * c, -127, 127);
  pack_quantized_weights(conv, rng.integers<int32_t>(c, -3000, 3000));
  set_multipliers(conv);
  for (bool relu : {false, true}) {
    QuantizedResidual block;
    block.body.emplace_back(conv);
    block.body_output = conv.output;
    block.shortcut_output = input;
    block.output = {0.06f, 100};
    block.clamp_min = relu ? block.output.zero_point : 0;
    set_add_params(block);
    QuantizedSequential model;
    model.input = input;
    model.steps.emplace_back(block);
    model.steps.emplace_back(identity_dequantizing(c, block.output));
    const std::vector<uint8_t> codes = rng.integers<uint8_t>(2 * h * w * c, 0, 255);
    std::vector<float> x(codes.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = (static_cast<float>(codes[i]) - static_cast<float>(input.zero_point)) * input.scale;
    }
    std::vector<std::vector<uint8_t>> outputs;
    model.forward(Tensor<float>({2, h, w, c}, x), {},
                  [&](const Tensor<uint8_t>& q, QuantParams) { outputs.push_back(q.data); });
    REQUIRE(outputs.size() == 2);  // the body's conv, then the add
    std::vector<uint8_t> expected(codes.size());
    const reference::AddParams params = reference::make_add_params<uint8_t>(
        conv.output, input, block.output, {block.clamp_min, 255});
    reference::add<uint8_t>(params, outputs[0], codes, expected);
    CHECK(outputs[1] == expected);
    // Without the clamp some sums fall below the zero point; with it they stop there.
    const uint8_t lowest = *std::min_element(outputs[1].begin(), outputs[1].end());
    CHECK((relu ? lowest == block.output.zero_point : lowest < block.output.zero_point));
  }
  // A branch that changes the shape cannot be added.
  QuantizedResidual bad;
  QuantizedMatmul strided = conv;
  strided.stride = 2;
  bad.body.emplace_back(strided);
  bad.body_output = conv.output;
  bad.shortcut_output = input;
  bad.output = {0.06f, 100};
  set_add_params(bad);
  QuantizedSequential model;
  model.input = input;
  model.steps.emplace_back(bad);
  model.steps.emplace_back(identity_dequantizing(c, bad.output));
  CHECK_THROWS_AS(model.forward(Tensor<float>({1, h, w, c}, std::vector<float>(h * w * c))), Error);
}

}  // namespace
}  // namespace qinfer::nn
