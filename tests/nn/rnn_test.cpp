// SPDX-License-Identifier: Apache-2.0
//
// Dynamic quantization for speech and NLP (nn/dynamic_linear.hpp, nn/rnn.hpp): the fast
// exp / sigmoid / tanh against libm; DynamicLinear bit-identical on every level and close to
// the float layer; the float LSTM and GRU against an independent double-precision cell in
// PyTorch's gate order; the int8 LSTM and GRU against the float ones over a sequence, with the
// relative error printed and loosely bounded; and the rejection of bad shapes and values.
#include "qinfer/nn/rnn.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "qinfer/runtime/thread_pool.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"

using namespace qinfer;
using namespace qinfer::nn;

namespace {

std::vector<float> gaussian(std::mt19937& rng, std::size_t n, float sigma = 1.0f) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double relative_error(const std::vector<float>& ours, const std::vector<float>& reference) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    diff += (double{ours[i]} - reference[i]) * (double{ours[i]} - reference[i]);
    norm += double{reference[i]} * reference[i];
  }
  return std::sqrt(diff / norm);
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// One step of an LSTM or GRU in double precision, written from PyTorch's documented equations.
void naive_step(bool lstm, const RnnWeights& w, const std::vector<float>& x, std::vector<double>& h,
                std::vector<double>& c, std::size_t batch) {
  const std::size_t in = w.input_size, hs = w.hidden_size, gates = lstm ? 4 : 3;
  std::vector<double> next_h(h.size()), next_c(c.size());
  for (std::size_t b = 0; b < batch; ++b) {
    std::vector<double> xg(gates * hs), hg(gates * hs);
    for (std::size_t g = 0; g < gates * hs; ++g) {
      xg[g] = w.b_ih[g];
      hg[g] = w.b_hh[g];
      for (std::size_t k = 0; k < in; ++k) xg[g] += double{w.w_ih[g * in + k]} * x[b * in + k];
      for (std::size_t k = 0; k < hs; ++k) hg[g] += double{w.w_hh[g * hs + k]} * h[b * hs + k];
    }
    for (std::size_t j = 0; j < hs; ++j) {
      if (lstm) {
        const double i = sigmoid(xg[j] + hg[j]), f = sigmoid(xg[hs + j] + hg[hs + j]);
        const double g = std::tanh(xg[2 * hs + j] + hg[2 * hs + j]);
        const double o = sigmoid(xg[3 * hs + j] + hg[3 * hs + j]);
        next_c[b * hs + j] = f * c[b * hs + j] + i * g;
        next_h[b * hs + j] = o * std::tanh(next_c[b * hs + j]);
      } else {
        const double r = sigmoid(xg[j] + hg[j]), z = sigmoid(xg[hs + j] + hg[hs + j]);
        const double n = std::tanh(xg[2 * hs + j] + r * hg[2 * hs + j]);
        next_h[b * hs + j] = (1.0 - z) * n + z * h[b * hs + j];
      }
    }
  }
  h = next_h;
  if (lstm) c = next_c;
}

// Runs a layer over a sequence: out [T, B, H] from zero state.
template <class Layer>
std::vector<float> run_sequence(const Layer& layer, const std::vector<float>& x, std::size_t steps,
                                std::size_t batch) {
  const std::size_t hs = layer.hidden_size();
  std::vector<float> h(batch * hs, 0.0f), c(batch * hs, 0.0f), out(steps * batch * hs);
  layer.forward(Span<const float>(x), steps, row_major(h.data(), batch, hs), Span<float>(out),
                row_major(c.data(), batch, hs));
  return out;
}

}  // namespace

