// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 VNNI GEMM micro-kernel, 8x32c4: up to 8 rows x 32 columns of raw sums in 16 zmm
// accumulators of vpdpbusd (u8 x s8, 4 k per lane, wrapping int32 adds). Per group of 4 k it
// loads the two 64-byte weight vectors once and broadcasts 4 activation bytes per row: 10 loads
// for 16 vpdpbusd, inside the 3 loads per cycle the core sustains. Compiled through target
// attributes; dispatch runs it only where the active level is avx512vnni or above.
//
// Besides the raw-sum tile of the micro-kernel contract it has a fused form for the
// requantizing stages: the zero-point term, the stage and the 8-bit store run on the
// accumulators in registers, so a tile never goes through memory as int32; the last panel's
// missing columns are masked.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/quant/convert/avx512.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/quantize.hpp"

// GCC 12 bug 105593 (see convert/avx512.hpp): the stage intrinsics inlined into the fused
// epilogue warn about the undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::avx512vnni {

inline constexpr std::size_t mr = 8;
// Weights are read 4 groups (512 bytes) ahead: short tiles (the GEMV) stream them faster than
// the hardware prefetcher brings them (5-10% at M = 1), and panels larger than L1 (K = 2048)
// gained 1-5%.
inline constexpr std::size_t prefetch_distance = 512;

// The sums of Rows rows x 32 columns, left in registers.
template <std::size_t Rows, class TA>
__attribute__((always_inline, target("avx512f,avx512vnni"))) inline void accumulate(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, const int32_t* init,
    __m512i (&sum)[Rows][2]) noexcept {
  constexpr uint32_t mask = code_mask<TA>(0);
  const __m512i init0 = _mm512_loadu_si512(init), init1 = _mm512_loadu_si512(init + 16);
#pragma GCC unroll 16
  for (auto& row : sum) {
    row[0] = init0;
    row[1] = init1;
  }
  // The last group, possibly partial, comes from a zero-padded copy: one loop body serves all.
  uint32_t last[Rows] = {};
  const std::size_t groups = (k + gemm_kr - 1) / gemm_kr;
  if (groups != 0) {
    const std::size_t tail_first = (groups - 1) * gemm_kr;
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      last[m] = activation_tail_word(a + m * lda, tail_first, mask, k - tail_first);
    }
  }
  for (std::size_t g = 0; g < groups; ++g) {
    const int8_t* b = panel + g * gemm_nr * gemm_kr;
    _mm_prefetch(reinterpret_cast<const char*>(b + prefetch_distance), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + prefetch_distance + 64), _MM_HINT_T0);
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      const uint32_t word =
          g + 1 < groups ? activation_word(a + m * lda, g * gemm_kr, mask) : last[m];
      const __m512i a4 = _mm512_set1_epi32(static_cast<int>(word));
      sum[m][0] = _mm512_dpbusd_epi32(sum[m][0], a4, b0);
      sum[m][1] = _mm512_dpbusd_epi32(sum[m][1], a4, b1);
    }
  }
}

template <std::size_t Rows, class TA>
__attribute__((target("avx512f,avx512vnni"))) void gemm_rows(const TA* a, std::size_t lda,
                                                             std::size_t k, const int8_t* panel,
                                                             const int32_t* init,
                                                             int32_t* acc) noexcept {
  __m512i sum[Rows][2];
  accumulate<Rows>(a, lda, k, panel, init, sum);
#pragma GCC unroll 16
  for (std::size_t m = 0; m < Rows; ++m) {
    _mm512_storeu_si512(acc + m * gemm_nr, sum[m][0]);
    _mm512_storeu_si512(acc + m * gemm_nr + 16, sum[m][1]);
  }
}

// Where a fused epilogue puts a panel's tile, and the zero-point term it still owes.
template <class Out>
struct TileOutput {
  Out* c;                     // the tile's first element in C, whose columns are contiguous
  std::size_t ldc;            // C's row stride
  std::size_t columns;        // of the panel that C has: gemm_nr but in the last panel
  std::size_t first_channel;  // the panel's first column, for per-channel stage parameters
  const int32_t* zb;          // the panel's 32 weight zero points, or null when all are 0
  const uint32_t* row_sums;   // per tile row: sum of (code - activation_offset), when zb is set
};

// The tile's sums go through the stage straight from the accumulators to C.
template <std::size_t Rows, class TA, class Stage>
__attribute__((target("avx512f,avx512vnni"))) void gemm_rows_fused(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, const int32_t* init,
    const convert::avx512::StageLanes<Stage>& lanes,
    const TileOutput<typename Stage::Output>& out) noexcept {
  __m512i sum[Rows][2];
  accumulate<Rows>(a, lda, k, panel, init, sum);
  if (out.zb != nullptr) {
    const __m512i zb0 = _mm512_loadu_si512(out.zb), zb1 = _mm512_loadu_si512(out.zb + 16);
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      const __m512i row_sum = _mm512_set1_epi32(static_cast<int>(out.row_sums[m]));
      sum[m][0] = _mm512_sub_epi32(sum[m][0], _mm512_mullo_epi32(zb0, row_sum));
      sum[m][1] = _mm512_sub_epi32(sum[m][1], _mm512_mullo_epi32(zb1, row_sum));
    }
  }
  // A local copy and the panel's multipliers loaded once: stores through the 8-bit output may
  // alias anything, so the stage read through the reference would be reloaded after each row.
  const convert::avx512::StageLanes<Stage> stage = lanes;
  if (out.columns == gemm_nr) {
    const auto m0 = stage.multiplier(out.first_channel);
    const auto m1 = stage.multiplier(out.first_channel + 16);
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      typename Stage::Output* row = out.c + m * out.ldc;
      convert::avx512::store16(row, stage.apply(sum[m][0], m0));
      convert::avx512::store16(row + 16, stage.apply(sum[m][1], m1));
    }
    return;
  }
  // The last panel's columns that C has: masked multiplier loads and stores. Addresses past the
  // columns are never formed: with 16 columns or fewer the second half is skipped.
  const auto mask = static_cast<uint32_t>((uint64_t{1} << out.columns) - 1);
  const auto mask0 = static_cast<__mmask16>(mask), mask1 = static_cast<__mmask16>(mask >> 16);
  const auto m0 = stage.multiplier(out.first_channel, mask0);
  if (mask1 == 0) {
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      convert::avx512::store16(out.c + m * out.ldc, stage.apply(sum[m][0], m0), mask0);
    }
    return;
  }
  const auto m1 = stage.multiplier(out.first_channel + 16, mask1);
#pragma GCC unroll 16
  for (std::size_t m = 0; m < Rows; ++m) {
    typename Stage::Output* row = out.c + m * out.ldc;
    convert::avx512::store16(row, stage.apply(sum[m][0], m0));
    convert::avx512::store16(row + 16, stage.apply(sum[m][1], m1), mask1);
  }
}

template <class TA, class Stage>
void gemm_tile_fused(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                     const int8_t* panel, const int32_t* init,
                     const convert::avx512::StageLanes<Stage>& lanes,
                     const TileOutput<typename Stage::Output>& out) noexcept {
  dispatch_rows<mr>(rows, [&](auto r) {
    gemm_rows_fused<decltype(r)::value, TA, Stage>(a, lda, k, panel, init, lanes, out);
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
  return {"avx512vnni vpdpbusd 8x32c4", Isa::avx512vnni, mr, gemm_nr, gemm_kr, 0, &gemm_tile<TA>};
}

}  // namespace qinfer::kernels::avx512vnni

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
