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

// Packed weights: views of one buffer holding, each on a cache line, the panels, then per
// column (padded to panels * gemm_nr with zeros) the column sums, the zero points and the bias.
// pack_weights() allocates the buffer, and copies of the result share it (packed weights are
// never written after packing); pack_weights_into() packs into the caller's buffer, which must
// then outlive the result and its copies.
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
  // The buffer pack_weights() made; null for a caller's buffer.
  std::shared_ptr<const AlignedVector<std::byte>> storage;

  const int8_t* panel(std::size_t p) const noexcept {
    return data.data() + p * k_groups * gemm_nr * gemm_kr;
  }
};

namespace detail {

// The arrays of K x N packed weights, carved in their order.
inline PackedWeights carve_packed_weights(BufferCarver& carver, std::size_t k, std::size_t n) {
  PackedWeights w;
  w.k = k;
  w.n = n;
  w.k_groups = k / gemm_kr + (k % gemm_kr != 0 ? 1 : 0);
  w.panels = n / gemm_nr + (n % gemm_nr != 0 ? 1 : 0);
  std::size_t bytes = 0;
  if (!checked_mul(w.panels, w.k_groups, bytes) || !checked_mul(bytes, gemm_nr * gemm_kr, bytes)) {
    carver.overflow();
    return w;
  }
  w.data = carver.take<int8_t>(bytes);
  w.column_sums = carver.take<int32_t>(w.panels * gemm_nr);
  w.zero_points = carver.take<int32_t>(w.panels * gemm_nr);
  w.bias = carver.take<int32_t>(w.panels * gemm_nr);
  return w;
}

// Checks zero points and bias (1 or n entries; bias also 0) against the weights' scheme.
template <class Scheme, class TB>
Status check_packing(std::size_t n, Span<const int32_t> zero_points, Span<const int32_t> bias) {
  if (auto s = reference::detail::check_offsets<uint8_t, TB>({0, zero_points, bias}, n); !s) {
    return s;
  }
  for (std::size_t i = 0; i < zero_points.size(); ++i) {
    if (!Scheme::template check<TB>({1.0f, zero_points[i]})) {
      return {Errc::invalid_zero_point,
              "pack_weights: a zero point does not fit the weights' scheme"};
    }
  }
  return {};
}

// Packs code(row, col) of K x N weights of type TB into the arrays carved from `buffer`
// (packed_weights_size(k, n) bytes, zeroed here). Precondition: check_packing() passed.
template <class Scheme, class TB, class Code>
Status fill_packed_weights(Span<std::byte> buffer, std::size_t k, std::size_t n, Code&& code,
                           Span<const int32_t> zero_points, Span<const int32_t> bias,
                           PackedWeights& w) {
  constexpr int32_t qmin = Scheme::template qmin<TB>, qmax = Scheme::template qmax<TB>;
  // Measured first, so that no array is carved from a buffer too small for it.
  BufferCarver measure;
  carve_packed_weights(measure, k, n);
  if (!measure.ok()) return {Errc::size_overflow, "pack_weights: packed size overflows"};
  if (!fits_carved(buffer, measure.size())) {
    return {Errc::invalid_argument,
            "pack_weights_into: buffer not 64-byte aligned or smaller than packed_weights_size()"};
  }
  if (measure.size() != 0) std::memset(buffer.data(), 0, measure.size());
  BufferCarver carver(buffer.data());
  w = carve_packed_weights(carver, k, n);
  // uint8 codes become int8 by flipping the top bit, which subtracts 128 from every code.
  constexpr int32_t shift = std::is_same_v<TB, uint8_t> ? 128 : 0;
  // Row by row, the order B is usually stored in; column sums accumulate modulo 2^32.
  const std::size_t panel_bytes = w.k_groups * gemm_nr * gemm_kr;
  for (std::size_t row = 0; row < k; ++row) {
    const std::size_t row_offset = (row / gemm_kr) * gemm_nr * gemm_kr + row % gemm_kr;
    for (std::size_t col = 0; col < n; ++col) {
      const int32_t value = code(row, col);
      if (value < qmin || value > qmax) {
        return {Errc::invalid_argument,
                "pack_weights: a weight code lies outside its scheme's range"};
      }
      const auto stored = static_cast<int8_t>(value - shift);
      w.data[(col / gemm_nr) * panel_bytes + row_offset + (col % gemm_nr) * gemm_kr] = stored;
      w.column_sums[col] = static_cast<int32_t>(static_cast<uint32_t>(w.column_sums[col]) +
                                                static_cast<uint32_t>(int32_t{stored}));
    }
  }
  for (std::size_t col = 0; col < n; ++col) {
    w.zero_points[col] = broadcast_at(zero_points, col) - shift;
    w.bias[col] = bias.empty() ? 0 : broadcast_at(bias, col);
    w.has_zero_points = w.has_zero_points || w.zero_points[col] != 0;
  }
  w.seven_bit = qmin - shift >= -64 && qmax - shift <= 63;
  return {};
}

}  // namespace detail

// Bytes of the buffer pack_weights_into() needs for K x N weights; 0 when that overflows.
inline std::size_t packed_weights_size(std::size_t k, std::size_t n) noexcept {
  BufferCarver carver;
  detail::carve_packed_weights(carver, k, n);
  return carver.size();
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
  const MatrixView<const TB> view = b;
  if (auto s = check_view(view, "pack_weights: B"); !s) return fail<PackedWeights>(s);
  if (auto s = detail::check_packing<Scheme, TB>(b.cols, b_zero_points, bias); !s) {
    return fail<PackedWeights>(s);
  }
  PackedWeights w;
  const auto code = [&](std::size_t row, std::size_t col) -> int32_t { return view(row, col); };
  if (auto s = detail::fill_packed_weights<Scheme, TB>(buffer, b.rows, b.cols, code, b_zero_points,
                                                       bias, w);
      !s) {
    return fail<PackedWeights>(s);
  }
  return w;
}

// The same into a buffer of its own, which copies of the result share.
template <class Scheme = Affine, class B>
Result<PackedWeights> pack_weights(MatrixView<B> b, Span<const int32_t> b_zero_points,
                                   Span<const int32_t> bias) {
  BufferCarver carver;
  detail::carve_packed_weights(carver, b.rows, b.cols);
  if (!carver.ok()) {
    return fail<PackedWeights>(Errc::size_overflow, "pack_weights: packed size overflows");
  }
  auto storage = std::make_shared<AlignedVector<std::byte>>(carver.size());
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
