// SPDX-License-Identifier: Apache-2.0
//
// LSTM and GRU layers for inference, over a linear layer type: DenseLinear gives the float
// layer, DynamicLinear (nn/dynamic_linear.hpp) the dynamically quantized one that PyTorch's
// quantize_dynamic makes of a speech model's LSTM. Weights in PyTorch's layout and gate order:
//
//   LSTM: W_ih [4H, I], W_hh [4H, H], b_ih, b_hh [4H], gates i, f, g, o:
//         c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c')
//   GRU:  W_ih [3H, I], W_hh [3H, H], b_ih, b_hh [3H], gates r, z, n:
//         n = tanh(x_n + sigmoid(r) (h_n)),  h' = (1 - sigmoid(z)) n + sigmoid(z) h
//
// where x_* = x W_ih^T + b_ih and h_* = h W_hh^T + b_hh, gate by gate. A sequence runs the input
// projection of all its steps as one product, then one hidden product per step.
//
// sigmoid and tanh use one exp each (fast_exp: a degree-6 polynomial after range reduction,
// within a few ulp of std::exp, in a loop the compiler vectorizes), so the gate arithmetic stays
// small beside the products for the float and the int8 layer alike.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/nn/dynamic_linear.hpp"
#include "qinfer/runtime/parallel.hpp"

#if defined(QINFER_NO_EXCEPTIONS)
#error "qinfer/nn is host-side code and reports errors by exception"
#endif

namespace qinfer::nn {

// exp(x) for x in [-87, 88] (clamped beyond): x = n ln 2 + r with |r| <= ln 2 / 2, e^r by its
// Taylor polynomial to degree 6 (relative error below 2^-22 on that interval), 2^n through the
// exponent bits. n is rounded by adding and subtracting 1.5 x 2^23, and the arithmetic is plain
// multiplies and adds (no std::fma, no std::nearbyint), so that the loops calling it vectorize
// on any x86-64 or AArch64 build instead of calling libm per value.
inline float fast_exp(float x) noexcept {
  constexpr float round = 12582912.0f;  // 1.5 x 2^23
  x = std::min(88.0f, std::max(-87.0f, x));
  const float n = (x * 1.44269504f + round) - round;
  const float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
  const float p =
      1.0f +
      r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f +
                                                      r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale = 0.0f;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float fast_sigmoid(float x) noexcept {
  return 1.0f / (1.0f + fast_exp(-x));
}

inline float fast_tanh(float x) noexcept {
  return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f);
}

enum class RnnKind : uint8_t { lstm, gru };

struct RnnWeights {
  std::size_t input_size = 0;
  std::size_t hidden_size = 0;
  std::vector<float> w_ih;  // [gates x H, I]
  std::vector<float> w_hh;  // [gates x H, H]
  std::vector<float> b_ih;  // [gates x H]
  std::vector<float> b_hh;  // [gates x H]
};

// Weights as PyTorch initializes an LSTM or GRU: every weight and bias uniform in
// [-1/sqrt(H), 1/sqrt(H)], here from a seeded generator.
inline RnnWeights initial_rnn_weights(RnnKind kind, std::size_t input_size, std::size_t hidden_size,
                                      uint32_t seed) {
  const std::size_t rows = (kind == RnnKind::lstm ? 4 : 3) * hidden_size;
  std::mt19937 rng(seed);
  const float bound = 1.0f / std::sqrt(static_cast<float>(hidden_size));
  std::uniform_real_distribution<float> uniform(-bound, bound);
  const auto fill = [&](std::size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = uniform(rng);
    return v;
  };
  RnnWeights w{input_size, hidden_size, {}, {}, {}, {}};
  w.w_ih = fill(rows * input_size);
  w.w_hh = fill(rows * hidden_size);
  w.b_ih = fill(rows);
  w.b_hh = fill(rows);
  return w;
}

// One recurrent layer. Linear is DenseLinear or DynamicLinear; Kind picks the cell.
template <RnnKind Kind, class Linear>
class Recurrent {
 public:
  static constexpr RnnKind kind = Kind;
  static constexpr std::size_t gates = Kind == RnnKind::lstm ? 4 : 3;

  Recurrent() = default;

  // Extra arguments go to Linear::prepare (DynamicLinear: the activation quantization).
  template <class... Options>
  static Recurrent prepare(const RnnWeights& w, Options... options) {
    const std::size_t i = w.input_size, h = w.hidden_size, g = gates * h;
    if (i == 0 || h == 0 || w.w_ih.size() != g * i || w.w_hh.size() != g * h ||
        w.b_ih.size() != g || w.b_hh.size() != g) {
      fail(Errc::shape_mismatch,
           "Recurrent: weights must be [gates H, I], [gates H, H], [gates H]");
    }
    Recurrent layer;
    layer.input_size_ = i;
    layer.hidden_size_ = h;
    layer.ih_ = Linear::prepare(row_major<const float>(w.w_ih.data(), g, i),
                                Span<const float>(w.b_ih), options...);
    layer.hh_ = Linear::prepare(row_major<const float>(w.w_hh.data(), g, h),
                                Span<const float>(w.b_hh), options...);
    return layer;
  }

