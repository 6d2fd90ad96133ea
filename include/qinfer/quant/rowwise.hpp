// SPDX-License-Identifier: Apache-2.0
//
// Row-wise quantized tables (embedding tables for recommendation), in fbgemm's fused row-wise
// layout, byte for byte, so that a table exported by fbgemm or PyTorch loads as it is stored.
// Each row is its codes followed by that row's scale and bias; x = scale * code + bias:
//
//   8-bit, fp32 scale and bias (fbgemm's "fused 8-bit rowwise"):  dim bytes, then 4 + 4 bytes
//   4-bit, fp16 scale and bias ("fused N-bit rowwise", N = 4):  ceil(dim / 2) bytes, then 2 + 2
//   2-bit, fp16 scale and bias (N = 2):                          ceil(dim / 4) bytes, then 2 + 2
//
// and, as types of the same template, 8-bit with fp16 and 4- or 2-bit with fp32 scale and bias.
// Rows follow each other with no padding. Sub-byte codes fill each byte from its low bits:
// element j of a 4-bit row is bits 4 (j % 2) .. of byte j / 2.
//
// Quantizing a float row: the bias is the row's minimum (stored rounded to the scale format) and
// the scale spans the rest of the row, (max - bias) / (2^bits - 1), also stored rounded; codes
// round (x - bias) / scale half to even with the stored values, clamped to the code range, so
// the stored scale and bias are the ones the codes were made with. A constant row gets scale 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/half.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer {

template <unsigned Bits, ScaleFormat Scale>
struct RowwiseFormat {
  static_assert(Bits == 8 || Bits == 4 || Bits == 2, "row-wise codes are 8, 4 or 2 bits");
  static constexpr unsigned bits = Bits;
  static constexpr ScaleFormat scale_format = Scale;
  static constexpr std::size_t codes_per_byte = 8 / Bits;
  static constexpr uint32_t max_code = (1u << Bits) - 1;
  static constexpr std::size_t scale_bytes = Scale == ScaleFormat::fp32 ? 4 : 2;

  static constexpr std::size_t code_bytes(std::size_t dim) noexcept {
    return dim / codes_per_byte + (dim % codes_per_byte != 0);
  }
  static constexpr std::size_t row_bytes(std::size_t dim) noexcept {
    return code_bytes(dim) + 2 * scale_bytes;
  }
  static uint32_t code(const uint8_t* row, std::size_t j) noexcept {
    return (row[j / codes_per_byte] >> (j % codes_per_byte * Bits)) & max_code;
  }
  // The stored scale and bias, at code_bytes(dim) and code_bytes(dim) + scale_bytes.
  static float load(const uint8_t* p) noexcept {
    if constexpr (Scale == ScaleFormat::fp32) {
      float f = 0.0f;
      std::memcpy(&f, p, sizeof f);
      return f;
    } else {
      uint16_t h = 0;
      std::memcpy(&h, p, sizeof h);
      return half_to_float(h);
    }
  }
  // The float `store` writes for v: v itself, or v rounded to fp16.
  static float representable(float v) noexcept {
    if constexpr (Scale == ScaleFormat::fp32) {
      return v;
    } else {
      return half_to_float(float_to_half(v));
    }
  }
  static void store(uint8_t* p, float v) noexcept {
    if constexpr (Scale == ScaleFormat::fp32) {
      std::memcpy(p, &v, sizeof v);
    } else {
      const uint16_t h = float_to_half(v);
      std::memcpy(p, &h, sizeof h);
    }
  }
};

// fbgemm's formats, by the names its users know them by.
using Rowwise8 = RowwiseFormat<8, ScaleFormat::fp32>;
using Rowwise4 = RowwiseFormat<4, ScaleFormat::fp16>;
using Rowwise2 = RowwiseFormat<2, ScaleFormat::fp16>;

// A table in someone's memory (a file mapping, an engine's buffer): rows x row_bytes(dim) bytes.
template <class F>
struct RowwiseTableView {
  using Format = F;
  const uint8_t* data = nullptr;
  std::size_t rows = 0;
  std::size_t dim = 0;

  std::size_t row_bytes() const noexcept { return Format::row_bytes(dim); }
  const uint8_t* row(std::size_t i) const noexcept { return data + i * row_bytes(); }
  float scale(std::size_t i) const noexcept {
    return Format::load(row(i) + Format::code_bytes(dim));
  }
  float bias(std::size_t i) const noexcept {
    return Format::load(row(i) + Format::code_bytes(dim) + Format::scale_bytes);
  }
  uint32_t code(std::size_t i, std::size_t j) const noexcept { return Format::code(row(i), j); }
  // Element j of row i, dequantized.
  float value(std::size_t i, std::size_t j) const noexcept {
    return scale(i) * static_cast<float>(code(i, j)) + bias(i);
  }
};

// A table that owns its bytes; quantize_rowwise makes them, so that their count always matches
// rows and dim.
template <class Format>
class RowwiseTable {
 public:
  RowwiseTable() = default;

  std::size_t rows() const noexcept { return rows_; }
  std::size_t dim() const noexcept { return dim_; }
  // The fused row-wise bytes, as fbgemm lays them out.
  Span<const uint8_t> bytes() const noexcept { return bytes_; }
  RowwiseTableView<Format> view() const noexcept { return {bytes_.data(), rows_, dim_}; }

 private:
  template <class F>
  friend Result<RowwiseTable<F>> quantize_rowwise(MatrixView<const float> table);

