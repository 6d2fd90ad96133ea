// SPDX-License-Identifier: Apache-2.0
//
// The demo's float CNN, shared by the demo and the PyTorch parity test
// (tests/pytorch/export_cnn.py builds the same network in PyTorch):
//   conv(1->16, 3x3, pad 1)+ReLU+maxpool2 -> conv(16->32, 3x3, pad 1)+ReLU+maxpool2 -> flatten
//   -> linear(1568->128)+ReLU -> linear(128->10), on 28x28x1 images.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/sequential.hpp"

namespace fashion_mnist {

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
