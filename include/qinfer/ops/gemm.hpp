// SPDX-License-Identifier: Apache-2.0
//
// The int8 GEMM over packed weights, on the micro-kernel of the active ISA level:
//
//   C = stage((A - a_zero_point) x (B - b_zero_points) + bias)
//
// with B packed once by pack_weights() (kernels/gemm/packing.hpp). It gives exactly
// reference::gemm's result on every path; tests/kernels/gemm_test.cpp checks that on each path
// the CPU has. A may have any row stride (its columns contiguous), C any strides.
//
// The work is split into tasks of up to gemm_task_rows rows x gemm_task_panels panels (smaller
// for small products on a parallel executor), run through an executor (runtime/parallel.hpp;
// serial by default). Per tile the micro-kernel starts from the bias and zero-point terms and
// accumulates (modulo 2^32, the reference's accumulator arithmetic) either in registers, with
// the stage fused (AVX-512 VNNI, AVX-VNNI and AVX2, requantizing stages), or into an L1-resident
// buffer: AMX's tiles, which the AVX-512 fused epilogue converts four rows at a time, and any
// other stage's, which the vector requantization kernels convert as a whole.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/kernels/gemm/dispatch.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

// A task's rows: a task runs panel by panel, each panel's weights staying in L1 across the
// task's row tiles while its 64 rows of activations (64 KiB at K = 1024) stay in L2.
inline constexpr std::size_t gemm_task_rows = 64;
static_assert(gemm_max_mr <= gemm_task_rows, "a task holds whole row tiles");
// A task's rows on AMX: its 32 x 32 tiles read a panel's weights once per tile, and 256 rows
// keep each panel in L1 for 8 tiles where 64 rows kept it for 2. Single thread, against 64
// rows: M = 128, N = K = 4096 went from 2256 to 2807 GOPS, 2048^3 from 2007 to 2335, 512^3 and
// 1024^3 changed by less than the noise (medians of 5 alternating runs on Emerald Rapids).
inline constexpr std::size_t gemm_amx_task_rows = 256;
// A task's panels (256 columns): 1024^3 makes 64 tasks and M = 1, N = 4096 makes 16, enough to
// share among threads while each task stays long against the executor's hand-out cost.
inline constexpr std::size_t gemm_task_panels = 8;
// A task's panels on AMX, which packs a task's activations once for all its panels.
inline constexpr std::size_t gemm_amx_task_panels = 32;
inline constexpr std::size_t gemm_max_task_panels =
    std::max(gemm_task_panels, gemm_amx_task_panels);
// Narrower products take up to this many rows per task, so that a task keeps about
// gemm_task_rows x gemm_task_panels row-panels of work: a task's set-up (its panels' initial
// terms) cost MobileNetV2's 112x112 32-to-16 layer (N = 16, K = 32) a sixth of its time at 64
// rows.
inline constexpr std::size_t gemm_task_max_rows = 512;

// The rows of a task over `panels` panels, `base` rows over gemm_task_panels: whole tiles of
// `mr` rows.
constexpr std::size_t gemm_task_rows_for(std::size_t mr, std::size_t panels,
                                         std::size_t base = gemm_task_rows) noexcept {
  const std::size_t task_panels = std::clamp<std::size_t>(panels, 1, gemm_task_panels);
  const std::size_t rows = std::min(gemm_task_max_rows, base * gemm_task_panels / task_panels);
  return mr * (rows / mr);
}
// With an executor other than SerialExecutor, smaller products are cut into at least this many
// tasks where they allow it (see gemm()).
inline constexpr std::size_t gemm_parallel_tasks = 8;

