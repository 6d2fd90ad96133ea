// SPDX-License-Identifier: Apache-2.0
//
// The convolution operator (ops/conv2d.hpp) on every path this CPU has, against reference::conv2d
// exactly: random geometries (batch 1-3, sizes 1-21 with primes, channels 1-48, kernels 1x1 to
// 7x7 and non-square, stride 1-3, dilation 1-2, each padding side 0 to kernel-1, groups 1 /
// between / channels), the direct 1x1 case, im2col chunks, zero points 0/128/255, saturating
// values, every output stage, threads, and the errors it must report.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ops/conv_tester.hpp"
#include "qinfer/ops/conv2d.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"

using namespace qinfer;

namespace {

// Channel counts that split into `groups` groups, chosen at random.
std::size_t random_multiple(test::Rng& rng, std::size_t groups, std::size_t max_per_group) {
  return groups * rng.size(1, max_per_group);
}

}  // namespace

TEST_CASE("conv2d equals the reference over random geometries", "[conv2d][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    for (int trial = 0; trial < 40; ++trial) {
      const std::size_t kernel = rng.size(1, 5);
      const std::size_t kernel_w = rng.coin() ? kernel : rng.size(1, 5);
      const std::size_t groups_list[] = {1, 1, 1, 2, 3, 4};
      const std::size_t groups = groups_list[rng.size(0, 5)];
      const int32_t zps[] = {0, 128, 255};
      test::ConvTester<uint8_t, int8_t>()
          .batch(rng.size(1, 3))
          .channels(random_multiple(rng, groups, 13), random_multiple(rng, groups, 37), groups)
          .height(test::random_window(rng, kernel, 15))
          .width(test::random_window(rng, kernel_w, 15))
          .input_zero_point(zps[trial % 3])
          .seven_bit_weights(trial % 4 == 3)
          .test(path, rng);
    }
  });
}

TEST_CASE("conv2d: 1x1 layers run on the image directly, grouped or not", "[conv2d][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    for (std::size_t groups : {1, 2, 4}) {
      for (std::size_t stride : {1, 2}) {
        test::ConvTester<uint8_t, int8_t>()
            .batch(2)
            .channels(8 * groups, 12 * groups, groups)
            .height({7, 1, stride, 1, 0, 0})
            .width({9, 1, stride, 1, 0, 0})
            .input_zero_point(static_cast<int32_t>(rng.integer(0, 255)))
            .test(path, rng);
      }
    }
    // Padding turns a 1x1 layer into an im2col one: the border pixels are all zero point.
    test::ConvTester<uint8_t, int8_t>()
        .channels(5, 33, 1)
        .height({4, 1, 1, 1, 1, 0})
        .width({6, 1, 1, 1, 0, 1})
        .input_zero_point(200)
        .test(path, rng);
  });
}

TEST_CASE("conv2d: int8 activations, uint8 and asymmetric weights, large kernels",
          "[conv2d][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    test::ConvTester<int8_t, int8_t>()
        .channels(6, 10, 2)
        .height({11, 3, 1, 2, 2, 1})
        .width({10, 3, 2, 1, 0, 2})
        .input_zero_point(-7)
        .per_channel_zero_points(true)
        .test(path, rng);
    test::ConvTester<uint8_t, uint8_t>()
        .channels(7, 5, 1)
        .height({13, 7, 1, 1, 3, 3})
        .width({12, 7, 2, 1, 3, 3})
        .input_zero_point(255)
        .weight_zero_point(128)
        .test(path, rng);
    test::ConvTester<int8_t, uint8_t>()
        .batch(3)
        .channels(9, 9, 3)
        .height({5, 2, 1, 1, 0, 1})
        .width({8, 4, 1, 2, 3, 0})
        .input_zero_point(127)
        .per_channel_zero_points(true)
        .test(path, rng);
  });
}

