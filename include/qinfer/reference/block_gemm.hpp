// SPDX-License-Identifier: Apache-2.0
//
// The reference product of float activations with block-quantized weights (quant/blocks.hpp),
// the semantics every SIMD path of the weight-only GEMM must reproduce bit for bit:
//
// 1. Each activation row is quantized on the fly, symmetric int8: amax = max |a|, the scale
//    s = amax / 127, and q = a * (127 / amax) rounded half to even and clamped to [-127, 127]
//    (all zeros, scale 0, for a row whose amax is below activation_floor). One multiply per
//    value, as the vector code does it.
// 2. Per block b of G along K, an exact integer dot product of the activation codes with the
//    weight codes: sum q_k c_k with c = q (int8, Q8_0), q - 8 (int4, Q4_0) or q (int4_min,
//    Q4_1), and for int4_min also sum q_k, whose product with the block minimum restores its
//    term.
// 3. Per output, in block order and with fused multiply-adds: acc = fma(d_b, dot_b, acc), and
//    for int4_min then acc = fma(m_b, sum_b, acc); the result is acc * s.
//
// Float rounding happens only in steps 1 and 3, in this fixed order, so that a vector kernel
// that keeps one output per lane gives the same bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/blocks.hpp"

namespace qinfer::reference {

// Rows whose largest magnitude is below this quantize as all-zero rows (codes 0, scale 0):
// 127 / amax would overflow float below about 2^-121, and their products are far below float's
// normal range anyway.
inline constexpr float activation_floor = 0x1p-120f;

// Quantizes one activation row (step 1) into `codes`; returns its scale s. Every value must be
// finite (checked by the caller).
inline float quantize_activation_row(Span<const float> a, Span<int8_t> codes) noexcept {
  float amax = 0.0f;
  for (float v : a) amax = std::max(amax, std::fabs(v));
  if (amax < activation_floor) {
    std::fill(codes.begin(), codes.end(), int8_t{0});
    return 0.0f;
  }
  const float inverse = 127.0f / amax;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const float level = std::nearbyint(a[k] * inverse);
    codes[k] = static_cast<int8_t>(std::clamp(level, -127.0f, 127.0f));
  }
  return amax / 127.0f;
}

// The integer part of block b against activation codes q (step 2): the dot product, and for
// int4_min the codes' sum through `sum`.
template <class Block>
int32_t block_dot(const Block& b, const int8_t* q, int32_t& sum) noexcept {
  int32_t dot = 0;
  sum = 0;
  for (std::size_t j = 0; j < Block::group; ++j) {
    dot += int32_t{q[j]} * (block_code(b, j) - Block::code_offset);
    sum += q[j];
  }
  return dot;
}

// y = a x w^T: a is [M, K] float, w is [N, K] in blocks, y is [M, N] float.
template <class Block>
Result<void> block_gemm(MatrixView<const float> a, const BlockMatrix<Block>& w,
                        MatrixView<float> y) {
  if (a.cols != w.cols || y.rows != a.rows || y.cols != w.rows) {
    return fail(Errc::shape_mismatch, "block_gemm: a must be M x K and y M x N for weights N x K");
  }
  if (auto s = check_view(a, "block_gemm: a"); !s) return fail(s);
  if (auto s = check_view(y, "block_gemm: y"); !s) return fail(s);
  if (a.col_stride != 1) {
    return fail(Errc::invalid_argument, "block_gemm: a's columns must be contiguous");
  }
  std::vector<int8_t> codes(a.cols);
  for (std::size_t m = 0; m < a.rows; ++m) {
    const Span<const float> row(a.data + m * a.row_stride, a.cols);
    if (!std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
      return fail(Errc::invalid_argument, "block_gemm: an activation is NaN or infinite");
    }
    const float scale = quantize_activation_row(row, Span<int8_t>(codes));
    for (std::size_t n = 0; n < w.rows; ++n) {
      const Block* blocks = w.row(n);
      float acc = 0.0f;
      for (std::size_t b = 0; b < w.blocks_per_row(); ++b) {
        int32_t sum = 0;
        const int32_t dot = block_dot(blocks[b], codes.data() + b * Block::group, sum);
        acc = std::fma(scale_value(blocks[b].d), static_cast<float>(dot), acc);
        if constexpr (Block::has_min) {
          acc = std::fma(scale_value(blocks[b].m), static_cast<float>(sum), acc);
        }
      }
      y(m, n) = acc * scale;
    }
  }
  return ok();
}

}  // namespace qinfer::reference
