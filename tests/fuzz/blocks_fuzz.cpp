// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: read_blocks (quant/blocks.hpp) on arbitrary bytes, for llama.cpp's three
// layouts and two of the wider ones (groups of 64 and 128, fp32 scales),
// with a shape taken from the first two bytes, must either read or report an error, never
// crash or read out of bounds (ASan and UBSan watch); what it accepts must dequantize to finite
// values.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qinfer/quant/blocks.hpp"

namespace {

template <class Block>
void read(const uint8_t* data, std::size_t size, std::size_t rows, std::size_t cols) {
  try {
    const auto m = qinfer::read_blocks<Block>(qinfer::Span<const uint8_t>(data, size), rows, cols);
    for (float v : qinfer::dequantize_blocks(m)) {
      if (!std::isfinite(v)) __builtin_trap();
    }
  } catch (const qinfer::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t rows = data[0], cols = std::size_t{data[1]} * 8;
  read<qinfer::BlockQ8_0>(data + 2, size - 2, rows, cols);
  read<qinfer::BlockQ4_0>(data + 2, size - 2, rows, cols);
  read<qinfer::BlockQ4_1>(data + 2, size - 2, rows, cols);
  using qinfer::BlockCodes, qinfer::ScaleFormat, qinfer::WeightBlock;
  read<WeightBlock<BlockCodes::int8, 64, ScaleFormat::fp32>>(data + 2, size - 2, rows, cols);
  read<WeightBlock<BlockCodes::int4_min, 128, ScaleFormat::fp32>>(data + 2, size - 2, rows, cols);
  return 0;
}
