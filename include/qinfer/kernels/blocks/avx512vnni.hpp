// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 VNNI weight-only GEMM kernel (contract in kernels/blocks/scalar.hpp): one zmm lane per
// output row of the packed group. Per sub-block of 32 k, the 8 code vectors (int4: 4 loads,
// split into low and high nibbles) are multiplied by each activation row's 8 code dwords,
// broadcast, with vpdpbusd (codes unsigned, activations signed) into the block's integer dot;
// the offset of the stored codes (128 for int8, 8 for int4) comes back out through the block's
// activation sum, and the block's scales (fp16 widened exactly, or fp32) enter with one fma per
// row: the reference's order in every lane.
//
// Up to 8 activation rows share each sub-block's code vectors (8 dots, 8 accumulators and 8
// codes: 24 zmm). From 16 rows on, up to 4 such tiles take turns on each block while it is in
// L1 (block_chunk), so the weights stream from memory once per 32 rows.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/kernels/gemm/avx512vnni.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/reference/block_gemm.hpp"

// GCC 12 bug 105593 (see convert/avx512.hpp): the conversion intrinsics warn about the
// undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::avx512vnni {

inline constexpr std::size_t block_mr = 8;

// The 16 lanes' scales (or minimums) at p, as floats.
template <ScaleFormat Format>
__attribute__((target("avx512f"))) inline __m512 load_scales(const uint8_t* p) noexcept {
  if constexpr (Format == ScaleFormat::fp16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    return _mm512_loadu_ps(p);
  }
}

// reference::quantize_activation_row for k a multiple of 32, in zmm: the maximum magnitude is
// exact in any order, the product by 127 / amax is the same multiply, and vcvtps2dq rounds it
// half to even (the default rounding mode, as nearbyint does).
__attribute__((target("avx512f,avx512bw"))) inline float quantize_activation_row(
    const float* x, std::size_t k, int8_t* codes) noexcept {
  __m512 amax = _mm512_setzero_ps();
  for (std::size_t i = 0; i < k; i += 16)
    amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  const float m = _mm512_reduce_max_ps(amax);
  if (m < reference::activation_floor) {
    std::memset(codes, 0, k);
    return 0.0f;
  }
  const __m512 inverse = _mm512_set1_ps(127.0f / m);
  const __m512i low = _mm512_set1_epi32(-127), high = _mm512_set1_epi32(127);
  for (std::size_t i = 0; i < k; i += 16) {
    const __m512i level = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), inverse));
    const __m512i clamped = _mm512_min_epi32(_mm512_max_epi32(level, low), high);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi32_epi8(clamped));
  }
  return m / 127.0f;
}

// Block b of the group for Rows activation rows from first_row: acc[r] takes the block's terms.
template <class Block, std::size_t Rows>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vnni"))) inline void block_step(
    const PackedBlocks<Block>& w, std::size_t group, std::size_t b, const BlockActivations& a,
    std::size_t first_row, __m512 (&acc)[Rows]) noexcept {
  using Packed = PackedBlocks<Block>;
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const uint8_t* record = w.record(group, b);
  const uint8_t* codes = record + Packed::scale_bytes;
  const int32_t* sums = a.block_sums(b, first_row);
  __m512i dot[Rows];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < Rows; ++r) {
    dot[r] = _mm512_set1_epi32(-Packed::stored_offset * sums[r]);
  }
  for (std::size_t s = 0; s < Packed::subblocks; ++s) {
    const int8_t* xs = a.subblock(b * Packed::subblocks + s, first_row);
    __m512i c[8];
    if constexpr (Packed::int8_codes) {
#pragma GCC unroll 8
      for (std::size_t t = 0; t < 8; ++t) c[t] = _mm512_loadu_si512(codes + 64 * (8 * s + t));
    } else {
#pragma GCC unroll 4
      for (std::size_t t = 0; t < 4; ++t) {
        const __m512i packed = _mm512_loadu_si512(codes + 64 * (4 * s + t));
        c[t] = _mm512_and_si512(packed, nibble);
        c[t + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
      }
    }
#pragma GCC unroll 8
    for (std::size_t t = 0; t < 8; ++t) {
#pragma GCC unroll 8
      for (std::size_t r = 0; r < Rows; ++r) {
        int32_t word = 0;
        std::memcpy(&word, xs + block_size * r + 4 * t, 4);
        dot[r] = dpbusd(dot[r], c[t], _mm512_set1_epi32(word));
      }
    }
  }
  const __m512 d = load_scales<Block::scale_format>(record);
#pragma GCC unroll 8
  for (std::size_t r = 0; r < Rows; ++r) {
    acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot[r]), acc[r]);
  }
  if constexpr (Packed::has_min) {
    const __m512 m = load_scales<Block::scale_format>(record + block_rows * Packed::scale_size);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < Rows; ++r) {
      acc[r] = _mm512_fmadd_ps(m, _mm512_set1_ps(static_cast<float>(sums[r])), acc[r]);
    }
  }
}

