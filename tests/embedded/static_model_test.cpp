// SPDX-License-Identifier: Apache-2.0
#include "qinfer/embedded/static_model.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/io/model_header.hpp"
#include "qinfer/nn/residual.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace qinfer {
namespace {

// `model` quantized at `bits` on random calibration images of `dims`.
nn::QuantizedSequential quantize(nn::Sequential& model, const std::vector<std::size_t>& dims,
                                 int bits, uint32_t seed) {
  model.initialize(seed);
  test::Rng rng(seed + 1);
  for (nn::Parameter* p : model.parameters()) {
    if (p->name == "bias") p->value = rng.reals(p->value.size(), -0.3f, 0.5f);
  }
  const std::size_t size = dims[0] * dims[1] * dims[2];
  train::Dataset calibration{dims, rng.reals(20 * size, 0, 1), std::vector<uint8_t>(20)};
  calib::PtqOptions o;
  o.weight_bits = bits;
  return calib::quantize_model(model, calibration, o).model;
}

// embedded::run on each image gives the float model's int8 twin's outputs, bit for bit.
void check_same_outputs(const nn::QuantizedSequential& model, const std::vector<std::size_t>& dims,
                        uint32_t seed) {
  const io::StaticModelData data(model, {dims[0], dims[1], dims[2]});
  const embedded::Model& m = data.model();
  const std::size_t size = dims[0] * dims[1] * dims[2], images = 5;
  test::Rng rng(seed);
  // Inputs past the calibrated range too, so that the input quantization saturates.
  const Tensor<float> x({images, dims[0], dims[1], dims[2]}, rng.reals(images * size, -0.2f, 1.3f));
  const Tensor<float> expected = model.forward(x);
  std::vector<uint8_t> workspace(embedded::workspace_size(m));
  std::vector<float> out(embedded::output_size(m));
  REQUIRE(expected.size() == images * out.size());
  for (std::size_t i = 0; i < images; ++i) {
    embedded::run(m, Span<const float>(x.data.data() + i * size, size), Span<uint8_t>(workspace),
                  Span<float>(out));
    CHECK(std::memcmp(out.data(), expected.data.data() + i * out.size(),
                      out.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("an embedded model computes its QuantizedSequential's outputs to the bit", "[embedded]") {
  SECTION("conv, max pool, 1x1 conv, ReLU6, linear layers; 8- and 4-bit weights") {
    for (int bits : {8, 4}) {
      INFO("bits " << bits);
      nn::Sequential model;
      model.add<nn::Conv2d>(nn::Conv2dOptions{3, 6, 3, 2, 1});
      model.add<nn::ReLU>();
      model.add<nn::MaxPool2d>(2);
      model.add<nn::Conv2d>(nn::Conv2dOptions{6, 5, 1, 1, 0});
      model.add<nn::ReLU6>();
      model.add<nn::Flatten>();
      model.add<nn::Linear>(3 * 3 * 5, 9);
      model.add<nn::ReLU>();
      model.add<nn::Linear>(9, 4);
      check_same_outputs(quantize(model, {13, 13, 3}, bits, 3), {13, 13, 3}, 4);
    }
  }
  SECTION("depthwise convolutions, average pooling with and without padded taps, global pool") {
    nn::Sequential model;
    model.add<nn::Conv2d>(nn::Conv2dOptions{2, 8, 3, 1, 1});
    model.add<nn::ReLU>();
    model.add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{8, 5, 2, 2});
    model.add<nn::ReLU6>();
    model.add<nn::AvgPool2d>(3, 1, 1, true);
    model.add<nn::Conv2d>(nn::Conv2dOptions{8, 7, 1, 1, 0});
    model.add<nn::AvgPool2d>(2, 2, 1, false);
    model.add<nn::GlobalAvgPool2d>();
    model.add<nn::Linear>(7, 3);
    check_same_outputs(quantize(model, {11, 9, 2}, 8, 5), {11, 9, 2}, 6);
  }
  SECTION("a last convolution dequantizes straight to float") {
    nn::Sequential model;
    model.add<nn::Conv2d>(nn::Conv2dOptions{1, 4, 3, 1, 0});
    model.add<nn::ReLU>();
    model.add<nn::Conv2d>(nn::Conv2dOptions{4, 2, 3, 1, 1});
    check_same_outputs(quantize(model, {7, 7, 1}, 8, 7), {7, 7, 1}, 8);
  }
}

TEST_CASE("embedded::run sizes its buffers and rejects what does not fit", "[embedded][errors]") {
  nn::Sequential float_model;
  float_model.add<nn::Conv2d>(nn::Conv2dOptions{1, 4, 3, 1, 1});
  float_model.add<nn::ReLU>();
  float_model.add<nn::MaxPool2d>(2);
  float_model.add<nn::Flatten>();
  float_model.add<nn::Linear>(4 * 4 * 4, 3);
  const io::StaticModelData data(quantize(float_model, {8, 8, 1}, 8, 9), {8, 8, 1});
  const embedded::Model& m = data.model();
  // The largest activation is the first convolution's 8 x 8 x 4 codes; two of them.
  CHECK(embedded::workspace_size(m) == 2 * 8 * 8 * 4);
  CHECK(embedded::output_size(m) == 3);

  std::vector<float> image(64, 0.5f), out(3);
  std::vector<uint8_t> workspace(embedded::workspace_size(m));
  const auto run = [&](const embedded::Model& model, std::size_t image_size,
                       std::size_t workspace_size, std::size_t out_size) {
    return test::error_of([&] {
      embedded::run(model, Span<const float>(image.data(), image_size),
                    Span<uint8_t>(workspace.data(), workspace_size),
                    Span<float>(out.data(), out_size));
    });
  };
  CHECK(run(m, 64, workspace.size(), 3) == Errc::ok);
  CHECK(run(m, 64, workspace.size() - 1, 3) == Errc::invalid_argument);
  CHECK(run(m, 63, workspace.size(), 3) == Errc::shape_mismatch);
  CHECK(run(m, 64, workspace.size(), 2) == Errc::shape_mismatch);
  image[5] = std::nanf("");
  CHECK(run(m, 64, workspace.size(), 3) == Errc::ok);  // NaN quantizes to the zero point, as ONNX

  // conv (its ReLU fused), max pool, flatten, linear
  REQUIRE(m.step_count == 4);
  std::vector<embedded::Step> steps(m.steps, m.steps + m.step_count);
  embedded::Model broken = m;
  broken.steps = steps.data();
  SECTION("a linear step on an activation that is not flat") {
    steps[2].kind = embedded::StepKind::max_pool;
    steps[2].kernel = 1;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::shape_mismatch);
    CHECK(embedded::workspace_size(broken) == 0);
  }
  SECTION("channels that do not chain") {
    steps[0].out_channels = 5;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::shape_mismatch);
  }
  SECTION("a last step that does not dequantize, or a dequantizing step before it") {
    steps[3].dequantize = false;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::invalid_argument);
    steps[3].dequantize = true;
    steps[0].dequantize = true;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::invalid_argument);
  }
  SECTION("a pooling window larger than its input") {
    steps[1].kernel = 9;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::shape_mismatch);
  }
  SECTION("a missing weight array or scale; a missing bias is none") {
    steps[0].bias = nullptr;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::ok);
    steps[0].weights = nullptr;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::null_pointer);
    steps[0].weights = m.steps[0].weights;
    steps[3].multipliers = nullptr;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::null_pointer);
    CHECK(embedded::output_size(broken) == 0);
  }
  SECTION("an invalid multiplier or zero point") {
    std::vector<float> multipliers(m.steps[0].multipliers, m.steps[0].multipliers + 4);
    multipliers[1] = -1.0f;
    steps[0].multipliers = multipliers.data();
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::invalid_scale);
    steps[0].multipliers = m.steps[0].multipliers;
    steps[0].input_zero_point = 256;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::invalid_zero_point);
  }
  SECTION("no steps") {
    broken.step_count = 0;
    CHECK(run(broken, 64, workspace.size(), 3) == Errc::invalid_argument);
  }
}

