// SPDX-License-Identifier: Apache-2.0
//
// ReLU and ReLU6: element-wise clamps, which the quantized model folds into the clamp bounds of
// the preceding layer's output stage.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <limits>

#include "qinfer/nn/layer.hpp"

namespace qinfer::nn {

template <LayerKind Kind>
class Clamp final : public Layer {
 public:
  static constexpr float lower = 0.0f;
  static constexpr float upper =
      Kind == LayerKind::relu6 ? 6.0f : std::numeric_limits<float>::infinity();

  LayerKind kind() const noexcept override { return Kind; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    Tensor<float> y = x;
    for (float& v : y.data) v = std::min(std::max(v, lower), upper);
    if (train) output_ = y;
    return y;
  }

  // The gradient passes where the clamp did not bite (at a bound itself it is cut, as PyTorch
  // does).
  Tensor<float> backward(const Tensor<float>& dy) override {
    if (dy.dims != output_.dims)
      fail(Errc::shape_mismatch, "ReLU: backward needs forward(x, true)");
    Tensor<float> dx = dy;
    for (std::size_t i = 0; i < dx.size(); ++i) {
      const float y = output_.data[i];
      dx.data[i] = y > lower && y < upper ? dx.data[i] : 0.0f;
    }
    return dx;
  }

 private:
  Tensor<float> output_;
};

using ReLU = Clamp<LayerKind::relu>;
using ReLU6 = Clamp<LayerKind::relu6>;

}  // namespace qinfer::nn