  std::size_t input_size() const noexcept { return input_size_; }
  std::size_t hidden_size() const noexcept { return hidden_size_; }

  // One step for a batch: x [B, I]; h [B, H] (and for an LSTM c [B, H]) updated in place.
  template <class Executor = SerialExecutor>
  void step(MatrixView<const float> x, MatrixView<float> h, MatrixView<float> c = {},
            Executor&& executor = Executor{}) const {
    check_state(x.rows, h, c);
    std::vector<float> xg(x.rows * gates * hidden_size_), hg(xg.size());
    ih_.forward(x, row_major(xg.data(), x.rows, gates * hidden_size_), executor);
    advance(xg.data(), hg.data(), h, c, executor);
  }

  // A sequence x [T, B, I] (row-major) into out [T, B, H]; h (and c) hold the initial state and
  // end with the last.
  template <class Executor = SerialExecutor>
  void forward(Span<const float> x, std::size_t steps, MatrixView<float> h, Span<float> out,
               MatrixView<float> c = {}, Executor&& executor = Executor{}) const {
    const std::size_t batch = h.rows, width = gates * hidden_size_;
    if (x.size() != steps * batch * input_size_ || out.size() != steps * batch * hidden_size_) {
      fail(Errc::shape_mismatch, "Recurrent: x must be [T, B, I] and out [T, B, H]");
    }
    check_state(batch, h, c);
    std::vector<float> xg(steps * batch * width), hg(batch * width);
    ih_.forward(row_major<const float>(x.data(), steps * batch, input_size_),
                row_major(xg.data(), steps * batch, width), executor);
    for (std::size_t t = 0; t < steps; ++t) {
      advance(xg.data() + t * batch * width, hg.data(), h, c, executor);
      for (std::size_t b = 0; b < batch; ++b) {
        std::copy_n(h.data + b * h.row_stride, hidden_size_,
                    out.data() + (t * batch + b) * hidden_size_);
      }
    }
  }

 private:
  void check_state(std::size_t batch, const MatrixView<float>& h,
                   const MatrixView<float>& c) const {
    if (h.rows != batch || h.cols != hidden_size_ || h.col_stride != 1) {
      fail(Errc::shape_mismatch, "Recurrent: h must be [B, H] with contiguous rows");
    }
    if (auto s = check_view(h, "Recurrent: h"); !s) fail(s);
    if constexpr (Kind == RnnKind::lstm) {
      if (c.rows != batch || c.cols != hidden_size_ || c.col_stride != 1) {
        fail(Errc::shape_mismatch, "Recurrent: an LSTM's c must be [B, H] with contiguous rows");
      }
      if (auto s = check_view(c, "Recurrent: c"); !s) fail(s);
    }
  }

  // The hidden product (into hg, batch x gates x H floats, allocated once per sequence) and the
  // gate arithmetic of one step, given its input projection xg.
  template <class Executor>
  void advance(const float* xg, float* hg, MatrixView<float> h, MatrixView<float> c,
               Executor&& executor) const {
    const std::size_t batch = h.rows, hs = hidden_size_, width = gates * hs;
    hh_.forward(MatrixView<const float>{h.data, batch, hs, h.row_stride, 1},
                row_major(hg, batch, width), executor);
    for (std::size_t b = 0; b < batch; ++b) {
      const float* xr = xg + b * width;
      const float* hr = hg + b * width;
      float* hb = h.data + b * h.row_stride;
      if constexpr (Kind == RnnKind::lstm) {
        float* cb = c.data + b * c.row_stride;
        for (std::size_t j = 0; j < hs; ++j) {
          const float in = fast_sigmoid(xr[j] + hr[j]);
          const float forget = fast_sigmoid(xr[hs + j] + hr[hs + j]);
          const float cell = fast_tanh(xr[2 * hs + j] + hr[2 * hs + j]);
          const float out = fast_sigmoid(xr[3 * hs + j] + hr[3 * hs + j]);
          cb[j] = forget * cb[j] + in * cell;
          hb[j] = out * fast_tanh(cb[j]);
        }
      } else {
        for (std::size_t j = 0; j < hs; ++j) {
          const float reset = fast_sigmoid(xr[j] + hr[j]);
          const float update = fast_sigmoid(xr[hs + j] + hr[hs + j]);
          const float next = fast_tanh(xr[2 * hs + j] + reset * hr[2 * hs + j]);
          hb[j] = (1.0f - update) * next + update * hb[j];
        }
      }
    }
  }

  std::size_t input_size_ = 0;
  std::size_t hidden_size_ = 0;
  Linear ih_;
  Linear hh_;
};

using Lstm = Recurrent<RnnKind::lstm, DenseLinear>;
using Gru = Recurrent<RnnKind::gru, DenseLinear>;
using DynamicLstm = Recurrent<RnnKind::lstm, DynamicLinear>;
using DynamicGru = Recurrent<RnnKind::gru, DynamicLinear>;

}  // namespace qinfer::nn