TEST_CASE("residual blocks have no embedded form", "[embedded][errors]") {
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 3, 3, 1, 1});
  auto& block = model.add<nn::Residual>();
  block.body().add<nn::Conv2d>(nn::Conv2dOptions{3, 3, 3, 1, 1});
  model.add<nn::Flatten>();
  model.add<nn::Linear>(5 * 5 * 3, 2);
  const nn::QuantizedSequential q = quantize(model, {5, 5, 1}, 8, 11);
  CHECK(test::error_of([&] { io::StaticModelData(q, {5, 5, 1}); }) == Errc::invalid_argument);
  // The input's extent is checked against the model too.
  nn::Sequential plain;
  plain.add<nn::Flatten>();
  plain.add<nn::Linear>(12, 2);
  const nn::QuantizedSequential p = quantize(plain, {2, 2, 3}, 8, 12);
  CHECK(test::error_of([&] { io::StaticModelData(p, {2, 3, 3}); }) == Errc::shape_mismatch);
}

TEST_CASE("the model header holds the model's values exactly", "[embedded][io]") {
  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 2, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::Flatten>();
  model.add<nn::Linear>(4 * 4 * 2, 3);
  const nn::QuantizedSequential q = quantize(model, {4, 4, 1}, 8, 13);
  const io::StaticModelData data(q, {4, 4, 1});
  io::HeaderSamples samples;
  samples.pixels.assign(2 * 16, 200);
  samples.labels = {1, 2};
  samples.outputs = {0.1f, 1e-30f, -3.5f, 65504.0f, 1.0f / 3.0f, -0.0f};
  const std::string text = io::write_model_header(data, "tiny", "tiny.qinfer", samples);
  CHECK(text.find("namespace tiny {") != std::string::npos);
  CHECK(text.find("workspace_size = " + std::to_string(embedded::workspace_size(data.model()))) !=
        std::string::npos);
  CHECK(text.find("sample_count = 2;") != std::string::npos);
  // Every float comes back from its hexadecimal literal unchanged.
  const std::size_t begin = text.find("expected_outputs[] = {");
  REQUIRE(begin != std::string::npos);
  const char* p = text.c_str() + text.find('{', begin) + 1;
  for (float expected : samples.outputs) {
    char* end = nullptr;
    const float parsed = std::strtof(p, &end);
    REQUIRE(end != p);
    CHECK(std::memcmp(&parsed, &expected, sizeof parsed) == 0);
    p = end + 2;  // past "f,"
  }
  CHECK(io::detail::int_literal(INT32_MIN) == "(-2147483647 - 1)");
  CHECK(io::write_model_header(data, "board::models", "a\nb", samples).find("from a b;") !=
        std::string::npos);
  for (const char* bad : {"", "a b", "1a", "a::", "::a", "a:b", "a:::b"}) {
    INFO(bad);
    CHECK(test::error_of([&] { io::write_model_header(data, bad, "x", samples); }) ==
          Errc::invalid_argument);
  }
  samples.outputs.pop_back();
  CHECK(test::error_of([&] { io::write_model_header(data, "tiny", "tiny.qinfer", samples); }) ==
        Errc::shape_mismatch);
}

}  // namespace
}  // namespace qinfer
