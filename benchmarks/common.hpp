// SPDX-License-Identifier: Apache-2.0
//
// What the benchmark binaries share: reproducible random operands and, when oneDNN was found,
// its ISA cap as the benchmarks name it and its convolution on a layer.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#if QINFER_BENCH_ONEDNN
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace bench {

// `count` values uniform in [lo, hi], the same on every run.
template <class T>
std::vector<T> random_codes(std::size_t count, int lo, int hi) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

#if QINFER_BENCH_ONEDNN
// oneDNN on one thread, as qinfer runs in the single-threaded tables. Its OpenMP pool otherwise
// takes every core: on two cores, conv_bench's oneDNN rows ran 1.6-2x faster than alone and
// made ratios against one qinfer thread meaningless unless OMP_NUM_THREADS=1 was set.
inline void onednn_single_thread() {
  omp_set_num_threads(1);
}

// ONEDNN_MAX_CPU_ISA, which oneDNN reads once per process: part of the benchmarks' names.
inline std::string onednn_cap() {
  const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
  return cap != nullptr ? cap : "default";
}

// A square convolution layer, batch 1, NHWC.
struct OnednnConv {
  std::size_t size, in_c, out_c, groups, kernel, stride, pad;
};

// oneDNN's convolution of layer `l` between caller-owned NHWC buffers: u8 x s8 -> u8 with
// per-channel output scales, or f32 throughout; weights reordered once, at construction, into
// the format oneDNN prefers.
class OnednnConvLayer {
 public:
  OnednnConvLayer(const dnnl::engine& engine, const OnednnConv& l, bool int8, void* src_data,
                  void* dst_data) {
    using dnnl::memory;
    const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
    const std::size_t out = (l.size + 2 * l.pad - l.kernel) / l.stride + 1;
    const auto act = int8 ? memory::data_type::u8 : memory::data_type::f32;
    const auto wei = int8 ? memory::data_type::s8 : memory::data_type::f32;
    const memory::desc src_md({1, dim(l.in_c), dim(l.size), dim(l.size)}, act,
                              memory::format_tag::nhwc);
    const memory::desc dst_md({1, dim(l.out_c), dim(out), dim(out)}, act, memory::format_tag::nhwc);
    const memory::dims wei_dims =
        l.groups == 1 ? memory::dims{dim(l.out_c), dim(l.in_c), dim(l.kernel), dim(l.kernel)}
                      : memory::dims{dim(l.groups), dim(l.out_c / l.groups), dim(l.in_c / l.groups),
                                     dim(l.kernel), dim(l.kernel)};
    const memory::desc wei_user_md(
        wei_dims, wei, l.groups == 1 ? memory::format_tag::ohwi : memory::format_tag::goihw);
    const memory::desc wei_any(wei_dims, wei, memory::format_tag::any);
    dnnl::primitive_attr attr;
    if (int8) attr.set_output_scales(2, std::vector<float>(l.out_c, 1e-4f));
    const memory::dim stride = dim(l.stride), pad = dim(l.pad);
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                               dnnl::algorithm::convolution_direct, src_md, wei_any,
                                               dst_md, {stride, stride}, {pad, pad}, {pad, pad});
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
    weights_.assign(l.out_c * l.in_c / l.groups * l.kernel * l.kernel * (int8 ? 1 : 4), 1);
    src_ = memory(src_md, engine, src_data);
    dst_ = memory(dst_md, engine, dst_data);
    memory w_user(wei_user_md, engine, weights_.data());
    weights_memory_ = memory(pd.weights_desc(), engine);
    dnnl::stream stream(engine);
    dnnl::reorder(w_user, weights_memory_).execute(stream, w_user, weights_memory_);
    stream.wait();
    conv_ = dnnl::convolution_forward(pd);
    impl_ = pd.impl_info_str();
  }

  void execute(dnnl::stream& stream) const {
    conv_.execute(
        stream, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_memory_}, {DNNL_ARG_DST, dst_}});
  }
  const std::string& impl() const { return impl_; }

 private:
  std::vector<uint8_t> weights_;
  dnnl::memory src_, dst_, weights_memory_;
  dnnl::convolution_forward conv_;
  std::string impl_;
};

// oneDNN's convolution of layer `l` on buffers of its own, timed alone.
inline void onednn_conv(benchmark::State& state, const OnednnConv& l, bool int8) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const std::size_t out = (l.size + 2 * l.pad - l.kernel) / l.stride + 1;
  const std::size_t elem = int8 ? 1 : 4;
  std::vector<uint8_t> x(l.size * l.size * l.in_c * elem, 1), y(out * out * l.out_c * elem);
  const OnednnConvLayer conv(engine, l, int8, x.data(), y.data());
  for (auto _ : state) {
    conv.execute(stream);
    stream.wait();
  }
  state.SetLabel(conv.impl());
}
#endif

}  // namespace bench
