// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: view_rowwise (quant/rowwise.hpp) on arbitrary bytes, for each row-wise
// format, with a shape from the first two bytes, must either accept the bytes or report an error,
// never crash or read out of bounds (ASan and UBSan watch). What it accepts is pooled by
// embedding_bag on the active level (every row, then a bag whose index byte comes from the data,
// which must be rejected when outside the table).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/ops/embedding_bag.hpp"

namespace {

template <class Format>
void read(const uint8_t* data, std::size_t size, std::size_t rows, std::size_t dim, int64_t probe) {
  try {
    const auto table =
        qinfer::view_rowwise<Format>(qinfer::Span<const uint8_t>(data, size), rows, dim);
    std::vector<int64_t> indices;
    for (std::size_t i = 0; i < rows; ++i) indices.push_back(static_cast<int64_t>(i));
    indices.push_back(probe);
    const std::vector<int64_t> offsets = {0, static_cast<int64_t>(rows),
                                          static_cast<int64_t>(rows) + 1};
    std::vector<float> out(2 * dim);
    const bool inside = probe < static_cast<int64_t>(rows);
    try {
      qinfer::embedding_bag(table, qinfer::Span<const int64_t>(indices),
                            qinfer::Span<const int64_t>(offsets),
                            qinfer::row_major(out.data(), 2, dim));
      if (!inside) __builtin_trap();
    } catch (const qinfer::Error& e) {
      if (inside || e.status().code() != qinfer::Errc::index_out_of_range) __builtin_trap();
    }
  } catch (const qinfer::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t rows = data[0] % 64, dim = data[1];
  const auto probe = static_cast<int64_t>(data[2] % 80);
  data += 3;
  size -= 3;
  read<qinfer::Rowwise8>(data, size, rows, dim, probe);
  read<qinfer::Rowwise4>(data, size, rows, dim, probe);
  read<qinfer::Rowwise2>(data, size, rows, dim, probe);
  read<qinfer::RowwiseFormat<8, qinfer::ScaleFormat::fp16>>(data, size, rows, dim, probe);
  return 0;
}
