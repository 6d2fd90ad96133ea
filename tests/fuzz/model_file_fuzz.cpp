// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the quantized model file reader on arbitrary bytes. The CRC is recomputed
// over the input first, so the fuzzer reaches the parser behind it; a model that loads is also
// run on one input, which must succeed or fail cleanly.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/io/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() >= 4) {
    const uint32_t crc =
        qinfer::io::crc32(qinfer::Span<const uint8_t>(bytes.data(), bytes.size() - 4));
    for (int i = 0; i < 4; ++i)
      bytes[bytes.size() - 4 + static_cast<std::size_t>(i)] = static_cast<uint8_t>(crc >> (8 * i));
  }
  try {
    const qinfer::nn::QuantizedSequential model = qinfer::io::load_model(bytes);
    const auto* first = std::get_if<qinfer::nn::QuantizedMatmul>(&model.steps.front());
    if (first != nullptr && first->kernel == 0 && first->in_channels <= 4096) {
      const qinfer::Tensor<float> x({1, first->in_channels},
                                    std::vector<float>(first->in_channels, 0.5f));
      model.forward(x);
    }
  } catch (const qinfer::Error&) {
  }
  return 0;
}
