// SPDX-License-Identifier: Apache-2.0
// Post-training quantization end to end: a small CNN trained briefly on a subset of
// Fashion-MNIST keeps its accuracy through int8 PTQ, and the int8 model's logits follow the
// float model's.
#include "qinfer/calib/ptq.hpp"
#include "qinfer/calib/qat.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include "qinfer/io/idx.hpp"
#include "qinfer/nn/loss.hpp"
#include "qinfer/nn/residual.hpp"
#include "qinfer/train/optimizer.hpp"
#include "support/random.hpp"

namespace qinfer::calib {
namespace {

io::IdxArray read_idx(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                   std::istreambuf_iterator<char>());
  return io::parse_idx(bytes);
}

// The first `count` examples of a Fashion-MNIST split, scaled to [0, 1].
train::Dataset fashion_mnist(const std::string& split, std::size_t count) {
  const std::string dir = QINFER_FASHION_MNIST_DIR;
  const io::IdxArray images = read_idx(dir + "/" + split + "-images-idx3-ubyte");
  const io::IdxArray labels = read_idx(dir + "/" + split + "-labels-idx1-ubyte");
  train::Dataset d;
  d.example_dims = {28, 28, 1};
  d.values.resize(count * 784);
  for (std::size_t i = 0; i < d.values.size(); ++i) d.values[i] = images.data.at(i) / 255.0f;
  d.labels.assign(labels.data.begin(), labels.data.begin() + static_cast<std::ptrdiff_t>(count));
  return d;
}

// The first `count` examples of `data` as one batch.
Tensor<float> first_examples(const train::Dataset& data, std::size_t count) {
  std::vector<std::size_t> indices(count);
  for (std::size_t i = 0; i < count; ++i) indices[i] = i;
  return data.batch(indices.data(), count);
}

// On how many examples of x the float model and the int8 model predict the same class.
std::size_t same_predictions(nn::Sequential& model, const nn::QuantizedSequential& int8,
                             const Tensor<float>& x) {
  const std::vector<uint8_t> a = nn::predictions(model.forward(x)),
                             b = nn::predictions(int8.forward(x));
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return same;
}

void build_cnn(nn::Sequential& model) {
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 4, 3, 2, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Flatten>();
  model.add<nn::Linear>(7 * 7 * 4, 32);
  model.add<nn::ReLU6>();
  model.add<nn::Linear>(32, 10);
  model.initialize(3);
}

// The small CNN, trained for two epochs on `train_set`.
void train_small_cnn(nn::Sequential& model, const train::Dataset& train_set) {
  build_cnn(model);
  train::Adam adam(model.parameters(), 3e-3f);
  for (std::size_t epoch = 0; epoch < 2; ++epoch) {
    train::train_epoch(model, adam, train_set, {32, 5, epoch});
  }
}

TEST_CASE("PTQ keeps a small CNN's Fashion-MNIST accuracy", "[calib][ptq]") {
  const train::Dataset train_set = fashion_mnist("train", 3000);
  const train::Dataset test_set = fashion_mnist("t10k", 1000);
  nn::Sequential model;
  train_small_cnn(model, train_set);
  const auto float_model = [&](const Tensor<float>& x) { return model.forward(x); };
  const double fp32 = train::accuracy(float_model, test_set);
  INFO("fp32 accuracy " << fp32);
  REQUIRE(fp32 > 0.70);

  const train::Dataset calibration = fashion_mnist("train", 500);
  for (Calibration c :
       {Calibration::min_max, Calibration::percentile, Calibration::entropy, Calibration::mse}) {
    PtqOptions o;
    o.calibration = c;
    const PtqResult q = quantize_model(model, calibration, o);
    const auto int8_model = [&](const Tensor<float>& x) { return q.model.forward(x); };
    const double int8 = train::accuracy(int8_model, test_set);
    INFO(calibration_name(c) << " int8 accuracy " << int8);
    CHECK(int8 > fp32 - 0.02);
    // Input, the first conv and the first linear layer are quantization points, then the
    // logits' SQNR.
    REQUIRE(q.points.size() == 4);
    CHECK(q.points[0].params.zero_point == 0);
    CHECK(q.points[1].range.min == 0.0f);  // after a ReLU
    CHECK(q.points[2].range.max <= 6.0f);  // after a ReLU6
    for (std::size_t p = 1; p < 4; ++p) {
      INFO(q.points[p].name);
      CHECK(q.points[p].sqnr_db > 20.0);
    }
    CHECK(q.points[3].name == "logits");
    CHECK(q.model.weight_bytes() < 4 * (7 * 7 * 4 * 32 + 32 * 10) / 3);
    const Tensor<float> x = first_examples(test_set, 64);
    CHECK(sqnr_db(model.forward(x).data, q.model.forward(x).data) > 20.0);
  }
  PtqOptions four_bit;
  four_bit.weight_bits = 4;
  four_bit.weight_range = WeightRange::mse;
  const PtqResult q4 = quantize_model(model, calibration, four_bit);
  CHECK(train::accuracy([&](const Tensor<float>& x) { return q4.model.forward(x); }, test_set) >
        fp32 - 0.05);
}

TEST_CASE("QAT recovers what a poor 4-bit PTQ loses", "[calib][qat]") {
  const train::Dataset train_set = fashion_mnist("train", 3000);
  const train::Dataset test_set = fashion_mnist("t10k", 1000);
  nn::Sequential model;
  train_small_cnn(model, train_set);
  const train::Dataset calibration = fashion_mnist("train", 500);
  // Deliberately poor: 4-bit weights with one max-abs scale per layer.
  PtqOptions poor;
  poor.weight_bits = 4;
  poor.per_channel = false;
  const PtqResult ptq = quantize_model(model, calibration, poor);
  const double ptq_accuracy =
      train::accuracy([&](const Tensor<float>& x) { return ptq.model.forward(x); }, test_set);

  prepare_qat(model, calibration, poor);
  // A fake quantizer at the input and after each of the two hidden groups.
  std::size_t fake = 0;
  for (std::size_t i = 0; i < model.size(); ++i)
    fake += model[i].kind() == nn::LayerKind::fake_quantize;
  CHECK(fake == 3);
  CHECK_THROWS_AS(prepare_qat(model, calibration, poor), Error);
  train::Adam fine_tune(model.parameters(), 1e-3f);
  train::train_epoch(model, fine_tune, train_set, {32, 6, 0});
  freeze_qat(model);
  const PtqResult qat = quantize_model(model, calibration, poor);
  const double qat_accuracy =
      train::accuracy([&](const Tensor<float>& x) { return qat.model.forward(x); }, test_set);
  INFO("4-bit PTQ " << ptq_accuracy << ", after QAT " << qat_accuracy);
  CHECK(qat_accuracy > ptq_accuracy);
  // The int8 model computes what the fake-quantized float model trained: same predictions on
  // nearly every image.
  CHECK(same_predictions(model, qat.model, first_examples(test_set, 200)) >= 196);
}

// A small ResNet: a stem, an identity block, a downsampling block with a 1x1 projection,
// average pooling and a classifier; small enough to train in seconds under qemu too.
void build_resnet(nn::Sequential& model) {
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 8, 3, 2, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);  // 7x7
  auto& identity = model.add<nn::Residual>();
  identity.body().add<nn::Conv2d>(nn::Conv2dOptions{8, 8, 3, 1, 1});
  identity.body().add<nn::ReLU>();
  identity.body().add<nn::Conv2d>(nn::Conv2dOptions{8, 8, 3, 1, 1});
  model.add<nn::ReLU>();
  auto& down = model.add<nn::Residual>();
  down.body().add<nn::Conv2d>(nn::Conv2dOptions{8, 16, 3, 2, 1});
  down.body().add<nn::ReLU>();
  down.body().add<nn::Conv2d>(nn::Conv2dOptions{16, 16, 3, 1, 1});
  down.shortcut().add<nn::Conv2d>(nn::Conv2dOptions{8, 16, 1, 2, 0});
  model.add<nn::ReLU>();
  model.add<nn::AvgPool2d>(2, 2, 1);  // 4x4 -> 3x3, padded taps counted as zeros
  model.add<nn::Flatten>();
  model.add<nn::Linear>(3 * 3 * 16, 10);
  model.initialize(4);
}

