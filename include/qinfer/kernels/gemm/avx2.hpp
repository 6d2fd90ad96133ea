// SPDX-License-Identifier: Apache-2.0
//
// AVX2 GEMM micro-kernels. AVX2 has no u8 x s8 dot product into int32; its vpmaddubsw sums
// two u8 x s8 products into a *saturating* int16, which is exact only when the products are
// small enough: 2 x 255 x 64 = 32640 fits, 2 x 255 x 128 = 65280 does not. So there are two:
//
// - 7-bit, 4x32c4: vpmaddubsw then vpmaddwd by ones (int16 pairs into int32), for weights
//   whose quantizer type bounds their codes to [-64, 63] (PackedWeights::seven_bit, set by
//   pack_weights<SymmetricSevenBit> and the like). 3 instructions per 32 multiply-adds.
// - exact, 3x32c4: weights sign-extended and activations zero-extended to int16, then vpmaddwd
//   (int16 pairs into int32, exact for any 8-bit codes) and an add; the int32 lanes then hold
//   two partial sums per column, which are folded once per tile. About 6 instructions per 32
//   multiply-adds: the price of exactness on full-range weights.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::avx2 {

inline constexpr std::size_t mr_seven_bit = 4;
inline constexpr std::size_t mr_exact = 3;

// Rows x 32 columns in two passes of 16 columns, as the AVX-VNNI kernel does.
template <std::size_t Rows, class TA>
__attribute__((target("avx2"))) void gemm_rows_seven_bit(const TA* a, std::size_t lda,
                                                         std::size_t k, const int8_t* panel,
                                                         const int32_t* init,
                                                         int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  const std::size_t full_groups = k / gemm_kr, tail = k % gemm_kr;
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    __m256i sum[Rows][2];
    const auto* column_init = reinterpret_cast<const __m256i*>(init + half * (gemm_nr / 2));
#pragma GCC unroll 16
    for (auto& row : sum) {
      row[0] = _mm256_loadu_si256(column_init);
      row[1] = _mm256_loadu_si256(column_init + 1);
    }
    const auto accumulate = [&](std::size_t g, auto&& word_of_row)
        __attribute__((always_inline, target("avx2"))) {
      const __m256i b0 =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weights + g * gemm_nr * gemm_kr));
      const __m256i b1 = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(weights + g * gemm_nr * gemm_kr + 32));
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        const __m256i a4 = _mm256_set1_epi32(static_cast<int>(word_of_row(a + m * lda)));
        sum[m][0] =
            _mm256_add_epi32(sum[m][0], _mm256_madd_epi16(_mm256_maddubs_epi16(a4, b0), ones));
        sum[m][1] =
            _mm256_add_epi32(sum[m][1], _mm256_madd_epi16(_mm256_maddubs_epi16(a4, b1), ones));
      }
    };
    for (std::size_t g = 0; g < full_groups; ++g) {
      accumulate(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
    }
    if (tail != 0) {
      accumulate(full_groups, [&](const TA* row) {
        return activation_tail_word(row, full_groups * gemm_kr, mask, tail);
      });
    }
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      int32_t* out = acc + m * gemm_nr + half * (gemm_nr / 2);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sum[m][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), sum[m][1]);
    }
  }
}

// Rows x 32 columns in two passes of 16: four int16 weight vectors of 4 columns x 4 k each,
// 12 accumulators at 3 rows (3 rows ran about 7% faster than 2 at 1024^3; 4 were no faster).
template <std::size_t Rows, class TA>
__attribute__((target("avx2"))) void gemm_rows_exact(const TA* a, std::size_t lda, std::size_t k,
                                                     const int8_t* panel, const int32_t* init,
                                                     int32_t* acc) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  constexpr std::size_t vectors = 4;  // int16 weight vectors per pass
  const std::size_t full_groups = k / gemm_kr, tail = k % gemm_kr;
  for (std::size_t half = 0; half < 2; ++half) {
    const int8_t* weights = panel + half * (gemm_nr / 2) * gemm_kr;
    // Lanes 2c and 2c + 1 of sum[m][v] hold the partial sums over k = 0, 1 and k = 2, 3 (mod 4)
    // of column 4v + c.
    __m256i sum[Rows][vectors];
#pragma GCC unroll 16
    for (auto& row : sum) {
#pragma GCC unroll 16
      for (auto& v : row) v = _mm256_setzero_si256();
    }
    const auto accumulate = [&](std::size_t g, auto&& word_of_row)
        __attribute__((always_inline, target("avx2"))) {
      __m256i b[vectors];
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        b[v] = _mm256_cvtepi8_epi16(_mm_loadu_si128(
            reinterpret_cast<const __m128i*>(weights + g * gemm_nr * gemm_kr + 16 * v)));
      }
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        const __m256i a4 =
            _mm256_cvtepu8_epi16(_mm_set1_epi32(static_cast<int>(word_of_row(a + m * lda))));
#pragma GCC unroll 16
        for (std::size_t v = 0; v < vectors; ++v) {
          sum[m][v] = _mm256_add_epi32(sum[m][v], _mm256_madd_epi16(a4, b[v]));
        }
      }
    };
    for (std::size_t g = 0; g < full_groups; ++g) {
      accumulate(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
    }
    if (tail != 0) {
      accumulate(full_groups, [&](const TA* row) {
        return activation_tail_word(row, full_groups * gemm_kr, mask, tail);
      });
    }
// hadd pairs the partial sums within 128-bit lanes as columns 0 1 4 5 | 2 3 6 7; the
// 64-bit permute puts them in order.
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      const std::size_t first = half * (gemm_nr / 2);
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; v += 2) {
        const __m256i pairs = _mm256_hadd_epi32(sum[m][v], sum[m][v + 1]);
        const __m256i start =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(init + first + 4 * v));
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(acc + m * gemm_nr + first + 4 * v),
            _mm256_add_epi32(start, _mm256_permute4x64_epi64(pairs, _MM_SHUFFLE(3, 1, 2, 0))));
      }
    }
  }
}

template <class TA>
void gemm_tile_seven_bit(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                         const int8_t* panel, const int32_t* init, int32_t* acc) noexcept {
  dispatch_rows<mr_seven_bit>(
      rows, [&](auto r) { gemm_rows_seven_bit<decltype(r)::value>(a, lda, k, panel, init, acc); });
}

template <class TA>
void gemm_tile_exact(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                     const int8_t* panel, const int32_t* init, int32_t* acc) noexcept {
  dispatch_rows<mr_exact>(
      rows, [&](auto r) { gemm_rows_exact<decltype(r)::value>(a, lda, k, panel, init, acc); });
}

template <class TA>
constexpr GemmMicrokernel<TA> gemm_microkernel(bool seven_bit_weights) noexcept {
  if (seven_bit_weights) {
    return {"avx2 vpmaddubsw (7-bit weights) 4x32c4",
            Isa::avx2,
            mr_seven_bit,
            gemm_nr,
            gemm_kr,
            0,
            &gemm_tile_seven_bit<TA>};
  }
  return {"avx2 vpmaddwd (exact) 3x32c4",
          Isa::avx2,
          mr_exact,
          gemm_nr,
          gemm_kr,
          0,
          &gemm_tile_exact<TA>};
}

}  // namespace qinfer::kernels::avx2
#endif