__attribute__((always_inline, target("avx512f"))) inline void store_outputs(
    const __m512& acc, float scale, float* y, std::size_t count) noexcept {
  const auto mask = static_cast<__mmask16>((uint32_t{1} << count) - 1);
  _mm512_mask_storeu_ps(y, mask, _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
}

// Up to 8 rows in one pass over the group, the accumulators in registers.
template <class Block, std::size_t Rows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void block_tile(
    const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
    std::size_t first_row, float* y, std::size_t ldy, std::size_t count) noexcept {
  __m512 acc[Rows];
#pragma GCC unroll 8
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (std::size_t b = 0; b < w.blocks(); ++b) block_step(w, group, b, a, first_row, acc);
#pragma GCC unroll 8
  for (std::size_t r = 0; r < Rows; ++r) {
    store_outputs(acc[r], a.scales[first_row + r], y + r * ldy, count);
  }
}

// Tiles of 8 rows (at most block_chunk_tiles) in one pass over the group: each block serves
// every tile while its records are in L1, the accumulators wait in L1 between tiles. The
// group's weights then stream from memory once for up to 32 rows rather than once per 8.
inline constexpr std::size_t block_chunk_tiles = 4;
// How far ahead block_chunk asks for the records it will read, past the end of the group into
// the next one: the hardware prefetchers do not keep a stream this slow ahead of DRAM's latency.
inline constexpr std::size_t block_prefetch_records = 8;

// Asks for the record block_prefetch_records after block b of the group, if there is one.
template <class Block>
__attribute__((always_inline)) inline void prefetch_ahead(const PackedBlocks<Block>& w,
                                                          std::size_t group,
                                                          std::size_t b) noexcept {
  constexpr std::size_t record_bytes = PackedBlocks<Block>::record_bytes;
  const std::size_t ahead = (group * w.blocks() + b + block_prefetch_records) * record_bytes;
  if (ahead + record_bytes <= w.data.size()) {
#pragma GCC unroll 16
    for (std::size_t line = 0; line < record_bytes; line += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(w.data.data() + ahead + line), _MM_HINT_T0);
    }
  }
}

template <class Block>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void block_chunk(
    const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
    std::size_t first_row, std::size_t tiles, float* y, std::size_t ldy,
    std::size_t count) noexcept {
  __m512 saved[block_chunk_tiles][block_mr];
  for (std::size_t t = 0; t < tiles; ++t) {
    for (auto& v : saved[t]) v = _mm512_setzero_ps();
  }
  for (std::size_t b = 0; b < w.blocks(); ++b) {
    prefetch_ahead(w, group, b);
    for (std::size_t t = 0; t < tiles; ++t) {
      block_step(w, group, b, a, first_row + t * block_mr, saved[t]);
    }
  }
  for (std::size_t r = 0; r < tiles * block_mr; ++r) {
    store_outputs(saved[r / block_mr][r % block_mr], a.scales[first_row + r], y + r * ldy, count);
  }
}

template <class Block>
void block_group(const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
                 std::size_t first_row, std::size_t rows, float* y, std::size_t ldy,
                 std::size_t count) noexcept {
  std::size_t r = 0;
  while (rows - r >= 2 * block_mr) {
    const std::size_t tiles = std::min(block_chunk_tiles, (rows - r) / block_mr);
    block_chunk(w, group, a, first_row + r, tiles, y + r * ldy, ldy, count);
    r += tiles * block_mr;
  }
  for_each_row_tile<block_mr>(r, rows, [&](std::size_t first, auto tile) {
    block_tile<Block, decltype(tile)::value>(w, group, a, first_row + first, y + first * ldy, ldy,
                                             count);
  });
}

}  // namespace qinfer::kernels::avx512vnni

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
