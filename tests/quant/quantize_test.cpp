// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "qinfer/quant/quantize.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_value = std::numeric_limits<float>::infinity();

// Inputs that stress every rounding decision: exact ties at k + 1/2 steps, one ulp either side,
// values far out of range, NaN, infinities, signed zeros, subnormals.
std::vector<float> hard_inputs(test::Rng& rng, std::size_t n, float scale) {
  std::vector<float> x(n);
  for (float& v : x) {
    const float k = static_cast<float>(rng.integer(-300, 300));
    switch (rng.integer(0, 8)) {
      case 0:
        v = (k + 0.5f) * scale;
        break;
      case 1:
        v = std::nextafter((k + 0.5f) * scale, inf_value);
        break;
      case 2:
        v = std::nextafter((k + 0.5f) * scale, -inf_value);
        break;
      case 3:
        v = rng.real(-1e6f, 1e6f);
        break;
      case 4: {
        const float specials[] = {nan_value, inf_value,   -inf_value, 0.0f,
                                  -0.0f,     FLT_MIN / 4, FLT_MAX,    -FLT_MAX};
        v = specials[rng.integer(0, 7)];
        break;
      }
      case 5: {
        // Quotients where int32 and int16 conversions overflow or saturate.
        const float limits[] = {2147483648.0f, 2147483520.0f, 2147483904.0f, 16777217.0f,
                                40000.5f,      32768.0f,      32767.5f,      255.5f};
        v = (rng.integer(0, 1) != 0 ? 1.0f : -1.0f) * limits[rng.integer(0, 7)] * scale;
        break;
      }
      default:
        v = rng.real(-200.0f, 200.0f) * scale;
    }
  }
  return x;
}

const ConvertPath all_paths[] = {ConvertPath::portable, ConvertPath::avx2, ConvertPath::avx512};

// Runs every vector path this CPU has against the scalar reference; says which were skipped.
template <class Storage, class Rounding>
void require_paths_match_scalar(QuantizeRange r) {
  test::Rng rng;
  for (ConvertPath path : all_paths) {
    if (!is_available(path)) {
      WARN("path " << path_name(path) << " skipped: not available on this CPU or build");
      continue;
    }
    SECTION(path_name(path)) {
      for (std::size_t n :
           {0, 1, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 255, 256, 257, 1000, 4099}) {
        const std::vector<float> x = hard_inputs(rng, n, r.scale);
        std::vector<Storage> expected(n), actual(n);
        quantize_scalar<Storage, Rounding>(x.data(), n, expected.data(), r);
        quantize_with<Storage, Rounding>(path, x.data(), n, actual.data(), r);
        for (std::size_t i = 0; i < n; ++i) {
          INFO("path " << path_name(path) << " n " << n << " i " << i << " x " << x[i]);
          REQUIRE(int{actual[i]} == int{expected[i]});
        }
      }
    }
  }
}

template <class Storage, class Rounding, class Scheme>
void require_paths_match_scalar(QuantParams p) {
  require_paths_match_scalar<Storage, Rounding>(
      {p.scale, p.zero_point, Scheme::template qmin<Storage>, Scheme::template qmax<Storage>});
}

}  // namespace

TEST_CASE("the dispatcher picks the best available conversion path", "[quantize][paths]") {
  const ConvertPath best = best_convert_path();
  for (ConvertPath path : all_paths) {
    WARN("conversion path " << path_name(path) << ": "
                            << (is_available(path) ? "tested" : "SKIPPED, not on this CPU or build")
                            << (path == best ? " (in use)" : ""));
    // A faster path than the chosen one exists only when a cap (QINFER_ISA) excludes it.
    if (path > best && !isa_cap()) CHECK_FALSE(is_available(path));
  }
  CHECK(is_available(best));
}

TEST_CASE("quantize rounds ties by policy", "[quantize]") {
  const float x[] = {2.5f, -2.5f, 3.5f, -3.5f, 2.4999998f, 0.5f, -0.5f};
  const int even[] = {2, -2, 4, -4, 2, 0, 0};
  const int away[] = {3, -3, 4, -4, 2, 1, -1};
  int8_t q[7];
  quantize<int8_t, RoundHalfToEven>(Span<const float>(x), Span<int8_t>(q), {1.0f, 0});
  for (int i = 0; i < 7; ++i) CHECK(int{q[i]} == even[i]);
  quantize<int8_t, RoundHalfAwayFromZero>(Span<const float>(x), Span<int8_t>(q), {1.0f, 0});
  for (int i = 0; i < 7; ++i) CHECK(int{q[i]} == away[i]);
}

