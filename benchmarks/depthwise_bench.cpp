// SPDX-License-Identifier: Apache-2.0
//
// Depthwise convolution (ops/depthwise.hpp) on every depthwise layer shape of MobileNetV2 at
// 224x224 (all 3x3, padding 1), batch 1, in GOPS (2 ops per multiply-add), uint8 activations
// and int8 weights requantized to uint8 with per-channel float multipliers; on AVX-512 VNNI
// also with uint8 weights (depthwise-int16/), which take the int16 kernel. In the same binary,
// when oneDNN was found: oneDNN 2.6's int8 grouped convolution (u8 x s8 -> u8, NHWC, per-channel
// output scales, weights in its preferred format) and its fp32 one on the same layers. AVX-VNNI
// runs its own bytes kernel: cap oneDNN with ONEDNN_MAX_CPU_ISA=AVX2_VNNI to compare like with
// like.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common.hpp"
#include "qinfer/ops/depthwise.hpp"

namespace {

struct Layer {
  std::size_t size, channels, stride;
};

// MobileNetV2's depthwise layers: input size, channels, stride.
const Layer layers[] = {{112, 32, 1}, {112, 96, 2}, {56, 144, 1}, {56, 144, 2}, {28, 192, 1},
                        {28, 192, 2}, {14, 384, 1}, {14, 576, 1}, {14, 576, 2}, {7, 960, 1}};

std::string name_of(const Layer& l) {
  return std::to_string(l.size) + "x" + std::to_string(l.size) + "x" + std::to_string(l.channels) +
         "/s" + std::to_string(l.stride);
}

qinfer::reference::Conv2dShape shape_of(const Layer& l) {
  return {1,
          l.channels,
          l.channels,
          l.channels,
          {l.size, 3, l.stride, 1, 1, 1},
          {l.size, 3, l.stride, 1, 1, 1}};
}

void set_gops(benchmark::State& state, const Layer& l) {
  const qinfer::reference::Conv2dShape s = shape_of(l);
  const double macs = double(s.h.output() * s.w.output() * l.channels * 9);
  state.counters["GOPS"] = benchmark::Counter(
      2.0 * macs, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// Symmetric int8 weights (the bytes kernel where the level has one), or uint8 weights of zero
// point 0, whose 0..255 range needs the int16 kernels.
template <class TW>
void qinfer_depthwise(benchmark::State& state, qinfer::Isa path, Layer l) {
  const std::optional<qinfer::Isa> previous = qinfer::set_isa_cap(path);
  const qinfer::reference::Conv2dShape s = shape_of(l);
  const std::vector<uint8_t> x = bench::random_codes<uint8_t>(l.size * l.size * l.channels, 0, 255);
  const std::vector<TW> w =
      bench::random_codes<TW>(9 * l.channels, std::is_same_v<TW, int8_t> ? -127 : 0,
                              std::is_same_v<TW, int8_t> ? 127 : 255);
  const std::vector<int32_t> zero{0}, bias = bench::random_codes<int32_t>(l.channels, -1000, 1000);
  const qinfer::PackedDepthwise packed =
      qinfer::pack_depthwise(l.channels, 3, 3, qinfer::Span<const TW>(w),
                             qinfer::Span<const int32_t>(zero), qinfer::Span<const int32_t>(bias));
  const std::vector<float> multipliers(l.channels, 1e-3f);
  const qinfer::RequantizeFloat<uint8_t> stage{multipliers, 3};
  std::vector<uint8_t> y(s.h.output() * s.w.output() * l.channels);
  std::vector<int32_t> workspace(qinfer::depthwise_workspace_size(s));
  for (auto _ : state) {
    qinfer::depthwise_conv2d(s, qinfer::Span<const uint8_t>(x), 5, packed, stage,
                             qinfer::Span<uint8_t>(y), qinfer::Span<int32_t>(workspace));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, l);
  state.SetLabel(qinfer::depthwise_kernel<uint8_t>(qinfer::active_isa(), packed).name);
  qinfer::set_isa_cap(previous);
}

#if QINFER_BENCH_ONEDNN
void onednn_depthwise(benchmark::State& state, Layer l, bool int8) {
  bench::onednn_conv(state, {l.size, l.channels, l.channels, l.channels, 3, l.stride, 1}, int8);
  set_gops(state, l);
}
#endif

}  // namespace

int main(int argc, char** argv) {
#if QINFER_BENCH_ONEDNN
  bench::onednn_single_thread();
#endif
  for (const Layer& l : layers) {
    const std::string name = name_of(l);
    for (qinfer::Isa path : qinfer::all_isas) {
      if (!qinfer::cpu_features().supports(path)) continue;
      // Levels that share their kernels with a lower level are not run again.
      if (path == qinfer::Isa::amx || path > qinfer::Isa::neon) {
        continue;
      }
      const std::string isa = qinfer::isa_name(path);
      benchmark::RegisterBenchmark(("depthwise/" + isa + "/" + name).c_str(),
                                   qinfer_depthwise<int8_t>, path, l);
      if (path == qinfer::Isa::avx512vnni) {
        benchmark::RegisterBenchmark(("depthwise-int16/" + isa + "/" + name).c_str(),
                                     qinfer_depthwise<uint8_t>, path, l);
      }
    }
#if QINFER_BENCH_ONEDNN
    benchmark::RegisterBenchmark(("onednn_int8/" + name).c_str(), onednn_depthwise, l, true);
    benchmark::RegisterBenchmark(("onednn_fp32/" + name).c_str(), onednn_depthwise, l, false);
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
