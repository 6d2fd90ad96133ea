// SPDX-License-Identifier: Apache-2.0
//
// The convolution operator (ops/conv2d.hpp) on every distinct 1x1 and KxK convolution layer of
// MobileNetV2 and ResNet-50 at 224x224, batch 1, in GOPS (2 ops per multiply-add): uint8
// activations and symmetric int8 weights, requantized to uint8 with per-channel float
// multipliers, on the AVX-512 VNNI and AMX paths. In the same binary, when oneDNN was found, its
// int8 convolution (u8 x s8 -> u8, NHWC, per-channel output scales, weights in the format it
// prefers) and its fp32 convolution on the same layers. oneDNN reads ONEDNN_MAX_CPU_ISA once per
// process: run the binary once with AVX512_CORE_VNNI to compare like with like, and once
// unrestricted for AMX. The depthwise layers are in depthwise_bench.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "qinfer/ops/conv2d.hpp"

namespace {

struct Layer {
  const char* net;
  std::size_t size, in_c, out_c, kernel, stride;
};

// Every distinct (input size, channels, kernel, stride) of the two networks' convolutions, the
// depthwise ones aside. Padding is kernel / 2.
const Layer layers[] = {{"mobilenet_v2", 224, 3, 32, 3, 2},  {"mobilenet_v2", 112, 32, 16, 1, 1},
                        {"mobilenet_v2", 112, 16, 96, 1, 1}, {"mobilenet_v2", 56, 96, 24, 1, 1},
                        {"mobilenet_v2", 56, 24, 144, 1, 1}, {"mobilenet_v2", 56, 144, 24, 1, 1},
                        {"mobilenet_v2", 28, 144, 32, 1, 1}, {"mobilenet_v2", 28, 32, 192, 1, 1},
                        {"mobilenet_v2", 28, 192, 32, 1, 1}, {"mobilenet_v2", 14, 192, 64, 1, 1},
                        {"mobilenet_v2", 14, 64, 384, 1, 1}, {"mobilenet_v2", 14, 384, 64, 1, 1},
                        {"mobilenet_v2", 14, 384, 96, 1, 1}, {"mobilenet_v2", 14, 96, 576, 1, 1},
                        {"mobilenet_v2", 14, 576, 96, 1, 1}, {"mobilenet_v2", 7, 576, 160, 1, 1},
                        {"mobilenet_v2", 7, 160, 960, 1, 1}, {"mobilenet_v2", 7, 960, 160, 1, 1},
                        {"mobilenet_v2", 7, 960, 320, 1, 1}, {"mobilenet_v2", 7, 320, 1280, 1, 1},
                        {"resnet50", 224, 3, 64, 7, 2},      {"resnet50", 56, 64, 64, 1, 1},
                        {"resnet50", 56, 64, 64, 3, 1},      {"resnet50", 56, 64, 256, 1, 1},
                        {"resnet50", 56, 256, 64, 1, 1},     {"resnet50", 56, 256, 128, 1, 1},
                        {"resnet50", 56, 128, 128, 3, 2},    {"resnet50", 28, 128, 512, 1, 1},
                        {"resnet50", 56, 256, 512, 1, 2},    {"resnet50", 28, 512, 128, 1, 1},
                        {"resnet50", 28, 128, 128, 3, 1},    {"resnet50", 28, 512, 256, 1, 1},
                        {"resnet50", 28, 256, 256, 3, 2},    {"resnet50", 14, 256, 1024, 1, 1},
                        {"resnet50", 28, 512, 1024, 1, 2},   {"resnet50", 14, 1024, 256, 1, 1},
                        {"resnet50", 14, 256, 256, 3, 1},    {"resnet50", 14, 1024, 512, 1, 1},
                        {"resnet50", 14, 512, 512, 3, 2},    {"resnet50", 7, 512, 2048, 1, 1},
                        {"resnet50", 14, 1024, 2048, 1, 2},  {"resnet50", 7, 2048, 512, 1, 1},
                        {"resnet50", 7, 512, 512, 3, 1}};

std::string name_of(const Layer& l) {
  return std::string(l.net) + "/" + std::to_string(l.size) + "x" + std::to_string(l.in_c) + "-" +
         std::to_string(l.out_c) + "-k" + std::to_string(l.kernel) + "s" + std::to_string(l.stride);
}

qinfer::reference::Conv2dShape shape_of(const Layer& l) {
  const std::size_t pad = l.kernel / 2;
  return {1,
          l.in_c,
          l.out_c,
          1,
          {l.size, l.kernel, l.stride, 1, pad, pad},
          {l.size, l.kernel, l.stride, 1, pad, pad}};
}

void set_gops(benchmark::State& state, const Layer& l) {
  const qinfer::reference::Conv2dShape s = shape_of(l);
  const double macs =
      double(s.h.output() * s.w.output()) * double(l.out_c) * double(l.in_c * l.kernel * l.kernel);
  state.counters["GOPS"] = benchmark::Counter(
      2.0 * macs, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void qinfer_conv(benchmark::State& state, qinfer::Isa path, Layer l) {
  const std::optional<qinfer::Isa> previous = qinfer::set_isa_cap(path);
  const qinfer::reference::Conv2dShape s = shape_of(l);
  const std::vector<uint8_t> x = bench::random_codes<uint8_t>(l.size * l.size * l.in_c, 0, 255);
  const std::vector<int8_t> w =
      bench::random_codes<int8_t>(l.out_c * l.kernel * l.kernel * l.in_c, -127, 127);
  const std::vector<int32_t> zero{0}, bias = bench::random_codes<int32_t>(l.out_c, -1000, 1000);
  const qinfer::PackedConv2d packed = qinfer::pack_conv2d<qinfer::SymmetricNarrow>(
      qinfer::Conv2dFilter{l.out_c, l.in_c, 1, l.kernel, l.kernel}, qinfer::Span<const int8_t>(w),
      qinfer::Span<const int32_t>(zero), qinfer::Span<const int32_t>(bias));
  const std::vector<float> multipliers(l.out_c, 1e-4f);
  const qinfer::RequantizeFloat<uint8_t> stage{multipliers, 3};
  std::vector<uint8_t> y(s.h.output() * s.w.output() * l.out_c);
  std::vector<int32_t> workspace(qinfer::conv2d_workspace_size(s));
  for (auto _ : state) {
    qinfer::conv2d(s, qinfer::Span<const uint8_t>(x), 5, packed, stage, qinfer::Span<uint8_t>(y),
                   qinfer::Span<int32_t>(workspace));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, l);
  qinfer::set_isa_cap(previous);
}

#if QINFER_BENCH_ONEDNN
void onednn_conv(benchmark::State& state, Layer l, bool int8) {
  bench::onednn_conv(state, {l.size, l.in_c, l.out_c, 1, l.kernel, l.stride, l.kernel / 2}, int8);
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
    for (qinfer::Isa path :
         {qinfer::Isa::avx2, qinfer::Isa::avxvnni, qinfer::Isa::avx512vnni, qinfer::Isa::amx,
          qinfer::Isa::neon, qinfer::Isa::dotprod, qinfer::Isa::i8mm}) {
      if (!qinfer::cpu_features().supports(path)) continue;
      benchmark::RegisterBenchmark(
          ("conv/" + std::string(qinfer::isa_name(path)) + "/" + name).c_str(), qinfer_conv, path,
          l);
    }
#if QINFER_BENCH_ONEDNN
    benchmark::RegisterBenchmark(("onednn_int8/" + bench::onednn_cap() + "/" + name).c_str(),
                                 onednn_conv, l, true);
    benchmark::RegisterBenchmark(("onednn_fp32/" + bench::onednn_cap() + "/" + name).c_str(),
                                 onednn_conv, l, false);
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