TEST_CASE("quantize saturates and maps NaN to the zero point", "[quantize]") {
  const float x[] = {1e9f, -1e9f, inf_value, -inf_value, nan_value, 0.0f};
  uint8_t q[6];
  quantize<uint8_t>(Span<const float>(x), Span<uint8_t>(q), {0.1f, 100});
  CHECK(std::vector<int>(q, q + 6) == std::vector<int>{255, 0, 255, 0, 100, 100});
  int8_t n[6];
  quantize<int8_t, RoundHalfToEven, SymmetricNarrow>(Span<const float>(x), Span<int8_t>(n),
                                                     {0.1f, 0});
  CHECK(std::vector<int>(n, n + 6) == std::vector<int>{127, -127, 127, -127, 0, 0});
}

TEST_CASE("round trip error is at most half a step inside the range", "[quantize]") {
  test::Rng rng;
  const QuantParams p{0.037f, 77};
  const std::vector<float> x = rng.reals(10000, (0 - 77) * 0.037f, (255 - 77) * 0.037f);
  std::vector<uint8_t> q(x.size());
  std::vector<float> back(x.size());
  quantize<uint8_t>(Span<const float>(x), Span<uint8_t>(q), p);
  dequantize<uint8_t>(Span<const uint8_t>(q), Span<float>(back), p);
  for (std::size_t i = 0; i < x.size(); ++i)
    REQUIRE(std::fabs(back[i] - x[i]) <= p.scale / 2 * 1.0001f);
}

TEST_CASE("every vectorized quantize path is bit-exact with the scalar reference",
          "[quantize][simd]") {
  SECTION("uint8 affine, half to even") {
    require_paths_match_scalar<uint8_t, RoundHalfToEven, Affine>({0.05f, 131});
  }
  SECTION("int8 affine, half away") {
    require_paths_match_scalar<int8_t, RoundHalfAwayFromZero, Affine>({0.3f, -7});
  }
  SECTION("int8 narrow symmetric") {
    require_paths_match_scalar<int8_t, RoundHalfToEven, SymmetricNarrow>({1.0f / 3.0f, 0});
  }
  SECTION("uint8 symmetric, half away") {
    require_paths_match_scalar<uint8_t, RoundHalfAwayFromZero, Symmetric<>>({2.0f, 128});
  }
  SECTION("scale with an inexact reciprocal") {
    require_paths_match_scalar<int8_t, RoundHalfToEven, Affine>({0.1f, 0});
  }
  SECTION("tiny scale") {
    require_paths_match_scalar<int8_t, RoundHalfToEven, Affine>({FLT_MIN, 0});
  }
  SECTION("huge scale: subnormal reciprocal, division only") {
    require_paths_match_scalar<uint8_t, RoundHalfAwayFromZero, Affine>({1e38f, 7});
  }
  // Ranges narrower than the storage type: the kernels clamp levels after rounding.
  SECTION("uint8 range fused with a ReLU6") {
    require_paths_match_scalar<uint8_t, RoundHalfToEven>({0.05f, 10, 10, 130});
  }
  SECTION("int8 range of a few levels") {
    require_paths_match_scalar<int8_t, RoundHalfAwayFromZero>({0.7f, -2, -5, 4});
  }
  SECTION("a single level") {
    require_paths_match_scalar<uint8_t, RoundHalfToEven>({0.25f, 200, 200, 200});
  }
}

