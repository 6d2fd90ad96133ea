// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag in AVX2 with FMA and F16C: a bag's whole 8-column slices in chunks of up to 64
// columns (eight ymm accumulators), one vfmadd per slice and row, as reference::pool_columns
// defines (bit-exact: the same fused multiply-adds, lane by lane). AVX2 has no masked byte loads,
// so the last dim % 8 columns, which a full load would read past, go through pool_columns itself.
//
// Widening 8 codes: 8-bit, vpmovzxbd; 4-bit, the 4 bytes as one dword in every lane shifted
// right by 4 x lane; 2-bit, the 2 bytes shifted by 2 x lane.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/embedding/rows.hpp"
#include "qinfer/reference/embedding_bag.hpp"

namespace qinfer::kernels::avx2 {

inline constexpr std::size_t embedding_lanes = 8;
inline constexpr std::size_t embedding_chunk_vectors = 8;

// Columns j .. j + 7 of a row as floats.
template <class Table>
__attribute__((always_inline, target("avx2,fma,f16c"))) inline __m256 load_slice(
    const uint8_t* row, std::size_t j) noexcept {
  if constexpr (std::is_same_v<Table, MatrixView<const float>>) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + j);
  } else {
    using Format = typename Table::Format;
    __m256i codes;
    if constexpr (Format::bits == 8) {
      codes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j)));
    } else if constexpr (Format::bits == 4) {
      uint32_t packed = 0;
      std::memcpy(&packed, row + j / 2, sizeof packed);
      codes = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(packed)),
                                                 _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                               _mm256_set1_epi32(0xF));
    } else {
      uint16_t packed = 0;
      std::memcpy(&packed, row + j / 4, sizeof packed);
      codes = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(packed),
                                                 _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                               _mm256_set1_epi32(3));
    }
    return _mm256_cvtepi32_ps(codes);
  }
}

// A row's scale and bias; fp16 ones through vcvtph2ps (exact like half_to_float, and a few
// instructions instead of a few dozen per row: 4-bit rows of 64 from DRAM ran at 148M rows/s
// with the portable conversion).
template <class Table>
__attribute__((always_inline, target("avx2,fma,f16c"))) inline void scale_bias(
    const Table& table, std::size_t i, const uint8_t* row, float& scale, float& bias) noexcept {
  using Rows = TableRows<Table>;
  if constexpr (Rows::has_bias) {
    using Format = typename Table::Format;
    if constexpr (Format::scale_format == ScaleFormat::fp16) {
      uint32_t halves = 0;
      std::memcpy(&halves, row + Format::code_bytes(table.dim), sizeof halves);
      const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(halves)));
      scale = _mm_cvtss_f32(both);
      bias = _mm_cvtss_f32(_mm_movehdup_ps(both));
      return;
    }
  }
  scale = Rows::scale(table, i);
  bias = Rows::bias(table, i);
}

__attribute__((always_inline, target("avx2"))) inline void prefetch_row(
    const uint8_t* row, std::size_t bytes) noexcept {
  for (std::size_t offset = 0; offset < bytes; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(row + offset), _MM_HINT_T0);
  }
  _mm_prefetch(reinterpret_cast<const char*>(row + bytes - 1), _MM_HINT_T0);
}

// Columns [j0, j0 + 8 Vectors) of the bag.
template <std::size_t Vectors, class Table, class Index>
__attribute__((target("avx2,fma,f16c"))) void pool_chunk(const Table& table, const Index* idx,
                                                         std::size_t count, std::size_t ahead,
                                                         const float* weights, Pooling pooling,
                                                         std::size_t j0, float* out) noexcept {
  using Rows = TableRows<Table>;
  __m256 acc[Vectors];
  for (std::size_t v = 0; v < Vectors; ++v) acc[v] = _mm256_setzero_ps();
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
    const __m256 a = _mm256_set1_ps(w * scale);
    for (std::size_t v = 0; v < Vectors; ++v) {
      acc[v] = _mm256_fmadd_ps(a, load_slice<Table>(row, j0 + v * embedding_lanes), acc[v]);
    }
    if constexpr (Rows::has_bias) bias_sum = std::fma(w, bias, bias_sum);
  }
  const __m256 biases = _mm256_set1_ps(bias_sum);
  const __m256 divisor = _mm256_set1_ps(static_cast<float>(count));
  const bool mean = pooling == Pooling::mean && count != 0;
  for (std::size_t v = 0; v < Vectors; ++v) {
    __m256 x = acc[v];
    if constexpr (Rows::has_bias) x = _mm256_add_ps(x, biases);
    if (mean) x = _mm256_div_ps(x, divisor);
    _mm256_storeu_ps(out + j0 + v * embedding_lanes, x);
  }
}

template <class Table, class Index>
inline constexpr auto chunk_kernels = instantiations<embedding_chunk_vectors>([](auto slices) {
  return &pool_chunk<decltype(slices)::value, Table, Index>;
});

// One bag, as avx512::pool_bag. The CPU must have FMA and F16C as well as AVX2.
template <class Table, class Index>
void pool_bag(const Table& table, const Index* idx, std::size_t count, std::size_t ahead,
              const float* weights, Pooling pooling, float* out) noexcept {
  pool_whole_slices<embedding_lanes>(chunk_kernels<Table, Index>, table, idx, count, ahead, weights,
                                     pooling, out);
}

}  // namespace qinfer::kernels::avx2
#endif
