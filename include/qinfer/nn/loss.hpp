// SPDX-License-Identifier: Apache-2.0
//
// Softmax cross-entropy over [N, classes] logits, averaged over the batch.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/core/span.hpp"
#include "qinfer/nn/layer.hpp"

namespace qinfer::nn {

struct LossAndGradient {
  float loss = 0.0f;
  Tensor<float> grad;  // dL/dlogits
};

inline LossAndGradient softmax_cross_entropy(const Tensor<float>& logits,
                                             Span<const uint8_t> labels) {
  if (logits.rank() != 2 || logits.dims[0] != labels.size()) {
    fail(Errc::shape_mismatch, "softmax_cross_entropy: logits must be [N, classes], N labels");
  }
  const std::size_t n = logits.dims[0], classes = logits.dims[1];
  LossAndGradient out{0.0f, Tensor<float>(logits.dims, std::vector<float>(logits.size()))};
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] >= classes)
      fail(Errc::invalid_argument, "softmax_cross_entropy: label >= classes");
    const float* z = &logits.data[i * classes];
    float* g = &out.grad.data[i * classes];
    // Shifted by the maximum so that exp never overflows.
    const float top = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (std::size_t c = 0; c < classes; ++c) sum += std::exp(double{z[c] - top});
    const double log_sum = std::log(sum);
    total += log_sum - double{z[labels[i]] - top};
    for (std::size_t c = 0; c < classes; ++c) {
      const double p = std::exp(double{z[c] - top} - log_sum);
      g[c] = static_cast<float>((p - (c == labels[i] ? 1.0 : 0.0)) / static_cast<double>(n));
    }
  }
  out.loss = n == 0 ? 0.0f : static_cast<float>(total / static_cast<double>(n));
  return out;
}

// Index of the largest logit of each row.
inline std::vector<uint8_t> predictions(const Tensor<float>& logits) {
  const std::size_t n = logits.dims.at(0), classes = logits.dims.at(1);
  std::vector<uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float* z = &logits.data[i * classes];
    out[i] = static_cast<uint8_t>(std::max_element(z, z + classes) - z);
  }
  return out;
}

}  // namespace qinfer::nn
