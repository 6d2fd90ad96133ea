// SPDX-License-Identifier: Apache-2.0
//
// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization
// and Bias Correction", ICCV 2019): for two conv, depthwise or linear layers with only ReLU, max
// pooling or flattening between them, scaling output channel i of the first by 1/s_i and input
// channel i of the second by s_i leaves the float function unchanged (ReLU and max commute with a
// positive scale) and, with s_i = sqrt(r1_i / r2_i), gives channel i the same weight range r in
// both layers. Per-tensor weight quantization then no longer wastes its levels on the widest
// channel. ReLU6 does not commute with scaling, so pairs across a ReLU6 are left alone.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "qinfer/nn/matmul_layer.hpp"
#include "qinfer/nn/residual.hpp"
#include "qinfer/nn/sequential.hpp"

namespace qinfer::calib {

namespace detail {

// Calls fn(index) for every weight of `l` ([depth, out]) that produces output channel c.
template <class Fn>
void for_output_channel(const nn::MatmulLayer& l, std::size_t c, Fn&& fn) {
  for (std::size_t k = 0; k < l.depth(); ++k) fn(k * l.out_channels() + c);
}

// Calls fn(index) for every weight of `l` that reads input channel c of `channels`: for a
// depthwise layer, channel c's filter; for a conv, rows (kh, kw, c); for a linear layer after a
// flatten of (h, w, channels), rows (h, w, c); after a linear layer, row c.
template <class Fn>
void for_input_channel(const nn::MatmulLayer& l, std::size_t channels, std::size_t c, Fn&& fn) {
  if (l.kind() == nn::LayerKind::depthwise_conv2d) return for_output_channel(l, c, fn);
  for (std::size_t row = c; row < l.depth(); row += channels) {
    for (std::size_t o = 0; o < l.out_channels(); ++o) fn(row * l.out_channels() + o);
  }
}

// The eligible pairs of a chain, and of the chains inside its residual blocks (a branch's last
// layer feeds the add, so pairs never cross a block's boundary).
inline void equalization_pairs(nn::Sequential& chain,
                               std::vector<std::pair<nn::MatmulLayer*, nn::MatmulLayer*>>& pairs) {
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (chain[i].kind() == nn::LayerKind::residual) {
      auto& r = static_cast<nn::Residual&>(chain[i]);
      equalization_pairs(r.body(), pairs);
      equalization_pairs(r.shortcut(), pairs);
      continue;
    }
    if (!nn::has_weights(chain[i].kind())) continue;
    for (std::size_t j = i + 1; j < chain.size(); ++j) {
      const nn::LayerKind next = chain[j].kind();
      if (next == nn::LayerKind::relu || next == nn::LayerKind::max_pool2d ||
          next == nn::LayerKind::flatten) {
        continue;
      }
      if (nn::has_weights(next)) {
        pairs.emplace_back(static_cast<nn::MatmulLayer*>(&chain[i]),
                           static_cast<nn::MatmulLayer*>(&chain[j]));
      }
      break;
    }
  }
}

}  // namespace detail

// Equalizes every eligible pair of consecutive conv / linear layers of `model`, `iterations`
// passes over the chain (each pass moves every pair to equal ranges; later passes settle the
// layers that belong to two pairs). Returns the number of pairs equalized.
inline std::size_t equalize_cross_layer(nn::Sequential& model, int iterations = 4) {
  std::vector<std::pair<nn::MatmulLayer*, nn::MatmulLayer*>> pairs;
  detail::equalization_pairs(model, pairs);
  for (int pass = 0; pass < iterations; ++pass) {
    for (const auto& [first, second] : pairs) {
      nn::MatmulLayer& a = *first;
      nn::MatmulLayer& b = *second;
      std::vector<float>& wa = a.weight().value;
      std::vector<float>& wb = b.weight().value;
      const std::size_t channels = a.out_channels();
      const bool channel_wise = b.kind() == nn::LayerKind::depthwise_conv2d
                                    ? b.out_channels() == channels
                                    : b.depth() % channels == 0;
      if (!channel_wise) continue;
      for (std::size_t c = 0; c < channels; ++c) {
        float r1 = 0.0f, r2 = 0.0f;
        detail::for_output_channel(a, c,
                                   [&](std::size_t i) { r1 = std::max(r1, std::fabs(wa[i])); });
        detail::for_input_channel(b, channels, c,
                                  [&](std::size_t i) { r2 = std::max(r2, std::fabs(wb[i])); });
        if (r1 == 0.0f || r2 == 0.0f) continue;
        const float s = std::sqrt(r1 / r2);
        detail::for_output_channel(a, c, [&](std::size_t i) { wa[i] /= s; });
        a.bias().value[c] /= s;
        detail::for_input_channel(b, channels, c, [&](std::size_t i) { wb[i] *= s; });
      }
    }
  }
  return pairs.size();
}

}  // namespace qinfer::calib
