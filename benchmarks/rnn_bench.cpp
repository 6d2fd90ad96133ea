// SPDX-License-Identifier: Apache-2.0
//
// One LSTM (and GRU) step, one thread, hidden size 512 and input size 512, batch 1 and 16: the
// dynamically quantized int8 layer (per-tensor and per-row activations) beside the float layer
// on qinfer::sgemm and, when OpenBLAS is found, on OpenBLAS's sgemm, all with the same gate
// arithmetic (nn/rnn.hpp), so that the ratio measures the products. Counters: steps/s and GOPS
// (2 x batch x gates x H x (I + H) per step).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "qinfer/nn/rnn.hpp"

#if QINFER_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace {

constexpr std::size_t input_size = 512, hidden_size = 512;

#if QINFER_BENCH_OPENBLAS
// The float layer on OpenBLAS: y = x W^T + b with W [N, K] as PyTorch keeps it.
class BlasLinear {
 public:
  static BlasLinear prepare(qinfer::MatrixView<const float> weight,
                            qinfer::Span<const float> bias) {
    BlasLinear layer;
    layer.n_ = weight.rows;
    layer.k_ = weight.cols;
    for (std::size_t n = 0; n < layer.n_; ++n) {
      for (std::size_t k = 0; k < layer.k_; ++k) layer.weight_.push_back(weight(n, k));
    }
    layer.bias_.assign(bias.begin(), bias.end());
    return layer;
  }
  std::size_t in_features() const noexcept { return k_; }
  std::size_t out_features() const noexcept { return n_; }
  template <class Executor>
  void forward(qinfer::MatrixView<const float> x, qinfer::MatrixView<float> y,
               Executor&& /*executor*/) const {
    for (std::size_t r = 0; r < y.rows; ++r) {
      std::copy(bias_.begin(), bias_.end(), y.data + r * y.row_stride);
    }
    if (x.rows == 1) {  // a matrix-vector product: OpenBLAS's sgemv reads W once
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n_), static_cast<int>(k_), 1.0f,
                  weight_.data(), static_cast<int>(k_), x.data, 1, 1.0f, y.data, 1);
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(x.rows),
                static_cast<int>(n_), static_cast<int>(k_), 1.0f, x.data,
                static_cast<int>(x.row_stride), weight_.data(), static_cast<int>(k_), 1.0f, y.data,
                static_cast<int>(y.row_stride));
  }

 private:
  std::size_t n_ = 0, k_ = 0;
  std::vector<float> weight_, bias_;
};
#endif

template <class Layer, class... Options>
void step_bench(benchmark::State& state, std::size_t batch, Options... options) {
  const Layer layer = Layer::prepare(
      qinfer::nn::initial_rnn_weights(Layer::kind, input_size, hidden_size, 3), options...);
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(batch * input_size), h(batch * hidden_size, 0.1f),
      c(batch * hidden_size, 0.1f);
  for (float& v : x) v = d(rng);
  for (auto _ : state) {
    layer.step(qinfer::row_major<const float>(x.data(), batch, input_size),
               qinfer::row_major(h.data(), batch, hidden_size),
               qinfer::row_major(c.data(), batch, hidden_size));
    benchmark::DoNotOptimize(h.data());
    benchmark::ClobberMemory();
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
  state.counters["GOPS"] = benchmark::Counter(
      2.0 * static_cast<double>(batch * Layer::gates * hidden_size * (input_size + hidden_size)) *
          steps * 1e-9,
      benchmark::Counter::kIsRate);
}

template <qinfer::nn::RnnKind Kind>
void register_kind(const char* name) {
  using namespace qinfer::nn;
  for (std::size_t batch : {1, 16}) {
    const std::string suffix = "/batch:" + std::to_string(batch);
    benchmark::RegisterBenchmark((std::string(name) + "/float_qinfer" + suffix).c_str(),
                                 step_bench<Recurrent<Kind, DenseLinear>>, batch);
#if QINFER_BENCH_OPENBLAS
    benchmark::RegisterBenchmark((std::string(name) + "/float_openblas" + suffix).c_str(),
                                 step_bench<Recurrent<Kind, BlasLinear>>, batch);
#endif
    benchmark::RegisterBenchmark((std::string(name) + "/int8_per_tensor" + suffix).c_str(),
                                 step_bench<Recurrent<Kind, DynamicLinear>, ActivationQuantization>,
                                 batch, ActivationQuantization::per_tensor);
    benchmark::RegisterBenchmark((std::string(name) + "/int8_per_row" + suffix).c_str(),
                                 step_bench<Recurrent<Kind, DynamicLinear>, ActivationQuantization>,
                                 batch, ActivationQuantization::per_row);
  }
}

}  // namespace

int main(int argc, char** argv) {
#if QINFER_BENCH_OPENBLAS
  openblas_set_num_threads(1);
#endif
  register_kind<qinfer::nn::RnnKind::lstm>("lstm_step");
  register_kind<qinfer::nn::RnnKind::gru>("gru_step");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
