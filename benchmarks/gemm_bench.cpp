// SPDX-License-Identifier: Apache-2.0
//
// Packed int8 GEMM (ops/gemm.hpp) in GOPS (1 op = 1 multiply or 1 add: 2 M N K per GEMM) on the
// shapes of the SIMD GEMM issue, for every path this CPU has, requantizing to int8 with
// per-column float multipliers (the work oneDNN's output scales do), and for the best path
// also with the fixed-point stage and on two threads; the cost of packing; a streaming read of
// the weights' bytes (what bounds M = 1); and, in the same binary, the instruction peaks
// (peak.hpp) and oneDNN's int8 and fp32 matmul when oneDNN was found. oneDNN's ISA is capped only
// through ONEDNN_MAX_CPU_ISA (once per process), so benchmarks/run_gemm_table.sh runs this binary
// once per cap; the benchmark names carry the cap.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "peak.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/runtime/thread_pool.hpp"

#if QINFER_BENCH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

struct Shape {
  std::size_t m, n, k;
};

std::string name_of(Shape s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

void set_gops(benchmark::State& state, Shape s) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * double(s.m) * double(s.n) * double(s.k),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  // Weights read per second: what bounds M = 1.
  state.counters["weight_GBps"] =
      benchmark::Counter(double(s.n) * double(s.k), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

struct Variant {
  bool seven_bit = false;    // weights in [-63, 63], packed as SymmetricSevenBit (AVX2's fast form)
  bool fixed_point = false;  // RequantizeFixedPoint instead of RequantizeFloat
  std::size_t threads = 1;
};

template <class Stage>
void run_gemm(benchmark::State& state, Shape s, const std::vector<uint8_t>& a,
              const qinfer::PackedWeights& w, const Stage& stage, std::size_t threads) {
  std::vector<int8_t> c(s.m * s.n);
  qinfer::ThreadPool pool(threads);
  for (auto _ : state) {
    qinfer::gemm(qinfer::row_major(a.data(), s.m, s.k), 128, w, stage,
                 qinfer::row_major(c.data(), s.m, s.n), pool);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
}

void gemm_gops(benchmark::State& state, qinfer::Isa path, Shape s, Variant v) {
  const bool seven_bit = v.seven_bit;
  const auto saved = qinfer::set_isa_cap(path);
  const auto a = bench::random_codes<uint8_t>(s.m * s.k, 0, 255);
  const auto b =
      bench::random_codes<int8_t>(s.k * s.n, seven_bit ? -63 : -127, seven_bit ? 63 : 127);
  const int32_t zero_point[] = {0};
  const auto bv = qinfer::row_major(b.data(), s.k, s.n);
  const qinfer::Span<const int32_t> zps(zero_point);
  const qinfer::PackedWeights w = seven_bit
                                      ? qinfer::pack_weights<qinfer::SymmetricSevenBit>(bv, zps, {})
                                      : qinfer::pack_weights(bv, zps, {});
  if (v.fixed_point) {
    const std::vector<qinfer::QuantizedMultiplier> m(s.n, qinfer::quantize_multiplier(1e-4));
    run_gemm(state, s, a, w, qinfer::RequantizeFixedPoint<int8_t>{m, 0}, v.threads);
  } else {
    const std::vector<float> m(s.n, 1e-4f);
    run_gemm(state, s, a, w, qinfer::RequantizeFloat<int8_t>{m, 0}, v.threads);
  }
  set_gops(state, s);
  state.SetLabel(qinfer::gemm_microkernel_for<uint8_t>(qinfer::active_isa(), w, s.m).name);
  qinfer::set_isa_cap(saved);
}

void pack(benchmark::State& state, Shape s) {
  const auto b = bench::random_codes<int8_t>(s.k * s.n, -127, 127);
  const int32_t zero_point[] = {0};
  for (auto _ : state) {
    auto w = qinfer::pack_weights(qinfer::row_major(b.data(), s.k, s.n),
                                  qinfer::Span<const int32_t>(zero_point), {});
    benchmark::DoNotOptimize(w.data.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.k * s.n));
}

#if QINFER_X86
// The yardstick of M = 1: one pass over as many bytes as the weights.
void stream_read(benchmark::State& state, Shape s) {
  const auto bytes = bench::random_codes<uint8_t>(s.n * s.k, 0, 255);
  for (auto _ : state) bench::stream_read(bytes.data(), bytes.size());
  state.counters["weight_GBps"] =
      benchmark::Counter(double(s.n) * double(s.k), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}
#endif

#if QINFER_X86
void peak(benchmark::State& state, double (*kernel)(std::size_t)) {
  constexpr std::size_t iterations = 1 << 16;
  double ops = 0;
  for (auto _ : state) ops += kernel(iterations);
  state.counters["GOPS"] =
      benchmark::Counter(ops, benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
#endif

#if QINFER_BENCH_ONEDNN
// u8 x s8 -> s8 with per-column output scales (the work of our requantizing stage), weights in
// the format oneDNN prefers, reordered once outside the timed loop; or f32 throughout.
void onednn_matmul(benchmark::State& state, Shape s, bool int8) {
  using dnnl::memory;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto m = static_cast<memory::dim>(s.m), n = static_cast<memory::dim>(s.n),
             k = static_cast<memory::dim>(s.k);
  const memory::data_type src_type = int8 ? memory::data_type::u8 : memory::data_type::f32;
  const memory::data_type wei_type = int8 ? memory::data_type::s8 : memory::data_type::f32;
  const memory::data_type dst_type = int8 ? memory::data_type::s8 : memory::data_type::f32;
  const memory::desc a_md({m, k}, src_type, memory::format_tag::ab);
  const memory::desc b_any({k, n}, wei_type, memory::format_tag::any);
  const memory::desc b_md({k, n}, wei_type, memory::format_tag::ab);
  const memory::desc c_md({m, n}, dst_type, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(2, std::vector<float>(s.n, 1e-4f));
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, c_md), attr, engine);
  const std::size_t elem = int8 ? 1 : 4;
  std::vector<uint8_t> a(s.m * s.k * elem, 1), b(s.k * s.n * elem, 1), c(s.m * s.n * elem);
  memory a_mem(a_md, engine, a.data()), b_user(b_md, engine, b.data()),
      c_mem(c_md, engine, c.data());
  memory b_mem(pd.weights_desc(), engine);
  dnnl::reorder(b_user, b_mem).execute(stream, b_user, b_mem);
  const dnnl::matmul matmul(pd);
  for (auto _ : state) {
    matmul.execute(stream,
                   {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
  }
  set_gops(state, s);
  state.SetLabel(pd.impl_info_str());
}
#endif

}  // namespace

int main(int argc, char** argv) {
#if QINFER_BENCH_ONEDNN
  bench::onednn_single_thread();
#endif
  using qinfer::Isa;
  const Shape shapes[] = {{256, 256, 256},    {512, 512, 512},   {1024, 1024, 1024},
                          {2048, 2048, 2048}, {1, 4096, 4096},   {8, 4096, 4096},
                          {32, 4096, 4096},   {128, 4096, 4096}, {3136, 64, 576}};
  const Isa best = qinfer::cpu_features().best();
  for (const Shape& s : shapes) {
    const std::string shape = name_of(s);
    for (Isa path : qinfer::all_isas) {
      if (!qinfer::cpu_features().supports(path)) continue;
      if (path == Isa::scalar && s.m * s.n * s.k > (std::size_t{1} << 27)) continue;  // minutes
      const std::string name = qinfer::isa_name(path);
      benchmark::RegisterBenchmark(("gemm/" + name + "/" + shape).c_str(), gemm_gops, path, s,
                                   Variant{});
      if (path == Isa::avx2) {
        benchmark::RegisterBenchmark(("gemm/avx2-7bit/" + shape).c_str(), gemm_gops, path, s,
                                     Variant{true, false, 1});
      }
    }
    const std::string best_name = qinfer::isa_name(best);
    benchmark::RegisterBenchmark(("gemm_fixed_point/" + best_name + "/" + shape).c_str(), gemm_gops,
                                 best, s, Variant{false, true, 1});
    benchmark::RegisterBenchmark(("gemm_2threads/" + best_name + "/" + shape).c_str(), gemm_gops,
                                 best, s, Variant{false, false, 2});
#if QINFER_X86
    if (s.m == 1) benchmark::RegisterBenchmark(("stream_read/" + shape).c_str(), stream_read, s);
#endif
    benchmark::RegisterBenchmark(("pack_weights/" + shape).c_str(), pack, s);
#if QINFER_BENCH_ONEDNN
    benchmark::RegisterBenchmark(("onednn_int8/" + bench::onednn_cap() + "/" + shape).c_str(),
                                 onednn_matmul, s, true);
    benchmark::RegisterBenchmark(("onednn_fp32/" + bench::onednn_cap() + "/" + shape).c_str(),
                                 onednn_matmul, s, false);
#endif
  }
#if QINFER_X86
  const auto& f = qinfer::cpu_features();
  if (f.supports(Isa::avx2)) {
    benchmark::RegisterBenchmark("peak/maddubs+madd ymm", peak, bench::peak_maddubs_madd);
  }
  if (f.supports(Isa::avxvnni)) {
    benchmark::RegisterBenchmark("peak/vpdpbusd ymm", peak, bench::peak_vpdpbusd_ymm);
  }
  if (f.supports(Isa::avx512vnni)) {
    benchmark::RegisterBenchmark("peak/vpdpbusd zmm", peak, bench::peak_vpdpbusd_zmm);
  }
  if (f.supports(Isa::amx)) benchmark::RegisterBenchmark("peak/tdpbusd", peak, bench::peak_tdpbusd);
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
