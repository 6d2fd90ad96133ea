// SPDX-License-Identifier: Apache-2.0
//
// Max pooling over NHWC batches (square window, no padding) and Flatten.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

#include "qinfer/nn/layer.hpp"
#include "qinfer/reference/window.hpp"

namespace qinfer::nn {

class MaxPool2d final : public Layer {
 public:
  explicit MaxPool2d(std::size_t kernel, std::size_t stride = 0)
      : kernel_(kernel), stride_(stride == 0 ? kernel : stride) {
    if (kernel == 0) fail(Errc::invalid_argument, "MaxPool2d: kernel must be > 0");
  }

  LayerKind kind() const noexcept override { return LayerKind::max_pool2d; }
  std::size_t kernel() const noexcept { return kernel_; }
  std::size_t stride() const noexcept { return stride_; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    if (x.rank() != 4) fail(Errc::shape_mismatch, "MaxPool2d: input must be [N, H, W, C]");
    const reference::Window1d h{x.dims[1], kernel_, stride_, 1, 0, 0};
    const reference::Window1d w{x.dims[2], kernel_, stride_, 1, 0, 0};
    if (auto s = h.check("MaxPool2d: window does not fit the height"); !s) fail(s);
    if (auto s = w.check("MaxPool2d: window does not fit the width"); !s) fail(s);
    const std::size_t n_count = x.dims[0], c_count = x.dims[3];
    const std::size_t oh_n = h.output(), ow_n = w.output();
    Tensor<float> y({n_count, oh_n, ow_n, c_count},
                    std::vector<float>(n_count * oh_n * ow_n * c_count));
    std::vector<std::size_t> argmax(y.size());
    std::size_t out = 0;
    for (std::size_t n = 0; n < n_count; ++n) {
      for (std::size_t oh = 0; oh < oh_n; ++oh) {
        for (std::size_t ow = 0; ow < ow_n; ++ow) {
          for (std::size_t c = 0; c < c_count; ++c, ++out) {
            float best = -std::numeric_limits<float>::infinity();
            std::size_t at = 0;
            for (std::size_t kh = 0; kh < kernel_; ++kh) {
              for (std::size_t kw = 0; kw < kernel_; ++kw) {
                const std::size_t i =
                    ((n * x.dims[1] + oh * stride_ + kh) * x.dims[2] + ow * stride_ + kw) *
                        c_count +
                    c;
                if (x.data[i] > best) best = x.data[i], at = i;
              }
            }
            y.data[out] = best;
            argmax[out] = at;
          }
        }
      }
    }
    if (train) {
      input_dims_ = x.dims;
      argmax_ = std::move(argmax);
    }
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    if (dy.size() != argmax_.size())
      fail(Errc::shape_mismatch, "MaxPool2d: backward needs forward(x, true)");
    std::size_t count = 1;
    for (std::size_t d : input_dims_) count *= d;
    Tensor<float> dx(input_dims_, std::vector<float>(count));
    for (std::size_t i = 0; i < dy.size(); ++i) dx.data[argmax_[i]] += dy.data[i];
    return dx;
  }

 private:
  std::size_t kernel_, stride_;
  std::vector<std::size_t> input_dims_;
  std::vector<std::size_t> argmax_;
};

// [N, ...] to [N, product of the rest]: in NHWC that is (h, w, c) order, which is not PyTorch's
// (c, h, w); the safetensors import permutes the next Linear's rows to match.
class Flatten final : public Layer {
 public:
  LayerKind kind() const noexcept override { return LayerKind::flatten; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    if (x.rank() < 1) fail(Errc::shape_mismatch, "Flatten: input needs a batch dimension");
    if (train) input_dims_ = x.dims;
    const std::size_t n = x.dims[0];
    return Tensor<float>({n, n == 0 ? 0 : x.size() / n}, x.data);
  }
  Tensor<float> backward(const Tensor<float>& dy) override {
    return Tensor<float>(input_dims_, dy.data);
  }

 private:
  std::vector<std::size_t> input_dims_;
};

}  // namespace qinfer::nn
