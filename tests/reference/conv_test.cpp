// SPDX-License-Identifier: Apache-2.0
//
// The reference convolution against a naive computation over an explicitly padded input.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qinfer/reference/conv.hpp"
#include "support/random.hpp"

using namespace qinfer;
using reference::Conv2dShape;
using reference::GemmOffsets;

namespace {

// The input copied into a buffer with the padding materialized as the zero point, then a plain
// sliding dot product: a formulation independent of the reference's bounds tests.
template <class TX, class TW>
std::vector<int64_t> naive_conv(const Conv2dShape& s, const std::vector<TX>& x,
                                const std::vector<TW>& w, int32_t x_zp,
                                const std::vector<int32_t>& w_zps,
                                const std::vector<int32_t>& bias) {
  const std::size_t ph = s.h.input + s.h.pad_begin + s.h.pad_end;
  const std::size_t pw = s.w.input + s.w.pad_begin + s.w.pad_end;
  std::vector<int64_t> padded(s.batch * ph * pw * s.in_c, x_zp);
  for (std::size_t n = 0; n < s.batch; ++n)
    for (std::size_t y = 0; y < s.h.input; ++y)
      for (std::size_t xx = 0; xx < s.w.input; ++xx)
        for (std::size_t c = 0; c < s.in_c; ++c)
          padded[((n * ph + y + s.h.pad_begin) * pw + xx + s.w.pad_begin) * s.in_c + c] =
              x[((n * s.h.input + y) * s.w.input + xx) * s.in_c + c];
  const std::size_t oh = s.h.output(), ow = s.w.output(), cpg = s.in_c / s.groups,
                    opg = s.out_c / s.groups;
  std::vector<int64_t> out(s.batch * oh * ow * s.out_c);
  for (std::size_t n = 0; n < s.batch; ++n)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox)
        for (std::size_t oc = 0; oc < s.out_c; ++oc) {
          int64_t sum = bias.empty() ? 0 : bias[bias.size() == 1 ? 0 : oc];
          const int64_t wzp = w_zps[w_zps.size() == 1 ? 0 : oc];
          for (std::size_t ky = 0; ky < s.h.kernel; ++ky)
            for (std::size_t kx = 0; kx < s.w.kernel; ++kx)
              for (std::size_t ic = 0; ic < cpg; ++ic) {
                const std::size_t iy = oy * s.h.stride + ky * s.h.dilation;
                const std::size_t ix = ox * s.w.stride + kx * s.w.dilation;
                const int64_t xv =
                    padded[((n * ph + iy) * pw + ix) * s.in_c + (oc / opg) * cpg + ic];
                const int64_t wv = w[((oc * s.h.kernel + ky) * s.w.kernel + kx) * cpg + ic];
                sum += (xv - x_zp) * (wv - wzp);
              }
          out[((n * oh + oy) * ow + ox) * s.out_c + oc] = sum;
        }
  return out;
}

reference::Window1d random_window(test::Rng& rng) {
  reference::Window1d w;
  w.kernel = rng.size(1, 4);
  w.stride = rng.size(1, 3);
  w.dilation = rng.size(1, 2);
  w.pad_begin = rng.size(0, w.kernel - 1);
  w.pad_end = rng.size(0, w.kernel - 1);
  const std::size_t span = w.dilation * (w.kernel - 1) + 1;
  const std::size_t padding = w.pad_begin + w.pad_end;
  w.input = rng.size(span > padding ? span - padding : 1, 11);
  return w;
}

template <class TX, class TW>
void check_random_conv(test::Rng& rng) {
  Conv2dShape s;
  s.batch = rng.size(1, 2);
  const std::size_t groups_choice = rng.integer(0, 2);
  const std::size_t base = rng.size(1, 5);
  s.groups = groups_choice == 0 ? 1 : (groups_choice == 1 ? base : 2);
  s.in_c = s.groups * (groups_choice == 1 ? 1 : rng.size(1, 4));
  s.out_c = s.groups * rng.size(1, 3);
  s.h = random_window(rng);
  s.w = random_window(rng);
  const std::size_t weights = s.out_c * s.h.kernel * s.w.kernel * (s.in_c / s.groups);
  const auto x = rng.integers<TX>(s.batch * s.h.input * s.w.input * s.in_c, StorageTraits<TX>::min,
                                  StorageTraits<TX>::max);
  const auto w = rng.integers<TW>(weights, StorageTraits<TW>::min, StorageTraits<TW>::max);
  const int32_t zps_x[] = {
      StorageTraits<TX>::min, 0, StorageTraits<TX>::max,
      static_cast<int32_t>(rng.integer(StorageTraits<TX>::min, StorageTraits<TX>::max))};
  const int32_t x_zp = zps_x[rng.integer(0, 3)];
  const auto w_zps = rng.integers<int32_t>(rng.coin() ? 1 : s.out_c, StorageTraits<TW>::min,
                                           StorageTraits<TW>::max);
  const auto bias =
      rng.coin() ? rng.integers<int32_t>(s.out_c, -1000, 1000) : std::vector<int32_t>{};
  INFO("groups " << s.groups << " in_c " << s.in_c << " out_c " << s.out_c << " h " << s.h.input
                 << "/" << s.h.kernel << "/s" << s.h.stride << "/d" << s.h.dilation << "/p"
                 << s.h.pad_begin << "," << s.h.pad_end << " w " << s.w.input << "/" << s.w.kernel
                 << "/s" << s.w.stride << "/d" << s.w.dilation << "/p" << s.w.pad_begin << ","
                 << s.w.pad_end);
  const auto expected = naive_conv(s, x, w, x_zp, w_zps, bias);
  std::vector<int32_t> out(expected.size());
  reference::conv2d(s, Span<const TX>(x), Span<const TW>(w), GemmOffsets{x_zp, w_zps, bias},
                    StoreInt32{}, Span<int32_t>(out));
  for (std::size_t i = 0; i < out.size(); ++i) REQUIRE(out[i] == expected[i]);
}

}  // namespace

