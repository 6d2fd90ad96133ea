// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 VNNI GEMM micro-kernels on the 32c4 panels: vpdpbusd (u8 x s8, 4 k per lane, wrapping
// int32 adds) into zmm accumulators, with 4 activation bytes per row broadcast from memory.
//
// - 8x32 (one panel, 16 accumulators): the raw-sum tile of the micro-kernel contract. Per group
//   of 4 k it loads 2 weight vectors and 8 broadcasts for 16 vpdpbusd.
// - 6x64 (two panels, 24 accumulators): the fused form the driver runs for requantizing stages.
//   4 weight vectors and 6 broadcasts feed 24 vpdpbusd, so loads no longer crowd the two
//   vpdpbusd ports: on L1-resident panels (K = 256) it ran 1.2-1.8x the 8x32 kernel.
// - 16x16 (half a panel, 16 accumulators; 8x16 for short tiles): the fused form for a last
//   panel of at most 16 columns (N = 16, 144, ...), which the 8x32 kernel ran at half its work
//   wasted on zero columns: MobileNetV2's 112x112 32-to-16 1x1 layer went from 144-168 to
//   201-215 GOPS with 8 rows, and (with rows stored four to a pack and longer tasks) from 375 to
//   545 with 16.
//
// The fused form applies the zero-point term, the stage and the 8-bit store to the accumulators
// in registers, so a tile never goes through memory as int32; missing columns of the last
// panel are masked. Compiled through target attributes; dispatch runs these kernels only where
// the active level is avx512vnni or above.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

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

// Rows of the two-panel kernel: 24 accumulators, 4 weight vectors and a broadcast in 32 zmm.
inline constexpr std::size_t wide_mr = 6;
// Rows of the half-panel kernel: 16 accumulators. With 8, a tile's fixed costs (its start, the
// epilogue's chains) took a third of the 112x112 32-to-16 layer (K = 32); 24 rows spilled.
inline constexpr std::size_t tall_mr = 16;

// sum += dot4(a, b) per lane. GCC 12 gives the vpdpbusd intrinsic's result its own register and
// copies it back, which spills the 24 accumulators of the 6x64 kernel to the stack on every
// group (half the speed); the tied operand of this one instruction keeps each in place.
__attribute__((always_inline, target("avx512f,avx512vnni"))) inline __m512i dpbusd(
    __m512i sum, __m512i a, __m512i b) noexcept {
  asm("vpdpbusd %2, %1, %0" : "+v"(sum) : "v"(a), "v"(b));
  return sum;
}

// sum += the products of Rows rows of k activations (lda apart) with their packed groups: vector
// v's weights are the (v % 2)-th 64 bytes of each group of panel v / 2, which starts at panel +
// (v / 2) * panel_stride. WholeGroups: k is a multiple of gemm_kr, so no group needs the
// zero-padded copy (a run of a window, whose few groups it would otherwise cost a pass of
// byte loads).
template <std::size_t Rows, std::size_t Vectors, class TA, bool WholeGroups = false>
__attribute__((always_inline, target("avx512f,avx512vnni"))) inline void accumulate_run(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, std::size_t panel_stride,
    __m512i (&sum)[Rows][Vectors]) noexcept {
  constexpr std::size_t vectors = Vectors;
  constexpr uint32_t mask = code_mask<TA>(0);
  // The last group, possibly partial, comes from a zero-padded copy: one loop body serves all.
  uint32_t last[Rows] = {};
  const std::size_t groups = (k + gemm_kr - 1) / gemm_kr;
  if (!WholeGroups && groups != 0) {
    const std::size_t tail_first = (groups - 1) * gemm_kr;
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      last[m] = activation_tail_word(a + m * lda, tail_first, mask, k - tail_first);
    }
  }
  for (std::size_t g = 0; g < groups; ++g) {
    __m512i b[vectors];
#pragma GCC unroll 4
    for (std::size_t v = 0; v < vectors; ++v) {
      const int8_t* half = panel + v / 2 * panel_stride + g * gemm_nr * gemm_kr + v % 2 * 64;
      _mm_prefetch(reinterpret_cast<const char*>(half + prefetch_distance), _MM_HINT_T0);
      b[v] = _mm512_loadu_si512(half);
    }
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      const uint32_t word =
          WholeGroups || g + 1 < groups ? activation_word(a + m * lda, g * gemm_kr, mask) : last[m];
      const __m512i a4 = _mm512_set1_epi32(static_cast<int>(word));
#pragma GCC unroll 4
      for (std::size_t v = 0; v < vectors; ++v) sum[m][v] = dpbusd(sum[m][v], a4, b[v]);
    }
  }
}