TEST_CASE("fast exp, sigmoid and tanh stay within a few ulp of libm", "[rnn]") {
  double exp_error = 0.0, tanh_error = 0.0, sigmoid_error = 0.0;
  for (float x = -80.0f; x < 80.0f; x += 0.0137f) {
    const double e = std::exp(double{x});
    exp_error = std::max(exp_error, std::fabs(fast_exp(x) - e) / e);
  }
  for (float x = -12.0f; x < 12.0f; x += 0.001f) {
    tanh_error = std::max(tanh_error, std::fabs(fast_tanh(x) - std::tanh(double{x})));
    sigmoid_error = std::max(sigmoid_error, std::fabs(fast_sigmoid(x) - sigmoid(x)));
  }
  CHECK(exp_error < 4e-7);
  CHECK(tanh_error < 3e-7);
  CHECK(sigmoid_error < 2e-7);
  CHECK(fast_exp(-1000.0f) > 0.0f);
  CHECK(fast_tanh(100.0f) == 1.0f);
  CHECK(fast_tanh(-100.0f) == -1.0f);
}

TEST_CASE("DynamicLinear gives the same bits on every level, near the float layer", "[rnn][simd]") {
  test::for_each_level("DynamicLinear", [] {
    std::mt19937 rng(21);
    for (const auto granularity :
         {ActivationQuantization::per_tensor, ActivationQuantization::per_row}) {
      for (const std::size_t m : {1, 3, 16, 17}) {
        for (const std::size_t k : {1, 7, 64, 257}) {
          const std::size_t n = 37;
          std::vector<float> w = gaussian(rng, n * k, 0.1f), bias = gaussian(rng, n);
          std::vector<float> x = gaussian(rng, m * (k + 2));  // rows k + 2 apart
          x[1] = 9.0f;                                        // an outlier
          const DynamicLinear layer = DynamicLinear::prepare(row_major<const float>(w.data(), n, k),
                                                             Span<const float>(bias), granularity);
          const DenseLinear dense =
              DenseLinear::prepare(row_major<const float>(w.data(), n, k), Span<const float>(bias));
          const MatrixView<const float> xv{x.data(), m, k, k + 2, 1};
          std::vector<float> scalar(m * n), exact(m * n), ours(m * n);
          {
            const test::CapGuard guard;
            set_isa_cap(Isa::scalar);
            layer.forward(xv, row_major(scalar.data(), m, n));
          }
          layer.forward(xv, row_major(ours.data(), m, n));
          dense.forward(xv, row_major(exact.data(), m, n));
          INFO("M " << m << ", K " << k << ", per row "
                    << (granularity == ActivationQuantization::per_row));
          CHECK(std::memcmp(ours.data(), scalar.data(), ours.size() * sizeof(float)) == 0);
          CHECK(relative_error(scalar, exact) < 0.03);
        }
      }
    }
  });
}

TEST_CASE("the float LSTM and GRU follow PyTorch's equations", "[rnn]") {
  std::mt19937 rng(4);
  for (const bool lstm : {true, false}) {
    const std::size_t in = 3, hs = 5, batch = 2, steps = 4;
    const RnnWeights w =
        initial_rnn_weights(lstm ? RnnKind::lstm : RnnKind::gru, in, hs, lstm ? 41u : 42u);
    const std::vector<float> x = gaussian(rng, steps * batch * in);
    const std::vector<float> out = lstm ? run_sequence(Lstm::prepare(w), x, steps, batch)
                                        : run_sequence(Gru::prepare(w), x, steps, batch);
    std::vector<double> h(batch * hs, 0.0), c(batch * hs, 0.0);
    for (std::size_t t = 0; t < steps; ++t) {
      naive_step(lstm, w,
                 std::vector<float>(x.begin() + t * batch * in, x.begin() + (t + 1) * batch * in),
                 h, c, batch);
      for (std::size_t i = 0; i < batch * hs; ++i) {
        INFO((lstm ? "LSTM" : "GRU") << " step " << t << " value " << i);
        CHECK(out[t * batch * hs + i] == Approx(h[i]).margin(2e-6));
      }
    }
  }
}

