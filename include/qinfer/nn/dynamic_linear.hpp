// SPDX-License-Identifier: Apache-2.0
//
// Dynamically quantized linear layers, as PyTorch's quantize_dynamic makes them for speech and
// NLP models: y [M, N] = x [M, K] W^T + b with the weights W [N, K] quantized once, symmetric
// per output channel to int8 in [-127, 127] (scale max |w| / 127), and the activations quantized
// on every call from their own range:
//
//   per tensor: uint8, affine over [min(x, 0), max(x, 0)], as PyTorch's dynamic Linear;
//   per row:    int8, symmetric over max |x_m| of each row, for inputs whose rows differ in scale.
//
// The product runs on the dispatched int8 GEMM (ops/gemm.hpp) into int32, and each output is
// float(acc) * (x scale * w scale[n]) + b[n]. DenseLinear is the same layer in float, on
// qinfer::sgemm, for the float models the quantized ones are measured against.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/ops/sgemm.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/runtime/parallel.hpp"

#if defined(QINFER_NO_EXCEPTIONS)
#error "qinfer/nn is host-side code and reports errors by exception"
#endif

namespace qinfer::nn {

enum class ActivationQuantization : uint8_t { per_tensor, per_row };

namespace detail {

inline Status check_linear(MatrixView<const float> weight, Span<const float> bias,
                           const char* name) noexcept {
  if (auto s = check_view(weight, name); !s) return s;
  if (!bias.empty() && bias.size() != weight.rows) {
    return {Errc::shape_mismatch, "linear: bias needs one entry per output (weight row)"};
  }
  for (std::size_t n = 0; n < weight.rows; ++n) {
    for (std::size_t k = 0; k < weight.cols; ++k) {
      if (!std::isfinite(weight(n, k)))
        return {Errc::invalid_argument, "linear: a weight is NaN or infinite"};
    }
  }
  for (float b : bias) {
    if (!std::isfinite(b)) return {Errc::invalid_argument, "linear: a bias is NaN or infinite"};
  }
  return {};
}

inline Status check_forward(MatrixView<const float> x, const MatrixView<float>& y, std::size_t k,
                            std::size_t n) noexcept {
  if (x.cols != k || y.rows != x.rows || y.cols != n) {
    return {Errc::shape_mismatch, "linear: x must be M x in_features and y M x out_features"};
  }
  if (auto s = check_view(x, "linear: x"); !s) return s;
  if (auto s = check_view(y, "linear: y"); !s) return s;
  if (x.col_stride != 1 || y.col_stride != 1) {
    return {Errc::invalid_argument, "linear: x's and y's rows must be contiguous"};
  }
  return {};
}

}  // namespace detail

class DynamicLinear {
 public:
  DynamicLinear() = default;

  // weight [out_features, in_features] (any strides), bias empty or one per output.
  static DynamicLinear prepare(
      MatrixView<const float> weight, Span<const float> bias,
      ActivationQuantization activations = ActivationQuantization::per_tensor) {
    if (auto s = detail::check_linear(weight, bias, "DynamicLinear: weight"); !s) fail(s);
    DynamicLinear layer;
    layer.k_ = weight.cols;
    layer.n_ = weight.rows;
    layer.activations_ = activations;
    layer.bias_.assign(layer.n_, 0.0f);
    std::copy(bias.begin(), bias.end(), layer.bias_.begin());
    layer.weight_scales_.resize(layer.n_);
    std::vector<int8_t> codes(layer.n_ * layer.k_);  // [N, K]
    std::vector<float> row(layer.k_);
    for (std::size_t n = 0; n < layer.n_; ++n) {
      float amax = 0.0f;
      for (std::size_t k = 0; k < layer.k_; ++k) {
        row[k] = weight(n, k);
        amax = std::max(amax, std::fabs(row[k]));
      }
      const QuantParams p = choose_params<int8_t, SymmetricNarrow>(-amax, amax);
      quantize<int8_t, RoundHalfToEven, SymmetricNarrow>(
          Span<const float>(row), Span<int8_t>(codes.data() + n * layer.k_, layer.k_), p);
      layer.weight_scales_[n] = p.scale;
    }
    const int32_t zero = 0;
    // B is K x N: the codes' transpose, as a view.
    layer.packed_ = pack_weights<SymmetricNarrow>(
        MatrixView<const int8_t>{codes.data(), layer.k_, layer.n_, 1, layer.k_},
        Span<const int32_t>(&zero, 1), Span<const int32_t>());
    return layer;
  }

  std::size_t in_features() const noexcept { return k_; }
  std::size_t out_features() const noexcept { return n_; }
  ActivationQuantization activations() const noexcept { return activations_; }
  Span<const float> weight_scales() const noexcept { return weight_scales_; }