// The sums of Rows rows x (16 Vectors) columns, left in registers, vector v's initial terms at
// init + 16 v. One vector is the first half of a panel: a last panel with at most 16 columns
// (N = 16 or 144) does half the work. Each row's k values lie in `runs` (microkernel.hpp), the
// packed groups following one another across runs. A plain row has its own copy of the loop:
// with the loop over runs around it, GCC kept the 8 row pointers of the 8x16 tile on the stack
// and MobileNetV2's 112x112 32-to-16 layer lost a third of its speed.
template <std::size_t Rows, std::size_t Vectors, class TA>
__attribute__((always_inline, target("avx512f,avx512vnni"))) inline void accumulate(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, std::size_t panel_stride,
    const int32_t* init, __m512i (&sum)[Rows][Vectors], RowRuns runs) noexcept {
#pragma GCC unroll 16
  for (auto& row : sum) {
#pragma GCC unroll 4
    for (std::size_t v = 0; v < Vectors; ++v) row[v] = _mm512_loadu_si512(init + 16 * v);
  }
  if (runs.count == 1) {
    accumulate_run(a, lda, k, panel, panel_stride, sum);
    return;
  }
  const std::size_t run_k = k / runs.count;
  const std::size_t run_bytes = packed_run_bytes(run_k);
  for (std::size_t run = 0; run < runs.count; ++run) {
    accumulate_run<Rows, Vectors, TA, true>(a + run * runs.pitch, lda, run_k,
                                            panel + run * run_bytes, panel_stride, sum);
  }
}

template <std::size_t Rows, class TA>
__attribute__((target("avx512f,avx512vnni"))) void gemm_rows(const TA* a, std::size_t lda,
                                                             std::size_t k, const int8_t* panel,
                                                             const int32_t* init,
                                                             int32_t* acc) noexcept {
  __m512i sum[Rows][2];
  accumulate<Rows, 2>(a, lda, k, panel, 0, init, sum, {});
#pragma GCC unroll 16
  for (std::size_t m = 0; m < Rows; ++m) {
    _mm512_storeu_si512(acc + m * gemm_nr, sum[m][0]);
    _mm512_storeu_si512(acc + m * gemm_nr + 16, sum[m][1]);
  }
}

// The fused epilogue of a tile of Vectors x 16 columns: the zero-point term, the stage and the
// 8-bit stores, applied to rows of sums in registers. The tile's multipliers are loaded once,
// and each call copies the stage: stores through the 8-bit output may alias anything, so a
// stage read through a reference would be reloaded after each row. (A copy held in the object
// made it too large to keep in registers: the copy went through the stack on every tile, which
// cost the shallow layers 3-7%.) A last panel's missing columns are masked in the multiplier
// loads (vectors past the columns form no address) and in the byte stores.
template <std::size_t Vectors, class Stage>
class TileEpilogue {
  using Out = typename Stage::Output;
  using Multiplier = decltype(std::declval<convert::avx512::StageLanes<Stage>>().multiplier(0));

 public:
  __attribute__((always_inline, target("avx512f,avx512bw,avx512vl")))
  TileEpilogue(const convert::avx512::StageLanes<Stage>& lanes, const TileOutput<Out>& out) noexcept
      : lanes_(lanes), out_(out) {
#pragma GCC unroll 4
    for (std::size_t v = 0; v < Vectors; ++v) {
      multiplier_[v] =
          count(v) == 0 ? Multiplier{} : lanes.multiplier(out.first_channel + 16 * v, mask(v));
    }
  }