TEST_CASE("the int8 LSTM and GRU stay close to the float ones over a sequence", "[rnn]") {
  std::mt19937 rng(8);
  const std::size_t in = 40, hs = 64, batch = 4, steps = 50;
  const std::vector<float> x = gaussian(rng, steps * batch * in);
  for (const bool lstm : {true, false}) {
    const RnnWeights w =
        initial_rnn_weights(lstm ? RnnKind::lstm : RnnKind::gru, in, hs, lstm ? 81u : 82u);
    for (const auto granularity :
         {ActivationQuantization::per_tensor, ActivationQuantization::per_row}) {
      const std::vector<float> exact = lstm ? run_sequence(Lstm::prepare(w), x, steps, batch)
                                            : run_sequence(Gru::prepare(w), x, steps, batch);
      const std::vector<float> ours =
          lstm ? run_sequence(DynamicLstm::prepare(w, granularity), x, steps, batch)
               : run_sequence(DynamicGru::prepare(w, granularity), x, steps, batch);
      const double error = relative_error(ours, exact);
      WARN((lstm ? "LSTM" : "GRU")
           << (granularity == ActivationQuantization::per_row ? " per row" : " per tensor")
           << ": relative error of the int8 outputs over 50 steps " << error);
      CHECK(error < 0.03);
    }
  }
}

TEST_CASE("a per-row int8 LSTM gives a sequence's steps exactly, on 1 or 3 threads", "[rnn]") {
  std::mt19937 rng(9);
  const std::size_t in = 12, hs = 24, batch = 3, steps = 6;
  const RnnWeights w = initial_rnn_weights(RnnKind::lstm, in, hs, 91u);
  const std::vector<float> x = gaussian(rng, steps * batch * in);
  const DynamicLstm layer = DynamicLstm::prepare(w, ActivationQuantization::per_row);
  const std::vector<float> sequence = run_sequence(layer, x, steps, batch);
  std::vector<float> h(batch * hs, 0.0f), c(batch * hs, 0.0f);
  ThreadPool pool(3);
  for (std::size_t t = 0; t < steps; ++t) {
    layer.step(row_major<const float>(x.data() + t * batch * in, batch, in),
               row_major(h.data(), batch, hs), row_major(c.data(), batch, hs), pool);
    CHECK(std::memcmp(h.data(), sequence.data() + t * batch * hs, h.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("dynamic layers reject bad shapes and values", "[rnn][errors]") {
  std::vector<float> w(4 * 3, 0.5f), bias(4, 0.0f), x(2 * 3, 1.0f), y(2 * 4);
  const auto prepare = [&] {
    return test::error_of([&] {
      DynamicLinear::prepare(row_major<const float>(w.data(), 4, 3), Span<const float>(bias));
    });
  };
  CHECK(prepare() == Errc::ok);
  w[5] = std::nanf("");
  CHECK(prepare() == Errc::invalid_argument);
  w[5] = 0.5f;
  bias.resize(3);
  CHECK(prepare() == Errc::shape_mismatch);
  bias.resize(4);
  const DynamicLinear layer =
      DynamicLinear::prepare(row_major<const float>(w.data(), 4, 3), Span<const float>(bias));
  CHECK(test::error_of([&] {
          layer.forward(row_major<const float>(x.data(), 2, 3), row_major(y.data(), 2, 3));
        }) == Errc::shape_mismatch);
  x[4] = INFINITY;
  CHECK(test::error_of([&] {
          layer.forward(row_major<const float>(x.data(), 2, 3), row_major(y.data(), 2, 4));
        }) == Errc::invalid_argument);
  RnnWeights lstm{3,
                  2,
                  std::vector<float>(8 * 3),
                  std::vector<float>(8 * 2),
                  std::vector<float>(8),
                  std::vector<float>(7)};
  CHECK(test::error_of([&] { DynamicLstm::prepare(lstm); }) == Errc::shape_mismatch);
  lstm.b_hh.resize(8);
  const DynamicLstm cell = DynamicLstm::prepare(lstm);
  std::vector<float> h(2 * 2), c(2 * 2);
  CHECK(test::error_of([&] {
          cell.step(row_major<const float>(x.data(), 2, 3), row_major(h.data(), 2, 2));
        }) == Errc::shape_mismatch);  // an LSTM needs c
}
