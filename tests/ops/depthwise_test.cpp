// SPDX-License-Identifier: Apache-2.0
//
// The depthwise convolution on every path this CPU has, against reference::conv2d with
// groups == channels, exactly: random geometries (odd and prime sizes, every padding side
// separately, strides, dilations, kernels 1x1 to 9x9), both activation and weight types,
// saturating values, every output stage, threads, and the errors it must report.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "qinfer/ops/depthwise.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "support/cap_guard.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

// The levels with a depthwise kernel of their own, and the levels that share one.
const Isa depthwise_paths[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni,
                               Isa::amx,    Isa::neon, Isa::dotprod, Isa::i8mm};

template <class Body>
void for_each_path(Body body) {
  for (Isa path : depthwise_paths) {
    if (!cpu_features().supports(path)) {
      WARN("depthwise path " << isa_name(path) << " SKIPPED: not on this CPU");
      continue;
    }
    SECTION(isa_name(path)) {
      body(path);
    }
  }
}

template <class TA, class TW>
class DepthwiseTester {
 public:
  DepthwiseTester& batch(std::size_t v) {
    shape_.batch = v;
    return *this;
  }
  DepthwiseTester& channels(std::size_t v) {
    shape_.in_c = shape_.out_c = shape_.groups = v;
    return *this;
  }
  DepthwiseTester& height(const reference::Window1d& v) {
    shape_.h = v;
    return *this;
  }
  DepthwiseTester& width(const reference::Window1d& v) {
    shape_.w = v;
    return *this;
  }
  DepthwiseTester& input_zero_point(int32_t v) {
    x_zp_ = v;
    return *this;
  }
  // Per-channel weight zero points (random) instead of one.
  DepthwiseTester& weight_zero_point(int32_t v) {
    w_zp_ = v;
    return *this;
  }
  DepthwiseTester& per_channel_zero_points(bool v) {
    per_channel_zp_ = v;
    return *this;
  }
  DepthwiseTester& fill(int32_t x, int32_t w) {
    fill_x_ = x;
    fill_w_ = w;
    return *this;
  }
  DepthwiseTester& threads(std::size_t v) {
    threads_ = v;
    return *this;
  }

  void test(Isa path, test::Rng& rng) const {
    test::CapGuard guard;
    set_isa_cap(path);
    reference::Conv2dSizes sizes;
    REQUIRE(reference::conv2d_sizes(shape_, sizes));
    const std::size_t c = shape_.in_c;
    std::vector<TA> x(sizes.input);
    std::vector<TW> w(sizes.weights);
    for (TA& v : x) {
      v = static_cast<TA>(fill_x_ ? *fill_x_
                                  : rng.integer(StorageTraits<TA>::min, StorageTraits<TA>::max));
    }
    for (TW& v : w) {
      v = static_cast<TW>(fill_w_ ? *fill_w_
                                  : rng.integer(StorageTraits<TW>::min, StorageTraits<TW>::max));
    }
    std::vector<int32_t> zps{w_zp_};
    if (per_channel_zp_)
      zps = rng.integers<int32_t>(c, StorageTraits<TW>::min, StorageTraits<TW>::max);
    const std::vector<int32_t> bias = rng.integers<int32_t>(c, -100000, 100000);
    const PackedDepthwise packed =
        pack_depthwise(c, shape_.h.kernel, shape_.w.kernel, Span<const TW>(w),
                       Span<const int32_t>(zps), Span<const int32_t>(bias));
    const reference::GemmOffsets offsets{x_zp_, zps, bias};
    // The bytes layout exists exactly when every weight minus its zero point fits int8.
    bool int8_range = true;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const int32_t centered =
          int32_t{w[i]} - broadcast_at(Span<const int32_t>(zps), i / (w.size() / c));
      int8_range = int8_range && centered >= -128 && centered <= 127;
    }
    CHECK(packed.has_quads() == int8_range);

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
  }

 private:
  template <class Stage>
  void compare(const std::vector<TA>& x, const std::vector<TW>& w,
               const reference::GemmOffsets& offsets, const PackedDepthwise& packed,
               const Stage& stage) const {
    using Out = typename Stage::Output;
    reference::Conv2dSizes sizes;
    REQUIRE(reference::conv2d_sizes(shape_, sizes));
    std::vector<Out> expected(sizes.output), actual(sizes.output);
    reference::conv2d<TA, TW>(shape_, x, w, offsets, stage, expected);
    // The caller's workspace, filled with garbage the operator must overwrite.
    std::vector<int32_t> workspace(depthwise_workspace_size(shape_), -12345);
    const Span<const TA> xs(x);
    if (threads_ == 1) {
      depthwise_conv2d(shape_, xs, offsets.a_zero_point, packed, stage, Span<Out>(actual),
                       Span<int32_t>(workspace));
    } else {
      ThreadPool pool(threads_);
      depthwise_conv2d(shape_, xs, offsets.a_zero_point, packed, stage, Span<Out>(actual),
                       Span<int32_t>(workspace), pool);
    }
    for (std::size_t i = 0; i < sizes.output; ++i) {
      if (std::memcmp(&expected[i], &actual[i], sizeof(Out)) != 0) {
        FAIL_CHECK(
            "kernel " << depthwise_kernel<TA>(active_isa(), packed).name << " batch "
                      << shape_.batch << " channels " << shape_.in_c << " h " << shape_.h.input
                      << "/" << shape_.h.kernel << "/" << shape_.h.stride << "/"
                      << shape_.h.dilation << "/" << shape_.h.pad_begin << "+" << shape_.h.pad_end
                      << " w " << shape_.w.input << "/" << shape_.w.kernel << "/" << shape_.w.stride
                      << "/" << shape_.w.dilation << "/" << shape_.w.pad_begin << "+"
                      << shape_.w.pad_end << " x_zp " << offsets.a_zero_point << " at element " << i
                      << ": expected " << double(expected[i]) << " got " << double(actual[i]));
        return;
      }
    }
  }

  reference::Conv2dShape shape_{1, 1, 1, 1, {1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 0, 0}};
  int32_t x_zp_ = 0, w_zp_ = 0;
  bool per_channel_zp_ = false;
  std::optional<int32_t> fill_x_, fill_w_;
  std::size_t threads_ = 1;
};

