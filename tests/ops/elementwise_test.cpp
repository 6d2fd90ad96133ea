// SPDX-License-Identifier: Apache-2.0
//
// The requantizing add on every level this CPU has against reference::add, exactly, and
// concat_channels against a direct copy.
#include "qinfer/ops/elementwise.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "qinfer/runtime/thread_pool.hpp"
#include "support/errors.hpp"
#include "support/levels.hpp"
#include "support/random.hpp"

namespace qinfer {
namespace {

template <class T>
int32_t random_zero_point(test::Rng& rng) {
  const int32_t choices[] = {0, 128, 255, static_cast<int32_t>(rng.integer(0, 255))};
  return choices[rng.integer(0, 3)] + (std::is_signed_v<T> ? -128 : 0);
}

// Scales from 2^-12 to 2^4, so the output multiplier 2 max(sa, sb) / (2^20 so) ranges from
// far below 1 to above it (a positive shift), and either input may dominate.
float random_scale(test::Rng& rng) {
  return std::ldexp(rng.real(0.5f, 1.0f), static_cast<int>(rng.integer(-12, 4)));
}

template <class T>
void compare_add(test::Rng& rng) {
  const std::size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 1031};
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t n = trial < 14 ? sizes[trial] : rng.size(0, 300);
    const QuantParams qa{random_scale(rng), random_zero_point<T>(rng)};
    const QuantParams qb{random_scale(rng), random_zero_point<T>(rng)};
    QuantParams qo{random_scale(rng), random_zero_point<T>(rng)};
    if (trial % 4 == 2) {
      // A typical residual: outputs mostly inside the range, rounding with every code.
      qo.scale = std::max(qa.scale, qb.scale) * rng.real(0.5f, 3.0f);
    } else if (trial % 4 == 3) {
      // An output multiplier 2 max / (2^20 so) in [0.02, 4]: rounding shifts of a few bits, or
      // a saturating left shift, where the two roundings of the fixed-point product differ.
      qo.scale = std::ldexp(2.0f * std::max(qa.scale, qb.scale), -20) / rng.real(0.02f, 4.0f);
    }
    ClampBounds clamp{StorageTraits<T>::min, StorageTraits<T>::max};
    if (rng.coin()) {
      clamp.min = static_cast<int32_t>(rng.integer(StorageTraits<T>::min, qo.zero_point));
      clamp.max = static_cast<int32_t>(rng.integer(qo.zero_point, StorageTraits<T>::max));
    }
    std::vector<T> a = rng.integers<T>(n, StorageTraits<T>::min, StorageTraits<T>::max);
    std::vector<T> b = rng.integers<T>(n, StorageTraits<T>::min, StorageTraits<T>::max);
    if (trial % 5 == 1) {  // the largest magnitudes after the zero points
      a.assign(n,
               static_cast<T>(qa.zero_point > 0 ? StorageTraits<T>::min : StorageTraits<T>::max));
      b.assign(n,
               static_cast<T>(qb.zero_point > 0 ? StorageTraits<T>::min : StorageTraits<T>::max));
    }
    const AddParams params = reference::make_add_params<T>(qa, qb, qo, clamp);
    std::vector<T> ours(n), expected(n);
    reference::add<T>(params, a, b, expected);
    add<T>(params, a, b, ours);
    INFO("trial " << trial << " n " << n << " scales " << qa.scale << " " << qb.scale << " "
                  << qo.scale << " zero points " << qa.zero_point << " " << qb.zero_point << " "
                  << qo.zero_point << " out shift " << params.out_multiplier.shift);
    REQUIRE(ours == expected);
    std::vector<T> in_place = b;
    add<T>(params, a, in_place, in_place);
    REQUIRE(in_place == expected);
  }
}

TEST_CASE("add on a thread pool splits into runs and gives the same bytes", "[ops][add]") {
  test::Rng rng(32);
  ThreadPool pool(3);
  const QuantParams qa{0.03f, 120}, qb{0.05f, 131}, qo{0.07f, 125};
  const AddParams params = reference::make_add_params<uint8_t>(qa, qb, qo, {0, 255});
  // Fewer values than a run, exactly one and two runs, and a last partial run.
  for (const std::size_t n : {std::size_t{0}, std::size_t{100}, add_task_values,
                              2 * add_task_values, 3 * add_task_values + 77}) {
    const std::vector<uint8_t> a = rng.integers<uint8_t>(n, 0, 255),
                               b = rng.integers<uint8_t>(n, 0, 255);
    std::vector<uint8_t> expected(n), ours(n);
    reference::add<uint8_t>(params, a, b, expected);
    add<uint8_t>(params, a, b, ours, pool);
    INFO("n " << n);
    REQUIRE(ours == expected);
    std::vector<uint8_t> in_place = a;
    add<uint8_t>(params, in_place, b, in_place, pool.hook());
    REQUIRE(in_place == expected);
  }
}

