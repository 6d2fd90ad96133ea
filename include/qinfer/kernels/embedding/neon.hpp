// SPDX-License-Identifier: Apache-2.0
//
// EmbeddingBag in AArch64 NEON: a bag's whole 16-column slices in chunks of up to 64 columns
// (sixteen q-register accumulators), each slice widened to four float32x4 and added with one
// FMLA each, as reference::pool_columns defines (bit-exact: AArch64's FMLA is a fused
// multiply-add, as std::fma is). The last dim % 16 columns go through pool_columns itself.
//
// Widening 16 codes to bytes: 8-bit, as loaded; 4-bit, 8 bytes' low and high nibbles zipped;
// 2-bit, each of 4 bytes copied into four lanes (TBL) and shifted right by 2 x (lane % 4).
#pragma once

#if defined(__aarch64__)
#include <arm_neon.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/embedding/rows.hpp"
#include "qinfer/reference/embedding_bag.hpp"

namespace qinfer::kernels::neon {

inline constexpr std::size_t embedding_slice = 16;  // columns: four float32x4
inline constexpr std::size_t embedding_chunk_slices = 4;

struct Slice {
  float32x4_t v[4];
};

inline Slice widen(uint8x16_t codes) noexcept {
  const uint16x8_t lo = vmovl_u8(vget_low_u8(codes)), hi = vmovl_u8(vget_high_u8(codes));
  return {{vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))), vcvtq_f32_u32(vmovl_u16(vget_high_u16(lo))),
           vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))),
           vcvtq_f32_u32(vmovl_u16(vget_high_u16(hi)))}};
}

// Columns j .. j + 15 of a row as floats.
template <class Table>
inline Slice load_slice(const uint8_t* row, std::size_t j) noexcept {
  if constexpr (std::is_same_v<Table, MatrixView<const float>>) {
    const float* x = reinterpret_cast<const float*>(row) + j;
    return {{vld1q_f32(x), vld1q_f32(x + 4), vld1q_f32(x + 8), vld1q_f32(x + 12)}};
  } else {
    using Format = typename Table::Format;
    if constexpr (Format::bits == 8) {
      return widen(vld1q_u8(row + j));
    } else if constexpr (Format::bits == 4) {
      const uint8x8_t packed = vld1_u8(row + j / 2);
      const uint8x8_t low = vand_u8(packed, vdup_n_u8(0xF)), high = vshr_n_u8(packed, 4);
      return widen(vcombine_u8(vzip1_u8(low, high), vzip2_u8(low, high)));
    } else {
      uint32_t packed = 0;
      std::memcpy(&packed, row + j / 4, sizeof packed);
      constexpr uint8_t spread[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
      constexpr int8_t shifts[16] = {0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6};
      const uint8x16_t bytes =
          vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(packed)), vld1q_u8(spread));
      return widen(vandq_u8(vshlq_u8(bytes, vld1q_s8(shifts)), vdupq_n_u8(3)));
    }
  }
}

// A row's scale and bias; fp16 ones through FCVTL (base AArch64, exact like half_to_float).
template <class Table>
inline void scale_bias(const Table& table, std::size_t i, const uint8_t* row, float& scale,
                       float& bias) noexcept {
  using Rows = TableRows<Table>;
  if constexpr (Rows::has_bias) {
    using Format = typename Table::Format;
    if constexpr (Format::scale_format == ScaleFormat::fp16) {
      uint32_t halves = 0;
      std::memcpy(&halves, row + Format::code_bytes(table.dim), sizeof halves);
      const float32x4_t both = vcvt_f32_f16(vreinterpret_f16_u32(vdup_n_u32(halves)));
      scale = vgetq_lane_f32(both, 0);
      bias = vgetq_lane_f32(both, 1);
      return;
    }
  }
  scale = Rows::scale(table, i);
  bias = Rows::bias(table, i);
}

inline void prefetch_row(const uint8_t* row, std::size_t bytes) noexcept {
  for (std::size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(row + offset);
  __builtin_prefetch(row + bytes - 1);
}

// Columns [j0, j0 + 16 Slices) of the bag.
template <std::size_t Slices, class Table, class Index>
void pool_chunk(const Table& table, const Index* idx, std::size_t count, std::size_t ahead,
                const float* weights, Pooling pooling, std::size_t j0, float* out) noexcept {
  using Rows = TableRows<Table>;
  Slice acc[Slices];
  for (Slice& s : acc) {
    for (float32x4_t& v : s.v) v = vdupq_n_f32(0.0f);
  }
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
    const float32x4_t a = vdupq_n_f32(w * scale);
    for (std::size_t s = 0; s < Slices; ++s) {
      const Slice x = load_slice<Table>(row, j0 + s * embedding_slice);
      for (std::size_t q = 0; q < 4; ++q) acc[s].v[q] = vfmaq_f32(acc[s].v[q], a, x.v[q]);
    }
    if constexpr (Rows::has_bias) bias_sum = std::fma(w, bias, bias_sum);
  }
  const float32x4_t biases = vdupq_n_f32(bias_sum);
  const float32x4_t divisor = vdupq_n_f32(static_cast<float>(count));
  const bool mean = pooling == Pooling::mean && count != 0;
  for (std::size_t s = 0; s < Slices; ++s) {
    for (std::size_t q = 0; q < 4; ++q) {
      float32x4_t x = acc[s].v[q];
      if constexpr (Rows::has_bias) x = vaddq_f32(x, biases);
      if (mean) x = vdivq_f32(x, divisor);
      vst1q_f32(out + j0 + s * embedding_slice + 4 * q, x);
    }
  }
}

template <class Table, class Index>
inline constexpr auto chunk_kernels = instantiations<embedding_chunk_slices>([](auto slices) {
  return &pool_chunk<decltype(slices)::value, Table, Index>;
});

// One bag, as avx512::pool_bag.
template <class Table, class Index>
void pool_bag(const Table& table, const Index* idx, std::size_t count, std::size_t ahead,
              const float* weights, Pooling pooling, float* out) noexcept {
  pool_whole_slices<embedding_slice>(chunk_kernels<Table, Index>, table, idx, count, ahead, weights,
                                     pooling, out);
}

}  // namespace qinfer::kernels::neon
#endif
