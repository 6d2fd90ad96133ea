// SPDX-License-Identifier: Apache-2.0
// A model trained in PyTorch (export_cnn.py) gives PyTorch's predictions here: its weights load
// through io::load_pytorch_weights into the demo's CNN, and our fp32 forward pass reproduces
// PyTorch's logits for the same 1000 test images.
//
// usage: pytorch_parity DIR   (DIR holds export_cnn.py's weights.safetensors and
//                              reference.safetensors)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fashion_mnist_cnn.hpp"
#include "qinfer/core/layout.hpp"
#include "qinfer/io/pytorch_weights.hpp"
#include "qinfer/nn/loss.hpp"

namespace {

using namespace qinfer;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(Errc::invalid_argument, "pytorch_parity: cannot open an input file");
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pytorch_parity DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::vector<uint8_t> weight_bytes = read_file(dir + "/weights.safetensors");
  const std::vector<uint8_t> reference_bytes = read_file(dir + "/reference.safetensors");
  const io::Safetensors weights = io::Safetensors::parse(weight_bytes);
  const io::Safetensors reference = io::Safetensors::parse(reference_bytes);

  nn::Sequential model;
  fashion_mnist::build_cnn(model);
  io::load_pytorch_weights(model, weights, fashion_mnist::pytorch_names, fashion_mnist::image_dims);

  const io::SafetensorsEntry* images = reference.find("images");
  const io::SafetensorsEntry* expected = reference.find("logits");
  if (images == nullptr || expected == nullptr || images->shape.size() != 4 ||
      images->shape[1] != 1 || images->shape[2] != 28 || images->shape[3] != 28) {
    std::fprintf(stderr, "pytorch_parity: reference.safetensors lacks [N, 1, 28, 28] images\n");
    return 1;
  }
  const std::size_t n = images->shape[0];
  const std::vector<float> nchw = reference.to_float(*images);
  std::vector<float> nhwc(nchw.size());
  channels_first_to_last<float>(nchw, n, 1, 28 * 28, nhwc);
  const Tensor<float> logits = model.forward(Tensor<float>({n, 28, 28, 1}, nhwc));
  const std::vector<float> theirs = reference.to_float(*expected);
  if (theirs.size() != logits.size()) {
    std::fprintf(stderr, "pytorch_parity: logits differ in count\n");
    return 1;
  }

  float largest = 0.0f, difference = 0.0f;
  for (std::size_t i = 0; i < theirs.size(); ++i) {
    largest = std::max(largest, std::fabs(theirs[i]));
    difference = std::max(difference, std::fabs(theirs[i] - logits.data[i]));
  }
  const std::vector<uint8_t> ours = nn::predictions(logits);
  const std::vector<uint8_t> pytorch = nn::predictions(Tensor<float>({n, 10}, theirs));
  std::size_t same = 0;
  for (std::size_t i = 0; i < n; ++i) same += ours[i] == pytorch[i];
  std::printf(
      "%zu images: largest |logit| %.3f, largest |difference| %.2e; same prediction on "
      "%zu/%zu\n",
      n, double{largest}, double{difference}, same, n);
  // fp32 sums in another order differ by a few ulps of the partial sums: 1e-5 of the logits'
  // size is generous, and anything wrong in a layout is off by whole units.
  const bool ok = difference <= 1e-5f * std::max(1.0f, largest) && same == n;
  std::printf("%s\n", ok ? "PyTorch parity: OK" : "PyTorch parity: FAILED");
  return ok ? 0 : 1;
}
