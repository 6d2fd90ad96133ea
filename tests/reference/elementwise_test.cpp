// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "qinfer/reference/elementwise.hpp"

using namespace qinfer;

namespace {
template <class T>
void check_add_against_float(QuantParams pa, QuantParams pb, QuantParams po) {
  const auto params = reference::make_add_params<T>(pa, pb, po);
  int worst = 0;
  for (int a = StorageTraits<T>::min; a <= StorageTraits<T>::max; ++a) {
    for (int b = StorageTraits<T>::min; b <= StorageTraits<T>::max; ++b) {
      const double real =
          double{pa.scale} * (a - pa.zero_point) + double{pb.scale} * (b - pb.zero_point);
      const double ideal = std::clamp(std::round(real / po.scale) + po.zero_point,
                                      double(StorageTraits<T>::min), double(StorageTraits<T>::max));
      const int got = reference::add_one(params, static_cast<T>(a), static_cast<T>(b));
      worst = std::max(worst, static_cast<int>(std::fabs(got - ideal)));
    }
  }
  CHECK(worst <= 1);
}
}  // namespace

TEST_CASE("quantized add matches the real sum within one step over all input pairs", "[add]") {
  check_add_against_float<uint8_t>({0.02f, 128}, {0.05f, 100}, {0.07f, 110});
  check_add_against_float<int8_t>({0.1f, -3}, {0.001f, 20}, {0.09f, 0});
  check_add_against_float<int8_t>({0.5f, 0}, {0.5f, 0}, {0.001f, -128});  // output multiplier > 1
}

TEST_CASE("add with equal scales is exact integer addition, saturated and clamped", "[add]") {
  const auto p = reference::make_add_params<int8_t>({0.25f, 0}, {0.25f, 0}, {0.25f, 0});
  const int8_t a[] = {1, 100, -100, 3};
  const int8_t b[] = {2, 100, -100, -7};
  int8_t out[4];
  reference::add(p, Span<const int8_t>(a), Span<const int8_t>(b), Span<int8_t>(out));
  CHECK(std::vector<int>(out, out + 4) == std::vector<int>{3, 127, -128, -4});
  const auto relu =
      reference::make_add_params<int8_t>({0.25f, 0}, {0.25f, 0}, {0.25f, 0}, {0, 127});
  reference::add(relu, Span<const int8_t>(a), Span<const int8_t>(b), Span<int8_t>(out));
  CHECK(std::vector<int>(out, out + 4) == std::vector<int>{3, 127, 0, 0});
}

TEST_CASE("clamp bounds quantized values", "[add]") {
  const uint8_t x[] = {0, 50, 200, 255};
  uint8_t y[4];
  reference::clamp(Span<const uint8_t>(x), Span<uint8_t>(y), {10, 210});
  CHECK(std::vector<int>(y, y + 4) == std::vector<int>{10, 50, 200, 210});
}

TEST_CASE("add and clamp reject bad parameters", "[add][error]") {
  CHECK_THROWS_AS(reference::make_add_params<int8_t>({0.0f, 0}, {1.0f, 0}, {1.0f, 0}), Error);
  CHECK_THROWS_AS(reference::make_add_params<int8_t>({1.0f, 0}, {1.0f, 200}, {1.0f, 0}), Error);
  CHECK_THROWS_AS(reference::make_add_params<int8_t>({1.0f, 0}, {1.0f, 0}, {1e-30f, 0}),
                  Error);  // multiplier >= 2^30
  const auto p = reference::make_add_params<int8_t>({1.0f, 0}, {1.0f, 0}, {1.0f, 0});
  const int8_t a[2] = {}, b[3] = {};
  int8_t out[2];
  CHECK_THROWS_AS(
      reference::add(p, Span<const int8_t>(a), Span<const int8_t>(b), Span<int8_t>(out)), Error);
  CHECK_THROWS_AS(reference::clamp(Span<const int8_t>(a), Span<int8_t>(out), {5, 4}), Error);
}
