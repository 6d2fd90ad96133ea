// SPDX-License-Identifier: Apache-2.0
// The int8 model's convolution and pooling steps against the scalar reference operators: the
// model's im2col + packed GEMM + output stage must give reference::conv2d's result exactly.
#include "qinfer/nn/quantized.hpp"

#include <catch2/catch.hpp>
#include <vector>

#include "qinfer/reference/conv.hpp"
#include "support/random.hpp"

namespace qinfer::nn {
namespace {

TEST_CASE("a quantized conv step computes reference::conv2d exactly", "[nn][quantized]") {
  test::Rng rng(31);
  for (int trial = 0; trial < 60; ++trial) {
    const std::size_t k = rng.size(1, 5), stride = rng.size(1, 3), pad = rng.size(0, k - 1);
    const std::size_t cin = rng.size(1, 9), cout = rng.size(1, 40), batch = rng.size(1, 3);
    const std::size_t h = rng.size(k, 17), w = rng.size(k, 17);
    QuantizedMatmul m;
    m.kernel = k;
    m.stride = stride;
    m.padding = pad;
    m.in_channels = cin;
    m.out_channels = cout;
    m.bits = trial % 2 == 0 ? 8 : 4;
    const int32_t qmax = m.bits == 8 ? 127 : 7;
    m.input = {0.02f, static_cast<int32_t>(rng.integer(0, 255))};
    m.dequantize = trial % 3 == 0;
    m.output = {0.05f, static_cast<int32_t>(rng.integer(0, 255))};
    m.clamp_min = static_cast<int32_t>(rng.integer(0, m.output.zero_point));
    m.clamp_max = 255;
    m.weight_scales = rng.reals(cout, 0.001f, 0.01f);
    // HWIO codes, the GEMM's [k * k * cin, cout].
    m.weight_codes = rng.integers<int8_t>(k * k * cin * cout, -qmax, qmax);
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
    for (std::size_t t = 0; t < k * k * cin; ++t) {
      for (std::size_t o = 0; o < cout; ++o)
        ohwi[o * k * k * cin + t] = m.weight_codes[t * cout + o];
    }
    const reference::Conv2dShape shape{
        batch, cin, cout, 1, {h, k, stride, 1, pad, pad}, {w, k, stride, 1, pad, pad}};
    const int32_t zero = 0;
    const reference::GemmOffsets offsets{m.input.zero_point, Span<const int32_t>(&zero, 1), bias};
    const std::size_t outputs = batch * shape.h.output() * shape.w.output() * cout;
    INFO("trial " << trial << ": k " << k << " stride " << stride << " pad " << pad);
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

}  // namespace
}  // namespace qinfer::nn
