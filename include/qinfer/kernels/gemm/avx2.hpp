// SPDX-License-Identifier: Apache-2.0
//
// AVX2 GEMM micro-kernels. AVX2 has no u8 x s8 dot product into int32; its vpmaddubsw sums
// two u8 x s8 products into a *saturating* int16, which is exact only when the products are
// small enough: 2 x 255 x 64 = 32640 fits, 2 x 255 x 128 = 65280 does not. So there are two:
//
// - 7-bit, 4x32c4: vpmaddubsw then vpmaddwd by ones (int16 pairs into int32), for weights
//   whose quantizer type bounds their codes to [-64, 63] (PackedWeights::seven_bit, set by
//   pack_weights<SymmetricSevenBit> and the like). 3 instructions per 32 multiply-adds.
// - exact, 4x32c4: the even k (0, 2) and the odd k (1, 3) of each group, weights sign-extended
//   and activations zero-extended to int16 by shifts, then vpmaddwd (int16 pairs into int32,
//   exact for any 8-bit codes) and an add each: about 6 instructions per 32 multiply-adds, the
//   price of exactness on full-range weights.

#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/quant/convert/avx2.hpp"

namespace qinfer::kernels::avx2 {

inline constexpr std::size_t mr_seven_bit = 4;
// 8 accumulators: 5 rows spilled them.
inline constexpr std::size_t mr_exact = 4;
// Columns per pass of every ymm kernel (this file's and AVX-VNNI's): half a panel.
inline constexpr std::size_t pass_nr = gemm_nr / 2;

// sum += the 7-bit products of Rows rows of k activations (lda apart) with 16 columns of packed
// groups from `weights` (the first or second 64 bytes of each 128-byte group): vpmaddubsw, then
// vpmaddwd by ones. WholeGroups: k is a multiple of gemm_kr (a run of a window).
template <std::size_t Rows, class TA, bool WholeGroups = false>
__attribute__((always_inline, target("avx2"))) inline void accumulate_run_seven_bit(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* weights,
    __m256i (&sum)[Rows][2]) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  const std::size_t full_groups = k / gemm_kr, tail = WholeGroups ? 0 : k % gemm_kr;
  const __m256i ones = _mm256_set1_epi16(1);
  const auto step = [&](std::size_t g, auto&& word_of_row)
      __attribute__((always_inline, target("avx2"))) {
    const int8_t* group = weights + g * gemm_nr * gemm_kr;
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 32));
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
    step(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
  }
  if (tail != 0) {
    step(full_groups, [&](const TA* row) {
      return activation_tail_word(row, full_groups * gemm_kr, mask, tail);
    });
  }
}

// The 7-bit sums of Rows rows x 16 columns from their initial terms at `init`, each row's k
// values in `runs`.
template <std::size_t Rows, class TA>
__attribute__((always_inline, target("avx2"))) inline void accumulate_seven_bit(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* weights, const int32_t* init,
    __m256i (&sum)[Rows][2], RowRuns runs) noexcept {
  const auto* column_init = reinterpret_cast<const __m256i*>(init);
#pragma GCC unroll 16
  for (auto& row : sum) {
    row[0] = _mm256_loadu_si256(column_init);
    row[1] = _mm256_loadu_si256(column_init + 1);
  }
  if (runs.count == 1) {
    accumulate_run_seven_bit(a, lda, k, weights, sum);
    return;
  }
  const std::size_t run_k = k / runs.count, run_bytes = packed_run_bytes(run_k);
  for (std::size_t run = 0; run < runs.count; ++run) {
    accumulate_run_seven_bit<Rows, TA, true>(a + run * runs.pitch, lda, run_k,
                                             weights + run * run_bytes, sum);
  }
}