TEST_CASE("reference convolution equals the naive padded computation", "[conv]") {
  test::Rng rng;
  for (int trial = 0; trial < 200; ++trial) {
    if (trial % 2 == 0) {
      check_random_conv<uint8_t, int8_t>(rng);
    } else {
      check_random_conv<int8_t, int8_t>(rng);
    }
  }
}

TEST_CASE("a 1x1 convolution is a GEMM over pixels", "[conv]") {
  test::Rng rng;
  Conv2dShape s;
  s.batch = 2;
  s.in_c = 7;
  s.out_c = 5;
  s.h = {3, 1};
  s.w = {4, 1};
  const auto x = rng.integers<uint8_t>(2 * 3 * 4 * 7, 0, 255);
  const auto w = rng.integers<int8_t>(5 * 7, -128, 127);
  const int32_t zp[] = {3};
  const std::vector<float> scale{0.01f};
  std::vector<float> conv(2 * 3 * 4 * 5), gemm(conv.size());
  reference::conv2d(s, Span<const uint8_t>(x), Span<const int8_t>(w), GemmOffsets{100, zp, {}},
                    DequantizeFloat{scale}, Span<float>(conv));
  reference::gemm(row_major(x.data(), 24, 7), MatrixView<const int8_t>{w.data(), 7, 5, 1, 7},
                  GemmOffsets{100, zp, {}}, DequantizeFloat{scale}, row_major(gemm.data(), 24, 5));
  CHECK(conv == gemm);
}

TEST_CASE("depthwise convolution with a hand-computed result", "[conv]") {
  // 2 channels, 3x3 input, 2x2 kernel, stride 1, no padding; channel c uses kernel c.
  Conv2dShape s;
  s.in_c = s.out_c = s.groups = 2;
  s.h = {3, 2};
  s.w = {3, 2};
  std::vector<uint8_t> x(18);
  for (std::size_t i = 0; i < 9; ++i) {
    x[i * 2] = static_cast<uint8_t>(i);       // channel 0: 0..8
    x[i * 2 + 1] = static_cast<uint8_t>(10);  // channel 1: all 10
  }
  const std::vector<int8_t> w{1, 1, 1, 1, 1, 0, 0, -1};  // OHWI with I = 1
  const int32_t zp[] = {0};
  std::vector<int32_t> y(8);
  reference::conv2d(s, Span<const uint8_t>(x), Span<const int8_t>(w), GemmOffsets{0, zp, {}},
                    StoreInt32{}, Span<int32_t>(y));
  CHECK(y == std::vector<int32_t>{0 + 1 + 3 + 4, 0, 1 + 2 + 4 + 5, 0, 3 + 4 + 6 + 7, 0,
                                  4 + 5 + 7 + 8, 0});
}

TEST_CASE("reference convolution rejects invalid geometry and buffers", "[conv][error]") {
  const std::vector<uint8_t> x(16);
  const std::vector<int8_t> w(9);
  std::vector<int32_t> y(4);
  const int32_t zp[] = {0};
  auto code = [&](Conv2dShape s, std::size_t out_size) {
    std::vector<int32_t> out(out_size);
    try {
      reference::conv2d(s, Span<const uint8_t>(x), Span<const int8_t>(w), GemmOffsets{0, zp, {}},
                        StoreInt32{}, Span<int32_t>(out));
    } catch (const Error& e) {
      return e.status().code();
    }
    return Errc::ok;
  };
  Conv2dShape ok;
  ok.in_c = ok.out_c = 1;
  ok.h = {4, 3};
  ok.w = {4, 3};
  CHECK(code(ok, 4) == Errc::ok);
  CHECK(code(ok, 5) == Errc::shape_mismatch);
  Conv2dShape big = ok;
  big.h.kernel = 5;  // larger than the padded input
  CHECK(code(big, 4) != Errc::ok);
  Conv2dShape stride0 = ok;
  stride0.w.stride = 0;
  CHECK(code(stride0, 4) == Errc::invalid_argument);
  Conv2dShape groups = ok;
  groups.groups = 2;
  CHECK(code(groups, 4) == Errc::invalid_argument);
  Conv2dShape huge = ok;
  huge.h.pad_end = std::size_t{1} << 62;
  CHECK(code(huge, 4) == Errc::size_overflow);
}