// A random window over an input of 1..max_input with the kernel fitting after padding.
reference::Window1d random_window(test::Rng& rng, std::size_t kernel, std::size_t max_input) {
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

}  // namespace

TEST_CASE("depthwise convolution equals the reference over random geometries",
          "[depthwise][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (int trial = 0; trial < 60; ++trial) {
      const std::size_t kernel = rng.size(1, 7);
      const std::size_t kernel_w = rng.coin() ? kernel : rng.size(1, 7);
      // Channels around every vector width: 1..100 with primes and multiples of 8 and 16.
      const std::size_t channels_list[] = {1, 3, 7, 8, 13, 16, 17, 31, 32, 33, 47, 64, 97};
      const std::size_t channels = channels_list[rng.size(0, 12)];
      const int32_t zps[] = {0, 128, 255};
      DepthwiseTester<uint8_t, int8_t>()
          .batch(rng.size(1, 3))
          .channels(channels)
          .height(random_window(rng, kernel, 23))
          .width(random_window(rng, kernel_w, 23))
          .input_zero_point(zps[trial % 3])
          .test(path, rng);
    }
  });
}

TEST_CASE("depthwise convolution: MobileNet shapes, 3x3 and 5x5, stride 1 and 2",
          "[depthwise][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (std::size_t kernel : {3, 5}) {
      for (std::size_t stride : {1, 2}) {
        for (std::size_t channels : {16, 24, 40, 96, 101}) {
          const std::size_t pad = kernel / 2;
          DepthwiseTester<uint8_t, int8_t>()
              .channels(channels)
              .height({14, kernel, stride, 1, pad, pad})
              .width({15, kernel, stride, 1, pad, pad})
              .input_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
              .test(path, rng);
        }
      }
    }
  });
}

TEST_CASE("depthwise convolution: int8 activations, uint8 and asymmetric weights",
          "[depthwise][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    for (int trial = 0; trial < 12; ++trial) {
      const reference::Window1d h{rng.size(3, 17), 3, rng.size(1, 2), 1, 1, rng.size(0, 2)};
      const reference::Window1d w{rng.size(3, 17), 3, rng.size(1, 2), 2, 2, rng.size(0, 2)};
      DepthwiseTester<int8_t, int8_t>()
          .channels(rng.size(1, 70))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
          .per_channel_zero_points(true)
          .test(path, rng);
      // Symmetric weights: the bytes kernel (quads) where the level has one.
      DepthwiseTester<int8_t, int8_t>()
          .channels(rng.size(1, 140))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
          .test(path, rng);
      DepthwiseTester<uint8_t, uint8_t>()
          .channels(rng.size(1, 70))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
          .per_channel_zero_points(true)
          .test(path, rng);
      DepthwiseTester<int8_t, uint8_t>()
          .channels(rng.size(1, 70))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
          .weight_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
          .test(path, rng);
    }
  });
}

