// SPDX-License-Identifier: Apache-2.0
//
// The reference int8 GEMM: the definition every optimized GEMM kernel reproduces exactly.
//
//   acc[m][n] = bias[n] + sum_k (A[m][k] - a_zero_point) * (B[k][n] - b_zero_point[n])
//   C[m][n]   = stage(acc[m][n], n)
//
// A is uint8 or int8 activations, B is int8 or uint8 weights with a zero point per tensor or per
// output column. Accumulation is modulo 2^32, as in every SIMD int32 accumulator: the reference
// sums in uint32 so wrap-around is defined. It never happens for K below
// 2^31 / (255 * 255) = 33025 whatever the zero points; with zero points 0 and a -128..127 operand
// the bound is 65793.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer::reference {

template <class T>
inline constexpr bool is_quantized_8bit = std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>;

// Zero points and bias of one GEMM: b_zero_points and bias hold 1 or N entries (bias may be
// empty for none).
struct GemmOffsets {
  int32_t a_zero_point = 0;
  Span<const int32_t> b_zero_points;
  Span<const int32_t> bias;
};

namespace detail {

// Zero points inside their operand's type, per-column entries matching the n output channels.
template <class TA, class TB>
Status check_offsets(const GemmOffsets& offsets, std::size_t n) noexcept {
  if (auto s = check_zero_point(offsets.a_zero_point, StorageTraits<TA>::min,
                                StorageTraits<TA>::max, "a_zero_point outside the input's type");
      !s) {
    return s;
  }
  if (!is_broadcastable(offsets.b_zero_points, n)) {
    return {Errc::shape_mismatch, "b_zero_points must have 1 or one-per-output-channel entries"};
  }
  for (int32_t zp : offsets.b_zero_points) {
    if (auto s = check_zero_point(zp, StorageTraits<TB>::min, StorageTraits<TB>::max,
                                  "b_zero_points outside the weights' type");
        !s) {
      return s;
    }
  }
  if (!offsets.bias.empty() && !is_broadcastable(offsets.bias, n)) {
    return {Errc::shape_mismatch, "bias must have 0, 1 or one-per-output-channel entries"};
  }
  return {};
}

template <class TA, class TB, class Out>
Status check_gemm(const MatrixView<const TA>& a, const MatrixView<const TB>& b,
                  const GemmOffsets& offsets, const MatrixView<Out>& c) noexcept {
  if (a.cols != b.rows) return {Errc::shape_mismatch, "gemm: A columns != B rows"};
  if (c.rows != a.rows || c.cols != b.cols) {
    return {Errc::shape_mismatch, "gemm: C must be A rows x B columns"};
  }
  if (auto s = check_view(a, "gemm: A"); !s) return s;
  if (auto s = check_view(b, "gemm: B"); !s) return s;
  if (auto s = check_view(c, "gemm: C"); !s) return s;
  return check_offsets<TA, TB>(offsets, b.cols);
}

}  // namespace detail

// The raw accumulator of one output element, bias included, modulo 2^32.
template <class TA, class TB>
int32_t dot(const MatrixView<const TA>& a, const MatrixView<const TB>& b, const GemmOffsets& o,
            std::size_t m, std::size_t n) noexcept {
  uint32_t acc = o.bias.empty() ? 0u : static_cast<uint32_t>(broadcast_at(o.bias, n));
  const int32_t b_zero_point = broadcast_at(o.b_zero_points, n);
  for (std::size_t k = 0; k < a.cols; ++k) {
    const int32_t product = (int32_t{a(m, k)} - o.a_zero_point) * (int32_t{b(k, n)} - b_zero_point);
    acc += static_cast<uint32_t>(product);
  }
  return static_cast<int32_t>(acc);
}

template <class TA, class TB, class Stage>
Status validate_gemm(const MatrixView<const TA>& a, const MatrixView<const TB>& b,
                     const GemmOffsets& offsets, const Stage& stage,
                     const MatrixView<typename Stage::Output>& c) noexcept {
  if (auto s = detail::check_gemm(a, b, offsets, c); !s) return s;
  return stage.check(c.cols);
}

// Precondition: validate_gemm() passed.
template <class TA, class TB, class Stage>
void gemm_unchecked(const MatrixView<const TA>& a, const MatrixView<const TB>& b,
                    const GemmOffsets& offsets, const Stage& stage,
                    const MatrixView<typename Stage::Output>& c) noexcept {
  for (std::size_t m = 0; m < c.rows; ++m) {
    for (std::size_t n = 0; n < c.cols; ++n) c(m, n) = stage(dot(a, b, offsets, m, n), n);
  }
}

// A and B may be views of const or mutable elements.
template <class A, class B, class Stage>
Result<void> gemm(MatrixView<A> a, MatrixView<B> b, const GemmOffsets& offsets, const Stage& stage,
                  MatrixView<typename Stage::Output> c) {
  using TA = std::remove_const_t<A>;
  using TB = std::remove_const_t<B>;
  static_assert(is_quantized_8bit<TA> && is_quantized_8bit<TB>,
                "gemm: A and B must be int8_t or uint8_t");
  const MatrixView<const TA> a_view = a;
  const MatrixView<const TB> b_view = b;
  if (auto s = validate_gemm(a_view, b_view, offsets, stage, c); !s) return fail(s);
  gemm_unchecked(a_view, b_view, offsets, stage, c);
  return ok();
}

}  // namespace qinfer::reference
