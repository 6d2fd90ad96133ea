// SPDX-License-Identifier: Apache-2.0
//
// Fully connected layer: y = x W + b over [N, in] batches. W is stored [in, out] (K x N, as the
// int8 GEMM packs it), the transpose of PyTorch's [out, in]; the safetensors import converts.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "qinfer/core/matrix.hpp"
#include "qinfer/nn/layer.hpp"
#include "qinfer/ops/sgemm.hpp"

namespace qinfer::nn {

class Linear final : public Layer {
 public:
  Linear(std::size_t in, std::size_t out)
      : in_(in), out_(out), weight_("weight", {in, out}), bias_("bias", {out}) {}

  LayerKind kind() const noexcept override { return LayerKind::linear; }
  std::size_t in_features() const noexcept { return in_; }
  std::size_t out_features() const noexcept { return out_; }
  Parameter& weight() noexcept { return weight_; }
  Parameter& bias() noexcept { return bias_; }
  const Parameter& weight() const noexcept { return weight_; }
  const Parameter& bias() const noexcept { return bias_; }

  // Kaiming-uniform weights for the ReLU that usually follows, zero bias.
  void initialize(std::mt19937& rng) override {
    const float bound = std::sqrt(6.0f / static_cast<float>(in_));
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (float& w : weight_.value) w = uniform(rng);
    std::fill(bias_.value.begin(), bias_.value.end(), 0.0f);
  }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    if (x.rank() != 2 || x.dims[1] != in_) {
      fail(Errc::shape_mismatch, "Linear: input must be [N, in_features]");
    }
    const std::size_t n = x.dims[0];
    Tensor<float> y({n, out_}, std::vector<float>(n * out_));
    for (std::size_t i = 0; i < n; ++i) {
      std::copy(bias_.value.begin(), bias_.value.end(), y.data.begin() + i * out_);
    }
    sgemm(row_major(x.data.data(), n, in_), row_major(weight_.value.data(), in_, out_),
          row_major(y.data.data(), n, out_), Accumulate::yes, executor_);
    if (train) input_ = x;
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    const std::size_t n = input_.dims.empty() ? 0 : input_.dims[0];
    if (dy.dims != std::vector<std::size_t>{n, out_}) {
      fail(Errc::shape_mismatch, "Linear: backward needs forward(x, true) and a [N, out] gradient");
    }
    // dW += x^T dy, db += column sums of dy, dx = dy W^T.
    const MatrixView<const float> x_t{input_.data.data(), in_, n, 1, in_};
    sgemm(x_t, row_major(dy.data.data(), n, out_), row_major(weight_.grad.data(), in_, out_),
          Accumulate::yes, executor_);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < out_; ++j) bias_.grad[j] += dy.data[i * out_ + j];
    }
    Tensor<float> dx({n, in_}, std::vector<float>(n * in_));
    const MatrixView<const float> w_t{weight_.value.data(), out_, in_, 1, out_};
    sgemm(row_major(dy.data.data(), n, out_), w_t, row_major(dx.data.data(), n, in_),
          Accumulate::no, executor_);
    return dx;
  }

  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }

 private:
  std::size_t in_, out_;
  Parameter weight_, bias_;
  Tensor<float> input_;
};

}  // namespace qinfer::nn
