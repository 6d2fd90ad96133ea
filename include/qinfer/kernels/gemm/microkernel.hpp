// SPDX-License-Identifier: Apache-2.0
//
// The contract every GEMM micro-kernel keeps, and the pieces they share.
//
// A micro-kernel computes the sums of one tile: rows [0, rows) of A (rows <= its mr) times one
// packed panel of gemm_nr columns (kernels/gemm/packing.hpp), starting from init[n] (the
// driver's bias and zero-point terms), into a tile buffer with row stride gemm_nr:
//
//   acc[m][n] = init[n] + sum_k (code(a[m][k]) - activation_offset) * b'[k][n]   (modulo 2^32)
//
// code() is activation_code() below. activation_offset is 0 for kernels that multiply unsigned
// by signed bytes (vpdpbusd, usmmla) and 128 for those that only multiply signed by signed
// (sdot): they see the codes minus 128, and the driver's zero-point algebra absorbs the offset.
// Every path shares the packed layout, so weights packed once serve every path and a change
// of ISA cap between calls. A kernel with per-thread state (AMX's tile configuration) has begin
// and end functions: a thread calls begin() before its first tile and end() after its last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/gemm/packing.hpp"

namespace qinfer {

// The most rows any micro-kernel computes per call (AMX's two 16-row tiles): the size of the
// driver's tile buffer.
inline constexpr std::size_t gemm_max_mr = 32;

// The uint8 code the kernels multiply: int8 activations are shifted into uint8 by flipping the
// top bit (see packing.hpp).
template <class TA>
constexpr uint8_t activation_code(TA a) noexcept {
  return std::is_same_v<TA, int8_t> ? static_cast<uint8_t>(static_cast<uint8_t>(a) ^ 0x80u)
                                    : static_cast<uint8_t>(a);
}

// How the k values of one row of A lie in memory: `count` runs of equal length, `pitch`
// elements apart. A plain GEMM row is one run. A convolution window read in place from the
// image is one run per kernel row (ops/conv2d.hpp), each a whole number of groups when there are
// several, so that groups never straddle two runs.
struct RowRuns {
  std::size_t count = 1;
  std::size_t pitch = 0;
};

// The packed bytes of one run of run_k values: its groups, zero-padded to a whole last group.
constexpr std::size_t packed_run_bytes(std::size_t run_k) noexcept {
  return (run_k + gemm_kr - 1) / gemm_kr * gemm_nr * gemm_kr;
}

template <class TA>
using GemmTileFn = void (*)(const TA* a, std::size_t lda, std::size_t rows, std::size_t k,
                            const int8_t* panel, const int32_t* init, int32_t* acc) noexcept;

// One micro-kernel and its tile shape, for engines that drive the kernels themselves.
template <class TA>
struct GemmMicrokernel {
  const char* name;  // ISA, instruction and tile, e.g. "avx512vnni vpdpbusd 8x32c4"
  Isa isa;
  std::size_t mr;              // rows per call (at most gemm_max_mr)
  std::size_t nr;              // columns per call: gemm_nr
  std::size_t kr;              // k per packed group: gemm_kr
  uint32_t activation_offset;  // subtracted from every activation code (see above)
  GemmTileFn<TA> tile;
  void (*begin)() noexcept = nullptr;  // per-thread set-up, if any (see above)
  void (*end)() noexcept = nullptr;
};

namespace kernels {

// The codes of gemm_kr activations from `first` as one little-endian word; `xor_mask` flips top
// bits (0x80808080 turns int8 into uint8 codes and back). Compiles to one load.
template <class TA>
inline uint32_t activation_word(const TA* a, std::size_t first, uint32_t xor_mask) noexcept {
  uint32_t word = 0;
  std::memcpy(&word, a + first, gemm_kr);
  return word ^ xor_mask;
}

// The same for the last group of `count` (1..gemm_kr) activations, zero-padded when partial
// (the packed weights of the padding are zero). A byte loop: memcpy of a run-time size is a
// library call, which cost 3% of a 256^3 GEMM.
template <class TA>
inline uint32_t activation_tail_word(const TA* a, std::size_t first, uint32_t xor_mask,
                                     std::size_t count) noexcept {
  if (count == gemm_kr) return activation_word(a, first, xor_mask);
  uint32_t word = 0;
  for (std::size_t i = 0; i < count; ++i) {
    word |= static_cast<uint32_t>(static_cast<uint8_t>(a[first + i])) << (8 * i);
  }
  return word ^ xor_mask;
}

// The mask that gives a kernel the codes it multiplies: activation_code() for unsigned kernels,
// the codes minus 128 (as int8 bytes) for signed ones.
template <class TA>
constexpr uint32_t code_mask(uint32_t activation_offset) noexcept {
  const bool flip = std::is_same_v<TA, int8_t> != (activation_offset == 128);
  return flip ? 0x80808080u : 0u;
}

// Where a fused epilogue (a kernel that applies the stage in its registers) puts a tile, and the
// zero-point term it still owes.
template <class Out>
struct TileOutput {
  Out* c;                     // the tile's first element in C, whose columns are contiguous
  std::size_t ldc;            // C's row stride
  std::size_t columns;        // of the tile's panels that C has: all but in the last panel
  std::size_t first_channel;  // the tile's first column, for per-channel stage parameters
  const int32_t* zb;          // the tile's weight zero points, or null when all are 0
  const uint32_t* row_sums;   // per tile row: sum of (code - activation_offset), when zb is set
};

// Calls tile<Rows>(...) for a runtime row count 1..MaxRows: each short tile (the M = 1 GEMV
// above all) runs a kernel that computes only its rows.
template <std::size_t MaxRows, class Fn, std::size_t... Rows>
inline void dispatch_rows(std::size_t rows, Fn&& fn, std::index_sequence<Rows...>) noexcept {
  static_cast<void>(
      ((rows == Rows + 1 ? (fn(std::integral_constant<std::size_t, Rows + 1>{}), true) : false) ||
       ...));
}
template <std::size_t MaxRows, class Fn>
inline void dispatch_rows(std::size_t rows, Fn&& fn) noexcept {
  dispatch_rows<MaxRows>(rows, fn, std::make_index_sequence<MaxRows>{});
}

// Calls fn(r, integral_constant<Rows>) over rows [first, rows) in tiles of at most MaxRows.
template <std::size_t MaxRows, class Fn>
inline void for_each_row_tile(std::size_t first, std::size_t rows, Fn&& fn) noexcept {
  for (std::size_t r = first; r < rows; r += MaxRows) {
    dispatch_rows<MaxRows>(rows - r < MaxRows ? rows - r : MaxRows,
                           [&](auto tile) { fn(r, tile); });
  }
}

}  // namespace kernels
}  // namespace qinfer
