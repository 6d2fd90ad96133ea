// SPDX-License-Identifier: Apache-2.0
//
// What Linear and Conv2d share: weights stored [depth, out] (the int8 GEMM's K x N), a bias per
// output channel, and optional weight fake quantization for QAT. Forward passes use
// effective_weights(); backward passes hand their weight gradient to add_weight_gradient(),
// which routes it through the fake quantizer when there is one.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "qinfer/core/matrix.hpp"
#include "qinfer/nn/fake_quant.hpp"
#include "qinfer/nn/layer.hpp"
#include "qinfer/ops/sgemm.hpp"

namespace qinfer::nn {

// The kinds that derive from MatmulLayer (weights [depth, out] and a bias per channel).
inline constexpr bool has_weights(LayerKind k) noexcept {
  return k == LayerKind::linear || k == LayerKind::conv2d || k == LayerKind::depthwise_conv2d;
}

class MatmulLayer : public Layer {
 public:
  std::size_t depth() const noexcept { return depth_; }
  std::size_t out_channels() const noexcept { return out_; }
  Parameter& weight() noexcept { return weight_; }
  Parameter& bias() noexcept { return bias_; }
  const Parameter& weight() const noexcept { return weight_; }
  const Parameter& bias() const noexcept { return bias_; }

  // Trains through fake-quantized weights from now on (nullptr: float weights again).
  void set_weight_fake_quant(std::unique_ptr<WeightFakeQuant> q) { weight_quant_ = std::move(q); }
  const WeightFakeQuant* weight_fake_quant() const noexcept { return weight_quant_.get(); }

  // Kaiming-uniform weights for the ReLU that usually follows (bound sqrt(6 / fan-in), the
  // fan-in being the weight rows), zero bias.
  void initialize(std::mt19937& rng) override {
    const float bound = std::sqrt(6.0f / static_cast<float>(depth_));
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (float& w : weight_.value) w = uniform(rng);
    std::fill(bias_.value.begin(), bias_.value.end(), 0.0f);
  }

  std::vector<Parameter*> parameters() override {
    std::vector<Parameter*> p{&weight_, &bias_};
    if (weight_quant_) p.push_back(&weight_quant_->scales());
    return p;
  }

 protected:
  MatmulLayer(std::vector<std::size_t> weight_dims, std::size_t depth, std::size_t out)
      : depth_(depth), out_(out), weight_("weight", std::move(weight_dims)), bias_("bias", {out}) {}

  const std::vector<float>& effective_weights() {
    return weight_quant_ ? weight_quant_->apply(weight_.value) : weight_.value;
  }

  // Adds a^T dy (a: [rows, depth], dy: [rows, out]) to the weight gradient.
  void add_weight_gradient(MatrixView<const float> a_transposed, MatrixView<const float> dy) {
    if (!weight_quant_) {
      sgemm(a_transposed, dy, row_major(weight_.grad.data(), depth_, out_), Accumulate::yes,
            executor_);
      return;
    }
    std::vector<float> d_effective(depth_ * out_);
    sgemm(a_transposed, dy, row_major(d_effective.data(), depth_, out_), Accumulate::no, executor_);
    weight_quant_->backward(weight_.value, d_effective, weight_.grad);
  }

  // Adds a gradient with respect to the effective weights, through the fake quantizer when
  // there is one.
  void add_weight_gradient(const std::vector<float>& d_effective) {
    if (weight_quant_) return weight_quant_->backward(weight_.value, d_effective, weight_.grad);
    for (std::size_t i = 0; i < d_effective.size(); ++i) weight_.grad[i] += d_effective[i];
  }

  // dx = dy W^T with the weights the forward pass used.
  void input_gradient(MatrixView<const float> dy, MatrixView<float> dx) {
    const std::vector<float>& w = weight_quant_ ? weight_quant_->effective() : weight_.value;
    sgemm(dy, MatrixView<const float>{w.data(), out_, depth_, 1, out_}, dx, Accumulate::no,
          executor_);
  }

  void add_bias_gradient(const Tensor<float>& dy) {
    const std::size_t rows = dy.size() / out_;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < out_; ++c) bias_.grad[c] += dy.data[r * out_ + c];
    }
  }

  // y rows = bias + a W.
  void affine(MatrixView<const float> a, std::vector<float>& y) {
    for (std::size_t r = 0; r < a.rows; ++r) {
      std::copy(bias_.value.begin(), bias_.value.end(),
                y.begin() + static_cast<std::ptrdiff_t>(r * out_));
    }
    sgemm(a, row_major<const float>(effective_weights().data(), depth_, out_),
          row_major(y.data(), a.rows, out_), Accumulate::yes, executor_);
  }

  std::size_t depth_, out_;
  Parameter weight_, bias_;
  std::unique_ptr<WeightFakeQuant> weight_quant_;
};

}  // namespace qinfer::nn
