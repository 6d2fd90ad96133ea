// SPDX-License-Identifier: Apache-2.0
#include "qinfer/io/model_file.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/nn/residual.hpp"
#include "support/random.hpp"

namespace qinfer::io {
namespace {

// A small CNN with random weights, quantized at `bits` on random calibration images.
nn::QuantizedSequential quantized_cnn(int bits) {
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{2, 5, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Conv2d>(nn::Conv2dOptions{5, 3, 1, 1, 0});
  model.add<nn::ReLU6>();
  model.add<nn::Flatten>();
  model.add<nn::Linear>(3 * 3 * 3, 7);
  model.initialize(5);
  test::Rng rng(12);
  for (nn::Parameter* p : model.parameters()) {
    if (p->name == "bias") p->value = rng.reals(p->value.size(), -0.5f, 0.5f);
  }
  train::Dataset calibration{{6, 6, 2}, rng.reals(20 * 72, 0, 1), std::vector<uint8_t>(20)};
  calib::PtqOptions o;
  o.weight_bits = bits;
  return calib::quantize_model(model, calibration, o).model;
}

TEST_CASE("a saved model loads back and computes the same outputs", "[io][model_file]") {
  test::Rng rng(13);
  const Tensor<float> x({4, 6, 6, 2}, rng.reals(4 * 72, 0, 1));
  for (int bits : {8, 4}) {
    INFO("bits " << bits);
    const nn::QuantizedSequential model = quantized_cnn(bits);
    const std::vector<uint8_t> bytes = save_model(model);
    const nn::QuantizedSequential loaded = load_model(bytes);
    CHECK(loaded.steps.size() == model.steps.size());
    CHECK(loaded.forward(x).data == model.forward(x).data);
    CHECK(save_model(loaded) == bytes);
  }
  // Four bits store two codes per byte: the 4-bit file is about half the 8-bit one.
  CHECK(save_model(quantized_cnn(4)).size() < save_model(quantized_cnn(8)).size());
}

TEST_CASE("a MobileNet-style model quantizes and round-trips through the model file",
          "[io][model_file]") {
  // conv -> depthwise 3x3 (stride 2) -> pointwise 1x1 -> global average pool -> linear.
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 8, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{8, 3, 2, 1});
  model.add<nn::ReLU6>();
  model.add<nn::Conv2d>(nn::Conv2dOptions{8, 12, 1, 1, 0});
  model.add<nn::ReLU>();
  model.add<nn::GlobalAvgPool2d>();
  model.add<nn::Linear>(12, 4);
  model.initialize(9);
  test::Rng rng(14);
  for (nn::Parameter* p : model.parameters()) {
    if (p->name == "bias") p->value = rng.reals(p->value.size(), 0.0f, 0.3f);
  }
  train::Dataset calibration{{10, 10, 1}, rng.reals(50 * 100, 0, 1), std::vector<uint8_t>(50)};
  calib::PtqOptions o;
  o.bias_correction = true;
  const calib::PtqResult q = calib::quantize_model(model, calibration, o);
  // Every point, the depthwise one included, follows float closely: a wrong filter layout
  // would not.
  for (std::size_t p = 1; p < q.points.size(); ++p) {
    INFO(q.points[p].name);
    CHECK(q.points[p].sqnr_db > 25.0);
  }
  const Tensor<float> x({3, 10, 10, 1}, rng.reals(300, 0, 1));
  const std::vector<uint8_t> bytes = save_model(q.model);
  const nn::QuantizedSequential loaded = load_model(bytes);
  CHECK(loaded.forward(x).data == q.model.forward(x).data);
  CHECK(save_model(loaded) == bytes);
}

TEST_CASE("residual blocks and average pooling round-trip through the model file",
          "[io][model_file]") {
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{2, 6, 3, 1, 1});
  model.add<nn::ReLU>();
  auto& block = model.add<nn::Residual>();
  block.body().add<nn::Conv2d>(nn::Conv2dOptions{6, 6, 3, 1, 1});
  block.body().add<nn::ReLU6>();
  auto& inner = block.body().add<nn::Residual>();  // a block nested in a block
  inner.body().add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{6, 3, 1, 1});
  block.shortcut().add<nn::Conv2d>(nn::Conv2dOptions{6, 6, 1, 1, 0});
  model.add<nn::ReLU>();
  model.add<nn::AvgPool2d>(3, 2, 1, false);
  model.add<nn::Flatten>();
  model.add<nn::Linear>(3 * 3 * 6, 5);
  model.initialize(11);
  test::Rng rng(15);
  for (nn::Parameter* p : model.parameters()) {
    if (p->name == "bias") p->value = rng.reals(p->value.size(), -0.3f, 0.3f);
  }
  train::Dataset calibration{{6, 6, 2}, rng.reals(30 * 72, 0, 1), std::vector<uint8_t>(30)};
  for (int bits : {8, 4}) {
    INFO("bits " << bits);
    calib::PtqOptions o;
    o.weight_bits = bits;
    const calib::PtqResult q = calib::quantize_model(model, calibration, o);
    const Tensor<float> x({3, 6, 6, 2}, rng.reals(3 * 72, 0, 1));
    CHECK(calib::sqnr_db(model.forward(x).data, q.model.forward(x).data) > (bits == 8 ? 25 : 10));
    const std::vector<uint8_t> bytes = save_model(q.model);
    const nn::QuantizedSequential loaded = load_model(bytes);
    CHECK(loaded.forward(x).data == q.model.forward(x).data);
    CHECK(save_model(loaded) == bytes);
    CHECK(loaded.weight_bytes() == q.model.weight_bytes());
  }
}

