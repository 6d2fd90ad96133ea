// SPDX-License-Identifier: Apache-2.0
//
// SmoothQuant (Xiao et al., "SmoothQuant: Accurate and Efficient Post-Training Quantization for
// Large Language Models", 2023): a few input channels of an LLM's activations run 20-100x larger
// than the rest, and per-row int8 quantization of the activations then spends its levels on
// them. Dividing each input channel j of the activations by s_j and multiplying the same column
// of the weights by s_j leaves the product unchanged and moves part of the range into the
// weights, which are quantized per block and absorb it better:
//
//   s_j = max |X_j|^alpha / max |W_j|^(1 - alpha),    alpha = 0.5 by default,
//
// with max |X_j| from calibration data and max |W_j| over the weight column. A channel that is
// zero in either keeps s_j = 1. The division of the activations folds into whatever produces
// them (a LayerNorm's gain) or runs as smooth_activations.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer::calib {

// Factors s [K] for weights [N, K] (any strides) and the calibration maxima of |x| per input
// channel (K entries, each finite and >= 0).
inline Result<std::vector<float>> smoothing_factors(Span<const float> activation_absmax,
                                                    MatrixView<const float> weight,
                                                    float alpha = 0.5f) {
  using R = std::vector<float>;
  if (activation_absmax.size() != weight.cols) {
    return fail<R>(Errc::shape_mismatch,
                   "smoothing_factors: one activation maximum per weight column (input channel)");
  }
  if (!(alpha >= 0.0f && alpha <= 1.0f)) {
    return fail<R>(Errc::invalid_argument, "smoothing_factors: alpha must lie in [0, 1]");
  }
  if (auto s = check_view(weight, "smoothing_factors: weight"); !s) return fail<R>(s);
  std::vector<float> factors(weight.cols, 1.0f);
  for (std::size_t j = 0; j < weight.cols; ++j) {
    const float x = activation_absmax[j];
    if (!std::isfinite(x) || x < 0.0f) {
      return fail<R>(Errc::invalid_argument,
                     "smoothing_factors: an activation maximum is negative, NaN or infinite");
    }
    float w = 0.0f;
    for (std::size_t n = 0; n < weight.rows; ++n) w = std::max(w, std::fabs(weight(n, j)));
    if (!std::isfinite(w)) {
      return fail<R>(Errc::invalid_argument, "smoothing_factors: a weight is NaN or infinite");
    }
    if (x > 0.0f && w > 0.0f) {
      const double s = std::pow(double{x}, double{alpha}) / std::pow(double{w}, 1.0 - alpha);
      if (std::isfinite(s) && s > 0.0) factors[j] = static_cast<float>(s);
    }
  }
  return factors;
}

// weight [N, K]: column j times s_j, in place.
inline Result<void> smooth_weights(MatrixView<float> weight, Span<const float> factors) {
  if (factors.size() != weight.cols) {
    return fail(Errc::shape_mismatch, "smooth_weights: one factor per weight column");
  }
  if (auto s = check_view(weight, "smooth_weights: weight"); !s) return fail(s);
  for (std::size_t n = 0; n < weight.rows; ++n) {
    for (std::size_t j = 0; j < weight.cols; ++j) weight(n, j) *= factors[j];
  }
  return ok();
}

// x [M, K]: column j divided by s_j, in place.
inline Result<void> smooth_activations(MatrixView<float> x, Span<const float> factors) {
  if (factors.size() != x.cols) {
    return fail(Errc::shape_mismatch, "smooth_activations: one factor per activation column");
  }
  if (auto s = check_view(x, "smooth_activations: x"); !s) return fail(s);
  for (std::size_t m = 0; m < x.rows; ++m) {
    for (std::size_t j = 0; j < x.cols; ++j) x(m, j) /= factors[j];
  }
  return ok();
}

}  // namespace qinfer::calib
