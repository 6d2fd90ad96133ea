// SPDX-License-Identifier: Apache-2.0
#include "qinfer/io/idx.hpp"

#include <catch2/catch.hpp>
#include <vector>

namespace qinfer::io {
namespace {

std::vector<uint8_t> idx_file(std::vector<uint32_t> dims, std::size_t data_bytes) {
  std::vector<uint8_t> f{0, 0, idx_type_uint8, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) f.push_back(static_cast<uint8_t>(d >> shift));
  }
  for (std::size_t i = 0; i < data_bytes; ++i) f.push_back(static_cast<uint8_t>(i * 7));
  return f;
}

IdxArray parse(const std::vector<uint8_t>& bytes) {
  return parse_idx(bytes);
}

TEST_CASE("parse_idx reads dimensions and data", "[io]") {
  const IdxArray a = parse(idx_file({2, 3, 4}, 24));
  CHECK(a.dims == std::vector<std::size_t>{2, 3, 4});
  REQUIRE(a.data.size() == 24);
  CHECK(a.data[5] == 35);
  CHECK(parse(idx_file({0}, 0)).data.empty());
}

TEST_CASE("parse_idx rejects malformed files", "[io][errors]") {
  CHECK_THROWS_AS(parse(std::vector<uint8_t>{}), Error);
  CHECK_THROWS_AS(parse(std::vector<uint8_t>{0, 0, 8}), Error);
  std::vector<uint8_t> f = idx_file({3}, 3);
  f[1] = 1;
  CHECK_THROWS_AS(parse(f), Error);  // magic
  f = idx_file({3}, 3);
  f[2] = 0x0d;
  CHECK_THROWS_AS(parse(f), Error);                // float data
  CHECK_THROWS_AS(parse(idx_file({}, 0)), Error);  // no dimensions
  CHECK_THROWS_AS(parse(idx_file({1, 1, 1, 1, 1}, 1)), Error);
  CHECK_THROWS_AS(parse(idx_file({2, 3}, 5)), Error);  // truncated data
  CHECK_THROWS_AS(parse(idx_file({2, 3}, 7)), Error);  // trailing bytes
  f = idx_file({2, 3}, 0);
  f.resize(9);
  CHECK_THROWS_AS(parse(f), Error);  // truncated header
  // Extents whose product overflows 64 bits.
  CHECK_THROWS_AS(parse(idx_file({0xffffffffu, 0xffffffffu, 0xffffffffu}, 0)), Error);
}

TEST_CASE("parse_idx never reads past any prefix of a valid file", "[io][errors]") {
  const std::vector<uint8_t> f = idx_file({4, 5}, 20);
  for (std::size_t n = 0; n < f.size(); ++n) {
    const std::vector<uint8_t> prefix(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(parse(prefix), Error);
  }
}

}  // namespace
}  // namespace qinfer::io
