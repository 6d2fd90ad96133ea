// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstdint>

#include "qinfer/core/aligned.hpp"

TEST_CASE("aligned vectors start on a cache line whatever their size", "[aligned]") {
  for (std::size_t n : {1, 3, 64, 1000, 1 << 20}) {
    qinfer::AlignedVector<int8_t> v(n, 1);
    CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % qinfer::cache_line == 0);
    v.resize(3 * n + 5);
    CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % qinfer::cache_line == 0);
    CHECK(v[0] == 1);
  }
}
