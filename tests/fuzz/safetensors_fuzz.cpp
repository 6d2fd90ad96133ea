// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the safetensors reader on arbitrary bytes must either parse or report an
// error, never crash or read out of bounds (ASan and UBSan watch).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    const qinfer::io::Safetensors s =
        qinfer::io::Safetensors::parse(std::vector<uint8_t>(data, data + size));
    for (const qinfer::io::SafetensorsEntry& t : s.tensors()) {
      volatile float sink = 0.0f;
      for (float v : s.to_float(t)) sink = sink + v;
    }
  } catch (const qinfer::Error&) {
  }
  return 0;
}
