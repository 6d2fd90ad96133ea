// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/quant/quantize.hpp"

using namespace qinfer;

TEST_CASE("a failed check throws qinfer::Error carrying the code and naming the argument",
          "[error]") {
  std::vector<float> x(4, 1.0f);
  std::vector<int8_t> q(4);
  try {
    quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {-1.0f, 0});
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.status().code() == Errc::invalid_scale);
    CHECK(std::string(e.what()).find("scale") != std::string::npos);
    CHECK(std::string(e.what()).rfind("qinfer: invalid scale", 0) == 0);
  }
}

TEST_CASE("Expected holds a value or a status", "[error]") {
  Expected<int> value(7);
  REQUIRE(value.ok());
  CHECK(*value == 7);
  Expected<int> error(Status(Errc::shape_mismatch, "x"));
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == Errc::shape_mismatch);
}

TEST_CASE("element counts that overflow size_t are reported, not wrapped", "[error]") {
  const std::size_t fits[] = {1u << 20, 1u << 20};
  CHECK(element_count(fits) == (std::size_t{1} << 40));
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2 + 1;
  const std::size_t overflows[] = {huge, 2};
  CHECK_THROWS_MATCHES(element_count(overflows), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.status().code() == Errc::size_overflow;
                       }));
}

TEST_CASE("matrix views check strides and null data", "[error]") {
  int8_t storage[4] = {};
  CHECK(check_view(MatrixView<int8_t>{storage, 2, 2, 2, 1}, "m").ok());
  CHECK(check_view(MatrixView<int8_t>{nullptr, 0, 5, 5, 1}, "m").ok());
  CHECK(check_view(MatrixView<int8_t>{nullptr, 1, 1, 1, 1}, "m").code() == Errc::null_pointer);
  const std::size_t half = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(check_view(MatrixView<int8_t>{storage, 3, 1, half, 1}, "m").ok());  // last offset max - 1
  CHECK(check_view(MatrixView<int8_t>{storage, 3, 1, half + 1, 1}, "m").code() ==
        Errc::size_overflow);
  CHECK(check_view(MatrixView<int8_t>{storage, 1, 3, 1, half + 1}, "m").code() ==
        Errc::size_overflow);
}
