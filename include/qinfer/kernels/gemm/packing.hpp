// SPDX-License-Identifier: Apache-2.0
//
// Weights packed once for the int8 GEMM micro-kernels of every path (kernels/gemm/).
//
// Layout "32c4": columns in panels of nr = 32; inside a panel, k in groups of kr = 4; a group
// holds, for each of the 32 columns, its 4 consecutive k bytes. That is one 64-byte vector per
// 16 columns, the operand vpdpbusd multiplies with 4 activation bytes broadcast per lane. K and
// N are zero-padded to whole groups and panels, so padding adds nothing to any sum.
//
// Zero points never enter the inner loop (gemmlowp's four-term expansion). With a' and b' the
// stored codes and za', zb' their zero points,
//   sum_k (a' - za')(b' - zb') = sum_k a'b' - za' colsum(b') - zb' rowsum(a') + K za' zb'
// and the kernels add the last three terms in the epilogue, from column sums stored here and row
// sums computed per call (only when some zb' != 0). Activations reach the kernels as uint8:
// int8 activations are XORed with 0x80 and their zero point raised by 128. Weights are stored as
// int8: uint8 weights are XORed with 0x80 and their zero point lowered by 128. All of this is
// exact modulo 2^32, the reference's accumulator arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "qinfer/core/aligned.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/rounding.hpp"
#include "qinfer/reference/gemm.hpp"

namespace qinfer {

inline constexpr std::size_t gemm_nr = 32;  // columns per panel: two 16-lane int32 vectors
inline constexpr std::size_t gemm_kr = 4;   // k per group: the 4 bytes vpdpbusd sums per lane

struct PackedWeights {
  std::size_t k = 0;
  std::size_t n = 0;
  std::size_t k_groups = 0;    // ceil(k / gemm_kr)
  std::size_t panels = 0;      // ceil(n / gemm_nr)
  AlignedVector<int8_t> data;  // panels * k_groups * gemm_nr * gemm_kr bytes, 64-byte aligned
  // Per column, padded to panels * gemm_nr with zeros.
  std::vector<int32_t> column_sums;  // sum_k b'[k][n]
  std::vector<int32_t> zero_points;  // zb'[n]
  std::vector<int32_t> bias;         // bias[n]
  bool has_zero_points = false;      // some zb' != 0: the kernels need row sums of A
  // Every stored code lies in [-64, 63], guaranteed by the weights' quantizer type: the AVX2
  // path may then use vpmaddubsw (kernels/gemm/avx2.hpp).
  bool seven_bit = false;

  const int8_t* panel(std::size_t p) const noexcept {
    return data.data() + p * k_groups * gemm_nr * gemm_kr;
  }
};

// Packs B (K x N, any strides) with its zero points (1 or N entries) and bias (0, 1 or N).
// Scheme is the weights' quantizer scheme (quant/params.hpp): Affine accepts any codes and zero
// points; a symmetric scheme requires its zero point, and its code range is checked, so that a
// narrower type (SymmetricSevenBit) can promise kernels a 7-bit range.
template <class Scheme = Affine, class B>
Result<PackedWeights> pack_weights(MatrixView<B> b, Span<const int32_t> b_zero_points,
                                   Span<const int32_t> bias) {
  using TB = std::remove_const_t<B>;
  static_assert(reference::is_quantized_8bit<TB>, "pack_weights: B must be int8_t or uint8_t");
  constexpr int32_t qmin = Scheme::template qmin<TB>, qmax = Scheme::template qmax<TB>;
  const MatrixView<const TB> view = b;
  if (auto s = check_view(view, "pack_weights: B"); !s) return fail<PackedWeights>(s);
  if (auto s = reference::detail::check_offsets<uint8_t, TB>({0, b_zero_points, bias}, b.cols);
      !s) {
    return fail<PackedWeights>(s);
  }
  for (std::size_t i = 0; i < b_zero_points.size(); ++i) {
    if (!Scheme::template check<TB>({1.0f, b_zero_points[i]})) {
      return fail<PackedWeights>(Errc::invalid_zero_point,
                                 "pack_weights: a zero point does not fit the weights' scheme");
    }
  }
  PackedWeights w;
  w.k = b.rows;
  w.n = b.cols;
  w.k_groups = (w.k + gemm_kr - 1) / gemm_kr;
  w.panels = (w.n + gemm_nr - 1) / gemm_nr;
  std::size_t bytes = 0;
  if (!checked_mul(w.panels, w.k_groups, bytes) || !checked_mul(bytes, gemm_nr * gemm_kr, bytes)) {
    return fail<PackedWeights>(Errc::size_overflow, "pack_weights: packed size overflows");
  }
  w.data.assign(bytes, 0);
  const std::size_t padded_n = w.panels * gemm_nr;
  w.column_sums.assign(padded_n, 0);
  w.zero_points.assign(padded_n, 0);
  w.bias.assign(padded_n, 0);
  // uint8 codes become int8 by flipping the top bit, which subtracts 128 from every code.
  constexpr int32_t shift = std::is_same_v<TB, uint8_t> ? 128 : 0;
  // Row by row, the order B is usually stored in; column sums accumulate modulo 2^32.
  std::vector<uint32_t> sums(w.n, 0);
  const std::size_t panel_bytes = w.k_groups * gemm_nr * gemm_kr;
  for (std::size_t row = 0; row < w.k; ++row) {
    const std::size_t row_offset = (row / gemm_kr) * gemm_nr * gemm_kr + row % gemm_kr;
    for (std::size_t col = 0; col < w.n; ++col) {
      const int32_t value = view(row, col);
      if (value < qmin || value > qmax) {
        return fail<PackedWeights>(Errc::invalid_argument,
                                   "pack_weights: a weight code lies outside its scheme's range");
      }
      const auto code = static_cast<int8_t>(value - shift);
      w.data[(col / gemm_nr) * panel_bytes + row_offset + (col % gemm_nr) * gemm_kr] = code;
      sums[col] += static_cast<uint32_t>(int32_t{code});
    }
  }
  for (std::size_t col = 0; col < w.n; ++col) {
    w.column_sums[col] = static_cast<int32_t>(sums[col]);
    w.zero_points[col] = broadcast_at(b_zero_points, col) - shift;
    w.bias[col] = bias.empty() ? 0 : broadcast_at(bias, col);
    w.has_zero_points = w.has_zero_points || w.zero_points[col] != 0;
  }
  w.seven_bit = qmin - shift >= -64 && qmax - shift <= 63;
  return w;
}

}  // namespace qinfer
