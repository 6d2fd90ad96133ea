// SPDX-License-Identifier: Apache-2.0
//
// binary16 conversions (core/half.hpp): every half survives the round trip through float, and
// float_to_half rounds to nearest even at every midpoint, overflows to infinity from 65520 and
// keeps subnormals.
#include "qinfer/core/half.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

using namespace qinfer;

TEST_CASE("every binary16 value survives the round trip through float", "[half]") {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float f = half_to_float(half);
    INFO("half 0x" << std::hex << h);
    if (std::isnan(f)) {
      const uint16_t back = float_to_half(f);
      CHECK((back & 0x7c00u) == 0x7c00u);
      CHECK((back & 0x3ffu) != 0);
      CHECK((back & 0x8000u) == (half & 0x8000u));
    } else {
      CHECK(float_to_half(f) == half);
    }
  }
}

TEST_CASE("float_to_half rounds to nearest, ties to even", "[half]") {
  // Between consecutive finite positive halves (normal and subnormal), the midpoint goes to the
  // even one and anything off the midpoint to the nearer one.
  for (uint16_t h = 0; h < 0x7bff; ++h) {
    const float lo = half_to_float(h), hi = half_to_float(static_cast<uint16_t>(h + 1));
    const float mid = (lo + hi) / 2;  // exact: the halves have few significant bits
    INFO("between 0x" << std::hex << h << " and 0x" << h + 1);
    CHECK(float_to_half(mid) == ((h & 1) == 0 ? h : h + 1));
    CHECK(float_to_half(std::nextafter(mid, lo)) == h);
    CHECK(float_to_half(std::nextafter(mid, hi)) == h + 1);
    CHECK(float_to_half(-mid) == (((h & 1) == 0 ? h : h + 1) | 0x8000));
  }
  CHECK(float_to_half(65504.0f) == 0x7bff);
  CHECK(float_to_half(std::nextafter(65520.0f, 0.0f)) == 0x7bff);
  CHECK(float_to_half(65520.0f) == 0x7c00);
  CHECK(float_to_half(-1e30f) == 0xfc00);
  CHECK(float_to_half(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);
  CHECK(float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(float_to_half(std::ldexp(1.0f, -40)) == 0x0000);
  CHECK(float_to_half(-0.0f) == 0x8000);
}
