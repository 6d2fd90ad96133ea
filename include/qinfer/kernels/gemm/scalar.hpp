// SPDX-License-Identifier: Apache-2.0
//
// The portable GEMM micro-kernel (the contract is in kernels/gemm/microkernel.hpp): the
// definition the SIMD kernels are tested against, and the path of CPUs without one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/kernels/gemm/packing.hpp"

namespace qinfer::kernels::scalar {

inline constexpr std::size_t mr = 8;

template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t rows, std::size_t k, const int8_t* panel,
               const int32_t* init, int32_t* acc) noexcept {
  for (std::size_t m = 0; m < rows; ++m) {
    for (std::size_t n = 0; n < gemm_nr; ++n) {
      auto sum = static_cast<uint32_t>(init[n]);
      for (std::size_t p = 0; p < k; ++p) {
        const int32_t b = panel[((p / gemm_kr) * gemm_nr + n) * gemm_kr + p % gemm_kr];
        sum += static_cast<uint32_t>(int32_t{activation_code(a[m * lda + p])} * b);
      }
      acc[m * gemm_nr + n] = static_cast<int32_t>(sum);
    }
  }
}

template <class TA>
constexpr GemmMicrokernel<TA> gemm_microkernel() noexcept {
  return {"scalar 8x32c4", Isa::scalar, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::scalar
