// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantizer.hpp"
#include "support/random.hpp"

using namespace qinfer;

namespace {
template <class Storage, class Scheme>
void require_zero_exact(float min, float max) {
  const auto q = Quantizer<Storage, Scheme>::from_range(min, max);
  INFO("range [" << min << ", " << max << "] scale " << q.params().scale << " zp "
                 << q.params().zero_point);
  REQUIRE(q.params().zero_point >= (Quantizer<Storage, Scheme>::qmin));
  REQUIRE(q.params().zero_point <= (Quantizer<Storage, Scheme>::qmax));
  REQUIRE(int32_t{q.quantize(0.0f)} == q.params().zero_point);
  REQUIRE(q.dequantize(q.quantize(0.0f)) == 0.0f);
}
}  // namespace

TEST_CASE("affine parameters widen the range to include 0", "[params]") {
  const QuantParams p = choose_params<uint8_t>(2.0f, 5.0f);
  CHECK(p.zero_point == 0);
  CHECK(p.scale == Approx(5.0f / 255.0f));
  const QuantParams n = choose_params<uint8_t>(-4.0f, -1.0f);
  CHECK(n.zero_point == 255);
  CHECK(n.scale == Approx(4.0f / 255.0f));
}

TEST_CASE("the nudged zero point makes 0.0 exactly representable", "[params]") {
  test::Rng rng;
  for (int i = 0; i < 2000; ++i) {
    const float a = rng.real(-100.0f, 100.0f) * std::pow(10.0f, rng.real(-4.0f, 2.0f));
    const float b = rng.real(-100.0f, 100.0f) * std::pow(10.0f, rng.real(-4.0f, 2.0f));
    require_zero_exact<uint8_t, Affine>(std::min(a, b), std::max(a, b));
    require_zero_exact<int8_t, Affine>(std::min(a, b), std::max(a, b));
    require_zero_exact<int8_t, SymmetricNarrow>(std::min(a, b), std::max(a, b));
    require_zero_exact<uint8_t, Symmetric<>>(std::min(a, b), std::max(a, b));
  }
}

TEST_CASE("a known range gives the hand-computed nudged zero point", "[params]") {
  // [-1, 3] over 255 steps: scale 4/255, ideal zero point 1/scale = 63.75, nudged to 64.
  const QuantParams p = choose_params<uint8_t>(-1.0f, 3.0f);
  CHECK(p.scale == 4.0f / 255.0f);
  CHECK(p.zero_point == 64);
  const QuantParams s = choose_params<int8_t>(-1.0f, 3.0f);
  CHECK(s.zero_point == -64);
}

TEST_CASE("degenerate ranges give valid parameters", "[params]") {
  for (float v : {0.0f, 3.0f, -2.0f, 1e-30f}) {
    const QuantParams p = choose_params<uint8_t>(v, v);
    CHECK(Affine::check<uint8_t>(p).ok());
    const QuantParams s = choose_params<int8_t, SymmetricNarrow>(v, v);
    CHECK(SymmetricNarrow::check<int8_t>(s).ok());
  }
  // A range so small that (max - min) / 255 underflows still yields a normal scale.
  CHECK(is_valid_scale(choose_params<uint8_t>(0.0f, 1e-40f).scale));
}

TEST_CASE("symmetric schemes fix the zero point and the range", "[params]") {
  CHECK(Symmetric<>::zero_point<int8_t> == 0);
  CHECK(Symmetric<>::zero_point<uint8_t> == 128);
  CHECK(SymmetricNarrow::qmin<int8_t> == -127);
  CHECK(SymmetricNarrow::qmax<int8_t> == 127);
  const QuantParams p = choose_params<int8_t, SymmetricNarrow>(-2.0f, 1.0f);
  CHECK(p.zero_point == 0);
  CHECK(p.scale == 2.0f / 127.0f);
  // The larger magnitude maps to the last level on the shorter side: nothing in range clips.
  const QuantParams u = choose_params<uint8_t, Symmetric<>>(-1.0f, 2.0f);
  CHECK(u.zero_point == 128);
  CHECK(u.scale == 2.0f / 127.0f);
}

TEST_CASE("7-bit symmetric codes stay in [-63, 63]", "[params]") {
  CHECK(SymmetricSevenBit::qmin<int8_t> == -63);
  CHECK(SymmetricSevenBit::qmax<int8_t> == 63);
  CHECK(Symmetric<false, 7>::qmin<int8_t> == -64);
  CHECK(Symmetric<false, 7>::qmin<uint8_t> == 64);
  CHECK(Symmetric<false, 7>::qmax<uint8_t> == 191);
  const QuantParams p = choose_params<int8_t, SymmetricSevenBit>(-1.0f, 2.0f);
  CHECK(p.zero_point == 0);
  CHECK(p.scale == Approx(2.0 / 63));
  const auto q = Quantizer<int8_t, SymmetricSevenBit>::create(p);
  CHECK(int{q.quantize(2.0f)} == 63);
  CHECK(int{q.quantize(-5.0f)} == -63);
  CHECK(int{q.quantize(100.0f)} == 63);
}

TEST_CASE("invalid ranges, scales and zero points are rejected", "[params][error]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (auto [lo, hi] :
       {std::pair{nan, 1.0f}, {0.0f, nan}, {-inf, 1.0f}, {0.0f, inf}, {2.0f, 1.0f}}) {
    CHECK_THROWS_MATCHES(choose_params<uint8_t>(lo, hi), Error,
                         Catch::Predicate<Error>([](const Error& e) {
                           return e.status().code() == Errc::invalid_range;
                         }));
  }
  for (float scale : {0.0f, -1.0f, nan, inf, FLT_MIN / 2}) {
    CHECK(Affine::check<uint8_t>({scale, 0}).code() == Errc::invalid_scale);
  }
  CHECK(Affine::check<uint8_t>({1.0f, 256}).code() == Errc::invalid_zero_point);
  CHECK(Affine::check<uint8_t>({1.0f, -1}).code() == Errc::invalid_zero_point);
  CHECK(Affine::check<int8_t>({1.0f, 128}).code() == Errc::invalid_zero_point);
  CHECK(Symmetric<>::check<int8_t>({1.0f, 1}).code() == Errc::invalid_zero_point);
}
