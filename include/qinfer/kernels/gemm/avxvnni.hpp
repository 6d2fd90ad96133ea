// SPDX-License-Identifier: Apache-2.0
//
// AVX-VNNI GEMM micro-kernel, 6x32c4: vpdpbusd on ymm (u8 x s8, 4 k per lane). A pass covers
// 6 rows x 16 columns and two passes cover the panel (each weight byte is still loaded once per
// tile). Six rows give 12 independent accumulators: vpdpbusd's latency (5 cycles) times its
// throughput (2 per cycle) needs at least 10, and 4 rows (8 accumulators) ran 25-30% slower at
// 512^3-1024^3. 2 weight vectors and 6 broadcasts: 8 loads for 12 vpdpbusd, 15 of the 16 ymm.
//
// Two forms share the accumulation: the raw-sum tile of the micro-kernel contract, and the
// fused one the driver runs for requantizing stages, which applies the zero-point term and the
// stage to the accumulators in registers (kernels/gemm/avx2.hpp's store_fused), skips the pass
// over a last panel's second half when C has none of its columns, and takes rows in runs, so
// convolution windows can be read in place (ops/conv2d.hpp).
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/avx2.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/quant/convert/avx2.hpp"
#include "qinfer/quant/output_stage.hpp"

namespace qinfer::kernels::avxvnni {

inline constexpr std::size_t mr = 6;
using avx2::pass_nr;

// sum += the products of Rows rows of k activations (lda apart) with 16 columns of packed groups
// from `weights` (the first or second 64 bytes of each 128-byte group). WholeGroups: k is a
// multiple of gemm_kr (a run of a window), so no group needs the zero-padded tail word.
// The loops over groups and runs repeat avx2.hpp's on purpose: GCC inlines a body compiled for
// "avx2,avxvnni" only into callers compiled for both, so one loop shared with the AVX2 kernels
// would call this step out of line on every group.
template <std::size_t Rows, class TA, bool WholeGroups = false>
__attribute__((always_inline, target("avx2,avxvnni"))) inline void accumulate_run(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* weights,
    __m256i (&sum)[Rows][2]) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  const std::size_t full_groups = k / gemm_kr, tail = WholeGroups ? 0 : k % gemm_kr;
  const auto step = [&](std::size_t g, auto&& word_of_row)
      __attribute__((always_inline, target("avx2,avxvnni"))) {
    const int8_t* group = weights + g * gemm_nr * gemm_kr;
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 32));
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      const __m256i a4 = _mm256_set1_epi32(static_cast<int>(word_of_row(a + m * lda)));
      sum[m][0] = _mm256_dpbusd_avx_epi32(sum[m][0], a4, b0);
      sum[m][1] = _mm256_dpbusd_avx_epi32(sum[m][1], a4, b1);
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

// The sums of Rows rows x 16 columns, from their initial terms at `init`; each row's k values
// lie in `runs` (microkernel.hpp), the packed groups following one another across runs.
template <std::size_t Rows, class TA>
__attribute__((always_inline, target("avx2,avxvnni"))) inline void accumulate(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* weights, const int32_t* init,
    __m256i (&sum)[Rows][2], RowRuns runs) noexcept {
  const auto* column_init = reinterpret_cast<const __m256i*>(init);
#pragma GCC unroll 16
  for (auto& row : sum) {
    row[0] = _mm256_loadu_si256(column_init);
    row[1] = _mm256_loadu_si256(column_init + 1);
  }
  if (runs.count == 1) {
    accumulate_run(a, lda, k, weights, sum);
    return;
  }
  const std::size_t run_k = k / runs.count;
  const std::size_t run_bytes = packed_run_bytes(run_k);
  for (std::size_t run = 0; run < runs.count; ++run) {
    accumulate_run<Rows, TA, true>(a + run * runs.pitch, lda, run_k, weights + run * run_bytes,
                                   sum);
  }
}

template <std::size_t Rows, class TA>
__attribute__((target("avx2,avxvnni"))) void gemm_rows(const TA* a, std::size_t lda, std::size_t k,
                                                       const int8_t* panel, const int32_t* init,
                                                       int32_t* acc) noexcept {
  for (std::size_t half = 0; half < 2; ++half) {
    __m256i sum[Rows][2];
    accumulate(a, lda, k, panel + half * pass_nr * gemm_kr, init + half * pass_nr, sum, {});
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      int32_t* out = acc + m * gemm_nr + half * pass_nr;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sum[m][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), sum[m][1]);
    }
  }
}

// The tile's sums go through the stage straight from the accumulators to C.
template <std::size_t Rows, class TA, class Stage>
__attribute__((target("avx2,avxvnni"))) void gemm_rows_fused(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, const int32_t* init,
    RowRuns runs, const convert::avx2::StageLanes<Stage>& lanes,
    const TileOutput<typename Stage::Output>& out) noexcept {
  // A local copy: stores through the 8-bit output may alias anything, so the stage read through
  // the reference would be reloaded after each row.
  const convert::avx2::StageLanes<Stage> stage = lanes;
  for (std::size_t first = 0; first < out.columns; first += pass_nr) {
    __m256i sum[Rows][2];
    accumulate(a, lda, k, panel + first * gemm_kr, init + first, sum, runs);
    const std::size_t left = out.columns - first;
    avx2::store_fused(sum, stage, out, first, left < pass_nr ? left : pass_nr);
  }
}

template <class TA, class Stage>
void gemm_tile_fused(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                     const int8_t* panel, const int32_t* init, RowRuns runs,
                     const convert::avx2::StageLanes<Stage>& lanes,
                     const TileOutput<typename Stage::Output>& out) noexcept {
  dispatch_rows<mr>(rows, [&](auto r) {
    gemm_rows_fused<decltype(r)::value, TA, Stage>(a, lda, k, panel, init, runs, lanes, out);
  });
}

template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t rows, std::size_t k, const int8_t* panel,
               const int32_t* init, int32_t* acc) noexcept {
  dispatch_rows<mr>(rows,
                    [&](auto r) { gemm_rows<decltype(r)::value>(a, lda, k, panel, init, acc); });
}

template <class TA>
constexpr GemmMicrokernel<TA> gemm_microkernel() noexcept {
  return {"avxvnni vpdpbusd 6x32c4", Isa::avxvnni, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::avxvnni
#endif
