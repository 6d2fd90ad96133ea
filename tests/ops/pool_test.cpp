// SPDX-License-Identifier: Apache-2.0
//
// Pooling on every level this CPU has against reference/pool.hpp, exactly.
#include "qinfer/ops/pool.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "qinfer/reference/pool.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"
#include "support/random.hpp"

namespace qinfer {
namespace {

std::size_t tensor_size(const Pool2dShape& s, bool output) {
  return s.batch * (output ? s.h.output() * s.w.output() : s.h.input * s.w.input) * s.channels;
}

// Codes drawn uniformly, or all at one end of the range (the largest sums), or near the clamp.
template <class T>
std::vector<T> pool_input(test::Rng& rng, std::size_t n) {
  switch (rng.integer(0, 3)) {
    case 0:
      return std::vector<T>(n, static_cast<T>(StorageTraits<T>::max));
    case 1:
      return std::vector<T>(n, static_cast<T>(StorageTraits<T>::min));
    default:
      return rng.integers<T>(n, StorageTraits<T>::min, StorageTraits<T>::max);
  }
}

template <class T>
ClampBounds random_clamp(test::Rng& rng) {
  if (rng.integer(0, 1) == 0) return {StorageTraits<T>::min, StorageTraits<T>::max};
  const auto lo = static_cast<int32_t>(rng.integer(StorageTraits<T>::min, 0));
  return {lo, static_cast<int32_t>(rng.integer(lo, StorageTraits<T>::max))};
}

// Three workers share out the output rows: any split must give the same bytes.
ThreadPool& test_pool() {
  static ThreadPool pool(3);
  return pool;
}

template <class T>
void check_shape(const Pool2dShape& s, const std::vector<T>& in, ClampBounds clamp) {
  const std::size_t out_size = tensor_size(s, true);
  std::vector<T> ours(out_size), expected(out_size), threaded(out_size);
  reference::max_pool2d<T>(s, in, expected, clamp);
  max_pool2d<T>(s, in, ours, clamp);
  REQUIRE(ours == expected);
  max_pool2d<T>(s, in, threaded, clamp, test_pool());
  REQUIRE(threaded == expected);
  reference::avg_pool2d<T>(s, in, expected, clamp);
  avg_pool2d<T>(s, in, ours, clamp);
  REQUIRE(ours == expected);
  avg_pool2d<T>(s, in, threaded, clamp, test_pool().hook());
  REQUIRE(threaded == expected);
}

template <class T>
void random_windows(test::Rng& rng) {
  const std::size_t channel_counts[] = {1, 3, 16, 17, 31, 64, 97, 513, 1031};
  for (int trial = 0; trial < 120; ++trial) {
    Pool2dShape s;
    s.batch = rng.size(1, 3);
    s.channels = trial < 9 ? channel_counts[trial] : rng.size(1, 100);
    for (reference::Window1d* w : {&s.h, &s.w}) {
      w->kernel = rng.size(1, 7);
      w->stride = rng.size(1, 3);
      w->pad_begin = rng.size(0, w->kernel - 1);
      w->pad_end = rng.size(0, w->kernel - 1);
      const std::size_t padded = w->pad_begin + w->pad_end;
      w->input = rng.size(w->kernel > padded ? w->kernel - padded : 1, 41);
    }
    s.count_include_pad = rng.integer(0, 1) == 1;
    const int32_t zero_points[] = {0, 128, 255};
    s.zero_point =
        std::is_signed_v<T> ? zero_points[rng.integer(0, 2)] - 128 : zero_points[rng.integer(0, 2)];
    const std::vector<T> in = pool_input<T>(rng, tensor_size(s, false));
    INFO("trial " << trial << " batch " << s.batch << " channels " << s.channels << " in "
                  << s.h.input << "x" << s.w.input << " kernel " << s.h.kernel << "x" << s.w.kernel
                  << " stride " << s.h.stride << "," << s.w.stride << " pad " << s.h.pad_begin
                  << "," << s.h.pad_end << "," << s.w.pad_begin << "," << s.w.pad_end
                  << " include pad " << s.count_include_pad);
    check_shape(s, in, random_clamp<T>(rng));
  }
}

TEST_CASE("max and average pooling match the reference on every level", "[ops][pool]") {
  test::for_each_level("pooling", [] {
    test::Rng rng(21);
    random_windows<uint8_t>(rng);
    random_windows<int8_t>(rng);
  });
}

TEST_CASE("global average pooling matches the reference, beyond one chunk of taps and sums",
          "[ops][pool]") {
  test::for_each_level("pooling", [] {
    test::Rng rng(22);
    for (auto [h, w, c] : {std::array<std::size_t, 3>{7, 7, 1280},
                           {1, 1, 5},
                           {13, 11, 33},
                           {9, 9, 600},
                           {2, 3, 1}}) {
      for (int extreme = 0; extreme < 3; ++extreme) {
        const std::size_t batch = 2;
        const std::vector<uint8_t> in = extreme == 0
                                            ? std::vector<uint8_t>(batch * h * w * c, 255)
                                            : rng.integers<uint8_t>(batch * h * w * c, 0, 255);
        std::vector<uint8_t> ours(batch * c), expected(batch * c);
        const ClampBounds clamp = extreme == 2 ? ClampBounds{10, 200} : ClampBounds{0, 255};
        reference::global_avg_pool2d<uint8_t>(batch, h, w, c, in, expected, clamp);
        global_avg_pool2d<uint8_t>(batch, h, w, c, in, ours, clamp);
        INFO(h << "x" << w << "x" << c);
        REQUIRE(ours == expected);
      }
    }
  });
}

TEST_CASE("average pooling over more than 2^16 taps stays exact", "[ops][pool]") {
  test::Rng rng(23);
  const std::size_t h = 257, w = 256;  // 65792 taps: past the kernels' float division
  std::vector<int8_t> in = rng.integers<int8_t>(h * w, -128, 127);
  std::vector<int8_t> ours(1), expected(1);
  for (int8_t fill : {int8_t{-128}, int8_t{127}, int8_t{0}}) {
    if (fill != 0) in.assign(in.size(), fill);
    reference::global_avg_pool2d<int8_t>(1, h, w, 1, in, expected);
    global_avg_pool2d<int8_t>(1, h, w, 1, in, ours);
    REQUIRE(ours == expected);
  }
}

TEST_CASE("pooling rejects bad shapes, buffers and bounds", "[ops][pool][error]") {
  Pool2dShape s;
  s.channels = 2;
  s.h = {4, 2, 2};
  s.w = {4, 2, 2};
  std::vector<uint8_t> in(32), out(8), short_out(7);
  const auto max_error = [&](const Pool2dShape& shape, std::vector<uint8_t>& o) {
    return test::error_of([&] { max_pool2d<uint8_t>(shape, in, o); });
  };
  const auto avg_error = [&](const Pool2dShape& shape, ClampBounds clamp) {
    return test::error_of([&] { avg_pool2d<uint8_t>(shape, in, out, clamp); });
  };
  CHECK(max_error(s, out) == Errc::ok);
  CHECK(max_error(s, short_out) == Errc::shape_mismatch);
  CHECK(avg_error(s, {200, 100}) == Errc::invalid_argument);
  Pool2dShape padded = s;
  padded.h.pad_begin = 2;  // as large as the kernel: a window could hold no tap
  CHECK(avg_error(padded, {0, 255}) == Errc::invalid_argument);
  Pool2dShape dilated = s;
  dilated.w.dilation = 2;
  CHECK(max_error(dilated, out) == Errc::invalid_argument);
  Pool2dShape include_pad = s;
  include_pad.count_include_pad = true;
  include_pad.zero_point = 300;
  CHECK(avg_error(include_pad, {0, 255}) == Errc::invalid_zero_point);
  // A global pool over an empty image is a shape error in both implementations.
  std::vector<uint8_t> pooled(2);
  const auto global_error = [&](std::size_t h, std::size_t w, bool reference_version) {
    return test::error_of([&] {
      if (reference_version) {
        reference::global_avg_pool2d<uint8_t>(1, h, w, 2, Span<const uint8_t>(in), pooled);
      } else {
        global_avg_pool2d<uint8_t>(1, h, w, 2, Span<const uint8_t>(in), pooled);
      }
    });
  };
  for (bool reference_version : {false, true}) {
    CHECK(global_error(4, 4, reference_version) == Errc::ok);
    CHECK(global_error(0, 4, reference_version) == Errc::shape_mismatch);
    CHECK(global_error(4, 0, reference_version) == Errc::shape_mismatch);
  }
}

}  // namespace
}  // namespace qinfer
