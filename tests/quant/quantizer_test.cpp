// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qinfer/quant/quantizer.hpp"
#include "support/random.hpp"

using namespace qinfer;

TEST_CASE("a per-tensor quantizer calibrates from data and round-trips", "[quantizer]") {
  test::Rng rng;
  const std::vector<float> x = rng.reals(1000, -3.0f, 5.0f);
  const auto q = AffineQuantizer<uint8_t>::from_data(x);
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  CHECK(q.params() == choose_params<uint8_t>(*lo, *hi));
  std::vector<uint8_t> codes(x.size());
  std::vector<float> back(x.size());
  q.quantize(x, codes);
  q.dequantize(codes, back);
  for (std::size_t i = 0; i < x.size(); ++i) {
    REQUIRE(int{codes[i]} == int{q.quantize(x[i])});
    REQUIRE(std::fabs(back[i] - x[i]) <= q.params().scale * 0.5001f);
  }
}

TEST_CASE("a narrow symmetric quantizer never produces the lowest code", "[quantizer]") {
  const auto q = SymmetricQuantizer<int8_t, true>::create({0.01f, 0});
  CHECK(int{q.quantize(-1000.0f)} == -127);
  CHECK(int{q.quantize(1000.0f)} == 127);
  CHECK(int{q.quantize(0.025f)} == 2);
  const auto away = SymmetricQuantizer<int8_t, true, RoundHalfAwayFromZero>::create({0.01f, 0});
  CHECK(int{away.quantize(0.025f)} == 3);
}

TEST_CASE("per-axis parameters equal per-slice calibration on every axis", "[quantizer]") {
  test::Rng rng;
  const std::vector<std::size_t> dims{3, 4, 5};
  const std::vector<float> x = rng.reals(60, -2.0f, 2.0f);
  for (std::size_t axis = 0; axis < 3; ++axis) {
    SECTION("axis " + std::to_string(axis)) {
      const auto q = PerAxisQuantizer<int8_t, SymmetricNarrow>::from_data(x, dims, axis);
      REQUIRE(q.params().size() == dims[axis]);
      std::vector<int8_t> codes(x.size());
      q.quantize(x, dims, codes);
      for (std::size_t c = 0; c < dims[axis]; ++c) {
        std::vector<float> slice;
        std::vector<int8_t> slice_codes;
        for (std::size_t i = 0; i < 3; ++i) {
          for (std::size_t j = 0; j < 4; ++j) {
            for (std::size_t k = 0; k < 5; ++k) {
              const std::size_t idx[] = {i, j, k};
              if (idx[axis] != c) continue;
              slice.push_back(x[(i * 4 + j) * 5 + k]);
              slice_codes.push_back(codes[(i * 4 + j) * 5 + k]);
            }
          }
        }
        const auto expected = SymmetricQuantizer<int8_t, true>::from_data(slice);
        REQUIRE(q.params()[c] == expected.params());
        for (std::size_t i = 0; i < slice.size(); ++i)
          REQUIRE(slice_codes[i] == expected.quantize(slice[i]));
      }
      std::vector<float> back(x.size());
      q.dequantize(codes, dims, back);
      for (std::size_t i = 0; i < x.size(); ++i)
        REQUIRE(std::fabs(back[i] - x[i]) <= 2.0f / 127 * 0.5001f);
    }
  }
}

TEST_CASE("per-group parameters cover each group of each row", "[quantizer]") {
  test::Rng rng;
  SECTION("groups along the last axis (weights [N, K])") {
    const std::vector<std::size_t> dims{3, 10};
    const std::vector<float> x = rng.reals(30, -1.0f, 1.0f);
    const auto q = PerGroupQuantizer<int8_t, Symmetric<>>::from_data(x, dims, 1, 4);
    REQUIRE(q.params().size() == 9);  // 3 rows x ceil(10 / 4) groups
    CHECK(q.axis() == 1);
    CHECK(q.group_size() == 4);
    CHECK(q.dims() == dims);
    std::vector<int8_t> codes(30);
    q.quantize(x, codes);
    for (std::size_t row = 0; row < 3; ++row) {
      for (std::size_t g = 0; g < 3; ++g) {
        const std::size_t first = row * 10 + g * 4;
        const std::size_t last = std::min(row * 10 + 10, first + 4);
        const auto expected = SymmetricQuantizer<int8_t>::from_data(
            Span<const float>(x.data() + first, last - first));
        REQUIRE(q.params()[row * 3 + g] == expected.params());
        for (std::size_t i = first; i < last; ++i) REQUIRE(codes[i] == expected.quantize(x[i]));
      }
    }
  }
  SECTION("groups along a leading axis") {
    const std::vector<std::size_t> dims{5, 2};
    const std::vector<float> x = rng.reals(10, -1.0f, 4.0f);
    const auto q = PerGroupQuantizer<uint8_t>::from_data(x, dims, 0, 2);
    REQUIRE(q.params().size() == 6);  // ceil(5 / 2) groups x 2 columns
    for (std::size_t g = 0; g < 3; ++g) {
      for (std::size_t col = 0; col < 2; ++col) {
        std::vector<float> group;
        for (std::size_t r = g * 2; r < std::min<std::size_t>(5, g * 2 + 2); ++r)
          group.push_back(x[r * 2 + col]);
        REQUIRE(q.params()[g * 2 + col] == AffineQuantizer<uint8_t>::from_data(group).params());
      }
    }
  }
}

TEST_CASE("quantizers reject invalid parameters and shapes", "[quantizer][error]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(AffineQuantizer<uint8_t>::create({-1.0f, 0}), Error);
  CHECK_THROWS_AS(SymmetricQuantizer<int8_t>::create({1.0f, 5}), Error);
  CHECK_THROWS_AS(AffineQuantizer<uint8_t>::from_range(nan, 1.0f), Error);
  const std::vector<float> with_nan{1.0f, nan};
  CHECK_THROWS_AS(AffineQuantizer<uint8_t>::from_data(with_nan), Error);
  const std::vector<std::size_t> dims{2, 3};
  const std::vector<float> x(6, 1.0f);
  CHECK_THROWS_AS((PerAxisQuantizer<int8_t>::from_data(x, dims, 2)), Error);
  const auto q = PerAxisQuantizer<int8_t>::from_data(x, dims, 1);
  std::vector<int8_t> codes(6);
  const std::vector<std::size_t> wrong{3, 2};
  CHECK_THROWS_AS(q.quantize(x, wrong, codes), Error);
  CHECK_THROWS_AS((PerGroupQuantizer<int8_t>::from_data(x, dims, 1, 0)), Error);
  CHECK_THROWS_AS((PerGroupQuantizer<int8_t>::create(dims, 1, 2, std::vector<QuantParams>(3))),
                  Error);
  CHECK_THROWS_AS((PerAxisQuantizer<int8_t>::create(0, {})), Error);
}
