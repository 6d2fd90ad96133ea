// SPDX-License-Identifier: Apache-2.0
//
// The contract every depthwise kernel keeps, and the portable kernel that defines it.
//
// A kernel computes the sums of one output pixel over a block of `channels` channels: tap t of
// the window starts at taps[t] (the pixel's first channel of the block in the image, or a row
// of zero points where the window leaves it), for 2 * pairs taps; `weights` points at the
// block's first channel in pair 0 of the packed layout (kernels/depthwise/packing.hpp):
//
//   out[c] = init[c] + sum_t x_t[c] * w'[t][c]   (modulo 2^32)
//
// init may alias out, which lets the driver split long windows into runs of taps. Activations
// are read as bytes (the padding row lives in an int32 workspace, which bytes may alias); TA
// says whether they are int8 or uint8 values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/depthwise/packing.hpp"

namespace qinfer {

template <class TA>
using DepthwiseFn = void (*)(const uint8_t* const* taps, std::size_t pairs, const int16_t* weights,
                             std::size_t pair_stride, const int32_t* init, std::size_t channels,
                             int32_t* out) noexcept;

template <class TA>
struct DepthwiseKernel {
  const char* name;  // ISA and instruction, e.g. "avx512vnni vpdpwssd x16"
  Isa isa;
  DepthwiseFn<TA> run;
};

namespace kernels::scalar {

// The value of an activation byte: as stored for uint8, two's complement for int8.
template <class TA>
constexpr int32_t activation_value(uint8_t byte) noexcept {
  return std::is_same_v<TA, int8_t> && byte >= 128 ? int32_t{byte} - 256 : int32_t{byte};
}

// Channels [first, channels) of the contract above; the SIMD kernels finish their tails here.
template <class TA>
void depthwise_channels(const uint8_t* const* taps, std::size_t pairs, const int16_t* weights,
                        std::size_t pair_stride, const int32_t* init, std::size_t first,
                        std::size_t channels, int32_t* out) noexcept {
  for (std::size_t c = first; c < channels; ++c) {
    auto sum = static_cast<uint32_t>(init[c]);
    for (std::size_t p = 0; p < pairs; ++p) {
      const int16_t* w = weights + p * pair_stride + 2 * c;
      sum += static_cast<uint32_t>(activation_value<TA>(taps[2 * p][c]) * w[0] +
                                   activation_value<TA>(taps[2 * p + 1][c]) * w[1]);
    }
    out[c] = static_cast<int32_t>(sum);
  }
}

template <class TA>
void depthwise(const uint8_t* const* taps, std::size_t pairs, const int16_t* weights,
               std::size_t pair_stride, const int32_t* init, std::size_t channels,
               int32_t* out) noexcept {
  depthwise_channels<TA>(taps, pairs, weights, pair_stride, init, 0, channels, out);
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_kernel() noexcept {
  return {"scalar", Isa::scalar, &depthwise<TA>};
}

}  // namespace kernels::scalar
}  // namespace qinfer