// sum[m][v] += the exact products of Rows rows with columns 8v .. 8v + 7 of packed groups. A
// group's 32 bytes of 8 columns are 16 int16 lanes, lane 2c holding k = 0, 1 and lane 2c + 1
// k = 2, 3 of column c: shifts sign-extend the even k (0, 2) and the odd k (1, 3) of each column
// into the lanes of two vectors, and the same on a row's broadcast word (zero-extending) gives the
// activations they pair with, so vpmaddwd sums two products per column into its own int32 lane.
// Per row and 8 columns 2 vpmaddwd and 2 adds; 8 accumulators, 4 weight and 2 activation vectors
// leave the 4-row tile in registers.
template <std::size_t Rows, class TA, bool WholeGroups = false>
__attribute__((always_inline, target("avx2"))) inline void accumulate_run_exact(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* weights,
    __m256i (&sum)[Rows][2]) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  const std::size_t full_groups = k / gemm_kr, tail = WholeGroups ? 0 : k % gemm_kr;
  const __m256i low_bytes = _mm256_set1_epi16(0xff);
  const auto step = [&](std::size_t g, auto&& word_of_row)
      __attribute__((always_inline, target("avx2"))) {
    __m256i even[2], odd[2];
#pragma GCC unroll 2
    for (std::size_t v = 0; v < 2; ++v) {
      const __m256i b = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(weights + g * gemm_nr * gemm_kr + 32 * v));
      even[v] = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8);
      odd[v] = _mm256_srai_epi16(b, 8);
    }
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      const __m256i a4 = _mm256_set1_epi32(static_cast<int>(word_of_row(a + m * lda)));
      const __m256i a_even = _mm256_and_si256(a4, low_bytes), a_odd = _mm256_srli_epi16(a4, 8);
#pragma GCC unroll 2
      for (std::size_t v = 0; v < 2; ++v) {
        sum[m][v] = _mm256_add_epi32(sum[m][v], _mm256_madd_epi16(a_even, even[v]));
        sum[m][v] = _mm256_add_epi32(sum[m][v], _mm256_madd_epi16(a_odd, odd[v]));
      }
    }
  };
  for (std::size_t g = 0; g < full_groups; ++g) {
    step(g, [&](const TA* row) { return activation_word(row, g * gemm_kr, mask); });
  }
  if (tail != 0) {
    step(full_groups, [&](const TA* row) {
      return activation_tail_word(row, full_groups * gemm_kr, mask, tail);
    });
  }
}

// The exact sums of Rows rows x 16 columns from their initial terms at `init`, each row's k
// values in `runs`.
template <std::size_t Rows, class TA>
__attribute__((always_inline, target("avx2"))) inline void accumulate_exact(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* weights, const int32_t* init,
    __m256i (&sum)[Rows][2], RowRuns runs) noexcept {
  const auto* column_init = reinterpret_cast<const __m256i*>(init);
#pragma GCC unroll 16
  for (auto& row : sum) {
    row[0] = _mm256_loadu_si256(column_init);
    row[1] = _mm256_loadu_si256(column_init + 1);
  }
  if (runs.count == 1) {
    accumulate_run_exact(a, lda, k, weights, sum);
    return;
  }
  const std::size_t run_k = k / runs.count, run_bytes = packed_run_bytes(run_k);
  for (std::size_t run = 0; run < runs.count; ++run) {
    accumulate_run_exact<Rows, TA, true>(a + run * runs.pitch, lda, run_k,
                                         weights + run * run_bytes, sum);
  }
}

// Rows x 32 columns in two passes of 16 columns, as the AVX-VNNI kernel does.
template <std::size_t Rows, class TA, bool SevenBit>
__attribute__((target("avx2"))) void gemm_rows(const TA* a, std::size_t lda, std::size_t k,
                                               const int8_t* panel, const int32_t* init,
                                               int32_t* acc) noexcept {
  for (std::size_t first = 0; first < gemm_nr; first += pass_nr) {
    __m256i sum[Rows][2];
    if constexpr (SevenBit) {
      accumulate_seven_bit(a, lda, k, panel + first * gemm_kr, init + first, sum, {});
    } else {
      accumulate_exact(a, lda, k, panel + first * gemm_kr, init + first, sum, {});
    }
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      int32_t* out = acc + m * gemm_nr + first;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sum[m][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), sum[m][1]);
    }
  }
}

