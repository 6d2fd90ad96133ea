// SPDX-License-Identifier: Apache-2.0
#include "qinfer/ops/pool.hpp"

#include <catch2/catch.hpp>
#include <vector>

#include "qinfer/reference/pool.hpp"
#include "support/random.hpp"

namespace qinfer {
namespace {

template <class T>
void compare_with_reference(test::Rng& rng) {
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t kernel = rng.size(1, 4), stride = rng.size(1, 3);
    const MaxPoolShape s{rng.size(1, 3),
                         rng.size(1, 37),
                         {rng.size(kernel, 19), kernel, stride, 1, 0, 0},
                         {rng.size(kernel, 19), kernel, stride, 1, 0, 0}};
    REQUIRE(check_max_pool<T>(s));
    const std::vector<T> in = rng.integers<T>(s.batch * s.h.input * s.w.input * s.channels,
                                              StorageTraits<T>::min, StorageTraits<T>::max);
    const std::size_t out_size = s.batch * s.h.output() * s.w.output() * s.channels;
    std::vector<T> ours(out_size), expected(out_size);
    max_pool(s, in.data(), ours.data());
    reference::max_pool2d<T>({s.batch, s.channels, s.h, s.w}, in, expected);
    INFO("trial " << trial);
    REQUIRE(ours == expected);
  }
}

TEST_CASE("max_pool matches the reference on NHWC windows without padding", "[ops][pool]") {
  test::Rng rng(21);
  compare_with_reference<uint8_t>(rng);
  compare_with_reference<int8_t>(rng);
}

TEST_CASE("max_pool rejects padding and windows that do not fit", "[ops][pool][errors]") {
  CHECK_FALSE(check_max_pool<uint8_t>({1, 1, {4, 2, 2, 1, 1, 0}, {4, 2, 2, 1, 0, 0}}));
  CHECK_FALSE(check_max_pool<uint8_t>({1, 1, {1, 2, 2, 1, 0, 0}, {4, 2, 2, 1, 0, 0}}));
  CHECK(check_max_pool<uint8_t>({1, 1, {4, 2, 2, 1, 0, 0}, {4, 2, 2, 1, 0, 0}}));
}

}  // namespace
}  // namespace qinfer
