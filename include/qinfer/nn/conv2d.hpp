// SPDX-License-Identifier: Apache-2.0
//
// 2-D convolution over NHWC batches, square kernel, symmetric padding, stride; one im2col and
// one GEMM with the weights stored HWIO ([k * k * in, out]), the layout the int8 GEMM packs.
// PyTorch stores OIHW; the safetensors import converts.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <vector>

#include "qinfer/core/matrix.hpp"
#include "qinfer/nn/matmul_layer.hpp"
#include "qinfer/ops/im2col.hpp"

namespace qinfer::nn {

struct Conv2dOptions {
  std::size_t in_channels = 1;
  std::size_t out_channels = 1;
  std::size_t kernel = 3;
  std::size_t stride = 1;
  std::size_t padding = 0;
};

class Conv2d final : public MatmulLayer {
 public:
  explicit Conv2d(Conv2dOptions o)
      : MatmulLayer({o.kernel, o.kernel, o.in_channels, o.out_channels},
                    o.kernel * o.kernel * o.in_channels, o.out_channels),
        o_(o) {
    if (o.in_channels == 0 || o.out_channels == 0 || o.kernel == 0 || o.stride == 0) {
      fail(Errc::invalid_argument, "Conv2d: channels, kernel and stride must be > 0");
    }
  }

  LayerKind kind() const noexcept override { return LayerKind::conv2d; }
  const Conv2dOptions& options() const noexcept { return o_; }

  // The windows of an [N, H, W, in] batch; fails if the kernel does not fit.
  ImageWindows windows(const std::vector<std::size_t>& dims) const {
    ImageWindows g;
    if (auto s = square_windows(dims, o_.in_channels, o_.kernel, o_.stride, o_.padding, g); !s)
      fail(s);
    return g;
  }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    const ImageWindows g = windows(x.dims);
    const std::size_t rows = g.rows();
    std::vector<float> columns(rows * depth_);
    im2col(g, x.data.data(), 0.0f, columns.data());
    Tensor<float> y({g.batch, g.height.output(), g.width.output(), out_},
                    std::vector<float>(rows * out_));
    affine(row_major<const float>(columns.data(), rows, depth_), y.data);
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
    const std::size_t rows = g.rows();
    if (dy.size() != rows * out_) fail(Errc::shape_mismatch, "Conv2d: gradient shape");
    add_weight_gradient(MatrixView<const float>{columns_.data(), depth_, rows, 1, depth_},
                        row_major(dy.data.data(), rows, out_));
    add_bias_gradient(dy);
    // The window gradients, scattered back onto the image.
    std::vector<float> dcolumns(rows * depth_);
    input_gradient(row_major(dy.data.data(), rows, out_), row_major(dcolumns.data(), rows, depth_));
    Tensor<float> dx(input_dims_,
                     std::vector<float>(g.batch * g.height.input * g.width.input * o_.in_channels));
    col2im_add(g, dcolumns.data(), dx.data.data());
    return dx;
  }

 private:
  Conv2dOptions o_;
  std::vector<std::size_t> input_dims_;
  std::vector<float> columns_;
};

}  // namespace qinfer::nn