TEST_CASE("depthwise convolution: extreme values, long windows, wide layers, threads",
          "[depthwise][simd]") {
  for_each_path([](Isa path) {
    test::Rng rng;
    // The largest products: (255 - 0) * (-128 - 127) per tap, and all 9x9 taps of the same sign.
    DepthwiseTester<uint8_t, int8_t>()
        .channels(37)
        .height({9, 9, 1, 1, 0, 0})
        .width({11, 9, 1, 1, 0, 0})
        .fill(255, -128)
        .weight_zero_point(127)
        .test(path, rng);
    DepthwiseTester<int8_t, uint8_t>()
        .channels(19)
        .height({9, 9, 1, 1, 4, 4})
        .width({9, 9, 1, 1, 4, 4})
        .fill(-128, 255)
        .input_zero_point(127)
        .test(path, rng);
    // More channels than the per-task buffer holds (2048).
    DepthwiseTester<uint8_t, int8_t>()
        .channels(2061)
        .height({3, 3, 1, 1, 1, 1})
        .width({4, 3, 2, 1, 1, 0})
        .input_zero_point(3)
        .test(path, rng);
    for (std::size_t threads : {2, 3}) {
      DepthwiseTester<uint8_t, int8_t>()
          .batch(2)
          .channels(35)
          .height({13, 3, 1, 1, 1, 1})
          .width({9, 3, 1, 1, 1, 1})
          .input_zero_point(77)
          .threads(threads)
          .test(path, rng);
    }
  });
}

TEST_CASE("depthwise convolution rejects bad arguments", "[depthwise]") {
  const std::vector<int8_t> weights(9 * 4, 1);
  const std::vector<int32_t> zero{0}, bias;
  const PackedDepthwise packed = pack_depthwise(
      4, 3, 3, Span<const int8_t>(weights), Span<const int32_t>(zero), Span<const int32_t>(bias));
  const reference::Conv2dShape shape{1, 4, 4, 4, {5, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}};
  std::vector<uint8_t> x(5 * 5 * 4, 1);
  std::vector<int32_t> y(5 * 5 * 4);
  std::vector<int32_t> workspace(depthwise_workspace_size(shape));
  const auto run = [&](const reference::Conv2dShape& s, int32_t zp, std::size_t workspace_size) {
    return validate_depthwise_conv2d(s, Span<const uint8_t>(x), zp, packed, StoreInt32{},
                                     Span<int32_t>(y), workspace_size);
  };
  CHECK(run(shape, 0, workspace.size()));
  // 4 starting sums, 2 x 64 in the bytes kernel's order, a padding row of 4 + 4 * 4 bytes.
  CHECK(workspace.size() == 4 + 2 * 64 + 5);
  reference::Conv2dShape broken = shape;
  broken.w.kernel = 0;
  CHECK(depthwise_workspace_size(broken) == static_cast<std::size_t>(-1));
  CHECK(run(shape, 256, workspace.size()).code() == Errc::invalid_zero_point);
  CHECK(run(shape, 0, workspace.size() - 1).code() == Errc::invalid_argument);
  reference::Conv2dShape multiplier = shape;
  multiplier.out_c = 8;
  CHECK(run(multiplier, 0, workspace.size()).code() == Errc::invalid_argument);
  reference::Conv2dShape other_kernel = shape;
  other_kernel.h.kernel = 5;
  CHECK(run(other_kernel, 0, workspace.size()).code() == Errc::shape_mismatch);
  reference::Conv2dShape bigger = shape;
  bigger.h.input = 6;
  CHECK(run(bigger, 0, workspace.size()).code() == Errc::shape_mismatch);
  CHECK_THROWS_AS(depthwise_conv2d(shape, Span<const uint8_t>(x), 0, packed, StoreInt32{},
                                   Span<int32_t>(y), Span<int32_t>(workspace.data(), 3)),
                  Error);

  // Packing: sizes, zero points and codes outside the scheme.
  const auto pack_error = [&](std::size_t channels, std::size_t kh, const std::vector<int8_t>& w,
                              const std::vector<int32_t>& zp, auto scheme) {
    try {
      static_cast<void>(pack_depthwise<decltype(scheme)>(channels, kh, 3, Span<const int8_t>(w),
                                                         Span<const int32_t>(zp),
                                                         Span<const int32_t>(bias)));
    } catch (const Error& e) {
      return e.status().code();
    }
    return Errc::ok;
  };
  CHECK(pack_error(4, 3, weights, zero, Affine{}) == Errc::ok);
  CHECK(pack_error(4, 2, weights, zero, Affine{}) == Errc::shape_mismatch);
  CHECK(pack_error(0, 3, weights, zero, Affine{}) == Errc::invalid_argument);
  CHECK(pack_error(4, 3, weights, {200}, Affine{}) == Errc::invalid_zero_point);
  std::vector<int8_t> full = weights;
  full[5] = -128;
  CHECK(pack_error(4, 3, full, zero, SymmetricNarrow{}) == Errc::invalid_argument);
}