TEST_CASE("conv2d: extreme values, several im2col chunks, threads", "[conv2d][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    // The largest products: (255 - 0) * (-128 - 127) over a 3x3x64 window.
    test::ConvTester<uint8_t, int8_t>()
        .channels(64, 17, 1)
        .height({6, 3, 1, 1, 0, 0})
        .width({6, 3, 1, 1, 0, 0})
        .fill(255, -128)
        .weight_zero_point(127)
        .test(path, rng);
    // Several threads: the 9 x 6 x 2 pixels run as one GEMM the executor splits; chunks of at
    // least conv2d_split_rows pixels are cut into pieces that each task copies and multiplies.
    for (std::size_t threads : {1, 2, 7}) {
      // 40 x 40 outputs with depth 27: 1600 pixels, chunks of 1024 and 576.
      test::ConvTester<uint8_t, int8_t>()
          .channels(3, 16, 1)
          .height({40, 3, 1, 1, 1, 1})
          .width({40, 3, 1, 1, 1, 1})
          .input_zero_point(128)
          .threads(threads)
          .test(path, rng);
      if (threads == 1) continue;
      test::ConvTester<uint8_t, int8_t>()
          .batch(2)
          .channels(12, 40, 2)
          .height({9, 3, 1, 1, 1, 1})
          .width({11, 3, 2, 1, 1, 1})
          .input_zero_point(31)
          .threads(threads)
          .test(path, rng);
      // 323 pixels in uneven pieces, two groups.
      test::ConvTester<uint8_t, int8_t>()
          .channels(8, 12, 2)
          .height({17, 3, 1, 1, 1, 1})
          .width({19, 3, 1, 1, 1, 1})
          .input_zero_point(7)
          .threads(threads)
          .test(path, rng);
    }
  });
}

// On AVX-512 VNNI, AVX-VNNI and AVX2 the requantizing stages read ungrouped windows in place,
// from padded bands of image rows; the other levels run the same shapes through im2col.
TEST_CASE("conv2d: windows read in place, in bands, with kernel rows padded to whole groups",
          "[conv2d][simd]") {
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    // A first layer: 3 channels, rows of 9 bytes read as 12, asymmetric weights (row sums over
    // the runs), int8 activations, dilated rows.
    test::ConvTester<int8_t, int8_t>()
        .batch(2)
        .channels(3, 35, 1)
        .height({23, 3, 2, 2, 1, 2})
        .width({19, 3, 2, 1, 1, 0})
        .input_zero_point(-5)
        .per_channel_zero_points(true)
        .test(path, rng);
    test::ConvTester<uint8_t, int8_t>()
        .channels(1, 16, 1)
        .height({12, 7, 2, 1, 3, 3})
        .width({14, 7, 2, 1, 3, 3})
        .input_zero_point(255)
        .weight_zero_point(-3)
        .test(path, rng);
    // No padding and rows of whole groups: the image itself.
    test::ConvTester<uint8_t, uint8_t>()
        .channels(8, 40, 1)
        .height({9, 3, 1, 1, 0, 0})
        .width({10, 3, 2, 1, 0, 0})
        .input_zero_point(128)
        .weight_zero_point(100)
        .test(path, rng);
    // 7-bit weights (AVX2's vpmaddubsw kernel) over runs of 9 bytes read as 12, and of 28.
    test::ConvTester<uint8_t, int8_t>()
        .channels(3, 24, 1)
        .height({21, 3, 2, 1, 1, 1})
        .width({30, 3, 1, 1, 1, 1})
        .input_zero_point(200)
        .seven_bit_weights(true)
        .test(path, rng);
    test::ConvTester<int8_t, int8_t>()
        .channels(7, 33, 1)
        .height({16, 4, 1, 1, 2, 1})
        .width({27, 4, 1, 1, 1, 2})
        .input_zero_point(-9)
        .seven_bit_weights(true)
        .test(path, rng);
    // One kernel row: no padding of the run, whose last group is partial.
    test::ConvTester<uint8_t, int8_t>()
        .channels(5, 20, 1)
        .height({6, 1, 1, 1, 0, 0})
        .width({13, 5, 1, 1, 2, 2})
        .input_zero_point(0)
        .test(path, rng);
    // 360 rows of 50 x 15 bytes: two bands, the second shorter, on 1, 2 and 7 threads.
    for (std::size_t threads : {1, 2, 7}) {
      test::ConvTester<uint8_t, int8_t>()
          .channels(15, 9, 1)
          .height({360, 3, 1, 1, 1, 1})
          .width({48, 3, 1, 1, 1, 1})
          .input_zero_point(77)
          .threads(threads)
          .test(path, rng);
    }
  });
}