TEST_CASE("the requantizing add matches the reference on every level", "[ops][add]") {
  test::for_each_level("add", [] {
    test::Rng rng(31);
    compare_add<uint8_t>(rng);
    compare_add<int8_t>(rng);
  });
}

#if defined(__aarch64__)
// The NEON kernel's own fixed-point product, over the values where roundings go wrong: ties
// at every shift, the int32 extremes, and saturating left shifts.
TEST_CASE("NEON multiply_by_quantized_multiplier is DoubleRounding", "[ops][add]") {
  test::Rng rng(33);
  for (int trial = 0; trial < 2000; ++trial) {
    // Multiplier 2^30 (one half) makes the doubling high multiply exact, x / 2, so x can put
    // its result on a tie of the rounding shift that follows.
    const bool half = rng.integer(0, 2) == 0;
    const QuantizedMultiplier m{
        half ? int32_t{1} << 30 : static_cast<int32_t>(rng.integer(int64_t{1} << 30, INT32_MAX)),
        static_cast<int32_t>(rng.integer(-31, 30))};
    const int32_t right = m.shift < 0 ? -m.shift : 0;
    int32_t x[4];
    for (int32_t& v : x) {
      switch (rng.integer(0, 3)) {
        case 0:
          v = rng.coin() ? INT32_MIN : INT32_MAX;
          break;
        case 1: {
          const int64_t tie = rng.integer(-8, 8) * (int64_t{1} << right) +
                              (right > 0 ? int64_t{1} << (right - 1) : 0);
          const int64_t doubled = 2 * tie + rng.integer(-1, 1);
          v = static_cast<int32_t>(std::clamp<int64_t>(doubled, INT32_MIN, INT32_MAX));
          break;
        }
        default:
          v = static_cast<int32_t>(rng.integer(INT32_MIN, INT32_MAX));
      }
    }
    int32_t lanes[4];
    vst1q_s32(lanes, kernels::neon::multiply_by_quantized_multiplier(vld1q_s32(x), m));
    for (int i = 0; i < 4; ++i) {
      INFO("x " << x[i] << " multiplier " << m.multiplier << " shift " << m.shift);
      REQUIRE(lanes[i] == DoubleRounding::apply(x[i], m));
    }
  }
}
#endif

TEST_CASE("add rejects buffers of different sizes", "[ops][add][error]") {
  const AddParams params = reference::make_add_params<uint8_t>({0.1f, 3}, {0.2f, 4}, {0.3f, 5});
  std::vector<uint8_t> a(8), b(8), out(8), short_b(7);
  CHECK(test::error_of([&] { add<uint8_t>(params, a, b, out); }) == Errc::ok);
  CHECK(test::error_of([&] { add<uint8_t>(params, a, short_b, out); }) == Errc::shape_mismatch);
  CHECK(test::error_of([&] { add<uint8_t>(params, a, b, Span<uint8_t>(nullptr, 8)); }) ==
        Errc::null_pointer);
}

TEST_CASE("concat_channels joins NHWC slices in order", "[ops][concat]") {
  test::Rng rng(32);
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t pixels = rng.size(0, 40), count = rng.size(1, 5);
    std::vector<std::vector<int8_t>> data(count);
    std::vector<ConcatInput<int8_t>> inputs;
    std::size_t total = 0;
    for (auto& d : data) {
      const std::size_t channels = rng.size(0, 70);
      d = rng.integers<int8_t>(pixels * channels, -128, 127);
      inputs.push_back({d, channels});
      total += channels;
    }
    std::vector<int8_t> ours(pixels * total), expected;
    for (std::size_t p = 0; p < pixels; ++p) {
      for (const auto& in : inputs) {
        for (std::size_t c = 0; c < in.channels; ++c) {
          expected.push_back(in.data[p * in.channels + c]);
        }
      }
    }
    concat_channels<int8_t>(pixels, inputs, ours);
    REQUIRE(ours == expected);
  }
}

TEST_CASE("concat_channels rejects inconsistent sizes", "[ops][concat][error]") {
  std::vector<uint8_t> a(6), b(4), out(10), short_out(9);
  const std::vector<ConcatInput<uint8_t>> inputs{{a, 3}, {b, 2}};
  const auto run = [&](std::size_t pixels, const std::vector<ConcatInput<uint8_t>>& in,
                       std::vector<uint8_t>& o) {
    return test::error_of([&] { concat_channels<uint8_t>(pixels, in, o); });
  };
  CHECK(run(2, inputs, out) == Errc::ok);
  CHECK(run(2, inputs, short_out) == Errc::shape_mismatch);
  CHECK(run(3, inputs, out) == Errc::shape_mismatch);
  CHECK(run(2, {{a, 3}, {Span<const uint8_t>(nullptr, 4), 2}}, out) == Errc::null_pointer);
  const std::size_t huge = std::size_t{1} << 63;  // times 3 channels overflows
  CHECK(run(huge, {{a, 3}}, out) == Errc::size_overflow);
}

}  // namespace
}  // namespace qinfer
