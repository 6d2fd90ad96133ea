// SPDX-License-Identifier: Apache-2.0
//
// Fake quantization for quantization-aware training: values are rounded to the grid the int8
// model will use and mapped back to float, so training sees the quantization error. Rounding has
// no useful derivative; the straight-through estimator (Bengio et al., 2013) passes the gradient
// unchanged inside the representable range and stops it outside (where the int8 model clamps).
//
// - FakeQuantize: a layer at an activation quantization point (uint8, affine). Its range comes
//   from a moving-average min-max observer that keeps updating while training, until frozen;
//   calib::quantize_model then uses that range for the int8 model.
// - WeightFakeQuant: symmetric per-channel weights of a Linear or Conv2d layer ([depth, out],
//   channel = column) with learnable scales (LSQ, Esser et al., "Learned Step Size
//   Quantization", 2019): dq/ds = round(w/s) - w/s inside the range and +-qmax outside, the
//   scale gradient multiplied by 1 / sqrt(depth * qmax) as the paper prescribes.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "qinfer/calib/observer.hpp"
#include "qinfer/nn/layer.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer::nn {

class FakeQuantize final : public Layer {
 public:
  // `initial` is the range calibration found; training moves it by `momentum` per batch.
  explicit FakeQuantize(calib::Range initial, float momentum = 0.01f) : observer_(momentum) {
    const float seed[] = {initial.min, initial.max};
    observer_.observe(seed);
  }

  LayerKind kind() const noexcept override { return LayerKind::fake_quantize; }
  void freeze() noexcept { frozen_ = true; }
  calib::Range range() const noexcept { return observer_.range(); }
  QuantParams params() const {
    const calib::Range r = range();
    return choose_params<uint8_t>(r.min, r.max);
  }

  Tensor<float> forward(const Tensor<float>& x, bool train) override {
    if (train && !frozen_) observer_.observe(x.data);
    const QuantParams p = params();
    const auto zero = static_cast<float>(p.zero_point);
    Tensor<float> y = x;
    for (float& v : y.data) {
      v = (std::clamp(RoundHalfToEven::round(v / p.scale) + zero, 0.0f, 255.0f) - zero) * p.scale;
    }
    if (train) {
      input_ = x;
      lo_ = -zero * p.scale;
      hi_ = (255.0f - zero) * p.scale;
    }
    return y;
  }

  Tensor<float> backward(const Tensor<float>& dy) override {
    if (dy.size() != input_.size()) {
      fail(Errc::shape_mismatch, "FakeQuantize: backward needs forward(x, true)");
    }
    Tensor<float> dx = dy;
    for (std::size_t i = 0; i < dx.size(); ++i) {
      const float v = input_.data[i];
      dx.data[i] = v >= lo_ && v <= hi_ ? dx.data[i] : 0.0f;
    }
    return dx;
  }

 private:
  calib::MovingAverageMinMaxObserver observer_;
  bool frozen_ = false;
  Tensor<float> input_;
  float lo_ = 0.0f, hi_ = 0.0f;
};

class WeightFakeQuant {
 public:
  // Scales per output channel (the columns of [depth, out] weights), e.g. max|w| / qmax.
  WeightFakeQuant(int bits, std::size_t depth, std::vector<float> initial_scales)
      : qmax_((1 << (bits - 1)) - 1),
        bits_(bits),
        depth_(depth),
        scales_("weight_scale", {initial_scales.size()}) {
    if (bits < 2 || bits > 8) fail(Errc::invalid_argument, "WeightFakeQuant: bits must be 2 to 8");
    for (float s : initial_scales) {
      if (auto st = check_scale(s, "WeightFakeQuant: initial scales must be finite and > 0"); !st)
        fail(st);
    }
    scales_.value = std::move(initial_scales);
  }

  int bits() const noexcept { return bits_; }
  int qmax() const noexcept { return qmax_; }
  Parameter& scales() noexcept { return scales_; }
  const Parameter& scales() const noexcept { return scales_; }

  // The fake-quantized weights (kept until the next call).
  const std::vector<float>& apply(const std::vector<float>& w) {
    keep_scales_positive();
    const std::size_t n = scales_.value.size();
    effective_.resize(w.size());
    for (std::size_t k = 0; k < depth_; ++k) {
      for (std::size_t c = 0; c < n; ++c) {
        const float s = scales_.value[c];
        effective_[k * n + c] = code(w[k * n + c], s) * s;
      }
    }
    return effective_;
  }

  const std::vector<float>& effective() const noexcept { return effective_; }

  // Given dL/d(fake-quantized weights), adds dL/dw (straight through inside the range) to
  // w_grad and the LSQ gradient to the scales' gradient.
  void backward(const std::vector<float>& w, const std::vector<float>& d_effective,
                std::vector<float>& w_grad) {
    const std::size_t n = scales_.value.size();
    const float grad_scale =
        1.0f / std::sqrt(static_cast<float>(depth_ * static_cast<std::size_t>(qmax_)));
    for (std::size_t k = 0; k < depth_; ++k) {
      for (std::size_t c = 0; c < n; ++c) {
        const std::size_t i = k * n + c;
        const float s = scales_.value[c], ratio = w[i] / s;
        const float q = code(w[i], s);
        const bool inside = std::fabs(ratio) <= static_cast<float>(qmax_);
        if (inside) w_grad[i] += d_effective[i];
        scales_.grad[c] += grad_scale * d_effective[i] * (inside ? q - ratio : q);
      }
    }
  }

 private:
  float code(float w, float s) const noexcept {
    return std::clamp(RoundHalfToEven::round(w / s), -static_cast<float>(qmax_),
                      static_cast<float>(qmax_));
  }
  // An optimizer step can push a scale to 0 or below; the grid needs a positive one.
  void keep_scales_positive() noexcept {
    for (float& s : scales_.value) s = std::max(s, 1e-8f);
  }

  int qmax_;
  int bits_;
  std::size_t depth_;
  Parameter scales_;
  std::vector<float> effective_;
};

}  // namespace qinfer::nn