  // Rows [first, first + Rows) of the tile.
  template <std::size_t Rows>
  __attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) void operator()(
      __m512i (&sum)[Rows][Vectors], std::size_t first) const noexcept {
    if (out_.zb != nullptr) {
#pragma GCC unroll 4
      for (std::size_t v = 0; v < Vectors; ++v) {
        const __m512i zb = _mm512_loadu_si512(out_.zb + 16 * v);
#pragma GCC unroll 16
        for (std::size_t m = 0; m < Rows; ++m) {
          const __m512i row_sum = _mm512_set1_epi32(static_cast<int>(out_.row_sums[first + m]));
          sum[m][v] = _mm512_sub_epi32(sum[m][v], _mm512_mullo_epi32(zb, row_sum));
        }
      }
    }
    Out* const c = out_.c + first * out_.ldc;
    const convert::avx512::StageLanes<Stage> stage = lanes_;
    if constexpr (std::is_same_v<Stage, RequantizeFloat<Out>>) {
      if (stage.unclamped) return store_packed(sum, c, stage);
    }
    const bool whole = out_.columns == 16 * Vectors;
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
#pragma GCC unroll 4
      for (std::size_t v = 0; v < Vectors; ++v) {
        if (!whole && count(v) == 0) break;
        convert::avx512::store16(c + m * out_.ldc + 16 * v, stage.apply(sum[m][v], multiplier_[v]),
                                 stage.flip, whole ? __mmask16{0xFFFF} : mask(v));
      }
    }
  }

 private:
  // Of the tile's columns in vector v, how many C has.
  __attribute__((always_inline)) std::size_t count(std::size_t v) const noexcept {
    const std::size_t first = 16 * v;
    return first < out_.columns ? std::min<std::size_t>(16, out_.columns - first) : 0;
  }
  __attribute__((always_inline)) __mmask16 mask(std::size_t v) const noexcept {
    return static_cast<__mmask16>((uint32_t{1} << count(v)) - 1);
  }

  // The packed form of unclamped float stages.
  template <std::size_t Rows>
  __attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) void store_packed(
      __m512i (&sum)[Rows][Vectors], Out* c,
      const convert::avx512::StageLanes<Stage>& stage) const noexcept {
    // Tiles narrower than 64 columns that C has whole: 64 outputs of 4 / Vectors rows per
    // pack. The 112x112 32-to-16 layer went from 470 to 525 GOPS.
    constexpr std::size_t per_pack = 4 / Vectors, packed_rows = Rows / per_pack * per_pack;
    const bool by_packs = Vectors < 4 && out_.columns == 16 * Vectors;
    if constexpr (Vectors < 4) {
      if (by_packs) {
#pragma GCC unroll 16
        for (std::size_t first = 0; first < packed_rows; first += per_pack) {
          __m512i levels[4];
#pragma GCC unroll 4
          for (std::size_t i = 0; i < 4; ++i) {
            levels[i] =
                stage.raw_levels(sum[first + i / Vectors][i % Vectors], multiplier_[i % Vectors]);
          }
          stage.template store_rows<16 * Vectors>(c + first * out_.ldc, out_.ldc, levels[0],
                                                  levels[1], levels[2], levels[3]);
        }
      }
    }
    // The bytes C has: all 64 of a two-panel row, else the low `columns` bits (so that a
    // half-panel tile's store32 writes at most its 16).
    const uint64_t bytes = out_.columns >= 64 ? ~uint64_t{0} : (uint64_t{1} << out_.columns) - 1;
#pragma GCC unroll 16
    for (std::size_t m = 0; m < Rows; ++m) {
      if (by_packs && m < packed_rows) continue;
      __m512i levels[Vectors];
#pragma GCC unroll 4
      for (std::size_t v = 0; v < Vectors; ++v) {
        levels[v] = stage.raw_levels(sum[m][v], multiplier_[v]);
      }
      if constexpr (Vectors == 4) {
        stage.store64(c + m * out_.ldc, levels[0], levels[1], levels[2], levels[3], bytes);
      } else if constexpr (Vectors == 2) {
        stage.store32(c + m * out_.ldc, levels[0], levels[1], static_cast<uint32_t>(bytes));
      } else {
        stage.store32(c + m * out_.ldc, levels[0], levels[0], static_cast<uint32_t>(bytes));
      }
    }
  }

  const convert::avx512::StageLanes<Stage>& lanes_;
  const TileOutput<Out>& out_;
  Multiplier multiplier_[Vectors];
};

