// SPDX-License-Identifier: Apache-2.0
//
// A residual block: y = body(x) + shortcut(x), where an empty shortcut is the identity. With
// Sequentials inside and a ReLU after it, this is ResNet's basic block:
//
//   auto& block = model.add<nn::Residual>();
//   block.body().add<nn::Conv2d>(...);
//   block.body().add<nn::ReLU>();
//   block.body().add<nn::Conv2d>(...);
//   block.shortcut().add<nn::Conv2d>(...);  // a projection if the shape changes; else nothing
//   model.add<nn::ReLU>();                  // fused into the quantized add's clamp
//
// The add is the model's one join, so a chain of blocks needs no general graph. Quantized, it is
// the reference add of two uint8 tensors with their own parameters (reference/elementwise.hpp).
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <random>
#include <vector>

#include "qinfer/nn/sequential.hpp"

namespace qinfer::nn {

// a + b, element by element, for tensors of equal dims.
inline Tensor<float> add(const Tensor<float>& a, const Tensor<float>& b) {
  if (a.dims != b.dims) fail(Errc::shape_mismatch, "add: the operands' dims differ");
  Tensor<float> y(a.dims, a.data);
  for (std::size_t i = 0; i < y.size(); ++i) y.data[i] += b.data[i];
  return y;
}

class Residual final : public Layer {
 public:
  LayerKind kind() const noexcept override { return LayerKind::residual; }

  Sequential& body() noexcept { return body_; }
  const Sequential& body() const noexcept { return body_; }
  Sequential& shortcut() noexcept { return shortcut_; }
  const Sequential& shortcut() const noexcept { return shortcut_; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    return add(body_.forward(x, train), shortcut_.forward(x, train));
  }
  // Both branches see the same input, so its gradient is the sum of theirs.
  Tensor<float> backward(const Tensor<float>& dy) override {
    return add(body_.backward(dy), shortcut_.backward(dy));
  }
  std::vector<Parameter*> parameters() override {
    std::vector<Parameter*> all = body_.parameters();
    for (Parameter* p : shortcut_.parameters()) all.push_back(p);
    return all;
  }
  void initialize(std::mt19937& rng) override {
    body_.initialize(rng);
    shortcut_.initialize(rng);
  }
  void set_executor(ParallelForHook executor) override {
    body_.set_executor(executor);
    shortcut_.set_executor(executor);
  }

 private:
  Sequential body_, shortcut_;
};

}  // namespace qinfer::nn
