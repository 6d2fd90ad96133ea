// SPDX-License-Identifier: Apache-2.0
//
// AMX-INT8 GEMM micro-kernel, 32x32c4: tdpbusd (uint8 activations) or tdpbssd (int8
// activations, which it takes as they are: activation_offset 128 in code terms) on 16 x 64-byte
// tiles. The 8 tile registers hold a 2 x 2 block of int32 accumulator tiles (32 rows x 32
// columns), two activation tiles (16 rows x 64 k) and two weight tiles (64 k x 16 columns).
//
// The weight tiles load straight from the 32c4 packed panel: a tile row is one group of 4 k for
// 16 columns, i.e. the first or second 64 bytes of a 128-byte group, so a stride of 128 bytes
// walks 16 groups. The micro-kernel (gemm_rows) loads activation tiles straight from A with its
// row stride; the GEMM driver packs wide products' activations first (pack_rows, gemm_packed),
// whose contiguous tiles load faster. Where a tile would run past A's rows or past K (a last
// partial chunk of 64 k, or fewer than 16 rows), the chunk is first copied into a zero-padded
// buffer (or packed with zeros), so no load leaves the caller's memory and padding multiplies
// zeros. A copy read by a tile load right after its stores is slow (the load waits for them:
// copying every chunk that way ran 3.5x slower), so only partial chunks take that path.
//
// The accumulator tiles start as 16 copies of the column init row: a tile load with stride 0.
//
// The tile configuration is constant data, loaded by begin() (ldtilecfg) and released by end()
// (tilerelease), which the driver calls once per task rather than around every tile (a tile
// of K = 1024 is only 64 tdpbusd, about 1000 cycles at their rate). (GCC 12 can drop stores
// that build a configuration on the stack before ldtilecfg, a SIGILL on the first tile
// instruction; a configuration in static storage has no such stores.)
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

#include "qinfer/kernels/gemm/microkernel.hpp"

namespace qinfer::kernels::amx {

inline constexpr std::size_t mr = 32;
inline constexpr std::size_t tile_rows = 16;      // rows of every tile
inline constexpr std::size_t tile_bytes = 64;     // bytes per tile row
inline constexpr std::size_t chunk = tile_bytes;  // k per activation tile row
inline constexpr std::size_t groups_per_chunk = chunk / gemm_kr;

template <class TA>
inline constexpr uint32_t activation_offset = std::is_same_v<TA, int8_t> ? 128 : 0;

// Palette 1; tiles 0-3 accumulators (rows 0-15 and 16-31 x columns 0-15 and 16-31), 4-5
// activations, 6-7 weights: all 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
inline const TileConfig tile_config{};

// Tile C += tile A x tile B: tdpbssd for int8 activations, tdpbusd for uint8. (The compiler's
// intrinsics are macros that paste the tile number's spelling, so a template argument needs
// the instruction written out.)
template <class TA, int C, int A, int B>
__attribute__((always_inline, target("amx-tile,amx-int8"))) inline void dot() noexcept {
  if constexpr (std::is_same_v<TA, int8_t>) {
    __asm__ volatile("tdpbssd %%tmm%c0, %%tmm%c1, %%tmm%c2" ::"i"(B), "i"(A), "i"(C));
  } else {
    __asm__ volatile("tdpbusd %%tmm%c0, %%tmm%c1, %%tmm%c2" ::"i"(B), "i"(A), "i"(C));
  }
}

// GCC 12's tile loads are asm statements that do not tell the compiler they read memory: a
// barrier keeps the stores that fill a buffer ahead of the load that reads it.
inline void memory_barrier() noexcept {
  __asm__ volatile("" ::: "memory");
}

// The accumulator tiles of RowTiles x 16 rows, each 16 copies of the column init row.
template <std::size_t RowTiles>
__attribute__((always_inline, target("amx-tile"))) inline void start_tiles(
    const int32_t* init) noexcept {
  memory_barrier();
  _tile_loadd(0, init, 0);
  _tile_loadd(1, init + 16, 0);
  if constexpr (RowTiles == 2) {
    _tile_loadd(2, init, 0);
    _tile_loadd(3, init + 16, 0);
  }
}

// Where one chunk of 64 k loads its tiles from: activations at `a`, rows `a_stride` bytes apart,
// and 16 groups of weights at `b`. The second row tile starts 16 rows after the first unless
// `a_upper` says where.
struct ChunkTiles {
  const uint8_t* a;
  std::size_t a_stride;
  const int8_t* b;
  const uint8_t* a_upper = nullptr;

