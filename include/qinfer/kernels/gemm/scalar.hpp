// SPDX-License-Identifier: Apache-2.0
//
// The portable GEMM kernel over packed weights (kernels/gemm/packing.hpp): raw sums
// acc[m][n] = sum_k a'[m][k] b'[k][n] of one gemm_mr x gemm_nr tile, modulo 2^32. The SIMD
// kernels compute the same tile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/kernels/gemm/packing.hpp"

namespace qinfer {

inline constexpr std::size_t gemm_mr = 8;  // rows per tile

// The uint8 code the kernels multiply: int8 activations are shifted into uint8 by flipping the
// top bit (see packing.hpp).
template <class TA>
constexpr uint8_t activation_code(TA a) noexcept {
  return std::is_same_v<TA, int8_t> ? static_cast<uint8_t>(static_cast<uint8_t>(a) ^ 0x80u)
                                    : static_cast<uint8_t>(a);
}

namespace kernels::scalar {

// Rows [0, mr) of A (row stride lda) times one packed panel; acc is gemm_mr x gemm_nr.
template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t mr, std::size_t k, const int8_t* panel,
               int32_t* acc) noexcept {
  for (std::size_t m = 0; m < mr; ++m) {
    for (std::size_t n = 0; n < gemm_nr; ++n) {
      uint32_t sum = 0;
      for (std::size_t p = 0; p < k; ++p) {
        const int32_t b = panel[((p / gemm_kr) * gemm_nr + n) * gemm_kr + p % gemm_kr];
        sum += static_cast<uint32_t>(int32_t{activation_code(a[m * lda + p])} * b);
      }
      acc[m * gemm_nr + n] = static_cast<int32_t>(sum);
    }
  }
}

}  // namespace kernels::scalar
}  // namespace qinfer
