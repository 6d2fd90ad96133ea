// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag in AVX-512: a bag's columns in chunks of up to 128 (eight zmm accumulators), each
// row's 16-column slices widened to float and added with one vfmadd each, as
// reference::pool_columns defines (bit-exact: the same fused multiply-adds, lane by lane). The
// last slice of a row is a masked load, which never touches the bytes after the row's codes. The
// first chunk prefetches the rows prefetch_distance indices ahead.
//
// Widening 16 codes: 8-bit, vpmovzxbd; 4-bit, the 8 bytes' two dwords spread over the lanes
// (lanes 0-7 the first, 8-15 the second) and shifted right by 4 x (lane % 8); 2-bit, the one
// dword in every lane, shifted by 2 x lane.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/embedding/rows.hpp"
#include "qinfer/reference/embedding_bag.hpp"

// GCC 12 bug 105593 (see quant/convert/avx512.hpp): the widening intrinsics warn about the
// undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::avx512 {

inline constexpr std::size_t embedding_lanes = 16;
inline constexpr std::size_t embedding_chunk_vectors = 8;

__attribute__((always_inline, target("avx512f"))) inline __mmask16 mask(
    std::size_t lanes) noexcept {
  return _cvtu32_mask16((1u << lanes) - 1);
}

// Columns j .. j + 15 of a row as floats; lanes from `lanes` on are not loaded. Whole slices
// use plain loads: a masked load that misses the cache waited for its line even when a prefetch
// had it on the way (4-bit rows of 64 ran at 90M rows/s from DRAM, 8-bit ones at 160M).
template <class Table>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline __m512 load_slice(
    const uint8_t* row, std::size_t j, std::size_t lanes) noexcept {
  const bool whole = lanes >= embedding_lanes;
  if constexpr (std::is_same_v<Table, MatrixView<const float>>) {
    const float* x = reinterpret_cast<const float*>(row) + j;
    return whole ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(mask(lanes), x);
  } else {
    using Format = typename Table::Format;
    const uint8_t* p = row + j / Format::codes_per_byte;
    const std::size_t bytes = (lanes + Format::codes_per_byte - 1) / Format::codes_per_byte;
    __m128i packed;
    if constexpr (Format::bits == 8) {
      packed = whole ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))
                     : _mm_maskz_loadu_epi8(mask(bytes), p);
    } else if constexpr (Format::bits == 4) {
      packed = whole ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))
                     : _mm_maskz_loadu_epi8(mask(bytes), p);
    } else {
      uint32_t word = 0;
      if (whole) std::memcpy(&word, p, sizeof word);
      packed =
          whole ? _mm_cvtsi32_si128(static_cast<int>(word)) : _mm_maskz_loadu_epi8(mask(bytes), p);
    }
    __m512i codes;
    if constexpr (Format::bits == 8) {
      codes = _mm512_cvtepu8_epi32(packed);
    } else if constexpr (Format::bits == 4) {
      const __m512i spread =
          _mm512_permutexvar_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                   _mm512_zextsi128_si512(packed));
      codes = _mm512_and_si512(
          _mm512_srlv_epi32(
              spread, _mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0)),
          _mm512_set1_epi32(0xF));
    } else {
      codes = _mm512_and_si512(_mm512_srlv_epi32(_mm512_broadcastd_epi32(packed),
                                                 _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16,
                                                                  14, 12, 10, 8, 6, 4, 2, 0)),
                               _mm512_set1_epi32(3));
    }
    return _mm512_cvtepi32_ps(codes);
  }
}

// A row's scale and bias; fp16 ones through vcvtph2ps (part of AVX-512F, exact like
// half_to_float, and a few instructions instead of a few dozen per row).
template <class Table>
__attribute__((always_inline, target("avx512f"))) inline void scale_bias(
    const Table& table, std::size_t i, const uint8_t* row, float& scale, float& bias) noexcept {
  using Rows = TableRows<Table>;
  if constexpr (Rows::has_bias) {
    using Format = typename Table::Format;
    if constexpr (Format::scale_format == ScaleFormat::fp16) {
      uint32_t halves = 0;
      std::memcpy(&halves, row + Format::code_bytes(table.dim), sizeof halves);
      const __m128 both = _mm512_castps512_ps128(
          _mm512_cvtph_ps(_mm256_castsi128_si256(_mm_cvtsi32_si128(static_cast<int>(halves)))));
      scale = _mm_cvtss_f32(both);
      bias = _mm_cvtss_f32(_mm_movehdup_ps(both));
      return;
    }
  }
  scale = Rows::scale(table, i);
  bias = Rows::bias(table, i);
}

