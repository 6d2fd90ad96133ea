// SPDX-License-Identifier: Apache-2.0
//
// The demo's data and float CNN, shared by the demo, the firmware example's trainer and the
// PyTorch parity test (tests/pytorch/export_cnn.py builds the same network in PyTorch). The CNN:
//   conv(1->16, 3x3, pad 1)+ReLU+maxpool2 -> conv(16->32, 3x3, pad 1)+ReLU+maxpool2 -> flatten
//   -> linear(1568->128)+ReLU -> linear(128->10), on 28x28x1 images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "qinfer/io/idx.hpp"

#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/sequential.hpp"
#include "qinfer/train/loop.hpp"

namespace fashion_mnist {

// A split ("train" or "t10k") from the bytes of its IDX image and label files, pixels scaled to
// [0, 1] as torchvision's ToTensor does.
inline qinfer::train::Dataset dataset(const std::vector<uint8_t>& image_bytes,
                                      const std::vector<uint8_t>& label_bytes,
                                      const std::string& split) {
  const qinfer::io::IdxArray images = qinfer::io::parse_idx(image_bytes);
  const qinfer::io::IdxArray labels = qinfer::io::parse_idx(label_bytes);
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0]) {
    throw std::runtime_error(split + ": images and labels do not match");
  }
  qinfer::train::Dataset d;
  d.example_dims = {images.dims[1], images.dims[2], 1};
  d.values.resize(images.data.size());
  for (std::size_t i = 0; i < images.data.size(); ++i) d.values[i] = images.data[i] / 255.0f;
  d.labels = labels.data;
  return d;
}

inline void build_cnn(qinfer::nn::Sequential& model) {
  namespace nn = qinfer::nn;
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 16, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Conv2d>(nn::Conv2dOptions{16, 32, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::MaxPool2d>(2);
  model.add<nn::Flatten>();
  model.add<nn::Linear>(7 * 7 * 32, 128);
  model.add<nn::ReLU>();
  model.add<nn::Linear>(128, 10);
}

// The conv and linear layers' names in PyTorch, in model order.
inline const std::vector<std::string> pytorch_names{"conv1", "conv2", "fc1", "fc2"};
inline const std::vector<std::size_t> image_dims{28, 28, 1};

}  // namespace fashion_mnist
