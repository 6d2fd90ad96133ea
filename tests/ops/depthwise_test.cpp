// SPDX-License-Identifier: Apache-2.0
//
// The depthwise convolution (depthwise_conv2d, and conv2d on depthwise shapes) on every path
// this CPU has, against reference::conv2d with groups == channels, exactly: random geometries
// (odd and prime sizes, every padding side separately, strides, dilations, kernels 1x1 to 9x9),
// both activation and weight types, saturating values, every output stage, threads, and the
// errors it must report.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "ops/conv_tester.hpp"
#include "qinfer/ops/depthwise.hpp"

using namespace qinfer;

TEST_CASE("depthwise convolution equals the reference over random geometries",
          "[depthwise][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    for (int trial = 0; trial < 60; ++trial) {
      const std::size_t kernel = rng.size(1, 7);
      const std::size_t kernel_w = rng.coin() ? kernel : rng.size(1, 7);
      // Channels around every vector width: 1..100 with primes and multiples of 8 and 16.
      const std::size_t channels_list[] = {1, 3, 7, 8, 13, 16, 17, 31, 32, 33, 47, 64, 97};
      const std::size_t channels = channels_list[rng.size(0, 12)];
      const int32_t zps[] = {0, 128, 255};
      test::ConvTester<uint8_t, int8_t>()
          .batch(rng.size(1, 3))
          .channels(channels)
          .height(test::random_window(rng, kernel, 23))
          .width(test::random_window(rng, kernel_w, 23))
          .input_zero_point(zps[trial % 3])
          .test(path, rng);
    }
  });
}

TEST_CASE("depthwise convolution: MobileNet shapes, 3x3 and 5x5, stride 1 and 2",
          "[depthwise][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    for (std::size_t kernel : {3, 5}) {
      for (std::size_t stride : {1, 2}) {
        for (std::size_t channels : {16, 24, 40, 96, 101}) {
          const std::size_t pad = kernel / 2;
          test::ConvTester<uint8_t, int8_t>()
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
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    for (int trial = 0; trial < 12; ++trial) {
      const reference::Window1d h{rng.size(3, 17), 3, rng.size(1, 2), 1, 1, rng.size(0, 2)};
      const reference::Window1d w{rng.size(3, 17), 3, rng.size(1, 2), 2, 2, rng.size(0, 2)};
      test::ConvTester<int8_t, int8_t>()
          .channels(rng.size(1, 70))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
          .per_channel_zero_points(true)
          .test(path, rng);
      // Symmetric weights: the bytes kernel (quads) where the level has one.
      test::ConvTester<int8_t, int8_t>()
          .channels(rng.size(1, 140))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
          .test(path, rng);
      test::ConvTester<uint8_t, uint8_t>()
          .channels(rng.size(1, 70))
          .height(h)
          .width(w)
          .input_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
          .per_channel_zero_points(true)
          .test(path, rng);
      test::ConvTester<int8_t, uint8_t>()
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
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    // The largest products: (255 - 0) * (-128 - 127) per tap, and all 9x9 taps of the same sign.
    test::ConvTester<uint8_t, int8_t>()
        .channels(37)
        .height({9, 9, 1, 1, 0, 0})
        .width({11, 9, 1, 1, 0, 0})
        .fill(255, -128)
        .weight_zero_point(127)
        .test(path, rng);
    test::ConvTester<int8_t, uint8_t>()
        .channels(19)
        .height({9, 9, 1, 1, 4, 4})
        .width({9, 9, 1, 1, 4, 4})
        .fill(-128, 255)
        .input_zero_point(127)
        .test(path, rng);
    // More channels than the per-task buffer holds (2048).
    test::ConvTester<uint8_t, int8_t>()
        .channels(2061)
        .height({3, 3, 1, 1, 1, 1})
        .width({4, 3, 2, 1, 1, 0})
        .input_zero_point(3)
        .test(path, rng);
    for (std::size_t threads : {2, 3}) {
      test::ConvTester<uint8_t, int8_t>()
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

// The rows kernel (3x3, float stage, AVX-512 VNNI) interleaves each input row once into a ring
// of three rows, in strips of 16 units and bands of 8 output rows: heights past one band, widths
// past one strip (in both modes: a unit is 64 channels of one column, or 32 channels of two),
// channel tails in each mode, every padding on each side, strides 1-3, horizontal dilation.
TEST_CASE("depthwise convolution: 3x3 rows across bands, strips and channel blocks",
          "[depthwise][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    const std::size_t channels_list[] = {1, 5, 32, 33, 63, 64, 80, 96, 129};
    for (std::size_t channels : channels_list) {
      for (std::size_t stride = 1; stride <= 3; ++stride) {
        const std::size_t dilation = rng.size(1, 2);
        const reference::Window1d h{rng.size(17, 29), 3, stride, 1, rng.size(0, 2), rng.size(0, 2)};
        const reference::Window1d w{rng.size(30, 75), 3, stride, dilation, rng.size(0, 2),
                                    rng.size(0, 2)};
        test::ConvTester<uint8_t, int8_t>()
            .batch(rng.size(1, 2))
            .channels(channels)
            .height(h)
            .width(w)
            .input_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
            .test(path, rng);
        test::ConvTester<int8_t, int8_t>()
            .channels(channels)
            .height(h)
            .width(w)
            .input_zero_point(static_cast<int32_t>(rng.integer(-128, 127)))
            .threads(3)
            .test(path, rng);
      }
    }
    // Saturating sums: all-255 activations against -128 weights, every tap inside.
    test::ConvTester<uint8_t, int8_t>()
        .channels(40)
        .height({12, 3, 1, 1, 0, 0})
        .width({40, 3, 1, 1, 0, 0})
        .fill(255, -128)
        .test(path, rng);
  });
}

TEST_CASE("depthwise kernels multiply bytes on the VNNI and dotprod levels when weights fit int8",
          "[depthwise][simd]") {
  // w' = -128 fits int8; uint8 weights of 200 around a zero point of 0 do not.
  const std::vector<int8_t> narrow(9 * 5, -128);
  const std::vector<uint8_t> wide(9 * 5, 200);
  const std::vector<int32_t> zero{0}, bias;
  const PackedDepthwise bytes = pack_depthwise(
      5, 3, 3, Span<const int8_t>(narrow), Span<const int32_t>(zero), Span<const int32_t>(bias));
  const PackedDepthwise pairs = pack_depthwise(
      5, 3, 3, Span<const uint8_t>(wide), Span<const int32_t>(zero), Span<const int32_t>(bias));
  REQUIRE(bytes.has_quads());
  REQUIRE_FALSE(pairs.has_quads());
  const auto taps_per_group = [](Isa isa, const PackedDepthwise& w) {
    return depthwise_kernel<uint8_t>(isa, w).taps_per_group;
  };
  for (Isa isa : all_isas) {
    INFO(isa_name(isa));
    if (!cpu_features().supports(isa)) continue;
    const bool dot = isa == Isa::avxvnni || isa == Isa::avx512vnni || isa == Isa::amx ||
                     isa == Isa::dotprod || isa == Isa::i8mm;
    CHECK(taps_per_group(isa, bytes) == (dot ? 4 : 2));
    CHECK(taps_per_group(isa, pairs) == 2);
  }
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