  const uint8_t* upper() const noexcept {
    return a_upper != nullptr ? a_upper : a + tile_rows * a_stride;
  }
};

// The chunk's weight tiles, groups [g, g + 16) of the panel; a last partial chunk through a
// zero-padded copy in `buffer`, so that no load passes the panel.
inline const int8_t* weight_chunk(const int8_t* panel, std::size_t g, std::size_t k_groups,
                                  int8_t (&buffer)[groups_per_chunk][gemm_nr * gemm_kr]) noexcept {
  constexpr std::size_t group_bytes = gemm_nr * gemm_kr;
  const int8_t* b = panel + g * group_bytes;
  if (k_groups - g >= groups_per_chunk) return b;
  std::memset(buffer, 0, sizeof buffer);
  std::memcpy(buffer, b, (k_groups - g) * group_bytes);
  return buffer[0];
}

// The dots of `chunks` chunks of 64 k, tiles_of(c) giving chunk c's tiles. Software-pipelined:
// a tile register is reloaded for the next chunk right after the dot that last reads it, so each
// load has at least one 16-cycle dot to land behind, where loading all four before the chunk's
// dots left them waiting for the previous chunk's last dot. A loop of chunks alone ran 4-7%
// faster (4076-4352 against 3942-4047 GOPS); 256^3 gained 7.5%, the larger products 2-3%.
template <std::size_t RowTiles, class TA, class Chunk>
__attribute__((always_inline, target("amx-tile,amx-int8"))) inline void chunk_loop(
    std::size_t chunks, Chunk&& tiles_of) noexcept {
  constexpr std::size_t b_stride = gemm_nr * gemm_kr;
  ChunkTiles next = tiles_of(0);
  memory_barrier();
  _tile_loadd(4, next.a, next.a_stride);
  _tile_loadd(6, next.b, b_stride);
  _tile_loadd(7, next.b + tile_bytes, b_stride);
  if constexpr (RowTiles == 2) _tile_loadd(5, next.upper(), next.a_stride);
  for (std::size_t c = 0; c < chunks; ++c) {
    const bool more = c + 1 < chunks;
    // The barriers keep a copy into the buffers for chunk c + 1 after the loads of chunk c's
    // tiles and before its own.
    memory_barrier();
    if (more) next = tiles_of(c + 1);
    memory_barrier();
    if constexpr (RowTiles == 2) {
      dot<TA, 0, 4, 6>();
      dot<TA, 1, 4, 7>();
      if (more) _tile_loadd(4, next.a, next.a_stride);
      dot<TA, 2, 5, 6>();
      if (more) _tile_loadd(6, next.b, b_stride);
      dot<TA, 3, 5, 7>();
      if (more) {
        _tile_loadd(5, next.upper(), next.a_stride);
        _tile_loadd(7, next.b + tile_bytes, b_stride);
      }
    } else {
      dot<TA, 0, 4, 6>();
      if (more) _tile_loadd(6, next.b, b_stride);
      dot<TA, 1, 4, 7>();
      if (more) {
        _tile_loadd(4, next.a, next.a_stride);
        _tile_loadd(7, next.b + tile_bytes, b_stride);
      }
    }
  }
}

// The accumulator tiles to acc, row stride gemm_nr.
template <std::size_t RowTiles>
__attribute__((always_inline, target("amx-tile"))) inline void store_tiles(int32_t* acc) noexcept {
  constexpr std::size_t acc_stride = gemm_nr * sizeof(int32_t);
  _tile_stored(0, acc, acc_stride);
  _tile_stored(1, acc + 16, acc_stride);
  if constexpr (RowTiles == 2) {
    _tile_stored(2, acc + tile_rows * gemm_nr, acc_stride);
    _tile_stored(3, acc + tile_rows * gemm_nr + 16, acc_stride);
  }
  memory_barrier();
}

// Accumulates rows [0, rows) x the panel's 32 columns into RowTiles x 2 accumulator tiles
// (rows <= RowTiles x 16).
template <std::size_t RowTiles, class TA>
__attribute__((target("amx-tile,amx-int8"))) void gemm_rows(const TA* a, std::size_t lda,
                                                            std::size_t rows, std::size_t k,
                                                            const int8_t* panel,
                                                            const int32_t* init,
                                                            int32_t* acc) noexcept {
  alignas(64) uint8_t a_buffer[mr][chunk];
  alignas(64) int8_t b_buffer[groups_per_chunk][gemm_nr * gemm_kr];
  const bool all_rows = rows == RowTiles * tile_rows;
  const std::size_t k_groups = (k + gemm_kr - 1) / gemm_kr;
  start_tiles<RowTiles>(init);
  // A chunk's tiles are loaded before the next chunk is prepared, so one buffer each serves.
  chunk_loop<RowTiles, TA>((k + chunk - 1) / chunk, [&](std::size_t c) {
    const std::size_t first = c * chunk, depth = std::min(chunk, k - first);
    ChunkTiles tiles{reinterpret_cast<const uint8_t*>(a + first), lda * sizeof(TA),
                     weight_chunk(panel, first / gemm_kr, k_groups, b_buffer)};
    if (!all_rows || depth < chunk) {
      std::memset(a_buffer, 0, sizeof a_buffer);
      for (std::size_t m = 0; m < rows; ++m) std::memcpy(a_buffer[m], a + m * lda + first, depth);
      tiles.a = a_buffer[0];
      tiles.a_stride = chunk;
    }
    return tiles;
  });
  store_tiles<RowTiles>(acc);
}

// Packed activations: a row tile's chunks one after another, chunk c holding rows 0-31 x 64 k,
// 64 bytes a row, zero past the tile's rows and past K: the order the tile loads read them, 2 KiB
// contiguous per chunk. With random activations read from a contiguous buffer instead of from A
// (each tile 16 rows lda apart), 1024^3 ran 2878 GOPS against 2664 and the conv shape 3418
// against 2019, before the cost of packing.
inline constexpr std::size_t packed_chunk_bytes = mr * chunk;

constexpr std::size_t packed_tile_bytes(std::size_t k) noexcept {
  return (k + chunk - 1) / chunk * packed_chunk_bytes;
}

// Packs rows [0, rows) x K of A (rows <= mr) into packed_tile_bytes(k) bytes at `out`, zeros up
// to RowTiles x 16 rows. Masked loads read no byte past a row's end.
template <std::size_t RowTiles, class TA>
__attribute__((target("avx512f,avx512bw"))) void pack_rows(const TA* a, std::size_t lda,
                                                           std::size_t rows, std::size_t k,
                                                           uint8_t* out) noexcept {
  const std::size_t chunks = (k + chunk - 1) / chunk, tail = k - (chunks - 1) * chunk;
  const __mmask64 tail_mask = tail == chunk ? ~__mmask64{0} : (__mmask64{1} << tail) - 1;
  for (std::size_t m = 0; m < rows; ++m) {
    const auto* row = reinterpret_cast<const uint8_t*>(a + m * lda);
    for (std::size_t c = 0; c < chunks; ++c) {
      const __mmask64 mask = c + 1 < chunks ? ~__mmask64{0} : tail_mask;
      _mm512_store_si512(out + c * packed_chunk_bytes + m * chunk,
                         _mm512_maskz_loadu_epi8(mask, row + c * chunk));
    }
  }
  for (std::size_t m = rows; m < RowTiles * tile_rows; ++m) {
    for (std::size_t c = 0; c < chunks; ++c) {
      _mm512_store_si512(out + c * packed_chunk_bytes + m * chunk, _mm512_setzero_si512());
    }
  }
}

// gemm_rows over activations packed by pack_rows<RowTiles>.
template <std::size_t RowTiles, class TA>
__attribute__((target("amx-tile,amx-int8"))) void gemm_packed(const uint8_t* a, std::size_t k,
                                                              const int8_t* panel,
                                                              const int32_t* init,
                                                              int32_t* acc) noexcept {
  alignas(64) int8_t b_buffer[groups_per_chunk][gemm_nr * gemm_kr];
  const std::size_t k_groups = (k + gemm_kr - 1) / gemm_kr;
  start_tiles<RowTiles>(init);
  chunk_loop<RowTiles, TA>((k + chunk - 1) / chunk, [&](std::size_t c) {
    return ChunkTiles{a + c * packed_chunk_bytes, tile_bytes,
                      weight_chunk(panel, c * groups_per_chunk, k_groups, b_buffer)};
  });
  store_tiles<RowTiles>(acc);
}

// gemm_rows over a convolution's windows read in place (ops/conv2d.hpp): rows 0-15 from `a`,
// rows 16-31 from `a_upper` (read with RowTiles 2 only), each rows lda apart, so that a tile may
// take windows of two output rows. Row m's k values lie in runs.count runs of run_k values,
// runs.pitch elements apart, run_k a multiple of 64, so that every chunk lies inside one run and is
// one strided load per tile. All 16 rows of a tile are read: rows past the caller's are its garbage
// to drop, and its memory to hold.
template <std::size_t RowTiles, class TA>
__attribute__((target("amx-tile,amx-int8"))) void gemm_windows(
    const TA* a, const TA* a_upper, std::size_t lda, RowRuns runs, std::size_t run_k,
    const int8_t* panel, const int32_t* init, int32_t* acc) noexcept {
  const std::size_t chunks_per_run = run_k / chunk;
  start_tiles<RowTiles>(init);
  chunk_loop<RowTiles, TA>(runs.count * chunks_per_run, [&](std::size_t c) {
    const std::size_t offset = c / chunks_per_run * runs.pitch + c % chunks_per_run * chunk;
    return ChunkTiles{reinterpret_cast<const uint8_t*>(a + offset), lda * sizeof(TA),
                      panel + c * groups_per_chunk * gemm_nr * gemm_kr,
                      reinterpret_cast<const uint8_t*>(a_upper + offset)};
  });
  store_tiles<RowTiles>(acc);
}

// The calling thread's buffer of at least `bytes` bytes for packed activations, 64-byte aligned,
// grown on demand and kept for the thread's later calls; null when it cannot be allocated.
inline uint8_t* scratch(std::size_t bytes) noexcept {
  struct Buffer {
    void* data = nullptr;
    std::size_t size = 0;
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { ::operator delete (data, std::align_val_t{64}); }
  };
  thread_local Buffer buffer;
  if (buffer.size < bytes) {
    void* grown = ::operator new (bytes, std::align_val_t{64}, std::nothrow);
    if (grown == nullptr) return nullptr;
    ::operator delete (buffer.data, std::align_val_t{64});
    buffer.data = grown;
    buffer.size = bytes;
  }
  return static_cast<uint8_t*>(buffer.data);
}

__attribute__((target("amx-tile"))) inline void begin() noexcept {
  _tile_loadconfig(&tile_config);
}
__attribute__((target("amx-tile"))) inline void end() noexcept {
  _tile_release();
}

template <class TA>
void gemm_tile(const TA* a, std::size_t lda, std::size_t rows, std::size_t k, const int8_t* panel,
               const int32_t* init, int32_t* acc) noexcept {
  if (rows > tile_rows) return gemm_rows<2>(a, lda, rows, k, panel, init, acc);
  gemm_rows<1>(a, lda, rows, k, panel, init, acc);
}

template <class TA>
constexpr GemmMicrokernel<TA> gemm_microkernel() noexcept {
  return {std::is_same_v<TA, int8_t> ? "amx tdpbssd 32x32c4" : "amx tdpbusd 32x32c4",
          Isa::amx,
          mr,
          gemm_nr,
          gemm_kr,
          activation_offset<TA>,
          &gemm_tile<TA>,
          &begin,
          &end};
}

}  // namespace qinfer::kernels::amx
#endif
