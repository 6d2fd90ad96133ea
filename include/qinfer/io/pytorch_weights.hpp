// SPDX-License-Identifier: Apache-2.0
//
// A float model's weights in PyTorch's names and layouts, through safetensors. The conv and
// linear layers of a Sequential take names in order (e.g. conv1, conv2, fc1, fc2; inside a
// residual block, the body's layers and then the shortcut's), each with
// "<name>.weight" and "<name>.bias". Layouts are converted once, on load and on save:
//
// - Conv2d: PyTorch OIHW <-> our HWIO ([kh, kw, in, out]);
// - depthwise Conv2d: PyTorch [C, 1, kh, kw] (groups = C) <-> our [kh * kw, C];
// - Linear: PyTorch [out, in] <-> our [in, out];
// - the first Linear after a Flatten of an image: PyTorch flattens (c, h, w), NHWC flattens
//   (h, w, c), so that layer's input features are permuted to match.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "qinfer/io/safetensors.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/depthwise.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/residual.hpp"
#include "qinfer/nn/sequential.hpp"

namespace qinfer::io {

namespace detail {

using MatmulLayers = std::vector<std::pair<nn::MatmulLayer*, std::vector<std::size_t>>>;

// Appends each conv / linear layer of `chain` in order (a residual block's body, then its
// shortcut) and, for a Linear fed by a Flatten of an [H, W, C] image, that image's dims (empty
// otherwise). Returns the chain's output for x.
inline Tensor<float> collect_matmul_layers(nn::Sequential& chain, Tensor<float> x,
                                           MatmulLayers& out) {
  std::vector<std::size_t> flattened;  // the image dims of the last Flatten, until a Linear
  for (std::size_t i = 0; i < chain.size(); ++i) {
    nn::Layer& layer = chain[i];
    if (layer.kind() == nn::LayerKind::flatten && x.rank() == 4) {
      flattened.assign(x.dims.begin() + 1, x.dims.end());
    }
    if (layer.kind() == nn::LayerKind::residual) {
      auto& r = static_cast<nn::Residual&>(layer);
      collect_matmul_layers(r.body(), x, out);
      collect_matmul_layers(r.shortcut(), x, out);
    }
    if (nn::has_weights(layer.kind())) {
      out.emplace_back(static_cast<nn::MatmulLayer*>(&layer), layer.kind() == nn::LayerKind::linear
                                                                  ? flattened
                                                                  : std::vector<std::size_t>{});
      flattened.clear();
    }
    x = layer.forward(x, false);
  }
  return x;
}

// The conv / linear layers of `model` for one example of shape `input_dims`.
inline MatmulLayers matmul_layers(nn::Sequential& model,
                                  const std::vector<std::size_t>& input_dims) {
  std::vector<std::size_t> dims{1};
  dims.insert(dims.end(), input_dims.begin(), input_dims.end());
  std::size_t count = 1;
  for (std::size_t d : dims) count *= d;
  MatmulLayers out;
  collect_matmul_layers(model, Tensor<float>(dims, std::vector<float>(count)), out);
  return out;
}

// Our row r of a Linear's weights is PyTorch's input feature pytorch_feature(r).
inline std::size_t pytorch_feature(std::size_t r, const std::vector<std::size_t>& image) {
  if (image.empty()) return r;
  const std::size_t h = image[0], w = image[1], c = image[2];
  const std::size_t y = r / (w * c), x = (r / c) % w, ch = r % c;
  return (ch * h + y) * w + x;
}

// A layer's weights in PyTorch: the tensor's shape, and for each of our weights (index
// r * out + c of [depth, out]) its position in that tensor. Loading gathers through it, saving
// scatters, so the two directions cannot disagree.
struct PytorchLayout {
  std::vector<std::size_t> shape;
  std::vector<std::size_t> position;
};

inline PytorchLayout pytorch_layout(nn::MatmulLayer& layer, const std::vector<std::size_t>& image) {
  const std::size_t depth = layer.depth(), out = layer.out_channels();
  PytorchLayout l{{out, depth}, std::vector<std::size_t>(depth * out)};
  std::size_t in = 0, k = 1;
  if (layer.kind() == nn::LayerKind::conv2d) {
    const nn::Conv2dOptions& o = static_cast<nn::Conv2d&>(layer).options();
    in = o.in_channels;
    k = o.kernel;
    l.shape = {out, in, k, k};
  } else if (layer.kind() == nn::LayerKind::depthwise_conv2d) {
    k = static_cast<nn::DepthwiseConv2d&>(layer).options().kernel;
    l.shape = {out, 1, k, k};  // PyTorch's groups = channels weight
  }
  for (std::size_t r = 0; r < depth; ++r) {
    for (std::size_t c = 0; c < out; ++c) {
      std::size_t theirs = c * depth + pytorch_feature(r, image);  // [out, in] (and depthwise)
      if (layer.kind() == nn::LayerKind::conv2d) {
        // Our row r = (y * k + x) * in + ci; PyTorch's OIHW index ((c * in + ci) * k + y) * k + x.
        const std::size_t ci = r % in, tap = r / in;
        theirs = ((c * in + ci) * k + tap / k) * k + tap % k;
      }
      l.position[r * out + c] = theirs;
    }
  }
  return l;
}

inline std::vector<uint8_t> float_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(float));
  std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

}  // namespace detail

