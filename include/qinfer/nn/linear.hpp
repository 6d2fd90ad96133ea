// SPDX-License-Identifier: Apache-2.0
//
// Fully connected layer: y = x W + b over [N, in] batches. W is stored [in, out] (K x N, as the
// int8 GEMM packs it), the transpose of PyTorch's [out, in]; the safetensors import converts.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <vector>

#include "qinfer/core/matrix.hpp"
#include "qinfer/nn/matmul_layer.hpp"

namespace qinfer::nn {

class Linear final : public MatmulLayer {
 public:
  Linear(std::size_t in, std::size_t out) : MatmulLayer({in, out}, in, out) {}

  LayerKind kind() const noexcept override { return LayerKind::linear; }
  std::size_t in_features() const noexcept { return depth_; }
  std::size_t out_features() const noexcept { return out_; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    if (x.rank() != 2 || x.dims[1] != depth_) {
      fail(Errc::shape_mismatch, "Linear: input must be [N, in_features]");
    }
    const std::size_t n = x.dims[0];
    Tensor<float> y({n, out_}, std::vector<float>(n * out_));
    affine(row_major(x.data.data(), n, depth_), y.data);
    if (train) input_ = x;
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    const std::size_t n = input_.dims.empty() ? 0 : input_.dims[0];
    if (dy.dims != std::vector<std::size_t>{n, out_}) {
      fail(Errc::shape_mismatch, "Linear: backward needs forward(x, true) and a [N, out] gradient");
    }
    add_weight_gradient(MatrixView<const float>{input_.data.data(), depth_, n, 1, depth_},
                        row_major(dy.data.data(), n, out_));
    add_bias_gradient(dy);
    Tensor<float> dx({n, depth_}, std::vector<float>(n * depth_));
    input_gradient(row_major(dy.data.data(), n, out_), row_major(dx.data.data(), n, depth_));
    return dx;
  }

 private:
  Tensor<float> input_;
};

}  // namespace qinfer::nn
