// SPDX-License-Identifier: Apache-2.0
//
// The fixed-point requantization against an independent exact formulation in 128-bit integers.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

#include "qinfer/quant/requantize.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {

__extension__ typedef __int128 int128;  // GCC and Clang: exact 128-bit products
constexpr int32_t int32_min = std::numeric_limits<int32_t>::min();
constexpr int32_t int32_max = std::numeric_limits<int32_t>::max();

int128 floor_div(int128 a, int128 b) {  // b > 0
  const int128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

int32_t saturate32(int128 v) {
  return static_cast<int32_t>(v < int32_min ? int32_min : (v > int32_max ? int32_max : v));
}

// floor(a * b / 2^31 + 1/2): the product rounded with ties toward +infinity.
int32_t exact_high_mul(int32_t a, int32_t b) {
  return saturate32(floor_div(int128{a} * b + (int128{1} << 30), int128{1} << 31));
}

// x / 2^e rounded with ties away from zero.
int32_t exact_divide_pot(int32_t x, int e) {
  if (e == 0) return x;
  const int128 magnitude = x < 0 ? -int128{x} : int128{x};
  const int128 rounded = (magnitude + (int128{1} << (e - 1))) >> e;
  return static_cast<int32_t>(x < 0 ? -rounded : rounded);
}

int32_t exact_double_rounding(int32_t x, QuantizedMultiplier m) {
  const int left = m.shift > 0 ? m.shift : 0;
  const int right = m.shift > 0 ? 0 : -m.shift;
  return exact_divide_pot(exact_high_mul(saturate32(int128{x} * (int128{1} << left)), m.multiplier),
                          right);
}

int32_t exact_single_rounding(int32_t x, QuantizedMultiplier m) {
  const int total = 31 - m.shift;
  return saturate32(
      floor_div(int128{x} * m.multiplier + (int128{1} << (total - 1)), int128{1} << total));
}

int32_t random_int32(test::Rng& rng) {
  switch (rng.integer(0, 3)) {
    case 0:
      return static_cast<int32_t>(rng.integer(int32_min, int32_max));
    case 1:
      return static_cast<int32_t>(rng.integer(-70000, 70000));
    case 2:
      return static_cast<int32_t>(rng.integer(0, 1) ? int32_min + rng.integer(0, 3)
                                                    : int32_max - rng.integer(0, 3));
    default:
      return static_cast<int32_t>(rng.integer(-(1 << 24), 1 << 24));
  }
}

}  // namespace

TEST_CASE("quantize_multiplier normalizes to a Q31 mantissa and a shift", "[requantize]") {
  auto check = [](double real, int32_t multiplier, int32_t shift) {
    const QuantizedMultiplier m = quantize_multiplier(real);
    CHECK(m.multiplier == multiplier);
    CHECK(m.shift == shift);
  };
  check(0.5, 1 << 30, 0);
  check(1.0, 1 << 30, 1);
  check(0.75, 3 << 29, 0);
  check(0.25, 1 << 30, -1);
  check(std::ldexp(1.0, 29), 1 << 30, 30);      // the largest shift
  check(std::ldexp(1.0, -40), 0, 0);            // below 2^-32: exactly zero
  check(std::nextafter(1.0, 0.0), 1 << 30, 1);  // mantissa rounds up to 1.0
  for (double bad : {0.0, -1.0, std::nan(""), HUGE_VAL, std::ldexp(1.0, 30)}) {
    CHECK_THROWS_AS(quantize_multiplier(bad), Error);
  }
}

