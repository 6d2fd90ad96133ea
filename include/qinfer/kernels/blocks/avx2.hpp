// SPDX-License-Identifier: Apache-2.0
//
// AVX2 weight-only GEMM kernel (contract in kernels/blocks/scalar.hpp). A packed record's 16
// lanes are taken as two ymm halves of 8 output rows each. AVX2 has no u8 x s8 dot product into
// int32, only vpmaddubsw, which sums two u8 x s8 products into a saturating int16; each code
// kind is arranged so that it cannot saturate (activation codes are in [-127, 127]):
//
// - int8: the stored code minus 128 is the signed code c. vpmaddubsw(|c|, sign(a, c)) forms
//   c a in pairs of at most 2 x 128 x 127 = 32512, then vpmaddwd by ones widens the pairs to
//   int32: 4 instructions per 32 multiply-adds and row.
// - int4: codes 0..15 times activations give pairs of at most 2 x 15 x 127 = 3810, so the 8
//   vpmaddubsw of a sub-block (at most 30480) add up in int16 before one vpmaddwd: about 2.3
//   instructions per 32 multiply-adds and row. Q4_0's offset of 8 comes back out through the
//   block's activation sum.
//
// Two activation rows share each code vector: 4 accumulators (2 rows x 2 halves), 2 dots, the
// codes and 3 constants fit the 16 ymm.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/reference/block_gemm.hpp"

namespace qinfer::kernels::avx2 {

inline constexpr std::size_t block_mr = 2;

// 8 lanes' scales (or minimums) at p, as floats.
template <ScaleFormat Format>
__attribute__((always_inline, target("avx2,f16c"))) inline __m256 load_block_scales(
    const uint8_t* p) noexcept {
  if constexpr (Format == ScaleFormat::fp16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
}

__attribute__((always_inline, target("avx2"))) inline __m256i broadcast_word(
    const int8_t* p) noexcept {
  int32_t word = 0;
  std::memcpy(&word, p, 4);
  return _mm256_set1_epi32(word);
}

// Lanes [8 half, 8 half + 8) of the group that are rows of the output, as a maskstore mask.
__attribute__((always_inline, target("avx2"))) inline __m256i half_mask(std::size_t count,
                                                                        std::size_t half) noexcept {
  const auto live = static_cast<int>(std::min<std::size_t>(8, count - std::min(count, 8 * half)));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(live), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Block terms for half h (lanes 8h .. 8h + 7) of the group, Rows activation rows: acc[r] =
// fma(d, dot[r], acc[r]), then for int4_min fma(m, sum[r], acc[r]), as the contract orders them.
template <class Block, std::size_t Rows>
__attribute__((always_inline, target("avx2,fma,f16c"))) inline void add_block_terms(
    const uint8_t* record, std::size_t h, const __m256i (&dot)[Rows], const int32_t* sums,
    __m256 (&acc)[Rows]) noexcept {
  using Packed = PackedBlocks<Block>;
  const __m256 d = load_block_scales<Block::scale_format>(record + 8 * h * Packed::scale_size);
  for (std::size_t r = 0; r < Rows; ++r) {
    acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot[r]), acc[r]);
  }
  if constexpr (Packed::has_min) {
    const __m256 m =
        load_block_scales<Block::scale_format>(record + (block_rows + 8 * h) * Packed::scale_size);
    for (std::size_t r = 0; r < Rows; ++r) {
      acc[r] = _mm256_fmadd_ps(m, _mm256_set1_ps(static_cast<float>(sums[r])), acc[r]);
    }
  }
}

// y[r][lane] = acc * the row's scale, for the lanes < count of both halves.
template <std::size_t Rows>
__attribute__((always_inline, target("avx2"))) inline void store_tile(const __m256 (&acc)[2][Rows],
                                                                      const BlockActivations& a,
                                                                      std::size_t first_row,
                                                                      float* y, std::size_t ldy,
                                                                      std::size_t count) noexcept {
  for (std::size_t h = 0; h < 2 && 8 * h < count; ++h) {
    const __m256i mask = half_mask(count, h);
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m256 out = _mm256_mul_ps(acc[h][r], _mm256_set1_ps(a.scales[first_row + r]));
      _mm256_maskstore_ps(y + r * ldy + 8 * h, mask, out);
    }
  }
}

