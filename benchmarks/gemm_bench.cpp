// SPDX-License-Identifier: Apache-2.0
//
// Packed int8 GEMM (ops/gemm.hpp) in GOPS (1 op = 1 multiply or 1 add: 2 M N K per GEMM) per
// ISA path, on the shapes of the SIMD GEMM issue, with the fixed-point requantizing stage; and
// the cost of packing the weights. oneDNN and the instruction peaks are not in this binary yet.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "qinfer/ops/gemm.hpp"

namespace {

struct Shape {
  std::size_t m, n, k;
};

template <class T>
std::vector<T> random_codes(std::size_t count, int lo, int hi) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

void gemm_gops(benchmark::State& state, qinfer::Isa path, Shape s) {
  const auto saved = qinfer::set_isa_cap(path);
  const auto a = random_codes<uint8_t>(s.m * s.k, 0, 255);
  const auto b = random_codes<int8_t>(s.k * s.n, -127, 127);
  const int32_t zero_point[] = {0};
  const qinfer::PackedWeights w = qinfer::pack_weights(qinfer::row_major(b.data(), s.k, s.n),
                                                       qinfer::Span<const int32_t>(zero_point), {});
  const std::vector<qinfer::QuantizedMultiplier> m(s.n, qinfer::quantize_multiplier(1e-4));
  const qinfer::RequantizeFixedPoint<int8_t> stage{m, 0};
  std::vector<int8_t> c(s.m * s.n);
  for (auto _ : state) {
    qinfer::gemm(qinfer::row_major(a.data(), s.m, s.k), 128, w, stage,
                 qinfer::row_major(c.data(), s.m, s.n));
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GOPS"] = benchmark::Counter(2.0 * double(s.m) * double(s.n) * double(s.k),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  qinfer::set_isa_cap(saved);
}

void pack(benchmark::State& state, Shape s) {
  const auto b = random_codes<int8_t>(s.k * s.n, -127, 127);
  const int32_t zero_point[] = {0};
  for (auto _ : state) {
    auto w = qinfer::pack_weights(qinfer::row_major(b.data(), s.k, s.n),
                                  qinfer::Span<const int32_t>(zero_point), {});
    benchmark::DoNotOptimize(w.data.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.k * s.n));
}

}  // namespace

int main(int argc, char** argv) {
  const Shape shapes[] = {{256, 256, 256}, {512, 512, 512},  {1024, 1024, 1024}, {1, 4096, 4096},
                          {8, 4096, 4096}, {32, 4096, 4096}, {128, 4096, 4096},  {3136, 64, 576}};
  for (const Shape& s : shapes) {
    const std::string shape =
        std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
    for (qinfer::Isa path : {qinfer::Isa::scalar, qinfer::Isa::avx512vnni}) {
      if (!qinfer::cpu_features().supports(path)) continue;
      if (path == qinfer::Isa::scalar && s.m * s.n * s.k > (std::size_t{1} << 27))
        continue;  // minutes
      benchmark::RegisterBenchmark(
          ("gemm/" + std::string(qinfer::isa_name(path)) + "/" + shape).c_str(), gemm_gops, path,
          s);
    }
    benchmark::RegisterBenchmark(("pack_weights/" + shape).c_str(), pack, s);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