TEST_CASE("PTQ and QAT carry residual blocks and average pooling", "[calib][ptq][qat]") {
  const train::Dataset train_set = fashion_mnist("train", 3000);
  const train::Dataset test_set = fashion_mnist("t10k", 1000);
  nn::Sequential model;
  build_resnet(model);
  train::Adam adam(model.parameters(), 3e-3f);
  for (std::size_t epoch = 0; epoch < 2; ++epoch) {
    train::train_epoch(model, adam, train_set, {32, 5, epoch});
  }
  const double fp32 =
      train::accuracy([&](const Tensor<float>& x) { return model.forward(x); }, test_set);
  INFO("fp32 accuracy " << fp32);
  REQUIRE(fp32 > 0.70);

  const train::Dataset calibration = fashion_mnist("train", 300);
  PtqOptions o;
  // Per-layer choices: the projection at 4 bits, the stem's output calibrated by percentile.
  o.layers["res5.shortcut.conv0"].weight_bits = 4;
  o.layers["conv0"].calibration = Calibration::percentile;
  o.layers["conv0"].percentile = 99.0;
  const PtqResult q = quantize_model(model, calibration, o);
  const double int8 =
      train::accuracy([&](const Tensor<float>& x) { return q.model.forward(x); }, test_set);
  INFO("int8 accuracy " << int8);
  CHECK(int8 > fp32 - 0.02);
  const std::vector<std::string> names{
      "input", "conv0",           "res3.body.conv0", "res3.body.conv2",
      "res3",  "res5.body.conv0", "res5.body.conv2", "res5.shortcut.conv0",
      "res5",  "logits"};
  REQUIRE(q.points.size() == names.size());
  for (std::size_t p = 0; p < names.size(); ++p) {
    INFO(names[p] << " SQNR " << q.points[p].sqnr_db);
    CHECK(q.points[p].name == names[p]);
    if (p > 0) CHECK(q.points[p].sqnr_db > 15.0);
  }
  CHECK(q.points[4].range.min == 0.0f);  // the add's ReLU
  // The overrides took effect for their layers only.
  PtqOptions plain;
  const PtqResult defaults = quantize_model(model, calibration, plain);
  CHECK(q.points[1].range.max < defaults.points[1].range.max);
  CHECK(q.points[2].range.max == defaults.points[2].range.max);
  const auto& down = std::get<nn::QuantizedResidual>(q.model.steps[3]);
  CHECK(std::get<nn::QuantizedMatmul>(down.shortcut[0]).bits == 4);
  CHECK(std::get<nn::QuantizedMatmul>(down.body[0]).bits == 8);
  CHECK(std::get<nn::QuantizedMatmul>(q.model.steps.back()).bits == 8);
  PtqOptions typo;
  typo.layers["res5.shortcut.conv1"].weight_bits = 4;
  CHECK_THROWS_AS(quantize_model(model, calibration, typo), Error);

  prepare_qat(model, calibration, plain);
  // Fake quantizers: the input, the stem, each add, and every conv output inside the blocks.
  std::size_t fake = 0;
  const std::function<void(nn::Sequential&)> count = [&](nn::Sequential& chain) {
    for (std::size_t i = 0; i < chain.size(); ++i) {
      fake += chain[i].kind() == nn::LayerKind::fake_quantize;
      if (chain[i].kind() == nn::LayerKind::residual) {
        count(static_cast<nn::Residual&>(chain[i]).body());
        count(static_cast<nn::Residual&>(chain[i]).shortcut());
      }
    }
  };
  count(model);
  CHECK(fake == 9);
  train::Adam fine_tune(model.parameters(), 3e-4f);
  train::train_epoch(model, fine_tune, train_set, {32, 6, 0});
  freeze_qat(model);
  const PtqResult qat = quantize_model(model, calibration, plain);
  const double qat_accuracy =
      train::accuracy([&](const Tensor<float>& x) { return qat.model.forward(x); }, test_set);
  INFO("QAT int8 accuracy " << qat_accuracy);
  CHECK(qat_accuracy > fp32 - 0.02);
  CHECK(same_predictions(model, qat.model, first_examples(test_set, 200)) >= 194);
}