// reference::quantize_activation_row for k a multiple of 32, in ymm (see the AVX-512 one):
// 32 values at a time, narrowed with vpackssdw / vpacksswb, whose lane order vpermd restores.
__attribute__((target("avx2"))) inline float quantize_activation_row(const float* x, std::size_t k,
                                                                     int8_t* codes) noexcept {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  for (std::size_t i = 0; i < k; i += 8) {
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
  const float m = _mm_cvtss_f32(m4);
  if (m < reference::activation_floor) {
    std::memset(codes, 0, k);
    return 0.0f;
  }
  const __m256 inverse = _mm256_set1_ps(127.0f / m);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i low = _mm256_set1_epi8(-127);
  const auto level = [&](std::size_t i) __attribute__((always_inline, target("avx2"))) {
    return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), inverse));
  };
  for (std::size_t i = 0; i < k; i += 32) {
    const __m256i words = _mm256_packs_epi32(level(i), level(i + 8));
    const __m256i words2 = _mm256_packs_epi32(level(i + 16), level(i + 24));
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words2), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), _mm256_max_epi8(bytes, low));
  }
  return m / 127.0f;
}

template <class Block, std::size_t Rows>
__attribute__((target("avx2,fma,f16c"))) void block_tile(
    const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
    std::size_t first_row, float* y, std::size_t ldy, std::size_t count) noexcept {
  using Packed = PackedBlocks<Block>;
  __m256 acc[2][Rows];
  for (auto& half : acc) {
    for (auto& v : half) v = _mm256_setzero_ps();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::size_t b = 0; b < w.blocks(); ++b) {
    const uint8_t* record = w.record(group, b);
    const uint8_t* codes = record + Packed::scale_bytes;
    const int32_t* sums = a.block_sums(b, first_row);
    for (std::size_t h = 0; h < 2; ++h) {
      __m256i dot[Rows];
      for (std::size_t r = 0; r < Rows; ++r) {
        dot[r] = _mm256_set1_epi32(-Block::code_offset * sums[r]);
      }
      for (std::size_t s = 0; s < Packed::subblocks; ++s) {
        const int8_t* xs = a.subblock(b * Packed::subblocks + s, first_row);
        if constexpr (Packed::int8_codes) {
          const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
#pragma GCC unroll 8
          for (std::size_t t = 0; t < 8; ++t) {
            const __m256i c = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                                   codes + 64 * (8 * s + t) + 32 * h)),
                                               bias);
            const __m256i magnitude = _mm256_abs_epi8(c);
            for (std::size_t r = 0; r < Rows; ++r) {
              const __m256i x = _mm256_sign_epi8(broadcast_word(xs + block_size * r + 4 * t), c);
              dot[r] = _mm256_add_epi32(
                  dot[r], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, x), ones));
            }
          }
        } else {
          const __m256i nibble = _mm256_set1_epi8(0x0f);
          __m256i pairs[Rows];
          for (auto& v : pairs) v = _mm256_setzero_si256();
#pragma GCC unroll 4
          for (std::size_t t = 0; t < 4; ++t) {
            const __m256i packed = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(codes + 64 * (4 * s + t) + 32 * h));
            const __m256i low = _mm256_and_si256(packed, nibble);
            const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
            for (std::size_t r = 0; r < Rows; ++r) {
              const int8_t* x = xs + block_size * r + 4 * t;
              pairs[r] = _mm256_add_epi16(
                  pairs[r], _mm256_add_epi16(_mm256_maddubs_epi16(low, broadcast_word(x)),
                                             _mm256_maddubs_epi16(high, broadcast_word(x + 16))));
            }
          }
          for (std::size_t r = 0; r < Rows; ++r) {
            dot[r] = _mm256_add_epi32(dot[r], _mm256_madd_epi16(pairs[r], ones));
          }
        }
      }
      add_block_terms<Block>(record, h, dot, sums, acc[h]);
    }
  }
  store_tile(acc, a, first_row, y, ldy, count);
}

template <class Block>
void block_group(const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
                 std::size_t first_row, std::size_t rows, float* y, std::size_t ldy,
                 std::size_t count) noexcept {
  for_each_row_tile<block_mr>(0, rows, [&](std::size_t r, auto tile) {
    block_tile<Block, decltype(tile)::value>(w, group, a, first_row + r, y + r * ldy, ldy, count);
  });
}

}  // namespace qinfer::kernels::avx2
#endif