namespace detail {

// Applies `stage` to a tile of sums (row stride gemm_nr), channels [first, first + count).
template <class Stage>
void store_tile(ConvertPath path, const int32_t* sums, std::size_t rows, std::size_t first,
                std::size_t count, const Stage& stage, MatrixView<typename Stage::Output> c,
                std::size_t row) noexcept {
  if (c.col_stride == 1) {
    requantize_with(path, sums, rows, count, slice_channels(stage, first, count), &c(row, first),
                    RowStrides{gemm_nr, c.row_stride});
    return;
  }
  for (std::size_t m = 0; m < rows; ++m) {
    for (std::size_t n = 0; n < count; ++n) {
      c(row + m, first + n) = stage(sums[m * gemm_nr + n], first + n);
    }
  }
}

// What one call fixes for all its tasks.
template <class TA, class Stage>
struct GemmCall {
  MatrixView<const TA> a;
  const PackedWeights& w;
  const Stage& stage;
  MatrixView<typename Stage::Output> c;
  GemmMicrokernel<TA> kernel;
  ConvertPath epilogue_path;
  uint32_t a_zero_point;  // in the kernel's code domain: code(zero point) - activation_offset
  // A's rows in runs: a convolution's windows read in place (ops/conv2d.hpp), which only the
  // fused tiles below take.
  RowRuns runs{};
#if QINFER_X86
  // Set when the AVX-512 VNNI kernels apply the stage in their registers, as its uint8 form
  // (fused_stage_t). Built once per call: its constructor scans every channel's multiplier, and
  // built per task it cost M = 1, N = K = 4096 about 8% (42.1-42.7 against 45.0-47.7 GOPS).
  const convert::avx512::StageLanes<fused_stage_t<Stage>>* fused = nullptr;
  // The same for the AVX-VNNI and AVX2 kernels.
  const convert::avx2::StageLanes<fused_stage_t<Stage>>* fused_ymm = nullptr;
#endif
};

// The terms each column of panels [panel_begin, panel_end) starts from, bias - za colsum(b') +
// K za zb' (packing.hpp), into init[0, ...); the padding columns of the last panel have all-zero
// terms.
template <class TA, class Stage>
void panel_init(const GemmCall<TA, Stage>& call, std::size_t panel_begin, std::size_t panel_end,
                int32_t (*init)[gemm_nr]) noexcept {
  const PackedWeights& w = call.w;
  const uint32_t za = call.a_zero_point, depth = static_cast<uint32_t>(w.k);
  for (std::size_t panel = panel_begin; panel < panel_end; ++panel) {
    for (std::size_t n = 0; n < gemm_nr; ++n) {
      const std::size_t col = panel * gemm_nr + n;
      const auto zb = static_cast<uint32_t>(w.zero_points[col]);
      init[panel - panel_begin][n] =
          static_cast<int32_t>(static_cast<uint32_t>(w.bias[col]) -
                               za * static_cast<uint32_t>(w.column_sums[col]) + depth * za * zb);
    }
  }
}

// The sums of the codes of A's rows [row_begin, row_end) minus K activation_offset, for the
// zb' rowsum(a') term, into row_sums[0, ...); nothing when the weights have no zero points,
// whose epilogue does not read them.
template <class TA, class Stage>
void row_code_sums(const GemmCall<TA, Stage>& call, std::size_t row_begin, std::size_t row_end,
                   uint32_t* row_sums) noexcept {
  const PackedWeights& w = call.w;
  if (!w.has_zero_points) return;
  const std::size_t run_k = w.k / call.runs.count;
  for (std::size_t m = row_begin; m < row_end; ++m) {
    const TA* row = call.a.data + m * call.a.row_stride;
    uint32_t sum = 0;
    for (std::size_t run = 0; run < call.runs.count; ++run, row += call.runs.pitch) {
      for (std::size_t p = 0; p < run_k; ++p) sum += activation_code(row[p]);
    }
    row_sums[m - row_begin] = sum - static_cast<uint32_t>(w.k) * call.kernel.activation_offset;
  }
}

#if QINFER_X86
// Calls tile(m0, rows) over rows [row_begin, row_end) in tiles of at most `most` rows: a first
// tile of `most`, then the other rows shared evenly over as few tiles as hold them. The first
// tile streams the weights from L3, and more rows there hide more of that: sharing out all
// rows evenly cost M = 8 9%. The rest evenly, because a short last tile (2 rows at M = 32 with
// 6-row tiles) reads its panels from L2 at three times the bytes per vpdpbusd. A count of
// most + 1 makes two halves: one row has too few accumulators to hide vpdpbusd's latency, and
// M = 49 (7x7 layers) gained 3-4% on AVX-512 VNNI from not leaving one alone.
template <class Tile>
void for_each_fused_tile(std::size_t row_begin, std::size_t row_end, std::size_t most,
                         Tile&& tile) noexcept {
  const std::size_t count = row_end - row_begin;
  if (count == 0) return;
  const std::size_t first = count == most + 1 ? count - count / 2 : std::min(most, count);
  tile(row_begin, first);
  const std::size_t rest = count - first, tiles = (rest + most - 1) / most;
  for (std::size_t t = 0, m0 = row_begin + first; t < tiles; ++t) {
    const std::size_t rows = rest / tiles + (t < rest % tiles ? 1 : 0);
    tile(m0, rows);
    m0 += rows;
  }
}

// Where the fused tile of rows [m0, ...) and the columns of panels from `panel` puts its sums:
// the bytes of C, whichever 8-bit type it holds (the kernels store int8 outputs as their uint8
// codes with the top bit flipped, fused_stage_t).
template <class TA, class Stage>
kernels::TileOutput<uint8_t> fused_output(const GemmCall<TA, Stage>& call, const uint32_t* row_sums,
                                          std::size_t row_begin, std::size_t m0, std::size_t panel,
                                          std::size_t panels) noexcept {
  const PackedWeights& w = call.w;
  const std::size_t n0 = panel * gemm_nr;
  return {reinterpret_cast<uint8_t*>(&call.c(m0, n0)),
          call.c.row_stride,
          std::min(panels * gemm_nr, w.n - n0),
          n0,
          w.has_zero_points ? &w.zero_points[n0] : nullptr,
          row_sums + (m0 - row_begin)};
}

// gemm_block's tiles on the AVX-512 VNNI kernels with the stage fused: panels in pairs (6x64
// tiles), an odd last panel alone (8x32), or its first half (16x16) when C has at most 16 of
// its columns. A pair's weights (64 KiB at K = 1024) may leave L1, which the kernel's prefetch
// covers: against oneDNN, 2048^3 went from 0.81x to 0.99x and 256^3 from 0.85x to 1.03x with
// the packed epilogue (benchmarks/README.md).
template <class TA, class Stage>
void fused_block(const GemmCall<TA, Stage>& call, const int32_t (*init)[gemm_nr],
                 const uint32_t* row_sums, std::size_t row_begin, std::size_t row_end,
                 std::size_t panel_begin, std::size_t panel_end) noexcept {
  namespace k5 = kernels::avx512vnni;
  const PackedWeights& w = call.w;
  const convert::avx512::StageLanes<fused_stage_t<Stage>>& lanes = *call.fused;
  const std::size_t panel_stride = w.panels > 1 ? w.panel(1) - w.panel(0) : 0;
  for (std::size_t panel = panel_begin; panel < panel_end;) {
    const bool pair = panel + 1 < panel_end;
    const std::size_t most = pair                          ? k5::wide_mr
                             : w.n - panel * gemm_nr <= 16 ? k5::tall_mr
                                                           : k5::mr;
    const int32_t* start = init[panel - panel_begin];
    for_each_fused_tile(row_begin, row_end, most, [&](std::size_t m0, std::size_t rows) {
      const TA* a = call.a.data + m0 * call.a.row_stride;
      const auto out = fused_output(call, row_sums, row_begin, m0, panel, pair ? 2 : 1);
      if (pair) {
        k5::gemm_tile_fused<4>(a, call.a.row_stride, rows, w.k, w.panel(panel), panel_stride, start,
                               call.runs, lanes, out);
      } else if (out.columns <= 16) {
        k5::gemm_tile_fused<1>(a, call.a.row_stride, rows, w.k, w.panel(panel), 0, start, call.runs,
                               lanes, out);
      } else {
        k5::gemm_tile_fused<2>(a, call.a.row_stride, rows, w.k, w.panel(panel), 0, start, call.runs,
                               lanes, out);
      }
    });
    panel += pair ? 2 : 1;
  }
}

// The fused tile of the ymm kernels.
template <class TA, class Stage>
using FusedYmmTile = void (*)(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                              const int8_t* panel, const int32_t* init, RowRuns runs,
                              const convert::avx2::StageLanes<Stage>& lanes,
                              const kernels::TileOutput<typename Stage::Output>& out) noexcept;

// The same on the AVX-VNNI and AVX2 kernels: tiles of one panel, panel by panel, whose second
// pass of 16 columns runs only where C has columns there.
template <class TA, class Stage>
void fused_block_ymm(const GemmCall<TA, Stage>& call, const int32_t (*init)[gemm_nr],
                     const uint32_t* row_sums, std::size_t row_begin, std::size_t row_end,
                     std::size_t panel_begin, std::size_t panel_end) noexcept {
  const PackedWeights& w = call.w;
  using Fused = fused_stage_t<Stage>;
  const FusedYmmTile<TA, Fused> tile =
      call.kernel.isa == Isa::avxvnni ? &kernels::avxvnni::gemm_tile_fused<TA, Fused>
      : w.seven_bit                   ? &kernels::avx2::gemm_tile_fused<TA, Fused, true>
                                      : &kernels::avx2::gemm_tile_fused<TA, Fused, false>;
  for (std::size_t panel = panel_begin; panel < panel_end; ++panel) {
    for_each_fused_tile(row_begin, row_end, call.kernel.mr, [&](std::size_t m0, std::size_t rows) {
      const auto out = fused_output(call, row_sums, row_begin, m0, panel, 1);
      tile(call.a.data + m0 * call.a.row_stride, call.a.row_stride, rows, w.k, w.panel(panel),
           init[panel - panel_begin], call.runs, *call.fused_ymm, out);
    });
  }
}
#endif

// The epilogue of a tile of sums (row stride gemm_nr) for C's rows [m0, m0 + rows) and the
// panel's columns from n0: the zb' rowsum(a') term (row_sums from the tile's first row), then
// the stage.
template <class TA, class Stage>
void finish_tile(const GemmCall<TA, Stage>& call, int32_t* sums, const uint32_t* row_sums,
                 std::size_t m0, std::size_t rows, std::size_t n0) noexcept {
  const PackedWeights& w = call.w;
#if QINFER_X86
  if constexpr (HasX86Requantize<Stage>::value) {
    if (call.fused != nullptr) {
      kernels::avx512vnni::store_tile_fused(sums, rows, *call.fused,
                                            fused_output(call, row_sums, m0, m0, n0 / gemm_nr, 1));
      return;
    }
  }
#endif
  if (w.has_zero_points) {
    for (std::size_t m = 0; m < rows; ++m) {
      for (std::size_t n = 0; n < gemm_nr; ++n) {
        const auto zb = static_cast<uint32_t>(w.zero_points[n0 + n]);
        sums[m * gemm_nr + n] =
            static_cast<int32_t>(static_cast<uint32_t>(sums[m * gemm_nr + n]) - zb * row_sums[m]);
      }
    }
  }
  store_tile(call.epilogue_path, sums, rows, n0, std::min(gemm_nr, w.n - n0), call.stage, call.c,
             m0);
}

#if QINFER_X86
// gemm_block on the AMX kernel, with activations packed (kernels::amx::pack_rows) into the
// thread's scratch buffer: all of the task's row tiles when it has at least amx_pack_min_panels
// panels, else only a last tile of other than 16 or 32 rows. Fewer panels do not repay packing
// full tiles, which reads A from memory with no dots to hide it behind: 256^3 (8 panels) lost 4%,
// the conv shape (3136x64x576, 2 panels) a fifth. A partial tile read in place copies every chunk
// into a buffer that its tile load then waits for, so packing it once is always cheaper.
inline constexpr std::size_t amx_pack_min_panels = 16;

// False, with nothing done, when no tile is to be packed or the scratch buffer cannot be
// allocated: the caller then runs every tile in place.
template <class TA, class Stage>
bool amx_block(const GemmCall<TA, Stage>& call, const int32_t (*init)[gemm_nr],
               const uint32_t* row_sums, std::size_t row_begin, std::size_t row_end,
               std::size_t panel_begin, std::size_t panel_end) noexcept {
  namespace amx = kernels::amx;
  const PackedWeights& w = call.w;
  const std::size_t tile_bytes = amx::packed_tile_bytes(w.k);
  const std::size_t tiles = (row_end - row_begin + amx::mr - 1) / amx::mr;
  const auto rows_of = [&](std::size_t t) {
    return std::min(amx::mr, row_end - row_begin - t * amx::mr);
  };
  const bool pack_all = panel_end - panel_begin >= amx_pack_min_panels;
  const std::size_t last_rows = rows_of(tiles - 1);
  const bool partial_last = last_rows != amx::mr && last_rows != amx::tile_rows;
  const std::size_t first_packed = pack_all ? 0 : partial_last ? tiles - 1 : tiles;
  if (first_packed == tiles) return false;
  uint8_t* packed = amx::scratch((tiles - first_packed) * tile_bytes);
  if (packed == nullptr) return false;
  const auto packed_tile = [&](std::size_t t) { return packed + (t - first_packed) * tile_bytes; };
  for (std::size_t t = first_packed; t < tiles; ++t) {
    const auto pack = rows_of(t) > amx::tile_rows ? &amx::pack_rows<2, TA> : &amx::pack_rows<1, TA>;
    pack(&call.a(row_begin + t * amx::mr, 0), call.a.row_stride, rows_of(t), w.k, packed_tile(t));
  }
  alignas(64) int32_t tile[amx::mr * gemm_nr];
  // Panel by panel, so that one panel's weights stay in L1 across the task's row tiles.
  for (std::size_t panel = panel_begin; panel < panel_end; ++panel) {
    for (std::size_t t = 0; t < tiles; ++t) {
      const std::size_t m0 = row_begin + t * amx::mr, rows = rows_of(t);
      const int32_t* panel_init = init[panel - panel_begin];
      if (t < first_packed) {
        amx::gemm_tile(&call.a(m0, 0), call.a.row_stride, rows, w.k, w.panel(panel), panel_init,
                       tile);
      } else {
        const auto dots =
            rows > amx::tile_rows ? &amx::gemm_packed<2, TA> : &amx::gemm_packed<1, TA>;
        dots(packed_tile(t), w.k, w.panel(panel), panel_init, tile);
      }
      finish_tile(call, tile, row_sums + (m0 - row_begin), m0, rows, panel * gemm_nr);
    }
  }
  return true;
}
#endif

// A's zero point in the code domain of `kernel`: code(zero point) - activation_offset.
template <class TA>
uint32_t kernel_zero_point(int32_t a_zero_point, const GemmMicrokernel<TA>& kernel) noexcept {
  const uint32_t code =
      static_cast<uint32_t>(a_zero_point + (std::is_same_v<TA, int8_t> ? 128 : 0));
  return code - kernel.activation_offset;
}

// Rows [row_begin, row_end) x panels [panel_begin, panel_end) of C, at most gemm_task_panels.
template <class TA, class Stage>
void gemm_block(const GemmCall<TA, Stage>& call, std::size_t row_begin, std::size_t row_end,
                std::size_t panel_begin, std::size_t panel_end) noexcept {
  const PackedWeights& w = call.w;
  const GemmMicrokernel<TA>& kernel = call.kernel;
  alignas(64) int32_t init[gemm_max_task_panels][gemm_nr];
  panel_init(call, panel_begin, panel_end, init);
  uint32_t row_sums[gemm_task_max_rows];
  row_code_sums(call, row_begin, row_end, row_sums);
#if QINFER_X86
  if constexpr (HasX86Requantize<Stage>::value) {
    if (call.fused != nullptr && kernel.isa == Isa::avx512vnni) {
      fused_block(call, init, row_sums, row_begin, row_end, panel_begin, panel_end);
      return;
    }
    if (call.fused_ymm != nullptr) {
      fused_block_ymm(call, init, row_sums, row_begin, row_end, panel_begin, panel_end);
      return;
    }
  }
#endif
  if (kernel.begin != nullptr) kernel.begin();
#if QINFER_X86
  if (kernel.isa == Isa::amx &&
      amx_block(call, init, row_sums, row_begin, row_end, panel_begin, panel_end)) {
    kernel.end();
    return;
  }
#endif
  alignas(64) int32_t tile[gemm_max_mr * gemm_nr];
  // Panel by panel, so that one panel's weights stay in L1 across the task's row tiles.
  for (std::size_t panel = panel_begin; panel < panel_end; ++panel) {
    for (std::size_t m0 = row_begin; m0 < row_end; m0 += kernel.mr) {
      const std::size_t rows = std::min(kernel.mr, row_end - m0);
      const TA* a = call.a.data + m0 * call.a.row_stride;
      kernel.tile(a, call.a.row_stride, rows, w.k, w.panel(panel), init[panel - panel_begin], tile);
      finish_tile(call, tile, row_sums + (m0 - row_begin), m0, rows, panel * gemm_nr);
    }
  }
  if (kernel.end != nullptr) kernel.end();
}

}  // namespace detail

