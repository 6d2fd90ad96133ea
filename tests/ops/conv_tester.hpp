// SPDX-License-Identifier: Apache-2.0
//
// The convolution tester shared by tests/ops/conv2d_test.cpp and depthwise_test.cpp, in the
// style of XNNPACK's testers: one fluent description of a convolution, run through conv2d()
// (and depthwise_conv2d() for depthwise shapes) for five per-channel output stages and two
// per-tensor ones on one ISA path, and compared with reference::conv2d exactly.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "qinfer/ops/conv2d.hpp"
#include "qinfer/ops/depthwise.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "support/cap_guard.hpp"
#include "support/levels.hpp"
#include "support/random.hpp"

namespace qinfer::test {

// Every level: the convolutions run on the GEMM and depthwise kernels of each.
inline const Isa conv_paths[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni,
                                 Isa::amx,    Isa::neon, Isa::dotprod, Isa::i8mm};

template <class Body>
void for_each_conv_path(Body body) {
  for (Isa path : conv_paths) {
    if (!cpu_features().supports(path)) {
      WARN("convolution path " << isa_name(path) << " SKIPPED: not on this CPU");
      continue;
    }
    if (skipped_by_environment(path)) {
      WARN("convolution path " << isa_name(path) << " SKIPPED: QINFER_TEST_SKIP_LEVELS");
      continue;
    }
    SECTION(isa_name(path)) {
      body(path);
    }
  }
}

template <class TA, class TW>
class ConvTester {
 public:
  ConvTester& batch(std::size_t v) {
    shape_.batch = v;
    return *this;
  }
  // A depthwise convolution of v channels.
  ConvTester& channels(std::size_t v) {
    shape_.in_c = shape_.out_c = shape_.groups = v;
    return *this;
  }
  ConvTester& channels(std::size_t in, std::size_t out, std::size_t groups) {
    shape_.in_c = in;
    shape_.out_c = out;
    shape_.groups = groups;
    return *this;
  }
  ConvTester& height(const reference::Window1d& v) {
    shape_.h = v;
    return *this;
  }
  ConvTester& width(const reference::Window1d& v) {
    shape_.w = v;
    return *this;
  }
  ConvTester& input_zero_point(int32_t v) {
    x_zp_ = v;
    return *this;
  }
  ConvTester& weight_zero_point(int32_t v) {
    w_zp_ = v;
    return *this;
  }
  // Per-channel weight zero points (random) instead of one.
  ConvTester& per_channel_zero_points(bool v) {
    per_channel_zp_ = v;
    return *this;
  }
  // Constant operands instead of random ones (the int32-limit cases).
  ConvTester& fill(int32_t x, int32_t w) {
    fill_x_ = x;
    fill_w_ = w;
    return *this;
  }
  // Weights in [-63, 63] (zero point 0) packed as SymmetricSevenBit: AVX2's fast kernel.
  ConvTester& seven_bit_weights(bool v) {
    seven_bit_ = v;
    return *this;
  }
  // Workers of a ThreadPool (1: the serial executor).
  ConvTester& threads(std::size_t v) {
    threads_ = v;
    return *this;
  }

