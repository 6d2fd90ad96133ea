// SPDX-License-Identifier: Apache-2.0
//
// Reader for IDX files of unsigned bytes, the format of (Fashion-)MNIST: two zero bytes, the
// element type (0x08 for uint8), the number of dimensions, each dimension as a big-endian
// uint32, then the elements. The bytes are untrusted: every length is checked before it is
// used, and a file must hold exactly the elements its header announces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer::io {

struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<uint8_t> data;
};

inline constexpr uint8_t idx_type_uint8 = 0x08;
// MNIST-like files have 1 (labels) or 3 (images) dimensions; more would be a different format.
inline constexpr std::size_t idx_max_dims = 4;

inline Result<IdxArray> parse_idx(Span<const uint8_t> bytes) {
  constexpr std::size_t magic_size = 4;
  if (bytes.size() < magic_size || bytes[0] != 0 || bytes[1] != 0) {
    return fail<IdxArray>(Errc::invalid_argument, "IDX: missing the 00 00 magic");
  }
  if (bytes[2] != idx_type_uint8) {
    return fail<IdxArray>(Errc::invalid_argument, "IDX: only unsigned byte (0x08) data is read");
  }
  const std::size_t rank = bytes[3];
  if (rank == 0 || rank > idx_max_dims) {
    return fail<IdxArray>(Errc::invalid_argument, "IDX: dimension count must be 1 to 4");
  }
  const std::size_t header = magic_size + 4 * rank;
  if (bytes.size() < header) return fail<IdxArray>(Errc::invalid_argument, "IDX: truncated header");
  IdxArray out;
  std::size_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const uint8_t* p = bytes.data() + magic_size + 4 * d;
    const std::size_t extent = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) |
                               (std::size_t{p[2]} << 8) | std::size_t{p[3]};
    if (!checked_mul(count, extent, count)) {
      return fail<IdxArray>(Errc::size_overflow, "IDX: element count overflows");
    }
    out.dims.push_back(extent);
  }
  if (bytes.size() - header != count) {
    return fail<IdxArray>(Errc::shape_mismatch,
                          "IDX: data size does not match the dimensions in the header");
  }
  out.data.assign(bytes.data() + header, bytes.data() + bytes.size());
  return out;
}

}  // namespace qinfer::io
