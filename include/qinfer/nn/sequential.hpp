// SPDX-License-Identifier: Apache-2.0
//
// A chain of layers, owning them.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "qinfer/nn/layer.hpp"

namespace qinfer::nn {

class Sequential {
 public:
  template <class L, class... Args>
  L& add(Args&&... args) {
    layers_.push_back(std::make_unique<L>(std::forward<Args>(args)...));
    return static_cast<L&>(*layers_.back());
  }

  // Inserts a layer before position `index` (size(): at the end).
  template <class L, class... Args>
  L& insert(std::size_t index, Args&&... args) {
    if (index > layers_.size())
      fail(Errc::invalid_argument, "Sequential::insert: index past the end");
    auto it = layers_.insert(layers_.begin() + static_cast<std::ptrdiff_t>(index),
                             std::make_unique<L>(std::forward<Args>(args)...));
    return static_cast<L&>(**it);
  }

  std::size_t size() const noexcept { return layers_.size(); }
  Layer& operator[](std::size_t i) noexcept { return *layers_[i]; }
  const Layer& operator[](std::size_t i) const noexcept { return *layers_[i]; }

  Tensor<float> forward(Tensor<float> x, bool train = false) {
    for (auto& layer : layers_) x = layer->forward(x, train);
    return x;
  }
  Tensor<float> backward(Tensor<float> grad) {
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) grad = (*it)->backward(grad);
    return grad;
  }

  std::vector<Parameter*> parameters() {
    std::vector<Parameter*> all;
    for (auto& layer : layers_) {
      for (Parameter* p : layer->parameters()) all.push_back(p);
    }
    return all;
  }
  void zero_grad() {
    for (Parameter* p : parameters()) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
  }
  void set_executor(ParallelForHook executor) {
    for (auto& layer : layers_) layer->set_executor(executor);
  }
  void initialize(uint32_t seed) {
    std::mt19937 rng(seed);
    initialize(rng);
  }
  void initialize(std::mt19937& rng) {
    for (auto& layer : layers_) layer->initialize(rng);
  }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace qinfer::nn