  void test(Isa path, Rng& rng) const {
    CapGuard guard;
    set_isa_cap(path);
    reference::Conv2dSizes sizes;
    REQUIRE(reference::conv2d_sizes(shape_, sizes));
    const std::size_t c = shape_.out_c;
    std::vector<TA> x(sizes.input);
    std::vector<TW> w(sizes.weights);
    for (TA& v : x) {
      v = static_cast<TA>(fill_x_ ? *fill_x_
                                  : rng.integer(StorageTraits<TA>::min, StorageTraits<TA>::max));
    }
    const int32_t w_min = seven_bit_ ? SymmetricSevenBit::qmin<TW> : StorageTraits<TW>::min;
    const int32_t w_max = seven_bit_ ? SymmetricSevenBit::qmax<TW> : StorageTraits<TW>::max;
    for (TW& v : w) v = static_cast<TW>(fill_w_ ? *fill_w_ : rng.integer(w_min, w_max));
    std::vector<int32_t> zps{seven_bit_ ? SymmetricSevenBit::zero_point<TW> : w_zp_};
    if (per_channel_zp_ && !seven_bit_) {
      zps = rng.integers<int32_t>(c, StorageTraits<TW>::min, StorageTraits<TW>::max);
    }
    const std::vector<int32_t> bias = rng.integers<int32_t>(c, -100000, 100000);
    const Packed packed = pack(w, zps, bias);
    const reference::GemmOffsets offsets{x_zp_, zps, bias};

    std::vector<int32_t> raw(sizes.output);
    reference::conv2d<TA, TW>(shape_, x, w, offsets, StoreInt32{}, raw);
    double max_abs = 1.0;
    for (int32_t v : raw) max_abs = std::max(max_abs, std::fabs(double(v)));
    std::vector<float> scales(c), multipliers(c);
    std::vector<QuantizedMultiplier> fixed(c);
    for (std::size_t j = 0; j < c; ++j) {
      scales[j] = std::pow(10.0f, rng.real(-6.0f, 3.0f));
      multipliers[j] = static_cast<float>(rng.real(0.3f, 3.0f) * 127.0 / max_abs);
      fixed[j] = quantize_multiplier(multipliers[j]);
    }
    const auto out_zp = static_cast<int32_t>(rng.integer(-20, 20));
    compare(x, w, offsets, packed, StoreInt32{});
    compare(x, w, offsets, packed, DequantizeFloat{scales});
    compare(x, w, offsets, packed, RequantizeFloat<int8_t>{multipliers, out_zp, -100, 120});
    compare(x, w, offsets, packed, RequantizeFloat<uint8_t>{multipliers, 128});
    compare(x, w, offsets, packed, RequantizeFixedPoint<int8_t>{fixed, out_zp});
    // One multiplier for every channel: the epilogues broadcast it instead of loading lanes.
    const std::vector<float> one{multipliers[0]};
    const std::vector<QuantizedMultiplier> one_fixed{fixed[0]};
    compare(x, w, offsets, packed, RequantizeFloat<uint8_t>{one, 3});
    compare(x, w, offsets, packed, RequantizeFixedPoint<uint8_t>{one_fixed, 130, 2, 240});
  }

 private:
  struct Packed {
    PackedConv2d conv;
    std::optional<PackedDepthwise> depthwise;
  };

  bool is_depthwise() const noexcept {
    return shape_.groups == shape_.in_c && shape_.out_c == shape_.in_c;
  }

  Packed pack(const std::vector<TW>& w, const std::vector<int32_t>& zps,
              const std::vector<int32_t>& bias) const {
    const Span<const TW> ws(w);
    const Span<const int32_t> zs(zps), bs(bias);
    const Conv2dFilter filter{shape_.out_c, shape_.in_c, shape_.groups, shape_.h.kernel,
                              shape_.w.kernel};
    Packed p{seven_bit_ ? pack_conv2d<SymmetricSevenBit>(filter, ws, zs, bs)
                        : pack_conv2d(filter, ws, zs, bs),
             std::nullopt};
    if (is_depthwise()) {
      p.depthwise = pack_depthwise(shape_.in_c, shape_.h.kernel, shape_.w.kernel, ws, zs, bs);
      // The bytes layout exists exactly when every weight minus its zero point fits int8.
      bool int8_range = true;
      const std::size_t taps = shape_.h.kernel * shape_.w.kernel;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const int32_t centered = int32_t{w[i]} - broadcast_at(zs, i / taps);
        int8_range = int8_range && centered >= -128 && centered <= 127;
      }
      CHECK(p.depthwise->has_quads() == int8_range);
    }
    return p;
  }

