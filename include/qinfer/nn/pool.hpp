// SPDX-License-Identifier: Apache-2.0
//
// Max and average pooling over NHWC batches (square windows), and Flatten.
#pragma once

#include "qinfer/core/host_only.hpp"

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

// Average pooling over NHWC batches, square window, PyTorch's semantics: padding (smaller than
// the kernel) on every side, and with count_include_pad (PyTorch's default) the padded taps
// count as zeros; without it, each window averages only the taps inside the input.
class AvgPool2d final : public Layer {
 public:
  explicit AvgPool2d(std::size_t kernel, std::size_t stride = 0, std::size_t padding = 0,
                     bool count_include_pad = true)
      : kernel_(kernel),
        stride_(stride == 0 ? kernel : stride),
        padding_(padding),
        count_include_pad_(count_include_pad) {
    if (kernel == 0 || padding >= kernel) {
      fail(Errc::invalid_argument, "AvgPool2d: kernel must be > 0 and padding < kernel");
    }
  }

  LayerKind kind() const noexcept override { return LayerKind::avg_pool2d; }
  std::size_t kernel() const noexcept { return kernel_; }
  std::size_t stride() const noexcept { return stride_; }
  std::size_t padding() const noexcept { return padding_; }
  bool count_include_pad() const noexcept { return count_include_pad_; }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    const Geometry g = geometry(x.dims);
    Tensor<float> y({g.n, g.h.output(), g.w.output(), g.c},
                    std::vector<float>(g.n * g.h.output() * g.w.output() * g.c));
    for_each_window(g, [&](std::size_t out, const std::vector<std::size_t>& taps, float weight) {
      for (std::size_t c = 0; c < g.c; ++c) {
        float sum = 0.0f;
        for (std::size_t t : taps) sum += x.data[t + c];
        y.data[out + c] = sum * weight;
      }
    });
    if (train) input_dims_ = x.dims;
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    if (input_dims_.empty())
      fail(Errc::shape_mismatch, "AvgPool2d: backward needs forward(x, true)");
    const Geometry g = geometry(input_dims_);
    if (dy.size() != g.n * g.h.output() * g.w.output() * g.c) {
      fail(Errc::shape_mismatch, "AvgPool2d: gradient does not match the last forward");
    }
    Tensor<float> dx(input_dims_, std::vector<float>(g.n * g.h.input * g.w.input * g.c));
    for_each_window(g, [&](std::size_t out, const std::vector<std::size_t>& taps, float weight) {
      for (std::size_t t : taps) {
        for (std::size_t c = 0; c < g.c; ++c) dx.data[t + c] += dy.data[out + c] * weight;
      }
    });
    return dx;
  }

 private:
  struct Geometry {
    std::size_t n, c;
    reference::Window1d h, w;
  };

  Geometry geometry(const std::vector<std::size_t>& dims) const {
    if (dims.size() != 4) fail(Errc::shape_mismatch, "AvgPool2d: input must be [N, H, W, C]");
    const Geometry g{dims[0],
                     dims[3],
                     {dims[1], kernel_, stride_, 1, padding_, padding_},
                     {dims[2], kernel_, stride_, 1, padding_, padding_}};
    if (auto s = g.h.check("AvgPool2d: window does not fit the height"); !s) fail(s);
    if (auto s = g.w.check("AvgPool2d: window does not fit the width"); !s) fail(s);
    return g;
  }

  // Calls fn(first output element, first element of each tap inside the input, 1 / count)
  // for every window.
  template <class Fn>
  void for_each_window(const Geometry& g, Fn&& fn) const {
    std::vector<std::size_t> taps;
    taps.reserve(kernel_ * kernel_);
    std::size_t out = 0;
    for (std::size_t n = 0; n < g.n; ++n) {
      for (std::size_t oh = 0; oh < g.h.output(); ++oh) {
        for (std::size_t ow = 0; ow < g.w.output(); ++ow, out += g.c) {
          taps.clear();
          for (std::size_t kh = 0; kh < kernel_; ++kh) {
            const std::ptrdiff_t ih = g.h.coordinate(oh, kh);
            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.h.input)) continue;
            for (std::size_t kw = 0; kw < kernel_; ++kw) {
              const std::ptrdiff_t iw = g.w.coordinate(ow, kw);
              if (iw < 0 || iw >= static_cast<std::ptrdiff_t>(g.w.input)) continue;
              taps.push_back(((n * g.h.input + static_cast<std::size_t>(ih)) * g.w.input +
                              static_cast<std::size_t>(iw)) *
                             g.c);
            }
          }
          const std::size_t count = count_include_pad_ ? kernel_ * kernel_ : taps.size();
          fn(out, taps, 1.0f / static_cast<float>(count));
        }
      }
    }
  }

  std::size_t kernel_, stride_, padding_;
  bool count_include_pad_;
  std::vector<std::size_t> input_dims_;
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