// The reciprocal shortcut's failure mode is a near-tie quotient rounding the other way. Search
// for such inputs directly: x / s lands within a few ulps of k + 1/2 for many random scales.
TEST_CASE("quotients a few ulps from a tie round as the division does on every path",
          "[quantize][simd]") {
  for (ConvertPath path : all_paths) {
    if (!is_available(path)) continue;
    SECTION(path_name(path)) {
      test::Rng rng;
      for (int trial = 0; trial < 200; ++trial) {
        const float scale =
            rng.real(1e-3f, 1.0f) * std::pow(2.0f, static_cast<float>(rng.integer(-20, 20)));
        std::vector<float> x(1024);
        for (float& v : x) {
          float t = (static_cast<float>(rng.integer(-130, 130)) + 0.5f) * scale;
          for (int steps = static_cast<int>(rng.integer(-4, 4)); steps != 0;
               steps += steps > 0 ? -1 : 1) {
            t = std::nextafter(t, steps > 0 ? inf_value : -inf_value);
          }
          v = t;
        }
        for (const int32_t zero_point : {0, 5}) {
          const QuantizeRange r{scale, zero_point, -128, 127};
          std::vector<int8_t> even(x.size()), away(x.size());
          std::vector<int8_t> even_expected(x.size()), away_expected(x.size());
          quantize_scalar<int8_t, RoundHalfToEven>(x.data(), x.size(), even_expected.data(), r);
          quantize_scalar<int8_t, RoundHalfAwayFromZero>(x.data(), x.size(), away_expected.data(),
                                                         r);
          quantize_with<int8_t, RoundHalfToEven>(path, x.data(), x.size(), even.data(), r);
          quantize_with<int8_t, RoundHalfAwayFromZero>(path, x.data(), x.size(), away.data(), r);
          INFO("path " << path_name(path) << " scale " << scale << " zero point " << zero_point);
          REQUIRE(even == even_expected);
          REQUIRE(away == away_expected);
        }
      }
    }
  }
}

TEST_CASE("every vectorized dequantize path is bit-exact with the scalar reference",
          "[quantize][simd]") {
  test::Rng rng;
  // The vector kernels align their stores to cache lines and overlap head and tail vectors with
  // the body: every output alignment, sizes around the vector widths, and one call above the
  // streaming threshold. Sentinels around the output catch a store outside it.
  constexpr std::size_t guard = 32;
  constexpr float sentinel = -1234.5f;
  for (ConvertPath path : all_paths) {
    if (!is_available(path)) continue;
    const std::size_t streamed = convert::streaming_threshold() / sizeof(float) + 77;
    for (std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{15}, std::size_t{16},
                          std::size_t{17}, std::size_t{31}, std::size_t{47}, std::size_t{64},
                          std::size_t{256}, std::size_t{700}, streamed}) {
      const auto q8 = rng.integers<int8_t>(n, -128, 127);
      const auto u8 = rng.integers<uint8_t>(n, 0, 255);
      std::vector<float> expected(n);
      std::vector<float> buffer(n + 2 * guard);
      const std::size_t lead = (64 - reinterpret_cast<std::uintptr_t>(buffer.data()) % 64) % 64;
      REQUIRE(lead % sizeof(float) == 0);
      const std::size_t offsets = n > 1000 ? 2 : 16;
      for (std::size_t offset = 0; offset < offsets; ++offset) {
        INFO("path " << path_name(path) << " n " << n << " offset " << offset);
        float* out = buffer.data() + lead / sizeof(float) + offset;
        const auto guards_intact = [&] {
          return std::all_of(buffer.data(), out, [&](float v) { return v == sentinel; }) &&
                 std::all_of(out + n, buffer.data() + buffer.size(),
                             [&](float v) { return v == sentinel; });
        };
        std::fill(buffer.begin(), buffer.end(), sentinel);
        dequantize_scalar(q8.data(), n, expected.data(), {0.0123f, -3});
        dequantize_with(path, q8.data(), n, out, {0.0123f, -3});
        REQUIRE(std::memcmp(expected.data(), out, n * sizeof(float)) == 0);
        REQUIRE(guards_intact());
        std::fill(buffer.begin(), buffer.end(), sentinel);
        dequantize_scalar(u8.data(), n, expected.data(), {7.5e-5f, 255});
        dequantize_with(path, u8.data(), n, out, {7.5e-5f, 255});
        REQUIRE(std::memcmp(expected.data(), out, n * sizeof(float)) == 0);
        REQUIRE(guards_intact());
      }
    }
  }
}

