// SPDX-License-Identifier: Apache-2.0
//
// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization
// and Bias Correction", ICCV 2019): for two layers with only ReLU, max pooling or flattening
// between them, scaling output channel i of the first by 1/s_i and input channel i of the
// second by s_i leaves the float function unchanged (ReLU and max commute with a positive
// scale) and, with s_i = sqrt(r1_i / r2_i), gives channel i the same weight range r in both
// layers. Per-tensor weight quantization then no longer wastes its levels on the widest channel.
// ReLU6 does not commute with scaling, so pairs across a ReLU6 are left alone.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "qinfer/nn/matmul_layer.hpp"
#include "qinfer/nn/sequential.hpp"

namespace qinfer::calib {

namespace detail {

// Max |w| of output channel c of a [depth, out] weight matrix.
inline float output_range(const nn::MatmulLayer& l, std::size_t c) {
  const std::vector<float>& w = l.weight().value;
  float r = 0.0f;
  for (std::size_t k = 0; k < l.depth(); ++k)
    r = std::max(r, std::fabs(w[k * l.out_channels() + c]));
  return r;
}

// The rows of the second layer's weights that read input channel c of `channels`: for a conv,
// rows (kh, kw, c); for a linear layer after a flatten of (h, w, channels), rows (h, w, c); for
// a linear layer after a linear one, row c.
template <class Fn>
void for_input_rows(const nn::MatmulLayer& l, std::size_t channels, std::size_t c, Fn&& fn) {
  for (std::size_t row = c; row < l.depth(); row += channels) fn(row);
}

}  // namespace detail

// Equalizes every eligible pair of consecutive conv / linear layers of `model`, `iterations`
// passes over the chain (each pass moves every pair to equal ranges; later passes settle the
// layers that belong to two pairs). Returns the number of pairs equalized.
inline std::size_t equalize_cross_layer(nn::Sequential& model, int iterations = 4) {
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const nn::LayerKind k = model[i].kind();
    if (k != nn::LayerKind::conv2d && k != nn::LayerKind::linear) continue;
    for (std::size_t j = i + 1; j < model.size(); ++j) {
      const nn::LayerKind next = model[j].kind();
      if (next == nn::LayerKind::relu || next == nn::LayerKind::max_pool2d ||
          next == nn::LayerKind::flatten) {
        continue;
      }
      if (next == nn::LayerKind::conv2d || next == nn::LayerKind::linear) pairs.emplace_back(i, j);
      break;
    }
  }
  for (int pass = 0; pass < iterations; ++pass) {
    for (const auto& [first, second] : pairs) {
      auto& a = static_cast<nn::MatmulLayer&>(model[first]);
      auto& b = static_cast<nn::MatmulLayer&>(model[second]);
      const std::size_t channels = a.out_channels();
      if (b.depth() % channels != 0) continue;  // not a channel-wise pair (should not happen)
      for (std::size_t c = 0; c < channels; ++c) {
        const float r1 = detail::output_range(a, c);
        float r2 = 0.0f;
        detail::for_input_rows(b, channels, c, [&](std::size_t row) {
          for (std::size_t o = 0; o < b.out_channels(); ++o) {
            r2 = std::max(r2, std::fabs(b.weight().value[row * b.out_channels() + o]));
          }
        });
        if (r1 == 0.0f || r2 == 0.0f) continue;
        const float s = std::sqrt(r1 / r2);
        for (std::size_t k = 0; k < a.depth(); ++k) a.weight().value[k * channels + c] /= s;
        a.bias().value[c] /= s;
        detail::for_input_rows(b, channels, c, [&](std::size_t row) {
          for (std::size_t o = 0; o < b.out_channels(); ++o)
            b.weight().value[row * b.out_channels() + o] *= s;
        });
      }
    }
  }
  return pairs.size();
}

}  // namespace qinfer::calib