TEST_CASE("hand-checked roundings: ties and the double-rounding difference", "[requantize]") {
  const QuantizedMultiplier half{1 << 30, 0};
  const QuantizedMultiplier quarter{1 << 30, -1};
  CHECK(saturating_rounding_doubling_high_mul(3, 1 << 30) == 2);    // 1.5 ties up
  CHECK(saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1);  // -1.5 ties up
  CHECK(saturating_rounding_doubling_high_mul(int32_min, int32_min) == int32_max);
  CHECK(rounding_divide_by_pot(5, 1) == 3);    // 2.5 away from zero
  CHECK(rounding_divide_by_pot(-5, 1) == -3);  // -2.5 away from zero
  CHECK(rounding_divide_by_pot(-4, 31) == 0);
  CHECK(multiply_by_quantized_multiplier(100, half) == 50);
  // -2 * 0.25 = -0.5: the high multiply is exact (-2 * 0.5 = -1) and the rounding shift takes
  // -1 / 2 away from zero to -1; single rounding takes the tie up to 0.
  CHECK(DoubleRounding::apply(-2, quarter) == -1);
  CHECK(SingleRounding::apply(-2, quarter) == 0);
  CHECK(DoubleRounding::apply(2, quarter) == 1);
  CHECK(SingleRounding::apply(2, quarter) == 1);
  // A positive shift saturates instead of overflowing (gemmlowp leaves this undefined); the
  // mantissa then halves the saturated value, which any 8-bit clamp maps to the top level.
  CHECK(DoubleRounding::apply(int32_max, QuantizedMultiplier{1 << 30, 4}) == 1 << 30);
  CHECK(DoubleRounding::apply(int32_min, QuantizedMultiplier{1 << 30, 4}) == -(1 << 30));
  CHECK(DoubleRounding::apply(1000, QuantizedMultiplier{1 << 30, 4}) == 8000);
}

TEST_CASE("fixed-point requantization matches the exact 128-bit formulation on 1e6 pairs",
          "[requantize]") {
  test::Rng rng;
  for (int i = 0; i < 1000000; ++i) {
    const int32_t x = random_int32(rng);
    QuantizedMultiplier m;
    switch (rng.integer(0, 4)) {
      case 0:
        m.multiplier = 1 << 30;
        break;
      case 1:
        m.multiplier = int32_max;
        break;
      default:
        m.multiplier = static_cast<int32_t>(rng.integer(1 << 30, int32_max));
    }
    m.shift = static_cast<int32_t>(rng.integer(0, 3) == 0 ? (rng.coin() ? -31 : 30)
                                                          : rng.integer(-31, 30));
    const int32_t a = static_cast<int32_t>(rng.integer(int32_min, int32_max));
    if (saturating_rounding_doubling_high_mul(x, a) != exact_high_mul(x, a) ||
        DoubleRounding::apply(x, m) != exact_double_rounding(x, m) ||
        SingleRounding::apply(x, m) != exact_single_rounding(x, m)) {
      INFO("x " << x << " multiplier " << m.multiplier << " shift " << m.shift << " a " << a);
      REQUIRE(saturating_rounding_doubling_high_mul(x, a) == exact_high_mul(x, a));
      REQUIRE(DoubleRounding::apply(x, m) == exact_double_rounding(x, m));
      REQUIRE(SingleRounding::apply(x, m) == exact_single_rounding(x, m));
    }
  }
}

TEST_CASE("both roundings stay within one of the ideal product", "[requantize]") {
  test::Rng rng;
  for (int i = 0; i < 100000; ++i) {
    const int32_t x = static_cast<int32_t>(rng.integer(-(1 << 24), 1 << 24));
    const double real = std::ldexp(rng.real(0.5f, 1.0f), static_cast<int>(rng.integer(-20, 0)));
    const QuantizedMultiplier m = quantize_multiplier(real);
    const long double ideal =
        static_cast<long double>(x) * m.multiplier * std::ldexp(1.0L, m.shift - 31);
    REQUIRE(std::fabs(DoubleRounding::apply(x, m) - ideal) <= 1.0L);
    REQUIRE(std::fabs(SingleRounding::apply(x, m) - ideal) <= 0.5L);
  }
}

TEST_CASE("float requantization rounds half to even after the single float multiply",
          "[requantize]") {
  CHECK(requantize_float(5, 0.5f, -128, 127) == 2);  // 2.5 -> 2
  CHECK(requantize_float(7, 0.5f, -128, 127) == 4);  // 3.5 -> 4
  CHECK(requantize_float(-5, 0.5f, -128, 127) == -2);
  CHECK(requantize_float(1000, 1.0f, -128, 127) == 127);
  CHECK(requantize_float(-1000, 1.0f, -128, 127) == -128);
  CHECK(requantize_float(int32_max, 1.0f, -128, 127) == 127);
}
