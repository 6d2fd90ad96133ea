// SPDX-License-Identifier: Apache-2.0
//
// Float layers for training and for the fp32 side of quantization: a layer maps a batch
// (Tensor<float>, batch outermost: [N, H, W, C] images in NHWC or [N, F] features) to a batch,
// keeps what its backward pass needs, and accumulates its parameters' gradients. Parameters
// keep their float values here; quantization (calib/, nn/quantized.hpp) reads them by kind.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/tensor.hpp"
#include "qinfer/runtime/parallel.hpp"

#if defined(QINFER_NO_EXCEPTIONS)
#error "qinfer/nn is host-side training code and reports errors by exception"
#endif

namespace qinfer::nn {

// A trainable tensor and its gradient (same size), e.g. a Linear layer's weight.
struct Parameter {
  std::string name;
  std::vector<std::size_t> dims;
  std::vector<float> value;
  std::vector<float> grad;

  Parameter(std::string n, std::vector<std::size_t> d)
      : name(std::move(n)), dims(std::move(d)), value(size()), grad(size()) {}
  std::size_t size() const {
    return element_count(Span<const std::size_t>(dims.data(), dims.size()));
  }
};

// What a layer is, so that quantization can map it without RTTI.
enum class LayerKind {
  linear,
  conv2d,
  depthwise_conv2d,
  relu,
  relu6,
  max_pool2d,
  avg_pool2d,
  global_avg_pool2d,
  flatten,
  fake_quantize,
  residual
};

class Layer {
 public:
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  virtual ~Layer() = default;

  virtual LayerKind kind() const noexcept = 0;
  // The output of one batch; with `train`, what backward() needs is kept.
  virtual Tensor<float> forward(const Tensor<float>& x, bool train) = 0;
  // Adds the parameters' gradients for the last forward(x, true) and returns dL/dx.
  virtual Tensor<float> backward(const Tensor<float>& grad_output) = 0;
  virtual std::vector<Parameter*> parameters() { return {}; }
  // Draws initial parameter values.
  virtual void initialize(std::mt19937& /*rng*/) {}

  // Where the layer's GEMMs split their work (serial by default).
  virtual void set_executor(ParallelForHook executor) { executor_ = executor; }

 protected:
  ParallelForHook executor_;
};

}  // namespace qinfer::nn