// On AMX, ungrouped windows whose kernel rows are whole 64-byte chunks are read in place from a
// padded band, in slots of 16 windows, two a tile, whose windows past an output row's last are
// computed and dropped; the other levels run the same shapes through im2col or their own
// windows.
TEST_CASE("conv2d: AMX windows read in place, slots paired across output rows",
          "[conv2d][simd][amx]") {
#if QINFER_X86
  const auto amx_reads = [](std::size_t in_c, std::size_t out_c, reference::Window1d h,
                            reference::Window1d w) {
    reference::Conv2dShape shape{1, in_c, out_c, 1, h, w};
    detail::WindowBand band;
    return detail::amx_window_band(shape, band);
  };
  // The shapes below are ones AMX reads in place; shallower kernel rows are not.
  CHECK(amx_reads(64, 40, {9, 3, 1, 1, 1, 1}, {9, 3, 1, 1, 1, 1}));
  CHECK(amx_reads(16, 32, {11, 4, 1, 2, 2, 1}, {13, 4, 1, 1, 1, 2}));
  CHECK_FALSE(amx_reads(24, 40, {9, 3, 1, 1, 1, 1}, {9, 3, 1, 1, 1, 1}));
#endif
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    // 9 windows a row: one slot each, paired across rows, the last one alone; N = 40 leaves a
    // partial panel.
    test::ConvTester<uint8_t, int8_t>()
        .batch(2)
        .channels(64, 40, 1)
        .height({9, 3, 1, 1, 1, 1})
        .width({9, 3, 1, 1, 1, 1})
        .input_zero_point(128)
        .test(path, rng);
    // Stride 2 over 128 channels, asymmetric padding, int8 activations and per-channel zero
    // points: the row sums over three runs.
    test::ConvTester<int8_t, int8_t>()
        .channels(128, 33, 1)
        .height({14, 3, 2, 1, 0, 1})
        .width({37, 3, 2, 1, 1, 0})
        .input_zero_point(-7)
        .per_channel_zero_points(true)
        .test(path, rng);
    // 16 channels x 4 taps a kernel row, dilated along the height; 47 windows a row: three
    // slots, the last of 15.
    test::ConvTester<uint8_t, uint8_t>()
        .channels(16, 32, 1)
        .height({11, 4, 1, 2, 2, 1})
        .width({50, 4, 1, 1, 1, 2})
        .input_zero_point(255)
        .weight_zero_point(100)
        .test(path, rng);
    // A strided 1x1 layer: one run of 64 channels, every other pixel.
    test::ConvTester<uint8_t, int8_t>()
        .channels(64, 96, 1)
        .height({12, 1, 2, 1, 0, 0})
        .width({40, 1, 2, 1, 0, 0})
        .input_zero_point(0)
        .test(path, rng);
    // The largest products over a 3x3x64 window, 17 windows a row.
    test::ConvTester<uint8_t, int8_t>()
        .channels(64, 32, 1)
        .height({5, 3, 1, 1, 1, 1})
        .width({17, 3, 1, 1, 1, 1})
        .fill(255, -128)
        .weight_zero_point(127)
        .test(path, rng);
    // Two bands of 70 windows a row (rows of 72 x 64 bytes), tasks of output rows x panels on
    // 1, 2 and 7 threads.
    for (std::size_t threads : {1, 2, 7}) {
      test::ConvTester<uint8_t, int8_t>()
          .channels(64, 64, 1)
          .height({60, 3, 1, 1, 1, 1})
          .width({70, 3, 1, 1, 1, 1})
          .input_zero_point(90)
          .per_channel_zero_points(threads == 2)
          .threads(threads)
          .test(path, rng);
    }
  });
}

