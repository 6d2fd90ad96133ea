// SPDX-License-Identifier: Apache-2.0
#include "qinfer/calib/observer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace qinfer::calib {
namespace {

// A span over a temporary list, alive for the full expression.
Span<const float> values(const std::vector<float>& v) {
  return v;
}

TEST_CASE("MinMaxObserver keeps the extremes over batches", "[calib]") {
  MinMaxObserver o;
  CHECK(o.range().min == 0.0f);
  CHECK(o.range().max == 0.0f);
  o.observe(values({1.0f, -2.0f}));
  o.observe(values({3.5f}));
  CHECK(o.range().min == -2.0f);
  CHECK(o.range().max == 3.5f);
  CHECK_THROWS_AS(o.observe(values({std::nanf("")})), Error);
  CHECK_THROWS_AS(o.observe(values({std::numeric_limits<float>::infinity()})), Error);
}

TEST_CASE("MovingAverageMinMaxObserver moves toward each batch's extremes", "[calib]") {
  MovingAverageMinMaxObserver o(0.5f);
  o.observe(values({0.0f, 4.0f}));
  o.observe(values({-2.0f, 8.0f}));
  CHECK(o.range().min == -1.0f);
  CHECK(o.range().max == 6.0f);
}

// A long-tailed non-negative distribution (exponential, as activations after a ReLU often look).
std::vector<float> long_tailed() {
  std::mt19937 rng(1);
  std::exponential_distribution<float> e(1.0f);
  std::vector<float> x(100000);
  for (float& v : x) v = e(rng);
  return x;
}

// Mean squared error of quantizing x to 255 steps over [0, t].
double quantization_error(const std::vector<float>& x, float t) {
  const double step = double{t} / 255.0;
  double error = 0.0;
  for (float v : x) {
    const double q = std::min(std::nearbyint(v / step), 255.0) * step;
    error += (v - q) * (v - q);
  }
  return error / static_cast<double>(x.size());
}

TEST_CASE("HistogramObserver rules clip the tail of a long-tailed distribution", "[calib]") {
  HistogramObserver o;
  const std::vector<float> x = long_tailed();
  // Observed in pieces, so that the histogram grows while it fills.
  for (std::size_t i = 0; i < x.size(); i += 1000) {
    o.observe(Span<const float>(x.data() + i, 1000));
  }
  const float largest = *std::max_element(x.begin(), x.end());
  const Range all = o.range(HistogramRule::percentile, 255, 100.0);
  CHECK(all.max == largest);
  // P(x > t) = exp(-t): the 99th percentile is ln(100) = 4.6, to the histogram's resolution.
  const Range p99 = o.range(HistogramRule::percentile, 255, 99.0);
  CHECK(p99.min >= 0.0f);
  CHECK(p99.max == Approx(std::log(100.0f)).margin(0.05f));
  const Range entropy = o.range(HistogramRule::entropy, 255);
  CHECK(entropy.max > p99.max);
  CHECK(entropy.max < largest);
  const Range mse = o.range(HistogramRule::mse, 255);
  CHECK(mse.max < largest);
  CHECK(quantization_error(x, mse.max) < quantization_error(x, largest));
}

TEST_CASE("HistogramObserver keeps the sign of symmetric data", "[calib]") {
  HistogramObserver o;
  std::mt19937 rng(2);
  std::normal_distribution<float> g;
  std::vector<float> x(50000);
  for (float& v : x) v = g(rng);
  o.observe(x);
  const Range r = o.range(HistogramRule::percentile, 255, 99.9);
  CHECK(r.min == Approx(-3.29f).margin(0.15f));
  CHECK(r.max == Approx(3.29f).margin(0.15f));
  const Range m = o.range(HistogramRule::mse, 255);
  CHECK(m.max > 2.5f);
  CHECK(m.max < 5.0f);
}

}  // namespace
}  // namespace qinfer::calib
