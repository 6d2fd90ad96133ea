// SPDX-License-Identifier: Apache-2.0
//
// AArch64 NEON weight-only GEMM kernel (contract in kernels/blocks/scalar.hpp), for cores
// without the dot-product instructions. A packed record's 16 lanes are taken as four quarters of
// 4 output rows (int32x4 / float32x4). The codes are made signed bytes (int8: stored minus 128,
// an XOR; int4: the nibbles as they are) and each activation word is broadcast: SMULL and
// SMULL2 form the 16 products of a code vector, at most 128 x 127 in magnitude, and SADALP adds
// them in pairs into int32 accumulators; one ADDP per block folds the pairs into the 4 lanes'
// dots. Q4_0's offset of 8 comes back out through the block's activation sum.
//
// Four activation rows share each code vector: 16 float accumulators (4 rows x 4 quarters),
// 8 pair accumulators, a code vector and a broadcast, 26 of the 32 q registers.
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/reference/block_gemm.hpp"

namespace qinfer::kernels::neon {

inline constexpr std::size_t block_mr = 4;

// 4 lanes' scales (or minimums) at p, as floats: FCVTL widens fp16 exactly.
template <ScaleFormat Format>
inline float32x4_t load_block_scales(const uint8_t* p) noexcept {
  if constexpr (Format == ScaleFormat::fp16) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
  } else {
    return vld1q_f32(reinterpret_cast<const float*>(p));
  }
}

// Code vector t (0..7) of sub-block s for quarter `quarter` (4 lanes x 4 codes), as signed
// bytes: int8 codes minus 128; int4 vector t < 4 the low nibbles of packed vector t, t >= 4 the
// high nibbles of packed vector t - 4.
template <class Packed>
inline int8x16_t code_vector(const uint8_t* codes, std::size_t s, std::size_t t,
                             std::size_t quarter) noexcept {
  if constexpr (Packed::int8_codes) {
    const uint8x16_t stored = vld1q_u8(codes + 64 * (8 * s + t) + 16 * quarter);
    return vreinterpretq_s8_u8(veorq_u8(stored, vdupq_n_u8(0x80)));
  } else {
    const uint8x16_t packed = vld1q_u8(codes + 64 * (4 * s + t % 4) + 16 * quarter);
    return vreinterpretq_s8_u8(t < 4 ? vandq_u8(packed, vdupq_n_u8(0x0f)) : vshrq_n_u8(packed, 4));
  }
}

// Block terms for quarter q (lanes 4q .. 4q + 3) of the group, Rows activation rows: acc[r] =
// fma(d, dot[r], acc[r]), then for int4_min fma(m, sum[r], acc[r]), as the contract orders them.
template <class Block, std::size_t Rows>
inline void add_block_terms(const uint8_t* record, std::size_t quarter,
                            const int32x4_t (&dot)[Rows], const int32_t* sums,
                            float32x4_t (&acc)[Rows]) noexcept {
  using Packed = PackedBlocks<Block>;
  const float32x4_t d =
      load_block_scales<Block::scale_format>(record + 4 * quarter * Packed::scale_size);
  for (std::size_t r = 0; r < Rows; ++r) acc[r] = vfmaq_f32(acc[r], d, vcvtq_f32_s32(dot[r]));
  if constexpr (Packed::has_min) {
    const float32x4_t m = load_block_scales<Block::scale_format>(
        record + (block_rows + 4 * quarter) * Packed::scale_size);
    for (std::size_t r = 0; r < Rows; ++r) {
      acc[r] = vfmaq_f32(acc[r], m, vdupq_n_f32(static_cast<float>(sums[r])));
    }
  }
}

// y[r][lane] = acc * the row's scale, for the lanes < count of the four quarters.
template <std::size_t Rows>
inline void store_tile(const float32x4_t (&acc)[4][Rows], const BlockActivations& a,
                       std::size_t first_row, float* y, std::size_t ldy,
                       std::size_t count) noexcept {
  for (std::size_t quarter = 0; quarter < 4 && 4 * quarter < count; ++quarter) {
    const std::size_t live = std::min<std::size_t>(4, count - 4 * quarter);
    for (std::size_t r = 0; r < Rows; ++r) {
      const float32x4_t out = vmulq_n_f32(acc[quarter][r], a.scales[first_row + r]);
      float* to = y + r * ldy + 4 * quarter;
      if (live == 4) {
        vst1q_f32(to, out);
      } else {
        float lanes[4];
        vst1q_f32(lanes, out);
        std::memcpy(to, lanes, live * sizeof(float));
      }
    }
  }
}

// reference::quantize_activation_row for k a multiple of 32: FCVTNS rounds half to even (the
// default rounding mode, as nearbyint does), SQXTN narrows.
inline float quantize_activation_row(const float* x, std::size_t k, int8_t* codes) noexcept {
  float32x4_t amax = vdupq_n_f32(0.0f);
  for (std::size_t i = 0; i < k; i += 4) amax = vmaxq_f32(amax, vabsq_f32(vld1q_f32(x + i)));
  const float m = vmaxvq_f32(amax);
  if (m < reference::activation_floor) {
    std::memset(codes, 0, k);
    return 0.0f;
  }
  const float32x4_t inverse = vdupq_n_f32(127.0f / m);
  for (std::size_t i = 0; i < k; i += 8) {
    const int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i), inverse));
    const int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 4), inverse));
    const int8x8_t bytes = vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
    vst1_s8(codes + i, vmax_s8(bytes, vdup_n_s8(-127)));
  }
  return m / 127.0f;
}

template <class Block, std::size_t Rows>
void block_tile(const PackedBlocks<Block>& w, std::size_t group, const BlockActivations& a,
                std::size_t first_row, float* y, std::size_t ldy, std::size_t count) noexcept {
  using Packed = PackedBlocks<Block>;
  float32x4_t acc[4][Rows];
  for (auto& quarter : acc) {
    for (auto& v : quarter) v = vdupq_n_f32(0.0f);
  }
  for (std::size_t b = 0; b < w.blocks(); ++b) {
    const uint8_t* record = w.record(group, b);
    const uint8_t* codes = record + Packed::scale_bytes;
    const int32_t* sums = a.block_sums(b, first_row);
    for (std::size_t quarter = 0; quarter < 4; ++quarter) {
      int32x4_t low[Rows], high[Rows];  // pair sums of lanes 0-1 and 2-3
      for (std::size_t r = 0; r < Rows; ++r) low[r] = high[r] = vdupq_n_s32(0);
      for (std::size_t s = 0; s < Packed::subblocks; ++s) {
        const int8_t* xs = a.subblock(b * Packed::subblocks + s, first_row);
#pragma GCC unroll 8
        for (std::size_t t = 0; t < 8; ++t) {
          const int8x16_t c = code_vector<Packed>(codes, s, t, quarter);
          for (std::size_t r = 0; r < Rows; ++r) {
            int32_t word = 0;
            std::memcpy(&word, xs + block_size * r + 4 * t, 4);
            const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(word));
            low[r] = vpadalq_s16(low[r], vmull_s8(vget_low_s8(c), vget_low_s8(x)));
            high[r] = vpadalq_s16(high[r], vmull_high_s8(c, x));
          }
        }
      }
      int32x4_t dot[Rows];
      for (std::size_t r = 0; r < Rows; ++r) {
        dot[r] = vaddq_s32(vpaddq_s32(low[r], high[r]), vdupq_n_s32(-Block::code_offset * sums[r]));
      }
      add_block_terms<Block>(record, quarter, dot, sums, acc[quarter]);
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

}  // namespace qinfer::kernels::neon
#endif
