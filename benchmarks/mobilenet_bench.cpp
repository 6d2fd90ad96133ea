// SPDX-License-Identifier: Apache-2.0
//
// The whole MobileNetV2 (1.0, 224x224) convolution stack, batch 1, per image: the first 3x3
// convolution, the 17 inverted residual blocks (1x1 expansion, 3x3 depthwise, 1x1 projection)
// and the last 1x1 convolution to 1280 channels, 52 convolutions and 300 M multiply-adds, with
// random weights. qinfer runs them through conv2d (uint8 activations, symmetric int8 weights,
// per-channel float requantization to uint8 with the ReLU6 clamps of the network) on the
// AVX-512 VNNI and AMX levels; in the same binary, when oneDNN was found, its int8 (u8 x s8 ->
// u8, per-channel output scales) and fp32 convolutions of the same layers, each in the weight
// format it prefers. Both run on 1 and 2 threads: qinfer through its thread pool, oneDNN through
// OpenMP. oneDNN reads ONEDNN_MAX_CPU_ISA once per process: run once with AVX512_CORE_VNNI and
// once unrestricted. The residual adds are not convolutions; the qinfer_with_adds variant adds
// them (qinfer::add) to show their cost.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "qinfer/ops/conv2d.hpp"
#include "qinfer/ops/elementwise.hpp"
#include "qinfer/runtime/thread_pool.hpp"

#if QINFER_BENCH_ONEDNN
#include <omp.h>
#endif