TEST_CASE("the model file's CRC-32 is zlib's", "[io][model_file]") {
  const std::string text = "123456789";
  CHECK(crc32(Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())) ==
        0xcbf43926u);
}

TEST_CASE("corrupted, truncated and hostile model files are rejected", "[io][model_file][errors]") {
  const std::vector<uint8_t> good = save_model(quantized_cnn(8));
  // Every truncation.
  for (std::size_t n = 0; n < good.size(); n += 7) {
    const std::vector<uint8_t> prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(load_model(prefix), Error);
  }
  // Every single-bit flip is caught (by the CRC or the magic).
  for (std::size_t i = 0; i < good.size(); i += 13) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x10;
    CHECK_THROWS_AS(load_model(bad), Error);
  }
  // Well-formed CRC over hostile content: huge counts, bad scales, bad kinds.
  const auto rejected_with_valid_crc = [](std::vector<uint8_t> body) {
    body.resize(body.size() - 4);
    const uint32_t crc = crc32(body);
    for (int i = 0; i < 4; ++i) body.push_back(static_cast<uint8_t>(crc >> (8 * i)));
    CHECK_THROWS_AS(load_model(body), Error);
  };
  std::vector<uint8_t> hostile = good;
  hostile[12] = 0xff;  // step count 0xff...: more steps than bytes
  hostile[13] = 0xff;
  rejected_with_valid_crc(hostile);
  hostile = good;
  hostile[8] = 2;  // version
  rejected_with_valid_crc(hostile);
  hostile = good;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&hostile[16], &nan, 4);  // the input scale
  rejected_with_valid_crc(hostile);
  hostile = good;
  hostile[24] = 9;  // the first step's kind
  rejected_with_valid_crc(hostile);
  hostile = good;
  hostile[25] = 5;  // weight bits
  rejected_with_valid_crc(hostile);
  hostile = good;
  hostile[48] = 0xff;  // out channels of the first conv: 0xff000005, more than the bytes left
  rejected_with_valid_crc(hostile);
  hostile = good;
  hostile[44] = 0xff;  // in channels: the weight rows no longer match
  rejected_with_valid_crc(hostile);

  // Residual blocks: nesting past the limit, a body longer than the file, an empty body, and
  // scales whose ratio the add's fixed-point multipliers cannot hold.
  const auto residuals = [](int depth, uint32_t body, float output_scale) {
    detail::ByteWriter w;
    w.put_bytes(model_magic, sizeof model_magic);
    w.put(model_version);
    w.put(uint32_t{1});
    w.put(0.1f);
    w.put(int32_t{0});
    for (int d = 0; d < depth; ++d) {
      w.put(uint8_t{5});
      w.put(d + 1 < depth ? uint32_t{1} : body);
      w.put(uint32_t{0});
      for (float scale : {0.1f, 0.1f, output_scale}) {
        w.put(scale);
        w.put(int32_t{128});
      }
      w.put(int32_t{0});
      w.put(int32_t{255});
    }
    for (uint32_t i = 0; i < std::min(body, 4u); ++i) w.put(uint8_t{2});  // flatten steps
    w.put(crc32(w.bytes()));
    return w.bytes();
  };
  const auto load = [&](int depth, uint32_t body, float output_scale) {
    const std::vector<uint8_t> bytes = residuals(depth, body, output_scale);
    return load_model(bytes);
  };
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(load(1, 1, 0.1f), Contains("last step"));
  CHECK_THROWS_WITH(load(40, 1, 0.1f), Contains("nested too deep"));
  CHECK_THROWS_WITH(load(2, 0xffffff, 0.1f), Contains("truncated"));
  CHECK_THROWS_WITH(load(1, 0, 0.1f), Contains("body is empty"));
  CHECK_THROWS_WITH(load(1, 1, 1e-30f), Contains("multiplier"));
}

}  // namespace
}  // namespace qinfer::io
