// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "qinfer/reference/pool.hpp"
#include "support/random.hpp"

using namespace qinfer;
using reference::Pool2dShape;

namespace {

// Naive pooling: taps outside the input are skipped (max, average) or count as the zero point
// (average with count_include_pad); averages rounded half away from zero in double.
template <class T>
std::vector<int> naive_pool(const Pool2dShape& s, const std::vector<T>& x, bool average) {
  const std::size_t oh = s.h.output(), ow = s.w.output();
  std::vector<int> out;
  for (std::size_t n = 0; n < s.batch; ++n)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox)
        for (std::size_t c = 0; c < s.channels; ++c) {
          int best = -1000;
          double sum = 0;
          int count = 0;
          for (std::size_t ky = 0; ky < s.h.kernel; ++ky)
            for (std::size_t kx = 0; kx < s.w.kernel; ++kx) {
              const long iy = long(oy * s.h.stride + ky) - long(s.h.pad_begin);
              const long ix = long(ox * s.w.stride + kx) - long(s.w.pad_begin);
              if (iy < 0 || ix < 0 || iy >= long(s.h.input) || ix >= long(s.w.input)) {
                if (s.count_include_pad) {
                  sum += s.zero_point;
                  ++count;
                }
                continue;
              }
              const int v = x[((n * s.h.input + iy) * s.w.input + ix) * s.channels + c];
              best = std::max(best, v);
              sum += v;
              ++count;
            }
          out.push_back(average ? static_cast<int>(std::round(sum / count)) : best);
        }
  return out;
}

Pool2dShape random_pool(test::Rng& rng) {
  Pool2dShape s;
  s.batch = rng.size(1, 2);
  s.channels = rng.size(1, 6);
  for (reference::Window1d* w : {&s.h, &s.w}) {
    w->kernel = rng.size(1, 4);
    w->stride = rng.size(1, 3);
    w->pad_begin = rng.size(0, w->kernel - 1);
    w->pad_end = rng.size(0, w->kernel - 1);
    w->input = rng.size(std::max<std::size_t>(1, w->kernel), 9);
  }
  s.count_include_pad = rng.coin();
  s.zero_point = static_cast<int32_t>(rng.integer(-128, 127));
  return s;
}

}  // namespace

TEST_CASE("max and average pooling equal the naive computation", "[pool]") {
  test::Rng rng;
  for (int trial = 0; trial < 200; ++trial) {
    const Pool2dShape s = random_pool(rng);
    const auto x = rng.integers<int8_t>(s.batch * s.h.input * s.w.input * s.channels, -128, 127);
    std::vector<int8_t> max_out(s.batch * s.h.output() * s.w.output() * s.channels),
        avg_out(max_out.size());
    reference::max_pool2d(s, Span<const int8_t>(x), Span<int8_t>(max_out));
    reference::avg_pool2d(s, Span<const int8_t>(x), Span<int8_t>(avg_out));
    const auto max_expected = naive_pool(s, x, false);
    const auto avg_expected = naive_pool(s, x, true);
    for (std::size_t i = 0; i < max_out.size(); ++i) {
      REQUIRE(int{max_out[i]} == max_expected[i]);
      REQUIRE(int{avg_out[i]} == avg_expected[i]);
    }
  }
}

TEST_CASE("average pooling rounds ties away from zero and clamps", "[pool]") {
  // Two pixels of three channels: averages 1.5, -1.5 and 5.5 round to 2, -2 and 6.
  const int8_t x[] = {1, -1, 5, 2, -2, 6};
  std::vector<int8_t> out(3);
  reference::global_avg_pool2d<int8_t>(1, 1, 2, 3, x, Span<int8_t>(out));
  CHECK(std::vector<int>(out.begin(), out.end()) == std::vector<int>{2, -2, 6});
  reference::global_avg_pool2d<int8_t>(1, 1, 2, 3, x, Span<int8_t>(out), {0, 4});
  CHECK(std::vector<int>(out.begin(), out.end()) == std::vector<int>{2, 0, 4});
}

TEST_CASE("global average pooling over H x W", "[pool]") {
  const uint8_t x[] = {1, 10, 2, 20, 4, 30, 5, 41};  // 2x2 pixels, 2 channels
  std::vector<uint8_t> out(2);
  reference::global_avg_pool2d<uint8_t>(1, 2, 2, 2, x, Span<uint8_t>(out));
  CHECK(int{out[0]} == 3);   // 12 / 4
  CHECK(int{out[1]} == 25);  // 101 / 4 = 25.25
  std::vector<uint8_t> clamped(2);
  reference::global_avg_pool2d<uint8_t>(1, 2, 2, 2, x, Span<uint8_t>(clamped), {5, 20});
  CHECK(int{clamped[0]} == 5);
  CHECK(int{clamped[1]} == 20);
}

TEST_CASE("pooling rejects padding as large as the kernel and mismatched buffers",
          "[pool][error]") {
  std::vector<int8_t> x(16), y(4);
  Pool2dShape s;
  s.channels = 1;
  s.h = {4, 2, 2};
  s.w = {4, 2, 2};
  CHECK_NOTHROW(reference::max_pool2d(s, Span<const int8_t>(x), Span<int8_t>(y)));
  Pool2dShape padded = s;
  padded.h.pad_begin = 2;
  CHECK_THROWS_AS(reference::max_pool2d(padded, Span<const int8_t>(x), Span<int8_t>(y)), Error);
  std::vector<int8_t> wrong(5);
  CHECK_THROWS_AS(reference::avg_pool2d(s, Span<const int8_t>(x), Span<int8_t>(wrong)), Error);
  CHECK_THROWS_AS(reference::avg_pool2d(s, Span<const int8_t>(x), Span<int8_t>(y), {10, 5}), Error);
}
