// SPDX-License-Identifier: Apache-2.0
//
// Quantize and dequantize throughput against memcpy of the same input bytes, in one binary.
// Rates are input bytes per second (float for quantize, int8 for dequantize); memcpy copies the
// same number of bytes, so "quantize / memcpy" at one size is the fraction of copy speed.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "qinfer/quant/quantize.hpp"

namespace {

constexpr qinfer::QuantParams params{0.02f, 3};
constexpr qinfer::QuantizeRange range{params.scale, params.zero_point, -128, 127};

std::vector<float> random_floats(std::size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void set_rate(benchmark::State& state, std::size_t input_bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(input_bytes));
}

// state.range(0): input bytes.
void memcpy_input(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  std::vector<char> src(bytes, 1), dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, bytes);
}

template <bool Vectorized>
void quantize_float_to_int8(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)) / sizeof(float);
  const std::vector<float> x = random_floats(n);
  std::vector<int8_t> q(n);
  for (auto _ : state) {
    if constexpr (Vectorized) {
      qinfer::quantize_n<int8_t>(x.data(), n, q.data(), range);
    } else {
      qinfer::quantize_scalar<int8_t>(x.data(), n, q.data(), range);
    }
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n * sizeof(float));
}

template <bool Vectorized>
void dequantize_int8_to_float(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<int8_t> q(n);
  qinfer::quantize_scalar<int8_t>(random_floats(n).data(), n, q.data(), range);
  std::vector<float> x(n);
  for (auto _ : state) {
    if constexpr (Vectorized) {
      qinfer::dequantize_n(q.data(), n, x.data(), params);
    } else {
      qinfer::dequantize_scalar(q.data(), n, x.data(), params);
    }
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t bytes : {int64_t{4} << 10, int64_t{64} << 10, int64_t{256} << 10, int64_t{1} << 20,
                        int64_t{16} << 20, int64_t{64} << 20}) {
    b->Arg(bytes);
  }
}

}  // namespace

BENCHMARK(memcpy_input)->Apply(sizes);
BENCHMARK_TEMPLATE(quantize_float_to_int8, true)->Name("quantize_simd")->Apply(sizes);
BENCHMARK_TEMPLATE(quantize_float_to_int8, false)->Name("quantize_scalar")->Apply(sizes);
BENCHMARK_TEMPLATE(dequantize_int8_to_float, true)->Name("dequantize_simd")->Apply(sizes);
BENCHMARK_TEMPLATE(dequantize_int8_to_float, false)->Name("dequantize_scalar")->Apply(sizes);

BENCHMARK_MAIN();
