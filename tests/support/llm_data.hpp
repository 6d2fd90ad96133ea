// SPDX-License-Identifier: Apache-2.0
// The data of the LLM accuracy tests: Gaussian activations a [M, K] and weights w [N, K], and the
// same with 4 of the K input channels 20-50x larger, in the weights or in the activations, as
// real LLM weights and activations have (K > 3333).
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace qinfer::test {

struct LlmData {
  std::size_t m, n, k;
  std::vector<float> a, w;                    // Gaussian
  std::vector<float> a_outliers, w_outliers;  // 4 channels 20-50x larger
};

inline LlmData llm_data(std::size_t m, std::size_t n, std::size_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  LlmData d{m, n, k, std::vector<float>(m * k), std::vector<float>(n * k), {}, {}};
  for (float& v : d.a) v = gauss(rng);
  for (float& v : d.w) v = gauss(rng);
  d.a_outliers = d.a;
  d.w_outliers = d.w;
  const std::size_t channels[] = {17, 1000, 2047, 3333};
  const float factors[] = {20.0f, 30.0f, 40.0f, 50.0f};
  for (std::size_t c = 0; c < 4; ++c) {
    for (std::size_t j = 0; j < n; ++j) d.w_outliers[j * k + channels[c]] *= factors[c];
    for (std::size_t i = 0; i < m; ++i) d.a_outliers[i * k + channels[c]] *= factors[c];
  }
  return d;
}

}  // namespace qinfer::test
