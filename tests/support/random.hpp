// SPDX-License-Identifier: Apache-2.0
// Seeded random test data: every failure reproduces.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace qinfer::test {

class Rng {
 public:
  explicit Rng(uint32_t seed = 20261126u) : engine_(seed) {}

  int64_t integer(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(engine_);
  }
  std::size_t size(std::size_t lo, std::size_t hi) {
    return static_cast<std::size_t>(integer(static_cast<int64_t>(lo), static_cast<int64_t>(hi)));
  }
  float real(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(engine_); }
  bool coin() { return integer(0, 1) == 1; }

  template <class T>
  std::vector<T> integers(std::size_t n, int64_t lo, int64_t hi) {
    std::vector<T> v(n);
    for (T& x : v) x = static_cast<T>(integer(lo, hi));
    return v;
  }
  std::vector<float> reals(std::size_t n, float lo, float hi) {
    std::vector<float> v(n);
    for (float& x : v) x = real(lo, hi);
    return v;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace qinfer::test