  // y [M, out_features] = x [M, in_features] W^T + b; x must be finite. Allocates the codes and
  // the int32 products (M x (in + out) values) per call.
  template <class Executor = SerialExecutor>
  void forward(MatrixView<const float> x, MatrixView<float> y,
               Executor&& executor = Executor{}) const {
    if (auto s = detail::check_forward(x, y, k_, n_); !s) fail(s);
    const std::size_t m = x.rows;
    std::vector<int32_t> acc(m * n_);
    std::vector<float> row_scales(m);
    const MatrixView<int32_t> products{acc.data(), m, n_, n_, 1};
    if (activations_ == ActivationQuantization::per_tensor) {
      float lo = 0.0f, hi = 0.0f;
      bool finite = true;
      for (std::size_t r = 0; r < m; ++r) {
        for (std::size_t k = 0; k < k_; ++k) {
          finite &= std::isfinite(x(r, k));
          lo = std::min(lo, x(r, k));
          hi = std::max(hi, x(r, k));
        }
      }
      if (!finite) fail(Errc::invalid_argument, "DynamicLinear: an activation is NaN or infinite");
      const QuantParams p = choose_params<uint8_t>(lo, hi);
      std::vector<uint8_t> codes(m * k_);
      for (std::size_t r = 0; r < m; ++r) {
        quantize<uint8_t>(Span<const float>(x.data + r * x.row_stride, k_),
                          Span<uint8_t>(codes.data() + r * k_, k_), p);
      }
      std::fill(row_scales.begin(), row_scales.end(), p.scale);
      gemm(MatrixView<const uint8_t>{codes.data(), m, k_, k_, 1}, p.zero_point, packed_,
           StoreInt32{}, products, executor);
    } else {
      std::vector<int8_t> codes(m * k_);
      for (std::size_t r = 0; r < m; ++r) {
        const Span<const float> row(x.data + r * x.row_stride, k_);
        float amax = 0.0f;
        bool finite = true;
        for (float v : row) {
          finite &= std::isfinite(v);
          amax = std::max(amax, std::fabs(v));
        }
        if (!finite)
          fail(Errc::invalid_argument, "DynamicLinear: an activation is NaN or infinite");
        const QuantParams p = choose_params<int8_t, SymmetricNarrow>(-amax, amax);
        quantize<int8_t, RoundHalfToEven, SymmetricNarrow>(
            row, Span<int8_t>(codes.data() + r * k_, k_), p);
        row_scales[r] = p.scale;
      }
      gemm(MatrixView<const int8_t>{codes.data(), m, k_, k_, 1}, 0, packed_, StoreInt32{}, products,
           executor);
    }
    for (std::size_t r = 0; r < m; ++r) {
      const int32_t* a = acc.data() + r * n_;
      float* out = y.data + r * y.row_stride;
      for (std::size_t c = 0; c < n_; ++c) {
        out[c] = static_cast<float>(a[c]) * (row_scales[r] * weight_scales_[c]) + bias_[c];
      }
    }
  }

 private:
  std::size_t k_ = 0;
  std::size_t n_ = 0;
  ActivationQuantization activations_ = ActivationQuantization::per_tensor;
  PackedWeights packed_;
  std::vector<float> weight_scales_;
  std::vector<float> bias_;
};

// The float layer: y = x W^T + b on qinfer::sgemm, W kept transposed ([in, out]) so that the
// GEMM reads B's rows contiguously.
class DenseLinear {
 public:
  DenseLinear() = default;

  static DenseLinear prepare(MatrixView<const float> weight, Span<const float> bias) {
    if (auto s = detail::check_linear(weight, bias, "DenseLinear: weight"); !s) fail(s);
    DenseLinear layer;
    layer.k_ = weight.cols;
    layer.n_ = weight.rows;
    layer.weight_t_.resize(layer.k_ * layer.n_);
    for (std::size_t n = 0; n < layer.n_; ++n) {
      for (std::size_t k = 0; k < layer.k_; ++k) layer.weight_t_[k * layer.n_ + n] = weight(n, k);
    }
    layer.bias_.assign(layer.n_, 0.0f);
    std::copy(bias.begin(), bias.end(), layer.bias_.begin());
    return layer;
  }

  std::size_t in_features() const noexcept { return k_; }
  std::size_t out_features() const noexcept { return n_; }

  template <class Executor = SerialExecutor>
  void forward(MatrixView<const float> x, MatrixView<float> y,
               Executor&& executor = Executor{}) const {
    if (auto s = detail::check_forward(x, y, k_, n_); !s) fail(s);
    sgemm(x, row_major<const float>(weight_t_.data(), k_, n_), y, Accumulate::no, executor);
    for (std::size_t r = 0; r < y.rows; ++r) {
      float* out = y.data + r * y.row_stride;
      for (std::size_t c = 0; c < n_; ++c) out[c] += bias_[c];
    }
  }

 private:
  std::size_t k_ = 0;
  std::size_t n_ = 0;
  std::vector<float> weight_t_;
  std::vector<float> bias_;
};

}  // namespace qinfer::nn