// The tile's sums go through the stage straight from the accumulators to C.
template <std::size_t Rows, std::size_t Vectors, class TA, class Stage>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void gemm_rows_fused(
    const TA* a, std::size_t lda, std::size_t k, const int8_t* panel, std::size_t panel_stride,
    const int32_t* init, RowRuns runs, const convert::avx512::StageLanes<Stage>& lanes,
    const TileOutput<typename Stage::Output>& out) noexcept {
  __m512i sum[Rows][Vectors];
  accumulate<Rows, Vectors>(a, lda, k, panel, panel_stride, init, sum, runs);
  const TileEpilogue<Vectors, Stage> epilogue(lanes, out);
  epilogue(sum, 0);
}

// A one-panel tile of sums that its kernel stored (AMX: row stride gemm_nr, any number of
// rows) through the fused epilogue, four rows at a time, with the stage's lanes built once per
// call rather than once per tile as requantize() builds them. It is still a fifth of ResNet-50's
// 56x56 3x3 layer on AMX (perf, 21%), a fifth of that waiting on the tile store it reads.
template <class Stage>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void store_tile_fused(
    const int32_t* sums, std::size_t rows, const convert::avx512::StageLanes<Stage>& lanes,
    const TileOutput<typename Stage::Output>& out) noexcept {
  constexpr std::size_t vectors = gemm_nr / 16;
  const TileEpilogue<vectors, Stage> epilogue(lanes, out);
  const auto rows_from = [&](std::size_t first, auto count)
      __attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) {
    __m512i sum[decltype(count)::value][vectors];
#pragma GCC unroll 4
    for (std::size_t m = 0; m < decltype(count)::value; ++m) {
#pragma GCC unroll 4
      for (std::size_t v = 0; v < vectors; ++v) {
        sum[m][v] = _mm512_loadu_si512(sums + (first + m) * gemm_nr + 16 * v);
      }
    }
    epilogue(sum, first);
  };
  std::size_t m = 0;
  for (; m + 4 <= rows; m += 4) rows_from(m, std::integral_constant<std::size_t, 4>{});
  if (rows - m >= 2) {
    rows_from(m, std::integral_constant<std::size_t, 2>{});
    m += 2;
  }
  if (m < rows) rows_from(m, std::integral_constant<std::size_t, 1>{});
}

// A tile of up to tall_mr rows of 16 columns (half a panel), mr rows of 32 (a panel), or
// wide_mr rows of 64 (two panels, panel_stride bytes apart).
template <std::size_t Vectors, class TA, class Stage>
void gemm_tile_fused(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                     const int8_t* panel, std::size_t panel_stride, const int32_t* init,
                     RowRuns runs, const convert::avx512::StageLanes<Stage>& lanes,
                     const TileOutput<typename Stage::Output>& out) noexcept {
  static_assert(Vectors == 1 || Vectors == 2 || Vectors == 4);
  if constexpr (Vectors == 1) {
    if (rows == tall_mr) {
      gemm_rows_fused<tall_mr, 1, TA, Stage>(a, lda, k, panel, 0, init, runs, lanes, out);
      return;
    }
    if (rows > mr) {
      // Two halves, not mr rows and a remainder that may be a single row.
      const std::size_t first = rows - rows / 2;
      gemm_tile_fused<1, TA, Stage>(a, lda, first, k, panel, 0, init, runs, lanes, out);
      TileOutput<typename Stage::Output> rest = out;
      rest.c += first * out.ldc;
      rest.row_sums += first;
      gemm_tile_fused<1, TA, Stage>(a + first * lda, lda, rows / 2, k, panel, 0, init, runs, lanes,
                                    rest);
      return;
    }
  }
  dispatch_rows<Vectors == 4 ? wide_mr : mr>(rows, [&](auto r) {
    gemm_rows_fused<decltype(r)::value, Vectors, TA, Stage>(a, lda, k, panel, panel_stride, init,
                                                            runs, lanes, out);
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