__attribute__((always_inline, target("avx512f"))) inline void prefetch_row(
    const uint8_t* row, std::size_t bytes) noexcept {
  for (std::size_t offset = 0; offset < bytes; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(row + offset), _MM_HINT_T0);
  }
  _mm_prefetch(reinterpret_cast<const char*>(row + bytes - 1), _MM_HINT_T0);
}

// Columns [j0, j0 + 16 Vectors) of the bag, the last vector holding `last_lanes` columns.
template <std::size_t Vectors, class Table, class Index>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void pool_chunk(
    const Table& table, const Index* idx, std::size_t count, std::size_t ahead,
    const float* weights, Pooling pooling, std::size_t j0, std::size_t last_lanes,
    float* out) noexcept {
  using Rows = TableRows<Table>;
  __m512 acc[Vectors];
  for (std::size_t v = 0; v < Vectors; ++v) acc[v] = _mm512_setzero_ps();
  float bias_sum = 0.0f;
  const std::size_t row_bytes = Rows::row_bytes(table);
  for (std::size_t r = 0; r < count; ++r) {
    if (r + prefetch_distance < ahead) {
      prefetch_row(Rows::row(table, static_cast<std::size_t>(idx[r + prefetch_distance])),
                   row_bytes);
    }
    const auto i = static_cast<std::size_t>(idx[r]);
    const uint8_t* row = Rows::row(table, i);
    const float w = weights != nullptr ? weights[r] : 1.0f;
    float scale = 0.0f, bias = 0.0f;
    scale_bias(table, i, row, scale, bias);
    const __m512 a = _mm512_set1_ps(w * scale);
    for (std::size_t v = 0; v < Vectors; ++v) {
      const std::size_t lanes = v + 1 == Vectors ? last_lanes : embedding_lanes;
      acc[v] = _mm512_fmadd_ps(a, load_slice<Table>(row, j0 + v * embedding_lanes, lanes), acc[v]);
    }
    if constexpr (Rows::has_bias) bias_sum = std::fma(w, bias, bias_sum);
  }
  const __m512 biases = _mm512_set1_ps(bias_sum);
  const __m512 divisor = _mm512_set1_ps(static_cast<float>(count));
  const bool mean = pooling == Pooling::mean && count != 0;
  for (std::size_t v = 0; v < Vectors; ++v) {
    __m512 x = acc[v];
    if constexpr (Rows::has_bias) x = _mm512_add_ps(x, biases);
    if (mean) x = _mm512_div_ps(x, divisor);
    const std::size_t lanes = v + 1 == Vectors ? last_lanes : embedding_lanes;
    const __mmask16 mask =
        lanes >= embedding_lanes ? __mmask16{0xFFFF} : _cvtu32_mask16((1u << lanes) - 1);
    _mm512_mask_storeu_ps(out + j0 + v * embedding_lanes, mask, x);
  }
}

template <class Table, class Index>
inline constexpr auto chunk_kernels = instantiations<embedding_chunk_vectors>([](auto vectors) {
  return &pool_chunk<decltype(vectors)::value, Table, Index>;
});

// One bag: `count` checked indices at idx, with `ahead` indices (this bag's and the following
// bags') readable from idx on for prefetching; weights null or one per index.
template <class Table, class Index>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void pool_bag(
    const Table& table, const Index* idx, std::size_t count, std::size_t ahead,
    const float* weights, Pooling pooling, float* out) noexcept {
  const std::size_t dim = TableRows<Table>::dim(table);
  for (std::size_t j0 = 0; j0 < dim; j0 += embedding_lanes * embedding_chunk_vectors) {
    const std::size_t columns = std::min(dim - j0, embedding_lanes * embedding_chunk_vectors);
    const std::size_t vectors = (columns + embedding_lanes - 1) / embedding_lanes;
    const std::size_t last = columns - (vectors - 1) * embedding_lanes;
    // Only the first chunk prefetches: the later ones find the bag's rows in cache.
    const std::size_t chunk_ahead = j0 == 0 ? ahead : 0;
    chunk_kernels<Table, Index>[vectors - 1](table, idx, count, chunk_ahead, weights, pooling, j0,
                                             last, out);
  }
}

}  // namespace qinfer::kernels::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
