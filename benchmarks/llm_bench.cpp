// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM over block-quantized weights (ops/block_gemm.hpp), one thread, on the
// shapes of a 7B model's projections (N = K = 4096; N = 11008, K = 4096) at M = 1, 8 and 32
// activation rows, for llama.cpp's three block layouts and int4 in groups of 128, on each level
// this CPU has, and beside it the yardstick of M = 1: a streaming read of as many bytes as the
// packed weights. Counters: GB/s of weight bytes and rows/s (activation rows per second), so
// "M = 32 rows/s / M = 1 rows/s" is the batching gain.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "peak.hpp"
#include "qinfer/ops/block_gemm.hpp"

namespace {

struct Shape {
  std::size_t m, n, k;
};

// llama.cpp's name for its layouts (q8_0, q4_0, q4_1), else codes, group and scale format.
template <class Block>
std::string layout_name() {
  using qinfer::BlockCodes;
  const bool llama = Block::group == 32 && Block::scale_format == qinfer::ScaleFormat::fp16;
  const std::string codes = Block::codes == BlockCodes::int8   ? (llama ? "q8_0" : "int8")
                            : Block::codes == BlockCodes::int4 ? (llama ? "q4_0" : "int4")
                                                               : (llama ? "q4_1" : "int4_min");
  if (llama) return codes;
  return codes + "_g" + std::to_string(Block::group) +
         (Block::scale_format == qinfer::ScaleFormat::fp32 ? "_fp32" : "_fp16");
}

std::vector<float> gaussian(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = d(rng);
  return v;
}

template <class Block>
void block_gemm_bench(benchmark::State& state, qinfer::Isa path, Shape s) {
  const std::vector<float> w = gaussian(s.n * s.k, 1), a = gaussian(s.m * s.k, 2);
  const qinfer::PackedBlocks<Block> packed =
      qinfer::pack_blocks(qinfer::quantize_blocks<Block>(qinfer::Span<const float>(w), s.n, s.k));
  std::vector<float> y(s.m * s.n);
  const auto previous = qinfer::isa_cap();
  qinfer::set_isa_cap(path);
  for (auto _ : state) {
    static_cast<void>(
        qinfer::block_gemm(qinfer::MatrixView<const float>{a.data(), s.m, s.k, s.k, 1}, packed,
                           qinfer::MatrixView<float>{y.data(), s.m, s.n, s.n, 1}));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  qinfer::set_isa_cap(previous);
  const double iterations = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(packed.data.size()) * iterations,
                                              benchmark::Counter::kIsRate);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(s.m) * iterations, benchmark::Counter::kIsRate);
}

#if QINFER_X86
template <class Block>
void stream_bench(benchmark::State& state, Shape s) {
  const std::size_t bytes = (s.n + qinfer::block_rows - 1) / qinfer::block_rows * s.k /
                            Block::group * qinfer::PackedBlocks<Block>::record_bytes;
  std::vector<uint8_t> data(bytes + 64, 1);
  for (auto _ : state) bench::stream_read(data.data(), bytes);
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
#endif

template <class Block>
void register_layout() {
  for (const Shape& s : {Shape{1, 4096, 4096}, Shape{8, 4096, 4096}, Shape{32, 4096, 4096},
                         Shape{1, 11008, 4096}, Shape{32, 11008, 4096}}) {
    const std::string shape =
        std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
    for (qinfer::Isa path :
         {qinfer::Isa::scalar, qinfer::Isa::avx2, qinfer::Isa::avxvnni, qinfer::Isa::avx512vnni,
          qinfer::Isa::amx, qinfer::Isa::neon, qinfer::Isa::dotprod}) {
      if (!qinfer::cpu_features().supports(path)) continue;
      if (path == qinfer::Isa::scalar && s.m > 1) continue;  // minutes per call
      benchmark::RegisterBenchmark((std::string("block_gemm/") + layout_name<Block>() + "/" +
                                    qinfer::isa_name(path) + "/" + shape)
                                       .c_str(),
                                   block_gemm_bench<Block>, path, s);
    }
#if QINFER_X86
    if (s.m == 1) {
      benchmark::RegisterBenchmark(
          (std::string("stream_read/") + layout_name<Block>() + "/" + shape).c_str(),
          stream_bench<Block>, s);
    }
#endif
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_layout<qinfer::BlockQ8_0>();
  register_layout<qinfer::BlockQ4_0>();
  register_layout<qinfer::BlockQ4_1>();
  register_layout<qinfer::WeightBlock<qinfer::BlockCodes::int4, 128, qinfer::ScaleFormat::fp16>>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
