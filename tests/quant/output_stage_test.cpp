// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "qinfer/quant/output_stage.hpp"

using namespace qinfer;

TEST_CASE("fused activations become quantized clamp bounds", "[output_stage]") {
  const QuantParams p{0.1f, 10};
  CHECK(activation_bounds<uint8_t>(Activation::none, p).min == 0);
  CHECK(activation_bounds<uint8_t>(Activation::relu, p).min == 10);
  CHECK(activation_bounds<uint8_t>(Activation::relu6, p).max == 70);
  CHECK(activation_bounds<int8_t>(Activation::relu6, {0.01f, -128}).max ==
        127);  // 6.0 is past the range
}

TEST_CASE("output stages apply bias-free accumulators per channel", "[output_stage]") {
  const std::vector<float> scales{0.5f, 0.25f};
  const RequantizeFloat<int8_t> requant{scales, 3, -10, 10};
  CHECK(requant(4, 0) == 5);     // 2 + 3
  CHECK(requant(4, 1) == 4);     // 1 + 3
  CHECK(requant(100, 0) == 10);  // clamped
  const DequantizeFloat deq{scales};
  CHECK(deq(4, 1) == 1.0f);
  const std::vector<QuantizedMultiplier> ms{quantize_multiplier(0.5), quantize_multiplier(0.25)};
  const RequantizeFixedPoint<uint8_t> fixed{ms, 128};
  CHECK(fixed(10, 0) == 133);
  CHECK(fixed(-10, 1) == 125);  // -2.5 rounds away from zero
  CHECK(fixed(100000, 0) == 255);
}

TEST_CASE("output stages reject bad parameters", "[output_stage][error]") {
  const std::vector<float> two{0.5f, 0.5f};
  CHECK(RequantizeFloat<int8_t>{two, 0}.check(3).code() == Errc::shape_mismatch);
  CHECK(RequantizeFloat<int8_t>{two, 0}.check(2).ok());
  const std::vector<float> bad{0.0f};
  CHECK(RequantizeFloat<int8_t>{bad, 0}.check(3).code() == Errc::invalid_scale);
  CHECK(DequantizeFloat{bad}.check(1).code() == Errc::invalid_scale);
  const std::vector<float> one{0.5f};
  CHECK(RequantizeFloat<uint8_t>{one, 300}.check(1).code() == Errc::invalid_zero_point);
  CHECK(RequantizeFloat<uint8_t>{one, 0, 10, 5}.check(1).code() == Errc::invalid_argument);
  const std::vector<QuantizedMultiplier> raw{{12345, 0}};
  CHECK(RequantizeFixedPoint<int8_t>{raw, 0}.check(1).code() == Errc::invalid_scale);
  // Every invalid value, alone or at any place in a long per-channel span (the check runs
  // without an early exit); the smallest denormal and the largest float are valid.
  using Limits = std::numeric_limits<float>;
  for (float v : {-0.0f, -1.0f, -Limits::min(), Limits::quiet_NaN(), -Limits::quiet_NaN(),
                  Limits::infinity(), -Limits::infinity()}) {
    for (std::size_t at : {std::size_t{0}, std::size_t{37}, std::size_t{999}}) {
      std::vector<float> many(1000, 0.01f);
      many[at] = v;
      INFO("value " << v << " at " << at);
      CHECK(RequantizeFloat<uint8_t>{many, 0}.check(1000).code() == Errc::invalid_scale);
      CHECK(DequantizeFloat{many}.check(1000).code() == Errc::invalid_scale);
    }
  }
  const std::vector<float> extremes{Limits::denorm_min(), Limits::max()};
  CHECK(RequantizeFloat<int8_t>{extremes, 0}.check(2).ok());
  CHECK(DequantizeFloat{extremes}.check(2).ok());
}
