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
#include <cstring>
#include <memory>
#include <type_traits>

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

// Packed weights: views of one buffer holding, in this order, the panels (64-byte aligned),
// then per column (padded to panels * gemm_nr with zeros) the column sums, the zero points and
// the bias. pack_weights() allocates the buffer, and copies of the result share it (packed
// weights are never written after packing); pack_weights_into() packs into the caller's buffer,
// which must then outlive the result and its copies.
struct PackedWeights {
  std::size_t k = 0;
  std::size_t n = 0;
  std::size_t k_groups = 0;      // ceil(k / gemm_kr)
  std::size_t panels = 0;        // ceil(n / gemm_nr)
  Span<int8_t> data;             // panels * k_groups * gemm_nr * gemm_kr bytes
  Span<int32_t> column_sums;     // sum_k b'[k][n]
  Span<int32_t> zero_points;     // zb'[n]
  Span<int32_t> bias;            // bias[n]
  bool has_zero_points = false;  // some zb' != 0: the kernels need row sums of A
  // Every stored code lies in [-64, 63], guaranteed by the weights' quantizer type: the AVX2
  // path may then use vpmaddubsw (kernels/gemm/avx2.hpp).
  bool seven_bit = false;

  const int8_t* panel(std::size_t p) const noexcept {
    return data.data() + p * k_groups * gemm_nr * gemm_kr;
  }

  // The owned buffer, if pack_weights() made one.
  std::shared_ptr<const AlignedVector<std::byte>> storage;
};

namespace detail {

// The buffer's layout for K x N weights: the panels' bytes, rounded up to whole cache lines,
// and the per-column int32 arrays; false when a size overflows.
struct PackedLayout {
  std::size_t k_groups = 0, panels = 0, panel_bytes = 0, padded_n = 0, total = 0;

  bool plan(std::size_t k, std::size_t n) noexcept {
    k_groups = k / gemm_kr + (k % gemm_kr != 0 ? 1 : 0);
    panels = n / gemm_nr + (n % gemm_nr != 0 ? 1 : 0);
    padded_n = panels * gemm_nr;
    std::size_t columns = 0;
    return checked_mul(panels, k_groups, panel_bytes) &&
           checked_mul(panel_bytes, gemm_nr * gemm_kr, panel_bytes) &&
           checked_add(panel_bytes, cache_line - 1, total) &&
           checked_mul(padded_n, 3 * sizeof(int32_t), columns) &&
           checked_add(total / cache_line * cache_line, columns, total);
  }
};

}  // namespace detail

// Bytes of the buffer pack_weights_into() needs for K x N weights; 0 when that overflows.
inline std::size_t packed_weights_size(std::size_t k, std::size_t n) noexcept {
  detail::PackedLayout layout;
  return layout.plan(k, n) ? layout.total : 0;
}

// Packs B (K x N, any strides) with its zero points (1 or N entries) and bias (0, 1 or N) into
// `buffer`: packed_weights_size(K, N) bytes, 64-byte aligned. Allocates nothing; the result
// refers to the buffer. Scheme is the weights' quantizer scheme (quant/params.hpp): Affine
// accepts any codes and zero points; a symmetric scheme requires its zero point, and its code
// range is checked, so that a narrower type (SymmetricSevenBit) can promise kernels a 7-bit
// range.
template <class Scheme = Affine, class B>
Result<PackedWeights> pack_weights_into(Span<std::byte> buffer, MatrixView<B> b,
                                        Span<const int32_t> b_zero_points,
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
  detail::PackedLayout layout;
  if (!layout.plan(b.rows, b.cols)) {
    return fail<PackedWeights>(Errc::size_overflow, "pack_weights: packed size overflows");
  }
  if (buffer.size() < layout.total ||
      (layout.total != 0 && reinterpret_cast<uintptr_t>(buffer.data()) % cache_line != 0)) {
    return fail<PackedWeights>(
        Errc::invalid_argument,
        "pack_weights_into: buffer not 64-byte aligned or smaller than packed_weights_size()");
  }
  PackedWeights w;
  w.k = b.rows;
  w.n = b.cols;
  w.k_groups = layout.k_groups;
  w.panels = layout.panels;
  // The buffer's storage now holds the packed arrays: their objects begin their lifetime here.
  std::byte* const base = buffer.data();
  const std::size_t columns_at = layout.total - layout.padded_n * 3 * sizeof(int32_t);
  w.data = Span<int8_t>(reinterpret_cast<int8_t*>(base), layout.panel_bytes);
  const auto column_array = [&](std::size_t index) {
    return Span<int32_t>(
        reinterpret_cast<int32_t*>(base + columns_at + index * layout.padded_n * sizeof(int32_t)),
        layout.padded_n);
  };
  w.column_sums = column_array(0);
  w.zero_points = column_array(1);
  w.bias = column_array(2);
  if (layout.total != 0) std::memset(base, 0, layout.total);
  // uint8 codes become int8 by flipping the top bit, which subtracts 128 from every code.
  constexpr int32_t shift = std::is_same_v<TB, uint8_t> ? 128 : 0;
  // Row by row, the order B is usually stored in; column sums accumulate modulo 2^32.
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
      w.column_sums[col] = static_cast<int32_t>(static_cast<uint32_t>(w.column_sums[col]) +
                                                static_cast<uint32_t>(int32_t{code}));
    }
  }
  for (std::size_t col = 0; col < w.n; ++col) {
    w.zero_points[col] = broadcast_at(b_zero_points, col) - shift;
    w.bias[col] = bias.empty() ? 0 : broadcast_at(bias, col);
    w.has_zero_points = w.has_zero_points || w.zero_points[col] != 0;
  }
  w.seven_bit = qmin - shift >= -64 && qmax - shift <= 63;
  return w;
}

// The same into a buffer of its own, which copies of the result share.
template <class Scheme = Affine, class B>
Result<PackedWeights> pack_weights(MatrixView<B> b, Span<const int32_t> b_zero_points,
                                   Span<const int32_t> bias) {
  const std::size_t size = packed_weights_size(b.rows, b.cols);
  if (size == 0 && b.rows != 0 && b.cols != 0) {
    return fail<PackedWeights>(Errc::size_overflow, "pack_weights: packed size overflows");
  }
  auto storage = std::make_shared<AlignedVector<std::byte>>(size);
  PackedWeights w;
  if (auto s =
          take(pack_weights_into<Scheme>(Span<std::byte>(*storage), b, b_zero_points, bias), w);
      !s) {
    return fail<PackedWeights>(s);
  }
  w.storage = std::move(storage);
  return w;
}

}  // namespace qinfer