namespace {

// Accumulators that reach every corner of the requantization: int32 extremes, values whose
// products with the multipliers land on rounding ties, small and large magnitudes.
std::vector<int32_t> hard_accumulators(test::Rng& rng, std::size_t n) {
  std::vector<int32_t> acc(n);
  for (int32_t& a : acc) {
    switch (rng.integer(0, 5)) {
      case 0:
        a = static_cast<int32_t>(rng.integer(INT32_MIN, INT32_MAX));
        break;
      case 1:
        a = rng.coin() ? INT32_MIN + static_cast<int32_t>(rng.integer(0, 2))
                       : INT32_MAX - static_cast<int32_t>(rng.integer(0, 2));
        break;
      case 2:  // small multiples of powers of two
        a = static_cast<int32_t>(rng.integer(-64, 64) * (int64_t{1} << rng.integer(0, 20)));
        break;
      case 3:  // small values, odd ones included: exact ties with power-of-two multipliers
        a = static_cast<int32_t>(rng.integer(-300, 300));
        break;
      default:
        a = static_cast<int32_t>(rng.integer(-100000, 100000));
    }
  }
  return acc;
}

template <class Stage>
void require_requantize_paths_match(const std::vector<int32_t>& acc, std::size_t channels,
                                    const Stage& stage, ConvertPath path) {
  using Out = typename Stage::Output;
  const std::size_t rows = acc.size() / channels;
  std::vector<Out> expected(acc.size()), actual(acc.size());
  requantize_scalar(acc.data(), rows, channels, stage, expected.data(), {channels, channels});
  requantize_with(path, acc.data(), rows, channels, stage, actual.data());
  for (std::size_t i = 0; i < acc.size(); ++i) {
    INFO("path " << path_name(path) << " channels " << channels << " i " << i << " acc " << acc[i]);
    REQUIRE(int{actual[i]} == int{expected[i]});
  }
  // The same rows spread out on both sides (a GEMM tile into C): padding stays untouched.
  const RowStrides strides{channels + 5, channels + 3};
  std::vector<int32_t> spread(rows * strides.acc, INT32_MIN);
  for (std::size_t r = 0; r < rows; ++r) {
    std::copy_n(acc.begin() + static_cast<std::ptrdiff_t>(r * channels), channels,
                spread.begin() + static_cast<std::ptrdiff_t>(r * strides.acc));
  }
  const auto sentinel = static_cast<Out>(7);
  std::vector<Out> strided(rows * strides.out, sentinel);
  requantize_with(path, spread.data(), rows, channels, stage, strided.data(), strides);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < strides.out; ++c) {
      INFO("strided, path " << path_name(path) << " channels " << channels << " row " << r
                            << " column " << c);
      REQUIRE(int{strided[r * strides.out + c]} ==
              int{c < channels ? expected[r * channels + c] : sentinel});
    }
  }
}

}  // namespace

TEST_CASE("every vectorized requantize path is bit-exact with the scalar stage",
          "[quantize][simd]") {
  for (ConvertPath path : all_paths) {
    if (!is_available(path)) continue;
    SECTION(path_name(path)) {
      test::Rng rng;
      for (std::size_t channels : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 67}) {
        // Odd and even row counts: the AVX-512 float kernel packs rows in pairs.
        const std::size_t rows = channels % 2 == 0 ? 6 : 7;
        const auto acc = hard_accumulators(rng, rows * channels);
        std::vector<float> float_multipliers(channels), below_one(channels);
        std::vector<QuantizedMultiplier> fixed(channels);
        for (std::size_t c = 0; c < channels; ++c) {
          // Real multipliers from 2^-33 (all zero) to 2^10 (left shifts). Powers of two and
          // 0.75 * 2^k put products exactly on rounding ties.
          const double mantissas[] = {0.5, 0.75, double{rng.real(0.5f, 1.0f)}};
          const double real =
              std::ldexp(mantissas[rng.integer(0, 2)], static_cast<int>(rng.integer(-33, 11)));
          float_multipliers[c] = static_cast<float>(real);
          fixed[c] = quantize_multiplier(real);
          // All below 1: the float kernels' unclamped form.
          below_one[c] = static_cast<float>(
              std::ldexp(mantissas[rng.integer(0, 2)], static_cast<int>(rng.integer(-33, 0))));
        }
        const std::vector<float> one_float{float_multipliers[0]};
        const std::vector<QuantizedMultiplier> one_fixed{fixed[0]};
        const auto zp = static_cast<int32_t>(rng.integer(-128, 127));
        const auto lo = static_cast<int32_t>(rng.integer(-128, 0));
        const auto hi = static_cast<int32_t>(rng.integer(0, 127));
        for (const auto& m : {one_float, float_multipliers, below_one}) {
          require_requantize_paths_match(acc, channels, RequantizeFloat<int8_t>{m, zp, lo, hi},
                                         path);
          require_requantize_paths_match(acc, channels, RequantizeFloat<uint8_t>{m, 128}, path);
        }
        for (const auto& m : {one_fixed, fixed}) {
          require_requantize_paths_match(acc, channels, RequantizeFixedPoint<int8_t>{m, zp, lo, hi},
                                         path);
          require_requantize_paths_match(
              acc, channels, RequantizeFixedPoint<uint8_t, SingleRounding>{m, 128}, path);
          require_requantize_paths_match(
              acc, channels, RequantizeFixedPoint<int8_t, SingleRounding>{m, -zp / 2}, path);
          require_requantize_paths_match(acc, channels, RequantizeFixedPoint<uint8_t>{m, 3, 3, 200},
                                         path);
        }
      }
    }
  }
}

