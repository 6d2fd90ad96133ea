// SPDX-License-Identifier: Apache-2.0
//
// Mini-batch training and evaluation over an in-memory labelled dataset.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "qinfer/nn/loss.hpp"
#include "qinfer/nn/sequential.hpp"

namespace qinfer::train {

// Examples of one shape (dims of one example, e.g. {28, 28, 1}) stored back to back.
struct Dataset {
  std::vector<std::size_t> example_dims;
  std::vector<float> values;
  std::vector<uint8_t> labels;

  std::size_t size() const noexcept { return labels.size(); }
  std::size_t example_size() const noexcept {
    std::size_t n = 1;
    for (std::size_t d : example_dims) n *= d;
    return n;
  }
  // The examples at `indices`, as one batch.
  Tensor<float> batch(const std::size_t* indices, std::size_t count) const {
    std::vector<std::size_t> dims{count};
    dims.insert(dims.end(), example_dims.begin(), example_dims.end());
    const std::size_t each = example_size();
    std::vector<float> data(count * each);
    for (std::size_t i = 0; i < count; ++i) {
      std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(indices[i] * each), each,
                  data.begin() + static_cast<std::ptrdiff_t>(i * each));
    }
    return Tensor<float>(std::move(dims), std::move(data));
  }
  std::vector<uint8_t> batch_labels(const std::size_t* indices, std::size_t count) const {
    std::vector<uint8_t> out(count);
    for (std::size_t i = 0; i < count; ++i) out[i] = labels[indices[i]];
    return out;
  }
};

struct EpochOptions {
  std::size_t batch_size = 64;
  uint32_t seed = 1;  // of the shuffle: epoch e shuffles with seed + e
  std::size_t epoch = 0;
};

// Called after each batch with (batches done, batches total, mean loss so far).
using Progress = std::function<void(std::size_t, std::size_t, float)>;

// One pass over `data` in shuffled mini-batches; returns the mean loss. `forward_backward` is
// the model (a float model, or one with fake quantization in the loop) and `step` its optimizer.
template <class Model, class Optimizer>
float train_epoch(Model& model, Optimizer& optimizer, const Dataset& data,
                  const EpochOptions& options, const Progress& progress = {}) {
  std::vector<std::size_t> order(data.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937 rng(options.seed + static_cast<uint32_t>(options.epoch));
  std::shuffle(order.begin(), order.end(), rng);
  const std::size_t batches = (data.size() + options.batch_size - 1) / options.batch_size;
  double total = 0.0;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::size_t first = b * options.batch_size;
    const std::size_t count = std::min(options.batch_size, data.size() - first);
    const Tensor<float> x = data.batch(&order[first], count);
    const std::vector<uint8_t> y = data.batch_labels(&order[first], count);
    model.zero_grad();
    const nn::LossAndGradient lg = nn::softmax_cross_entropy(model.forward(x, true), y);
    model.backward(lg.grad);
    optimizer.step();
    total += lg.loss;
    if (progress) progress(b + 1, batches, static_cast<float>(total / static_cast<double>(b + 1)));
  }
  return batches == 0 ? 0.0f : static_cast<float>(total / static_cast<double>(batches));
}

// Fraction of `data` whose largest logit is the label; `predict` maps a batch to logits.
template <class Predict>
double accuracy(Predict&& predict, const Dataset& data, std::size_t batch_size = 256,
                const Progress& progress = {}) {
  std::vector<std::size_t> indices(data.size());
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  std::size_t correct = 0;
  const std::size_t batches = (data.size() + batch_size - 1) / batch_size;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::size_t first = b * batch_size, count = std::min(batch_size, data.size() - first);
    const std::vector<uint8_t> guess = nn::predictions(predict(data.batch(&indices[first], count)));
    for (std::size_t i = 0; i < count; ++i) correct += guess[i] == data.labels[first + i] ? 1 : 0;
    if (progress) progress(b + 1, batches, 0.0f);
  }
  return data.size() == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace qinfer::train