TEST_CASE("prepare_ptq, calibrate batch by batch, convert: the same model as quantize_model",
          "[calib][ptq]") {
  nn::Sequential model;
  build_resnet(model);
  test::Rng rng(7);
  const train::Dataset data{{28, 28, 1}, rng.reals(30 * 784, 0, 1), std::vector<uint8_t>(30)};
  PtqOptions o;
  o.batch_size = 10;
  o.calibration = Calibration::entropy;
  o.bias_correction = true;
  const PtqResult whole = quantize_model(model, data, o);

  PtqSession session = prepare_ptq(model, o);
  CHECK_THROWS_AS(session.convert(), Error);
  for (std::size_t first = 0; first < 30; first += 10) {
    std::vector<std::size_t> indices(10);
    for (std::size_t i = 0; i < 10; ++i) indices[i] = first + i;
    session.calibrate(data.batch(indices.data(), indices.size()));
  }
  const PtqResult stepwise = session.convert();
  REQUIRE(stepwise.points.size() == whole.points.size());
  for (std::size_t p = 0; p < whole.points.size(); ++p) {
    CHECK(stepwise.points[p].range.min == whole.points[p].range.min);
    CHECK(stepwise.points[p].range.max == whole.points[p].range.max);
    CHECK(stepwise.points[p].sqnr_db == whole.points[p].sqnr_db);
  }
  const Tensor<float> x = first_examples(data, 30);
  CHECK(stepwise.model.forward(x).data == whole.model.forward(x).data);
}