TEST_CASE("conv2d: AMX reads kernel rows shorter than a chunk as one chunk each",
          "[conv2d][simd][amx]") {
#if QINFER_X86
  const auto amx_reads = [](std::size_t in_c, reference::Window1d h, reference::Window1d w) {
    reference::Conv2dShape shape{1, in_c, 64, 1, h, w};
    detail::WindowBand band;
    return detail::amx_window_band(shape, band);
  };
  // From a quarter of a chunk (16 bytes) up: ResNet-50's 7x7 stem (21-byte rows) is read in
  // place, MobileNetV2's 3x3 one (9-byte rows) runs im2col.
  CHECK(amx_reads(3, {30, 7, 2, 1, 3, 3}, {30, 7, 2, 1, 3, 3}));
  CHECK(amx_reads(16, {9, 3, 1, 1, 1, 1}, {9, 3, 1, 1, 1, 1}));
  CHECK_FALSE(amx_reads(3, {9, 3, 2, 1, 1, 1}, {9, 3, 2, 1, 1, 1}));
  CHECK(detail::packs_chunk_windows({64, 3, 1, 7, 7}));
  CHECK_FALSE(detail::packs_chunk_windows({32, 3, 1, 3, 3}));
  CHECK_FALSE(detail::packs_chunk_windows({32, 64, 1, 3, 3}));
#endif
  test::for_each_conv_path([](Isa path) {
    test::Rng rng;
    // The stem's geometry on a small image, per-channel weight zero points: the 43 padding
    // taps of each kernel row meet the next pixels, the next image row or the copy's slack, and
    // must add nothing to the sums or the row sums.
    test::ConvTester<uint8_t, int8_t>()
        .batch(2)
        .channels(3, 64, 1)
        .height({30, 7, 2, 1, 3, 3})
        .width({30, 7, 2, 1, 3, 3})
        .input_zero_point(128)
        .per_channel_zero_points(true)
        .test(path, rng);
    // 6 channels x 3 taps (18 bytes), dilated along the height, int8 activations; 50 windows a
    // row (a last slot of 2), N = 40 a partial panel.
    test::ConvTester<int8_t, uint8_t>()
        .channels(6, 40, 1)
        .height({13, 3, 1, 2, 2, 2})
        .width({50, 3, 1, 1, 1, 1})
        .input_zero_point(-5)
        .weight_zero_point(9)
        .test(path, rng);
    // 16 channels x 3 taps (48 bytes) with the largest products.
    test::ConvTester<uint8_t, int8_t>()
        .channels(16, 32, 1)
        .height({7, 3, 1, 1, 1, 1})
        .width({19, 3, 1, 1, 1, 1})
        .fill(255, -128)
        .weight_zero_point(127)
        .test(path, rng);
    for (std::size_t threads : {1, 2, 7}) {
      test::ConvTester<uint8_t, int8_t>()
          .channels(4, 64, 1)
          .height({40, 5, 2, 1, 2, 2})
          .width({44, 5, 2, 1, 2, 2})
          .input_zero_point(17)
          .per_channel_zero_points(threads == 7)
          .threads(threads)
          .test(path, rng);
    }
  });
}