  template <class Stage>
  void compare(const std::vector<TA>& x, const std::vector<TW>& w,
               const reference::GemmOffsets& offsets, const Packed& packed,
               const Stage& stage) const {
    using Out = typename Stage::Output;
    reference::Conv2dSizes sizes;
    REQUIRE(reference::conv2d_sizes(shape_, sizes));
    std::vector<Out> expected(sizes.output);
    reference::conv2d<TA, TW>(shape_, x, w, offsets, stage, expected);
    std::optional<ThreadPool> pool;
    if (threads_ > 1) pool.emplace(threads_);
    const auto run = [&](auto&& op, std::size_t workspace_size, const char* name) {
      // The caller's workspace, filled with garbage the operator must overwrite.
      std::vector<int32_t> workspace(workspace_size, -12345);
      std::vector<Out> actual(sizes.output);
      if (pool) {
        op(Span<Out>(actual), Span<int32_t>(workspace), *pool);
      } else {
        op(Span<Out>(actual), Span<int32_t>(workspace), SerialExecutor{});
      }
      check_equal(expected, actual, offsets.a_zero_point, name);
    };
    const Span<const TA> xs(x);
    run(
        [&](Span<Out> y, Span<int32_t> ws, auto&& executor) {
          conv2d(shape_, xs, offsets.a_zero_point, packed.conv, stage, y, ws, executor);
        },
        conv2d_workspace_size(shape_), "conv2d");
    if (packed.depthwise) {
      run(
          [&](Span<Out> y, Span<int32_t> ws, auto&& executor) {
            depthwise_conv2d(shape_, xs, offsets.a_zero_point, *packed.depthwise, stage, y, ws,
                             executor);
          },
          depthwise_workspace_size(shape_), "depthwise_conv2d");
    }
  }

  template <class Out>
  void check_equal(const std::vector<Out>& expected, const std::vector<Out>& actual, int32_t x_zp,
                   const char* op) const {
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (std::memcmp(&expected[i], &actual[i], sizeof(Out)) != 0) {
        FAIL_CHECK(op << " on " << isa_name(active_isa()) << " batch " << shape_.batch << " in "
                      << shape_.in_c << " out " << shape_.out_c << " groups " << shape_.groups
                      << " h " << shape_.h.input << "/" << shape_.h.kernel << "/" << shape_.h.stride
                      << "/" << shape_.h.dilation << "/" << shape_.h.pad_begin << "+"
                      << shape_.h.pad_end << " w " << shape_.w.input << "/" << shape_.w.kernel
                      << "/" << shape_.w.stride << "/" << shape_.w.dilation << "/"
                      << shape_.w.pad_begin << "+" << shape_.w.pad_end << " x_zp " << x_zp
                      << " at element " << i << ": expected " << double(expected[i]) << " got "
                      << double(actual[i]));
        return;
      }
    }
  }

  reference::Conv2dShape shape_{1, 1, 1, 1, {1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 0, 0}};
  int32_t x_zp_ = 0, w_zp_ = 0;
  bool per_channel_zp_ = false, seven_bit_ = false;
  std::optional<int32_t> fill_x_, fill_w_;
  std::size_t threads_ = 1;
};

// A random window over an input of 1..max_input with the kernel fitting after padding: stride
// 1-3, dilation 1-2, each padding side 0 to kernel - 1.
inline reference::Window1d random_window(Rng& rng, std::size_t kernel, std::size_t max_input) {
  reference::Window1d win;
  win.kernel = kernel;
  win.stride = rng.size(1, 3);
  win.dilation = rng.size(1, 2);
  win.pad_begin = rng.size(0, kernel - 1);
  win.pad_end = rng.size(0, kernel - 1);
  const std::size_t span = win.dilation * (kernel - 1) + 1;
  const std::size_t min_input =
      span > win.pad_begin + win.pad_end ? span - win.pad_begin - win.pad_end : 1;
  win.input = rng.size(std::max<std::size_t>(min_input, 1), std::max(min_input, max_input));
  return win;
}

}  // namespace qinfer::test