TEST_CASE("MSE weight ranges lose less than max-abs at 4 bits", "[calib][ptq]") {
  test::Rng rng(6);
  // A Gaussian-like channel with one outlier: max|w| spends the 15 levels on the outlier.
  std::vector<float> w = rng.reals(512, -1, 1);
  for (float& v : w) v = v * v * v;
  w[17] = 4.0f;
  const float max_abs = weight_scale(w.data(), w.size(), 1, 7, WeightRange::max_abs);
  const float mse = weight_scale(w.data(), w.size(), 1, 7, WeightRange::mse);
  CHECK(max_abs == Approx(4.0f / 7));
  CHECK(channel_error(w.data(), w.size(), 1, mse, 7) <
        0.8 * channel_error(w.data(), w.size(), 1, max_abs, 7));
}

TEST_CASE("output-MSE weight ranges follow the inputs' magnitudes", "[calib][ptq]") {
  // Inputs 0-7 are small, 8-15 large. Every output channel has one large weight on a small
  // input: max-abs and weight-MSE scales make room for it, output MSE clips it and keeps the
  // levels for the weights on large inputs, which decide the output.
  test::Rng rng(9);
  nn::Sequential model;
  auto& linear = model.add<nn::Linear>(16, 4);
  std::vector<float>& w = linear.weight().value;  // [16, 4]
  w = rng.reals(64, -0.5f, 0.5f);
  for (std::size_t c = 0; c < 4; ++c) w[(2 * c) * 4 + c] = 3.0f;
  train::Dataset data{{16}, rng.reals(200 * 16, -1, 1), std::vector<uint8_t>(200)};
  for (std::size_t i = 0; i < 200; ++i) {
    for (std::size_t k = 0; k < 8; ++k) data.values[i * 16 + k] *= 0.01f;
  }
  const Tensor<float> x = first_examples(data, 200);
  const std::vector<float> reference = model.forward(x).data;
  double sqnr[3] = {};
  for (WeightRange rule : {WeightRange::max_abs, WeightRange::mse, WeightRange::output_mse}) {
    PtqOptions o;
    o.weight_bits = 4;
    o.weight_range = rule;
    sqnr[static_cast<int>(rule)] =
        sqnr_db(reference, quantize_model(model, data, o).model.forward(x).data);
  }
  INFO("logit SQNR: max-abs " << sqnr[0] << " dB, mse " << sqnr[1] << " dB, output mse " << sqnr[2]
                              << " dB");
  CHECK(sqnr[2] > sqnr[1] + 3.0);
  CHECK(sqnr[2] > sqnr[0] + 3.0);
  // Per layer too, and the moments are collected only for what asks for them.
  PtqOptions per_layer;
  per_layer.weight_bits = 4;
  per_layer.layers["linear0"].weight_range = WeightRange::output_mse;
  CHECK(sqnr_db(reference, quantize_model(model, data, per_layer).model.forward(x).data) ==
        sqnr[2]);
}

TEST_CASE("quantize_model rejects models it cannot map", "[calib][ptq][errors]") {
  train::Dataset data{{4}, std::vector<float>(8, 0.5f), {0, 1}};
  nn::Sequential ends_with_relu;
  ends_with_relu.add<nn::Linear>(4, 2);
  ends_with_relu.add<nn::ReLU>();
  CHECK_THROWS_AS(quantize_model(ends_with_relu, data, {}), Error);
  nn::Sequential leading_relu;
  leading_relu.add<nn::ReLU>();
  leading_relu.add<nn::Linear>(4, 2);
  CHECK_THROWS_AS(quantize_model(leading_relu, data, {}), Error);
  nn::Sequential fine;
  fine.add<nn::Linear>(4, 2);
  fine.initialize(1);
  PtqOptions three_bits;
  three_bits.weight_bits = 3;
  CHECK_THROWS_AS(quantize_model(fine, data, three_bits), Error);
  CHECK(quantize_model(fine, data, {}).model.steps.size() == 1);
  nn::Sequential empty_body;
  empty_body.add<nn::Residual>();
  empty_body.add<nn::Linear>(4, 2);
  empty_body.initialize(1);
  CHECK_THROWS_AS(quantize_model(empty_body, data, {}), Error);
  nn::Sequential relu_in_block;
  relu_in_block.add<nn::Residual>().body().add<nn::ReLU>();
  relu_in_block.add<nn::Linear>(4, 2);
  relu_in_block.initialize(1);
  CHECK_THROWS_AS(quantize_model(relu_in_block, data, {}), Error);
}

}  // namespace
}  // namespace qinfer::calib
