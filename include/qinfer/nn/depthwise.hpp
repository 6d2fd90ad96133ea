// SPDX-License-Identifier: Apache-2.0
//
// Depthwise 2-D convolution over NHWC batches (one k x k filter per channel, channel
// multiplier 1) and global average pooling, the two layers a MobileNet-style network adds to a
// plain CNN. The depthwise weights are stored [k * k, channels]: the [depth, out] layout of the
// other weighted layers with depth k * k, so per-channel quantization, fake quantization and
// the model file treat them alike. The loops run over contiguous channels, which compilers
// vectorize; the SIMD depthwise kernels of the convolution work will replace them.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <vector>

#include "qinfer/nn/matmul_layer.hpp"
#include "qinfer/ops/im2col.hpp"

namespace qinfer::nn {

struct DepthwiseOptions {
  std::size_t channels = 1;
  std::size_t kernel = 3;
  std::size_t stride = 1;
  std::size_t padding = 1;
};

class DepthwiseConv2d final : public MatmulLayer {
 public:
  explicit DepthwiseConv2d(DepthwiseOptions o)
      : MatmulLayer({o.kernel, o.kernel, o.channels}, o.kernel * o.kernel, o.channels), o_(o) {
    if (o.channels == 0 || o.kernel == 0 || o.stride == 0) {
      fail(Errc::invalid_argument, "DepthwiseConv2d: channels, kernel and stride must be > 0");
    }
  }

  LayerKind kind() const noexcept override { return LayerKind::depthwise_conv2d; }
  const DepthwiseOptions& options() const noexcept { return o_; }

  ImageWindows windows(const std::vector<std::size_t>& dims) const {
    ImageWindows g;
    if (auto s = square_windows(dims, o_.channels, o_.kernel, o_.stride, o_.padding, g); !s)
      fail(s);
    return g;
  }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    const ImageWindows g = windows(x.dims);
    const std::vector<float>& w = effective_weights();
    const std::size_t c = o_.channels;
    Tensor<float> y({g.batch, g.height.output(), g.width.output(), c},
                    std::vector<float>(g.rows() * c));
    for_each_tap(g, [&](std::size_t out, std::size_t in, std::size_t tap) {
      for (std::size_t ch = 0; ch < c; ++ch) y.data[out + ch] += x.data[in + ch] * w[tap * c + ch];
    });
    for (std::size_t r = 0; r < g.rows(); ++r) {
      for (std::size_t ch = 0; ch < c; ++ch) y.data[r * c + ch] += bias_.value[ch];
    }
    if (train) input_ = x;
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    if (input_.dims.empty())
      fail(Errc::invalid_argument, "DepthwiseConv2d: backward needs forward(x, true)");
    const ImageWindows g = windows(input_.dims);
    const std::size_t c = o_.channels;
    if (dy.size() != g.rows() * c) fail(Errc::shape_mismatch, "DepthwiseConv2d: gradient shape");
    const std::vector<float>& w = weight_quant_ ? weight_quant_->effective() : weight_.value;
    std::vector<float> dw(depth_ * c, 0.0f);
    Tensor<float> dx(input_.dims, std::vector<float>(input_.size()));
    for_each_tap(g, [&](std::size_t out, std::size_t in, std::size_t tap) {
      for (std::size_t ch = 0; ch < c; ++ch) {
        dw[tap * c + ch] += dy.data[out + ch] * input_.data[in + ch];
        dx.data[in + ch] += dy.data[out + ch] * w[tap * c + ch];
      }
    });
    add_weight_gradient(dw);
    add_bias_gradient(dy);
    return dx;
  }

 private:
  // Calls fn(output offset, input offset, tap) for every tap inside the image; padding taps
  // contribute zero and are skipped.
  template <class Fn>
  void for_each_tap(const ImageWindows& g, Fn&& fn) const {
    const std::size_t c = o_.channels, oh_n = g.height.output(), ow_n = g.width.output();
    std::size_t out = 0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      for (std::size_t oh = 0; oh < oh_n; ++oh) {
        for (std::size_t ow = 0; ow < ow_n; ++ow, out += c) {
          for (std::size_t kh = 0; kh < o_.kernel; ++kh) {
            const std::ptrdiff_t ih = g.height.coordinate(oh, kh);
            if (ih < 0 || static_cast<std::size_t>(ih) >= g.height.input) continue;
            for (std::size_t kw = 0; kw < o_.kernel; ++kw) {
              const std::ptrdiff_t iw = g.width.coordinate(ow, kw);
              if (iw < 0 || static_cast<std::size_t>(iw) >= g.width.input) continue;
              const std::size_t in =
                  ((n * g.height.input + static_cast<std::size_t>(ih)) * g.width.input +
                   static_cast<std::size_t>(iw)) *
                  c;
              fn(out, in, kh * o_.kernel + kw);
            }
          }
        }
      }
    }
  }

  DepthwiseOptions o_;
  Tensor<float> input_;
};

// [N, H, W, C] to [N, C]: the mean over each channel's pixels.
class GlobalAvgPool2d final : public Layer {
 public:
  LayerKind kind() const noexcept override { return LayerKind::global_avg_pool2d; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    if (x.rank() != 4 || x.dims[1] * x.dims[2] == 0) {
      fail(Errc::shape_mismatch, "GlobalAvgPool2d: input must be [N, H, W, C] with pixels");
    }
    const std::size_t n = x.dims[0], pixels = x.dims[1] * x.dims[2], c = x.dims[3];
    Tensor<float> y({n, c}, std::vector<float>(n * c));
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t p = 0; p < pixels; ++p) {
        for (std::size_t ch = 0; ch < c; ++ch)
          y.data[i * c + ch] += x.data[(i * pixels + p) * c + ch];
      }
      for (std::size_t ch = 0; ch < c; ++ch) y.data[i * c + ch] /= static_cast<float>(pixels);
    }
    if (train) input_dims_ = x.dims;
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    if (input_dims_.size() != 4)
      fail(Errc::invalid_argument, "GlobalAvgPool2d: backward needs forward(x, true)");
    const std::size_t n = input_dims_[0], pixels = input_dims_[1] * input_dims_[2],
                      c = input_dims_[3];
    if (dy.size() != n * c) fail(Errc::shape_mismatch, "GlobalAvgPool2d: gradient shape");
    Tensor<float> dx(input_dims_, std::vector<float>(n * pixels * c));
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t p = 0; p < pixels; ++p) {
        for (std::size_t ch = 0; ch < c; ++ch) {
          dx.data[(i * pixels + p) * c + ch] = dy.data[i * c + ch] / static_cast<float>(pixels);
        }
      }
    }
    return dx;
  }

 private:
  std::vector<std::size_t> input_dims_;
};

}  // namespace qinfer::nn