namespace {

struct Conv {
  std::size_t size, in_c, out_c, kernel, stride, groups;
  bool relu6;
  bool residual_end;  // the block's projection, whose output joins the block's input
};

std::vector<Conv> mobilenet_v2() {
  std::vector<Conv> convs{{224, 3, 32, 3, 2, 1, true, false}};
  // (expansion t, output channels c, repeats n, first stride s), from the MobileNetV2 paper.
  const struct {
    std::size_t t, c, n, s;
  } blocks[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::size_t size = 112, channels = 32;
  for (const auto& b : blocks) {
    for (std::size_t i = 0; i < b.n; ++i) {
      const std::size_t stride = i == 0 ? b.s : 1, hidden = channels * b.t;
      if (b.t != 1) convs.push_back({size, channels, hidden, 1, 1, 1, true, false});
      convs.push_back({size, hidden, hidden, 3, stride, hidden, true, false});
      size = (size - 1) / stride + 1;
      convs.push_back({size, hidden, b.c, 1, 1, 1, false, stride == 1 && channels == b.c});
      channels = b.c;
    }
  }
  convs.push_back({7, 320, 1280, 1, 1, 1, true, false});
  return convs;
}

qinfer::reference::Conv2dShape shape_of(const Conv& l) {
  const std::size_t pad = l.kernel / 2;
  return {1,
          l.in_c,
          l.out_c,
          l.groups,
          {l.size, l.kernel, l.stride, 1, pad, pad},
          {l.size, l.kernel, l.stride, 1, pad, pad}};
}

std::size_t output_size(const Conv& l) {
  const qinfer::reference::Conv2dShape s = shape_of(l);
  return s.h.output() * s.w.output() * l.out_c;
}

void set_counters(benchmark::State& state, const std::vector<Conv>& convs) {
  double macs = 0;
  for (const Conv& l : convs) {
    macs += double(output_size(l)) * double(l.in_c / l.groups * l.kernel * l.kernel);
  }
  state.counters["GOPS"] = benchmark::Counter(
      2.0 * macs, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["images/s"] =
      benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

// One layer of the int8 stack, packed once.
struct Int8Layer {
  qinfer::reference::Conv2dShape shape;
  qinfer::PackedConv2d packed;
  std::vector<float> multipliers;
  qinfer::RequantizeFloat<uint8_t> stage;
};

void qinfer_stack(benchmark::State& state, qinfer::Isa level, std::size_t threads, bool with_adds) {
  const std::optional<qinfer::Isa> previous = qinfer::set_isa_cap(level);
  const std::vector<Conv> convs = mobilenet_v2();
  std::vector<std::unique_ptr<Int8Layer>> layers;
  std::size_t largest = 224 * 224 * 3, workspace_size = 0;
  for (const Conv& l : convs) {
    const std::vector<int8_t> w =
        bench::random_codes<int8_t>(l.out_c * l.kernel * l.kernel * (l.in_c / l.groups), -127, 127);
    const std::vector<int32_t> zero{0}, bias = bench::random_codes<int32_t>(l.out_c, -1000, 1000);
    auto layer = std::make_unique<Int8Layer>(
        Int8Layer{shape_of(l),
                  qinfer::pack_conv2d<qinfer::SymmetricNarrow>(
                      qinfer::Conv2dFilter{l.out_c, l.in_c, l.groups, l.kernel, l.kernel},
                      qinfer::Span<const int8_t>(w), qinfer::Span<const int32_t>(zero),
                      qinfer::Span<const int32_t>(bias)),
                  std::vector<float>(l.out_c, 2e-3f),
                  {}});
    // ReLU6 on a scale of 6/255 with zero point 0 is the clamp [0, 255]; a projection has no
    // activation and keeps its zero point 128.
    layer->stage = l.relu6 ? qinfer::RequantizeFloat<uint8_t>{layer->multipliers, 0, 0, 255}
                           : qinfer::RequantizeFloat<uint8_t>{layer->multipliers, 128};
    largest = std::max(largest, output_size(l));
    workspace_size = std::max(workspace_size, qinfer::conv2d_workspace_size(layer->shape));
    layers.push_back(std::move(layer));
  }
  const std::vector<uint8_t> input = bench::random_codes<uint8_t>(224 * 224 * 3, 0, 255);
  // Three buffers: a block's input stays put while its expansion and depthwise outputs take
  // the other two, so the projection can add it in place.
  std::vector<uint8_t> buffers[3] = {std::vector<uint8_t>(largest), std::vector<uint8_t>(largest),
                                     std::vector<uint8_t>(largest)};
  std::vector<int32_t> workspace(workspace_size);
  const qinfer::AddParams add_params =
      qinfer::reference::make_add_params<uint8_t>({0.05f, 128}, {0.05f, 128}, {0.07f, 128});
  qinfer::ThreadPool pool(threads);
  for (auto _ : state) {
    const uint8_t* x = input.data();
    const uint8_t* block_input = x;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Int8Layer& l = *layers[i];
      uint8_t* y = buffers[0].data();
      for (auto& b : buffers) {
        if (b.data() != x && b.data() != block_input) y = b.data();
      }
      const std::size_t in_size = l.shape.h.input * l.shape.w.input * l.shape.in_c;
      const std::size_t out_size = output_size(convs[i]);
      // The input's zero point is the previous layer's output zero point (the image's: 128).
      const int32_t x_zero_point = i > 0 && convs[i - 1].relu6 ? 0 : 128;
      qinfer::conv2d(l.shape, qinfer::Span<const uint8_t>(x, in_size), x_zero_point, l.packed,
                     l.stage, qinfer::Span<uint8_t>(y, out_size), qinfer::Span<int32_t>(workspace),
                     pool.hook());
      if (with_adds && convs[i].residual_end) {
        qinfer::add<uint8_t>(add_params, qinfer::Span<const uint8_t>(block_input, out_size),
                             qinfer::Span<const uint8_t>(y, out_size),
                             qinfer::Span<uint8_t>(y, out_size), pool.hook());
      }
      if (!convs[i].relu6) block_input = y;  // a projection ends a block
      x = y;
    }
    benchmark::DoNotOptimize(x);
    benchmark::ClobberMemory();
  }
  set_counters(state, convs);
  qinfer::set_isa_cap(previous);
}

#if QINFER_BENCH_ONEDNN
void onednn_stack(benchmark::State& state, bool int8, int threads) {
  omp_set_num_threads(threads);
  const std::vector<Conv> convs = mobilenet_v2();
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const std::size_t elem = int8 ? 1 : 4;
  std::size_t largest = 224 * 224 * 3;
  for (const Conv& l : convs) largest = std::max(largest, output_size(l));
  std::vector<uint8_t> input(224 * 224 * 3 * elem, 1), ping(largest * elem), pong(largest * elem);
  std::vector<std::unique_ptr<bench::OnednnConvLayer>> layers;
  void* x = input.data();
  void* y = ping.data();
  for (const Conv& l : convs) {
    layers.push_back(std::make_unique<bench::OnednnConvLayer>(
        engine,
        bench::OnednnConv{l.size, l.in_c, l.out_c, l.groups, l.kernel, l.stride, l.kernel / 2},
        int8, x, y));
    x = y;
    y = y == ping.data() ? pong.data() : ping.data();
  }
  for (auto _ : state) {
    for (const auto& layer : layers) layer->execute(stream);
    stream.wait();
  }
  set_counters(state, convs);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  for (std::size_t threads : {1, 2}) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    for (qinfer::Isa level : {qinfer::Isa::avx2, qinfer::Isa::avx512vnni, qinfer::Isa::amx,
                              qinfer::Isa::neon, qinfer::Isa::dotprod, qinfer::Isa::i8mm}) {
      if (!qinfer::cpu_features().supports(level)) continue;
      const std::string name = std::string(qinfer::isa_name(level)) + suffix;
      benchmark::RegisterBenchmark(("mobilenet_v2/qinfer/" + name).c_str(), qinfer_stack, level,
                                   threads, false)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("mobilenet_v2/qinfer_with_adds/" + name).c_str(), qinfer_stack,
                                   level, threads, true)
          ->UseRealTime();
    }
#if QINFER_BENCH_ONEDNN
    const std::string onednn = bench::onednn_cap() + suffix;
    benchmark::RegisterBenchmark(("mobilenet_v2/onednn_int8/" + onednn).c_str(), onednn_stack, true,
                                 static_cast<int>(threads))
        ->UseRealTime();
    benchmark::RegisterBenchmark(("mobilenet_v2/onednn_fp32/" + onednn).c_str(), onednn_stack,
                                 false, static_cast<int>(threads))
        ->UseRealTime();
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