  RowwiseTable(std::size_t rows, std::size_t dim, std::vector<uint8_t> bytes)
      : rows_(rows), dim_(dim), bytes_(std::move(bytes)) {}

  std::size_t rows_ = 0;
  std::size_t dim_ = 0;
  std::vector<uint8_t> bytes_;
};

namespace detail {

template <class Format>
Status check_rowwise_shape(std::size_t rows, std::size_t dim, std::size_t& size,
                           const char* overflow) noexcept {
  if (!checked_mul(rows, Format::row_bytes(dim), size)) return {Errc::size_overflow, overflow};
  return {};
}

// Writes one quantized row; false, with the codes left unwritten, when the stored bias or scale
// is not finite (a range beyond fp16's): the codes would divide infinities.
template <class Format>
bool quantize_row(const float* x, std::size_t dim, uint8_t* out) noexcept {
  float min = 0.0f, max = 0.0f;
  if (dim != 0) {
    const auto [lo, hi] = std::minmax_element(x, x + dim);
    min = *lo;
    max = *hi;
  }
  const float bias = Format::representable(min);
  const float scale = Format::representable((max - bias) / static_cast<float>(Format::max_code));
  if (!std::isfinite(bias) || !std::isfinite(scale)) return false;
  std::memset(out, 0, Format::code_bytes(dim));
  if (scale > 0.0f) {
    for (std::size_t j = 0; j < dim; ++j) {
      const float q = std::nearbyint((x[j] - bias) / scale);
      const auto code = static_cast<uint32_t>(std::clamp(q, 0.0f, float(Format::max_code)));
      out[j / Format::codes_per_byte] |=
          static_cast<uint8_t>(code << (j % Format::codes_per_byte * Format::bits));
    }
  }
  Format::store(out + Format::code_bytes(dim), scale);
  Format::store(out + Format::code_bytes(dim) + Format::scale_bytes, bias);
  return true;
}

}  // namespace detail

// Quantizes a float table [rows, dim] row by row. Fails on a NaN or infinite value, and, for fp16
// scale and bias, on values beyond fp16's range (a row whose minimum or range overflows fp16).
template <class Format>
Result<RowwiseTable<Format>> quantize_rowwise(MatrixView<const float> table) {
  using R = RowwiseTable<Format>;
  if (auto s = check_view(table, "quantize_rowwise: table"); !s) return fail<R>(s);
  if (table.col_stride != 1) {
    return fail<R>(Errc::invalid_argument, "quantize_rowwise: the table's rows must be contiguous");
  }
  std::size_t size = 0;
  if (auto s = detail::check_rowwise_shape<Format>(table.rows, table.cols, size,
                                                   "quantize_rowwise: table size overflows");
      !s) {
    return fail<R>(s);
  }
  std::vector<uint8_t> bytes(size);
  const std::size_t row_bytes = Format::row_bytes(table.cols);
  for (std::size_t i = 0; i < table.rows; ++i) {
    const float* x = table.data + i * table.row_stride;
    if (!std::all_of(x, x + table.cols, [](float v) { return std::isfinite(v); })) {
      return fail<R>(Errc::invalid_argument, "quantize_rowwise: a value is NaN or infinite");
    }
    if (!detail::quantize_row<Format>(x, table.cols, bytes.data() + i * row_bytes)) {
      return fail<R>(Errc::invalid_range,
                     "quantize_rowwise: a row's range overflows its scale format");
    }
  }
  return R(table.rows, table.cols, std::move(bytes));
}

// Views fused row-wise bytes as a table of `rows` rows of `dim` elements: the byte count must be
// exactly rows x row_bytes(dim), and every row's scale and bias finite (a table read from a file
// may hold anything; a NaN there would spread through every bag that uses the row).
template <class Format>
Result<RowwiseTableView<Format>> view_rowwise(Span<const uint8_t> bytes, std::size_t rows,
                                              std::size_t dim) {
  using R = RowwiseTableView<Format>;
  std::size_t size = 0;
  if (auto s = detail::check_rowwise_shape<Format>(rows, dim, size,
                                                   "view_rowwise: table size overflows");
      !s) {
    return fail<R>(s);
  }
  if (bytes.size() != size) {
    return fail<R>(Errc::shape_mismatch, "view_rowwise: byte count is not rows x row bytes");
  }
  if (size != 0 && bytes.data() == nullptr) {
    return fail<R>(Errc::null_pointer, "view_rowwise: bytes");
  }
  const R view{bytes.data(), rows, dim};
  for (std::size_t i = 0; i < rows; ++i) {
    if (!std::isfinite(view.scale(i)) || !std::isfinite(view.bias(i))) {
      return fail<R>(Errc::invalid_scale, "view_rowwise: a row's scale or bias is NaN or infinite");
    }
  }
  return view;
}

// The float table a row-wise table stands for, into out [rows, dim].
template <class Format>
Result<void> dequantize_rowwise(const RowwiseTableView<Format>& table, MatrixView<float> out) {
  if (out.rows != table.rows || out.cols != table.dim) {
    return fail(Errc::shape_mismatch, "dequantize_rowwise: out must be rows x dim");
  }
  if (auto s = check_view(out, "dequantize_rowwise: out"); !s) return fail(s);
  for (std::size_t i = 0; i < table.rows; ++i) {
    for (std::size_t j = 0; j < table.dim; ++j) out(i, j) = table.value(i, j);
  }
  return ok();
}

}  // namespace qinfer
