// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the IDX reader on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "qinfer/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    qinfer::io::parse_idx(qinfer::Span<const uint8_t>(data, size));
  } catch (const qinfer::Error&) {
  }
  return 0;
}
