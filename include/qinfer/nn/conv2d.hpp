// SPDX-License-Identifier: Apache-2.0
//
// 2-D convolution over NHWC batches, square kernel, symmetric padding, stride; one im2col and
// one GEMM with the weights stored HWIO ([k * k * in, out]), the layout the int8 GEMM packs.
// PyTorch stores OIHW; the safetensors import converts.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "qinfer/core/matrix.hpp"
#include "qinfer/nn/layer.hpp"
#include "qinfer/ops/im2col.hpp"
#include "qinfer/ops/sgemm.hpp"

namespace qinfer::nn {

struct Conv2dOptions {
  std::size_t in_channels = 1;
  std::size_t out_channels = 1;
  std::size_t kernel = 3;
  std::size_t stride = 1;
  std::size_t padding = 0;
};

class Conv2d final : public Layer {
 public:
  explicit Conv2d(Conv2dOptions o)
      : o_(o),
        weight_("weight", {o.kernel, o.kernel, o.in_channels, o.out_channels}),
        bias_("bias", {o.out_channels}) {
    if (o.in_channels == 0 || o.out_channels == 0 || o.kernel == 0 || o.stride == 0) {
      fail(Errc::invalid_argument, "Conv2d: channels, kernel and stride must be > 0");
    }
  }

  LayerKind kind() const noexcept override { return LayerKind::conv2d; }
  const Conv2dOptions& options() const noexcept { return o_; }
  Parameter& weight() noexcept { return weight_; }
  Parameter& bias() noexcept { return bias_; }
  const Parameter& weight() const noexcept { return weight_; }
  const Parameter& bias() const noexcept { return bias_; }
  std::size_t depth() const noexcept { return o_.kernel * o_.kernel * o_.in_channels; }

  // The windows of an [N, H, W, in] batch; fails if the kernel does not fit.
  ImageWindows windows(const std::vector<std::size_t>& dims) const {
    if (dims.size() != 4 || dims[3] != o_.in_channels) {
      fail(Errc::shape_mismatch, "Conv2d: input must be [N, H, W, in_channels]");
    }
    const reference::Window1d h{dims[1], o_.kernel, o_.stride, 1, o_.padding, o_.padding};
    const reference::Window1d w{dims[2], o_.kernel, o_.stride, 1, o_.padding, o_.padding};
    if (auto s = h.check("Conv2d: kernel does not fit the input height"); !s) fail(s);
    if (auto s = w.check("Conv2d: kernel does not fit the input width"); !s) fail(s);
    return {dims[0], o_.in_channels, h, w};
  }

  void initialize(std::mt19937& rng) override {
    const float bound = std::sqrt(6.0f / static_cast<float>(depth()));
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (float& w : weight_.value) w = uniform(rng);
    std::fill(bias_.value.begin(), bias_.value.end(), 0.0f);
  }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    const ImageWindows g = windows(x.dims);
    const std::size_t rows = g.rows(), cout = o_.out_channels;
    std::vector<float> columns(rows * depth());
    im2col(g, x.data.data(), 0.0f, columns.data());
    Tensor<float> y({g.batch, g.height.output(), g.width.output(), cout},
                    std::vector<float>(rows * cout));
    for (std::size_t r = 0; r < rows; ++r) {
      std::copy(bias_.value.begin(), bias_.value.end(), y.data.begin() + r * cout);
    }
    sgemm(row_major<const float>(columns.data(), rows, depth()),
          row_major<const float>(weight_.value.data(), depth(), cout),
          row_major(y.data.data(), rows, cout), Accumulate::yes, executor_);
    if (train) {
      input_dims_ = x.dims;
      columns_ = std::move(columns);
    }
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    if (input_dims_.empty())
      fail(Errc::invalid_argument, "Conv2d: backward needs forward(x, true)");
    const ImageWindows g = windows(input_dims_);
    const std::size_t rows = g.rows(), cout = o_.out_channels;
    if (dy.size() != rows * cout) fail(Errc::shape_mismatch, "Conv2d: gradient shape");
    // dW += columns^T dy; db += column sums of dy; dcolumns = dy W^T, scattered back by col2im.
    sgemm(MatrixView<const float>{columns_.data(), depth(), rows, 1, depth()},
          row_major(dy.data.data(), rows, cout), row_major(weight_.grad.data(), depth(), cout),
          Accumulate::yes, executor_);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < cout; ++c) bias_.grad[c] += dy.data[r * cout + c];
    }
    std::vector<float> dcolumns(rows * depth());
    sgemm(row_major(dy.data.data(), rows, cout),
          MatrixView<const float>{weight_.value.data(), cout, depth(), 1, cout},
          row_major(dcolumns.data(), rows, depth()), Accumulate::no, executor_);
    Tensor<float> dx(input_dims_,
                     std::vector<float>(g.batch * g.height.input * g.width.input * o_.in_channels));
    col2im_add(g, dcolumns.data(), dx.data.data());
    return dx;
  }

  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }

 private:
  Conv2dOptions o_;
  Parameter weight_, bias_;
  std::vector<std::size_t> input_dims_;
  std::vector<float> columns_;
};

}  // namespace qinfer::nn