TEST_CASE("quantize, dequantize and requantize reject bad arguments", "[quantize][error]") {
  std::vector<float> x(4);
  std::vector<int8_t> q(3);
  auto code_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.status().code();
    }
    return Errc::ok;
  };
  CHECK(code_of([&] {
          quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {1.0f, 0});
        }) == Errc::shape_mismatch);
  q.resize(4);
  CHECK(code_of([&] {
          quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {nan_value, 0});
        }) == Errc::invalid_scale);
  CHECK(code_of([&] {
          quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {1.0f, 200});
        }) == Errc::invalid_zero_point);
  CHECK(code_of([&] {
          quantize<int8_t, RoundHalfToEven, SymmetricNarrow>(Span<const float>(x), Span<int8_t>(q),
                                                             {1.0f, 3});
        }) == Errc::invalid_zero_point);
  CHECK(code_of([&] {
          quantize<int8_t>(Span<const float>(nullptr, 4), Span<int8_t>(q), {1.0f, 0});
        }) == Errc::null_pointer);
  CHECK(code_of([&] {
          dequantize<int8_t>(Span<const int8_t>(q), Span<float>(x), {0.0f, 0});
        }) == Errc::invalid_scale);
  CHECK(code_of([&] {
          dequantize<uint8_t>(Span<const uint8_t>(nullptr, 0), Span<float>(nullptr, 0), {1.0f, -1});
        }) == Errc::invalid_zero_point);
  std::vector<int32_t> acc(6);
  std::vector<int8_t> out(6);
  const std::vector<float> m{0.5f, 0.5f};
  CHECK(code_of([&] {
          requantize(Span<const int32_t>(acc), 4, RequantizeFloat<int8_t>{m, 0}, Span<int8_t>(out));
        }) == Errc::shape_mismatch);
  CHECK(code_of([&] {
          requantize(Span<const int32_t>(acc), 3, RequantizeFloat<int8_t>{m, 0}, Span<int8_t>(out));
        }) == Errc::shape_mismatch);
  CHECK(code_of([&] {
          requantize(Span<const int32_t>(acc), 2, RequantizeFloat<int8_t>{m, 0}, Span<int8_t>(out));
        }) == Errc::ok);
}

TEST_CASE("float requantization is exact at the int32 limits with multipliers near 1",
          "[quantize][simd]") {
  // With all multipliers < 1 the AVX-512 kernels round unclamped and let the saturating packs
  // clamp (StageLanes<RequantizeFloat>::pack): the largest multiplier below 1 times the int32
  // extremes is where that could overflow.
  const float largest = std::nextafter(1.0f, 0.0f);
  for (ConvertPath path : all_paths) {
    if (!is_available(path)) continue;
    SECTION(path_name(path)) {
      test::Rng rng;
      for (std::size_t channels : {32, 33, 64, 100}) {
        auto acc = hard_accumulators(rng, 5 * channels);
        for (std::size_t c = 0; c < channels; ++c) acc[c] = c % 2 == 0 ? INT32_MAX : INT32_MIN;
        std::vector<float> multipliers(channels);
        for (float& m : multipliers) {
          const float choices[] = {largest, 0.999f, 0.5f, rng.real(1e-9f, 1.0f)};
          m = choices[rng.integer(0, 3)];
        }
        // 1 and above take the clamped path, which the int32 extremes would overflow otherwise.
        const std::vector<float> one{largest}, at_one{1.0f}, above{3.0f};
        for (const auto& m : {one, multipliers, at_one, above}) {
          require_requantize_paths_match(acc, channels, RequantizeFloat<int8_t>{m, -128}, path);
          require_requantize_paths_match(acc, channels, RequantizeFloat<int8_t>{m, 127}, path);
          require_requantize_paths_match(acc, channels, RequantizeFloat<int8_t>{m, 5, 5, 100},
                                         path);
          require_requantize_paths_match(acc, channels, RequantizeFloat<uint8_t>{m, 0}, path);
          require_requantize_paths_match(acc, channels, RequantizeFloat<uint8_t>{m, 255}, path);
          require_requantize_paths_match(acc, channels, RequantizeFloat<uint8_t>{m, 128, 128, 255},
                                         path);
        }
      }
    }
  }
}