TEST_CASE("conv2d rejects bad arguments", "[conv2d]") {
  const Conv2dFilter filter{6, 4, 2, 3, 3};
  const std::vector<int8_t> weights(6 * 3 * 3 * 2, 1);
  const std::vector<int32_t> zero{0}, bias;
  const PackedConv2d packed = pack_conv2d(filter, Span<const int8_t>(weights),
                                          Span<const int32_t>(zero), Span<const int32_t>(bias));
  CHECK(packed.groups.size() == 2);
  const reference::Conv2dShape shape{1, 4, 6, 2, {5, 3, 1, 1, 1, 1}, {5, 3, 1, 1, 1, 1}};
  std::vector<uint8_t> x(5 * 5 * 4, 1);
  std::vector<int32_t> y(5 * 5 * 6);
  std::vector<int32_t> workspace(conv2d_workspace_size(shape));
  CHECK(workspace.size() == (25 * 18 + 3) / 4);
  const auto run = [&](const reference::Conv2dShape& s, int32_t zp, std::size_t workspace_size) {
    return validate_conv2d(s, Span<const uint8_t>(x), zp, packed, StoreInt32{}, Span<int32_t>(y),
                           workspace_size);
  };
  CHECK(run(shape, 0, workspace.size()));
  CHECK(run(shape, -1, workspace.size()).code() == Errc::invalid_zero_point);
  CHECK(run(shape, 0, workspace.size() - 1).code() == Errc::invalid_argument);
  reference::Conv2dShape other = shape;
  other.groups = 1;
  CHECK(run(other, 0, workspace.size()).code() == Errc::shape_mismatch);
  other = shape;
  other.w.kernel = 1;
  CHECK(run(other, 0, workspace.size()).code() == Errc::shape_mismatch);
  other = shape;
  other.h.input = 4;
  CHECK(run(other, 0, workspace.size()).code() == Errc::shape_mismatch);
  other = shape;
  other.groups = 3;
  CHECK(run(other, 0, workspace.size()).code() == Errc::invalid_argument);
  CHECK_THROWS_AS(conv2d(shape, Span<const uint8_t>(x), 0, packed, StoreInt32{}, Span<int32_t>(y),
                         Span<int32_t>(workspace.data(), 1)),
                  Error);
  reference::Conv2dShape direct{1, 4, 6, 2, {5, 1, 1, 1, 0, 0}, {5, 1, 1, 1, 0, 0}};
  CHECK(conv2d_workspace_size(direct) == 0);

  const auto pack_error = [&](const Conv2dFilter& f, std::size_t count) {
    const std::vector<int8_t> w(count, 1);
    try {
      static_cast<void>(pack_conv2d(f, Span<const int8_t>(w), Span<const int32_t>(zero),
                                    Span<const int32_t>(bias)));
    } catch (const Error& e) {
      return e.status().code();
    }
    return Errc::ok;
  };
  CHECK(pack_error(filter, weights.size()) == Errc::ok);
  CHECK(pack_error(filter, weights.size() - 1) == Errc::shape_mismatch);
  CHECK(pack_error({6, 4, 4, 3, 3}, 6 * 9) == Errc::invalid_argument);
  CHECK(pack_error({6, 4, 2, 0, 3}, 0) == Errc::invalid_argument);
}

namespace {

// Packs `filter` into a caller's buffer and on its own; both give the reference's outputs on
// every level, and the caller's buffer is all the packing used.
void check_caller_buffer(const Conv2dFilter& filter, const reference::Conv2dShape& shape,
                         const std::vector<int8_t>& weights,
                         const std::vector<int32_t>& zero_points, bool expect_quads) {
  const std::vector<int32_t> bias(filter.out_c, 77);
  const std::size_t size = packed_conv2d_size(filter);
  REQUIRE(size > 0);
  AlignedVector<std::byte> buffer(size);
  const PackedConv2d mine = pack_conv2d_into(Span<std::byte>(buffer), filter,
                                             Span<const int8_t>(weights), zero_points, bias);
  const PackedConv2d owned = pack_conv2d(filter, Span<const int8_t>(weights), zero_points, bias);
  CHECK(mine.storage == nullptr);
  CHECK(owned.storage != nullptr);
  if (filter.depthwise()) {
    CHECK(mine.depthwise.has_quads() == expect_quads);
    CHECK(reinterpret_cast<const std::byte*>(mine.depthwise.data.data()) == buffer.data());
  } else {
    CHECK(reinterpret_cast<const std::byte*>(mine.groups[0].data.data()) == buffer.data());
  }
  test::Rng rng(41);
  std::vector<uint8_t> x(shape.batch * shape.h.input * shape.w.input * shape.in_c);
  for (uint8_t& v : x) v = static_cast<uint8_t>(rng.integer(0, 255));
  reference::Conv2dSizes sizes;
  REQUIRE(reference::conv2d_sizes(shape, sizes).ok());
  std::vector<int32_t> expected(sizes.output);
  reference::conv2d(shape, Span<const uint8_t>(x), Span<const int8_t>(weights),
                    reference::GemmOffsets{3, zero_points, bias}, StoreInt32{},
                    Span<int32_t>(expected));
  test::for_each_level("conv2d from a caller's buffer", [&] {
    std::vector<int32_t> from_buffer(sizes.output), from_owned(sizes.output);
    conv2d(shape, Span<const uint8_t>(x), 3, mine, StoreInt32{}, Span<int32_t>(from_buffer));
    conv2d(shape, Span<const uint8_t>(x), 3, owned, StoreInt32{}, Span<int32_t>(from_owned));
    CHECK(from_buffer == expected);
    CHECK(from_owned == expected);
  });
  // A buffer one byte short, or off the cache line, is refused.
  CHECK(test::error_of([&] {
          pack_conv2d_into(Span<std::byte>(buffer.data(), size - 1), filter,
                           Span<const int8_t>(weights), zero_points, bias);
        }) == Errc::invalid_argument);
  CHECK(test::error_of([&] {
          pack_conv2d_into(Span<std::byte>(buffer.data() + 32, size - 32), filter,
                           Span<const int8_t>(weights), zero_points, bias);
        }) == Errc::invalid_argument);
}

std::vector<int8_t> random_weights(std::size_t count, int lo, int hi, uint32_t seed) {
  test::Rng rng(seed);
  std::vector<int8_t> w(count);
  for (int8_t& v : w) v = static_cast<int8_t>(rng.integer(lo, hi));
  return w;
}

}  // namespace

