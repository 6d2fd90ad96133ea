// SPDX-License-Identifier: Apache-2.0
//
// Quantize and dequantize throughput of every conversion path this CPU has, against memcpy of
// the same input bytes, in one binary. Rates are input bytes per second (float for quantize,
// int8 for dequantize), so "quantize / memcpy" at one size is the fraction of copy speed.
// Dequantize writes four bytes per input byte: its bound is memset of that output, measured too.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qinfer/quant/quantize.hpp"

namespace {

constexpr qinfer::QuantParams params{0.02f, 3};
constexpr qinfer::QuantizeRange range{params.scale, params.zero_point, -128, 127};

std::vector<float> gaussian_floats(std::size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void set_rate(benchmark::State& state, std::size_t input_bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input_bytes));
}

void memcpy_input(benchmark::State& state, std::size_t bytes) {
  std::vector<char> src(bytes, 1), dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, bytes);
}

// Dequantize's own bound: filling its float output (4 bytes per input byte). Rated in input
// bytes like dequantize, so the two columns compare directly. The fill is not zero: AMD Zen 5
// writes zero lines to memory about twice as fast as other data (dequantizing to all zeros ran
// at 2.3x the rate of Gaussian data at 1 MiB), which would make the bound a false one.
void memset_output(benchmark::State& state, std::size_t input_bytes) {
  constexpr int fill = 0x5a;
  std::vector<float> dst(input_bytes);
  for (auto _ : state) {
    std::memset(dst.data(), fill, dst.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, input_bytes);
}

void quantize(benchmark::State& state, qinfer::ConvertPath path, std::size_t bytes) {
  const std::size_t n = bytes / sizeof(float);
  const std::vector<float> x = gaussian_floats(n);
  std::vector<int8_t> q(n);
  for (auto _ : state) {
    qinfer::quantize_with<int8_t>(path, x.data(), n, q.data(), range);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, bytes);
}

void dequantize(benchmark::State& state, qinfer::ConvertPath path, std::size_t bytes) {
  const std::size_t n = bytes;
  std::vector<int8_t> q(n);
  qinfer::quantize_scalar<int8_t>(gaussian_floats(n).data(), n, q.data(), range);
  std::vector<float> x(n);
  for (auto _ : state) {
    qinfer::dequantize_with(path, q.data(), n, x.data(), params);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, bytes);
}

// Requantization of int32 accumulators (input bytes = 4 per accumulator) to int8 over 64
// channels with per-channel parameters, as a GEMM epilogue sees them.
template <class Stage>
void requantize(benchmark::State& state, qinfer::ConvertPath path, std::size_t bytes,
                const Stage& stage) {
  constexpr std::size_t channels = 64;
  const std::size_t rows = bytes / sizeof(int32_t) / channels;
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> d(-200000, 200000);
  std::vector<int32_t> acc(rows * channels);
  for (int32_t& a : acc) a = d(rng);
  std::vector<int8_t> out(acc.size());
  for (auto _ : state) {
    qinfer::requantize_with(path, acc.data(), rows, channels, stage, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, acc.size() * sizeof(int32_t));
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t sizes[] = {std::size_t{4} << 10, std::size_t{64} << 10, std::size_t{256} << 10,
                               std::size_t{1} << 20, std::size_t{16} << 20, std::size_t{64} << 20};
  std::vector<float> float_multipliers(64);
  std::vector<qinfer::QuantizedMultiplier> fixed_multipliers(64);
  for (std::size_t c = 0; c < 64; ++c) {
    float_multipliers[c] = 1e-4f * static_cast<float>(c + 1);
    fixed_multipliers[c] = qinfer::quantize_multiplier(float_multipliers[c]);
  }
  const qinfer::RequantizeFloat<int8_t> float_stage{float_multipliers, 3};
  const qinfer::RequantizeFixedPoint<int8_t> fixed_stage{fixed_multipliers, 3};
  for (std::size_t bytes : sizes) {
    const std::string size = "/" + std::to_string(bytes);
    benchmark::RegisterBenchmark(("memcpy" + size).c_str(), memcpy_input, bytes);
    benchmark::RegisterBenchmark(("memset_output" + size).c_str(), memset_output, bytes);
    for (auto path : {qinfer::ConvertPath::scalar, qinfer::ConvertPath::portable,
                      qinfer::ConvertPath::avx2, qinfer::ConvertPath::avx512}) {
      if (!qinfer::is_available(path)) continue;
      const std::string name = std::string("/") + qinfer::path_name(path) + size;
      benchmark::RegisterBenchmark(("quantize" + name).c_str(), quantize, path, bytes);
      benchmark::RegisterBenchmark(("dequantize" + name).c_str(), dequantize, path, bytes);
      benchmark::RegisterBenchmark(("requantize_float" + name).c_str(),
                                   requantize<qinfer::RequantizeFloat<int8_t>>, path, bytes,
                                   float_stage);
      benchmark::RegisterBenchmark(("requantize_fixed" + name).c_str(),
                                   requantize<qinfer::RequantizeFixedPoint<int8_t>>, path, bytes,
                                   fixed_stage);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