// Checks gemm()'s arguments without running it.
template <class TA, class Out, class Stage>
Status validate_gemm(MatrixView<const TA> a, int32_t a_zero_point, const PackedWeights& w,
                     const Stage& stage, MatrixView<Out> c) {
  static_assert(reference::is_quantized_8bit<TA>, "gemm: A must be int8_t or uint8_t");
  if (a.cols != w.k) return {Errc::shape_mismatch, "gemm: A columns != packed weights' K"};
  if (c.rows != a.rows || c.cols != w.n) {
    return {Errc::shape_mismatch, "gemm: C must be A rows x packed weights' N"};
  }
  if (a.col_stride != 1 && a.cols > 1) {
    return {Errc::invalid_argument, "gemm: A's columns must be contiguous (col_stride 1)"};
  }
  if (auto s = check_view(a, "gemm: A"); !s) return s;
  if (auto s = check_view(c, "gemm: C"); !s) return s;
  if (auto s = check_zero_point(a_zero_point, StorageTraits<TA>::min, StorageTraits<TA>::max,
                                "gemm: a_zero_point outside A's type");
      !s) {
    return s;
  }
  return stage.check(w.n);
}

template <class A, class Stage, class Executor = SerialExecutor>
Result<void> gemm(MatrixView<A> a, int32_t a_zero_point, const PackedWeights& w, const Stage& stage,
                  MatrixView<typename Stage::Output> c, Executor&& executor = Executor{}) {
  using TA = std::remove_const_t<A>;
  const MatrixView<const TA> av = a;
  if (auto s = validate_gemm(av, a_zero_point, w, stage, c); !s) return fail(s);

  // Resolved once per call: the level can change between calls (set_isa_cap), never within one.
  const GemmMicrokernel<TA> kernel = gemm_microkernel_for<TA>(active_isa(), w, av.rows);
  detail::GemmCall<TA, Stage> call{av,
                                   w,
                                   stage,
                                   c,
                                   kernel,
                                   best_convert_path(),
                                   detail::kernel_zero_point(a_zero_point, kernel)};
  std::size_t task_rows = gemm_task_rows_for(
      kernel.mr, w.panels, kernel.isa == Isa::amx ? gemm_amx_task_rows : gemm_task_rows);
  std::size_t task_panels = kernel.isa == Isa::amx ? gemm_amx_task_panels : gemm_task_panels;
  const auto blocks = [](std::size_t total, std::size_t per_task) {
    return (total + per_task - 1) / per_task;
  };
  if (!runs_serially(executor)) {
    // Small products (a 7x7 or 14x14 layer) would make one to four tasks and leave threads
    // idle: narrower tasks first, down to a panel pair (the 6x64 tile), then shorter ones.
    const auto tasks = [&] { return blocks(av.rows, task_rows) * blocks(w.panels, task_panels); };
    while (tasks() < gemm_parallel_tasks && task_panels > 2) task_panels /= 2;
    while (tasks() < gemm_parallel_tasks && task_rows > kernel.mr) {
      task_rows = kernel.mr * std::max<std::size_t>(1, task_rows / kernel.mr / 2);
    }
  }
  const std::size_t panel_blocks = blocks(w.panels, task_panels);
  const auto run = [&] {
    executor(blocks(av.rows, task_rows) * panel_blocks, [&](std::size_t task) {
      const std::size_t row = (task / panel_blocks) * task_rows;
      const std::size_t panel = (task % panel_blocks) * task_panels;
      detail::gemm_block(call, row, std::min(av.rows, row + task_rows), panel,
                         std::min(w.panels, panel + task_panels));
    });
  };
#if QINFER_X86
  // Every x86 kernel applies requantizing stages in its registers (C with contiguous columns),
  // AMX to the tiles it stores; other tiles go through requantize().
  if constexpr (HasX86Requantize<Stage>::value) {
    if (c.col_stride == 1 && (kernel.isa == Isa::avx512vnni || kernel.isa == Isa::amx) &&
        call.epilogue_path == ConvertPath::avx512) {
      const convert::avx512::StageLanes<fused_stage_t<Stage>> lanes(stage);
      call.fused = &lanes;
      run();
      return ok();
    }
    if (c.col_stride == 1 && (kernel.isa == Isa::avxvnni || kernel.isa == Isa::avx2) &&
        call.epilogue_path == ConvertPath::avx2) {
      const convert::avx2::StageLanes<fused_stage_t<Stage>> lanes(stage);
      call.fused_ymm = &lanes;
      run();
      return ok();
    }
  }
#endif
  run();
  return ok();
}

}  // namespace qinfer