TEST_CASE("convolution weights packed into a caller's buffer", "[conv2d]") {
  SECTION("grouped 3x3, per-channel zero points") {
    const Conv2dFilter f{12, 8, 2, 3, 3};
    std::vector<int32_t> zp(12);
    for (std::size_t i = 0; i < zp.size(); ++i) zp[i] = static_cast<int32_t>(i % 5) - 2;
    check_caller_buffer(f, {2, 8, 12, 2, {9, 3, 1, 1, 1, 1}, {7, 3, 2, 1, 0, 1}},
                        random_weights(12 * 9 * 4, -120, 120, 1), zp, false);
  }
  SECTION("a 3-channel first layer, whose windows x86 builds pack a second time") {
    const Conv2dFilter f{16, 3, 1, 3, 3};
    CHECK(detail::packs_windows(f) == (QINFER_X86 != 0));
    check_caller_buffer(f, {1, 3, 16, 1, {33, 3, 1, 1, 1, 1}, {35, 3, 1, 1, 1, 1}},
                        random_weights(16 * 27, -127, 127, 2), {0}, false);
  }
  SECTION("a 7x7 3-channel stem, which x86 builds also pack a chunk a kernel row") {
    const Conv2dFilter f{32, 3, 1, 7, 7};
    CHECK(detail::packs_windows(f) == (QINFER_X86 != 0));
    CHECK(detail::packs_chunk_windows(f) == (QINFER_X86 != 0));
    std::vector<int32_t> zp(32);
    for (std::size_t i = 0; i < zp.size(); ++i) zp[i] = static_cast<int32_t>(i % 7) - 3;
    check_caller_buffer(f, {1, 3, 32, 1, {20, 7, 2, 1, 3, 3}, {22, 7, 2, 1, 3, 2}},
                        random_weights(32 * 147, -127, 127, 4), zp, false);
  }
  SECTION("1x1") {
    check_caller_buffer({40, 24, 1, 1, 1}, {1, 24, 40, 1, {6, 1}, {5, 1}},
                        random_weights(40 * 24, -127, 127, 3), {0}, false);
  }
  SECTION("depthwise 3x3: int8 quads and row quads") {
    check_caller_buffer({70, 70, 70, 3, 3},
                        {1, 70, 70, 70, {10, 3, 2, 1, 1, 1}, {9, 3, 1, 1, 1, 1}},
                        random_weights(70 * 9, -127, 127, 4), {0}, true);
  }
  SECTION("depthwise 5x5 whose centered weights pass int8: int16 pairs only") {
    check_caller_buffer({20, 20, 20, 5, 5}, {1, 20, 20, 20, {8, 5, 1, 1, 2, 2}, {8, 5, 1, 1, 2, 2}},
                        random_weights(20 * 25, -128, 127, 5), {5}, false);
  }
  CHECK(packed_conv2d_size({0, 3, 1, 3, 3}) == 0);
  CHECK(packed_conv2d_size({6, 4, 3, 3, 3}) == 0);  // channels not divisible by groups
}