// Loads "<names[i]>.weight" / ".bias" into the i-th conv or linear layer of `model`.
inline void load_pytorch_weights(nn::Sequential& model, const Safetensors& file,
                                 const std::vector<std::string>& names,
                                 const std::vector<std::size_t>& input_dims) {
  const auto layers = detail::matmul_layers(model, input_dims);
  if (layers.size() != names.size()) {
    fail(Errc::shape_mismatch, "load_pytorch_weights: one name per conv or linear layer");
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    nn::MatmulLayer& layer = *layers[l].first;
    const SafetensorsEntry* w = file.find(names[l] + ".weight");
    const SafetensorsEntry* b = file.find(names[l] + ".bias");
    if (w == nullptr || b == nullptr) {
      fail(Errc::invalid_argument, "load_pytorch_weights: a layer's weight or bias is missing");
    }
    const detail::PytorchLayout layout = detail::pytorch_layout(layer, layers[l].second);
    if (w->shape != layout.shape || b->shape != std::vector<std::size_t>{layer.out_channels()}) {
      fail(Errc::shape_mismatch, "load_pytorch_weights: a tensor's shape does not fit its layer");
    }
    const std::vector<float> source = file.to_float(*w);
    std::vector<float>& target = layer.weight().value;
    for (std::size_t i = 0; i < target.size(); ++i) target[i] = source[layout.position[i]];
    layer.bias().value = file.to_float(*b);
  }
}

// The model's conv and linear weights in PyTorch's names and layouts, as F32 safetensors.
inline std::vector<uint8_t> save_pytorch_weights(
    nn::Sequential& model, const std::vector<std::string>& names,
    const std::vector<std::size_t>& input_dims,
    const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  const auto layers = detail::matmul_layers(model, input_dims);
  if (layers.size() != names.size()) {
    fail(Errc::shape_mismatch, "save_pytorch_weights: one name per conv or linear layer");
  }
  std::vector<SafetensorsTensor> tensors;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    nn::MatmulLayer& layer = *layers[l].first;
    const detail::PytorchLayout layout = detail::pytorch_layout(layer, layers[l].second);
    const std::vector<float>& source = layer.weight().value;
    std::vector<float> w(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) w[layout.position[i]] = source[i];
    tensors.push_back({names[l] + ".weight", Dtype::f32, layout.shape, detail::float_bytes(w)});
    tensors.push_back({names[l] + ".bias",
                       Dtype::f32,
                       {layer.out_channels()},
                       detail::float_bytes(layer.bias().value)});
  }
  return write_safetensors(tensors, metadata);
}

}  // namespace qinfer::io
