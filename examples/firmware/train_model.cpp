// SPDX-License-Identifier: Apache-2.0
//
// Trains the firmware example's CNN on Fashion-MNIST, quantizes it to int8 and writes its model
// file, the input of tools/model_header.cpp. A network sized for a Cortex-M4 (26.6k int8
// weights, 12.5 KiB of activations):
//   conv(1->8, 3x3, pad 1)+ReLU+maxpool2 -> conv(8->16, 3x3, pad 1)+ReLU+maxpool2 -> flatten
//   -> linear(784->32)+ReLU -> linear(32->10)
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "../fashion_mnist_cnn.hpp"
#include "qinfer/calib/ptq.hpp"
#include "qinfer/io/model_file.hpp"
#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/loss.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/sequential.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "qinfer/train/loop.hpp"
#include "qinfer/train/optimizer.hpp"

using namespace qinfer;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Plain (decompressed) IDX files, as the test build keeps them.
train::Dataset load(const std::string& dir, const std::string& split) {
  return fashion_mnist::dataset(read_file(dir + "/" + split + "-images-idx3-ubyte"),
                                read_file(dir + "/" + split + "-labels-idx1-ubyte"), split);
}

}  // namespace

int main(int argc, char** argv) try {
  std::string data, out;
  std::size_t epochs = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
    if (arg == "--data") {
      data = argv[++i];
    } else if (arg == "--out") {
      out = argv[++i];
    } else if (arg == "--epochs") {
      epochs = std::stoul(argv[++i]);
    } else {
      throw std::invalid_argument("unknown option " + arg);
    }
  }
  if (data.empty() || out.empty()) {
    throw std::invalid_argument("usage: train_model --data DIR --out MODEL.qinfer [--epochs N]");
  }
  const train::Dataset train_set = load(data, "train"), test_set = load(data, "t10k");

  nn::Sequential model;
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 8, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Conv2d>(nn::Conv2dOptions{8, 16, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Flatten>();
  model.add<nn::Linear>(7 * 7 * 16, 32);
  model.add<nn::ReLU>();
  model.add<nn::Linear>(32, 10);
  model.initialize(1);
  ThreadPool pool(2);
  model.set_executor(pool.hook());
  train::Adam adam(model.parameters(), 2e-3f);
  for (std::size_t e = 0; e < epochs; ++e) {
    adam.lr = train::cosine_learning_rate(2e-3f, e, epochs);
    train::train_epoch(model, adam, train_set, {64, 1, e});
  }
  const double float_accuracy =
      train::accuracy([&](const Tensor<float>& x) { return model.forward(x); }, test_set);

  // Calibration on the first 1000 training images, percentile ranges, per-channel weights.
  train::Dataset calibration = train_set;
  calibration.labels.resize(1000);
  calibration.values.resize(1000 * train_set.example_size());
  calib::PtqOptions options;
  options.calibration = calib::Calibration::percentile;
  const nn::QuantizedSequential int8 = calib::quantize_model(model, calibration, options).model;
  const double int8_accuracy = train::accuracy(
      [&](const Tensor<float>& x) { return int8.forward(x, pool.hook()); }, test_set);

  const std::vector<uint8_t> bytes = io::save_model(int8);
  std::ofstream file(out, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  if (!file) throw std::runtime_error("cannot write " + out);
  std::printf(
      "firmware CNN, %zu epoch(s): fp32 %.2f%%, int8 %.2f%% on the 10000 test images; "
      "wrote %s (%zu bytes)\n",
      epochs, 100 * float_accuracy, 100 * int8_accuracy, out.c_str(), bytes.size());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_model: %s\n", e.what());
  return 1;
}