// The fused epilogue of the ymm kernels, for one pass of Rows rows x 16 columns (sum[m][v]
// holds columns 8v .. 8v + 7 of row m): the zero-point term, the stage and the 8-bit store of
// the pass's columns [first, first + count) of the tile, count in 1..16, straight from the
// accumulators. Rows go out two to a pack (32 bytes); columns past `count` form no address.
template <std::size_t Rows, class Stage>
__attribute__((always_inline, target("avx2"))) inline void store_fused(
    __m256i (&sum)[Rows][2], const convert::avx2::StageLanes<Stage>& stage,
    const TileOutput<typename Stage::Output>& out, std::size_t first, std::size_t count) noexcept {
  if (out.zb != nullptr) {
#pragma GCC unroll 2
    for (std::size_t v = 0; v < 2; ++v) {
      const __m256i zb =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out.zb + first + 8 * v));
#pragma GCC unroll 16
      for (std::size_t m = 0; m < Rows; ++m) {
        const __m256i row_sum = _mm256_set1_epi32(static_cast<int>(out.row_sums[m]));
        sum[m][v] = _mm256_sub_epi32(sum[m][v], _mm256_mullo_epi32(zb, row_sum));
      }
    }
  }
  const std::size_t channel = out.first_channel + first;
  const auto m0 = stage.multiplier(channel, count < 8 ? count : 8);
  const auto m1 = count > 8 ? stage.multiplier(channel + 8, count - 8) : m0;
  typename Stage::Output* c = out.c + first;
#pragma GCC unroll 16
  for (std::size_t m = 0; m < Rows; m += 2) {
    const std::size_t next = m + 1 < Rows ? m + 1 : m;
    const __m256i bytes =
        stage.pack(stage.levels(sum[m][0], m0), stage.levels(sum[m][1], m1),
                   stage.levels(sum[next][0], m0), stage.levels(sum[next][1], m1));
    convert::avx2::store_first(c + m * out.ldc, _mm256_castsi256_si128(bytes), count);
    if (next != m) {
      convert::avx2::store_first(c + next * out.ldc, _mm256_extracti128_si256(bytes, 1), count);
    }
  }
}

// The tile's sums go through the stage straight from the accumulators to C, pass by pass over
// the columns C has.
template <std::size_t Rows, class TA, class Stage, bool SevenBit>
__attribute__((target("avx2"))) void gemm_rows_fused(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, const int32_t* init,
    RowRuns runs, const convert::avx2::StageLanes<Stage>& lanes,
    const TileOutput<typename Stage::Output>& out) noexcept {
  // A local copy: stores through the 8-bit output may alias anything, so the stage read through
  // the reference would be reloaded after each row.
  const convert::avx2::StageLanes<Stage> stage = lanes;
  for (std::size_t first = 0; first < out.columns; first += pass_nr) {
    __m256i sum[Rows][2];
    if constexpr (SevenBit) {
      accumulate_seven_bit(a, lda, k, panel + first * gemm_kr, init + first, sum, runs);
    } else {
      accumulate_exact(a, lda, k, panel + first * gemm_kr, init + first, sum, runs);
    }
    const std::size_t left = out.columns - first;
    store_fused(sum, stage, out, first, left < pass_nr ? left : pass_nr);
  }
}

template <class TA, class Stage, bool SevenBit>
void gemm_tile_fused(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                     const int8_t* panel, const int32_t* init, RowRuns runs,
                     const convert::avx2::StageLanes<Stage>& lanes,
                     const TileOutput<typename Stage::Output>& out) noexcept {
  dispatch_rows<SevenBit ? mr_seven_bit : mr_exact>(rows, [&](auto r) {
    gemm_rows_fused<decltype(r)::value, TA, Stage, SevenBit>(a, lda, k, panel, init, runs, lanes,
                                                             out);
  });
}

template <class TA, bool SevenBit>
void gemm_tile(const TA* a, std::size_t lda, std::size_t rows, std::size_t k, const int8_t* panel,
               const int32_t* init, int32_t* acc) noexcept {
  dispatch_rows<SevenBit ? mr_seven_bit : mr_exact>(rows, [&](auto r) {
    gemm_rows<decltype(r)::value, TA, SevenBit>(a, lda, k, panel, init, acc);
  });
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
            &gemm_tile<TA, true>};
  }
  return {"avx2 vpmaddwd (exact) 4x32c4", Isa::avx2, mr_exact, gemm_nr, gemm_kr, 0,
          &gemm_tile<TA, false>};
}

}  // namespace qinfer::kernels::avx2
#endif
