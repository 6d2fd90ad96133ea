// SPDX-License-Identifier: Apache-2.0
//
// The contract every depthwise kernel keeps, and the portable kernel that defines it.
//
// A kernel computes the sums of a run of output pixels, one block of `channels` channels each.
// Tap t of the run's first pixel starts at taps[t] (the block's first channel in the image, or
// in a row of zero points where the window leaves the image), for `groups` groups of the
// kernel's taps_per_group taps (a short last group has zero weights); every tap of the next
// pixel lies `step` bytes further. The weights are the packed layout the kernel multiplies
// (kernels/depthwise/packing.hpp) from the block's first channel: `pairs` with pair_stride for
// kernels of 2 taps per group, `quads` with quad_stride (bytes) for kernels of 4. For pixel p:
//
//   out[p * out_stride + c] = init[p * init_stride + c] + sum_t x_t[c] * w'[t][c]  (mod 2^32)
//
// with x the activation value, or its code (int8 values with the top bit flipped, 0..255) for
// kernels that multiply codes. init_stride is 0 for per-channel starting sums; init may be out
// itself, which lets the driver split long windows into runs of taps. Activations are read as
// bytes (the padding row lives in an int32 workspace, which bytes may alias); TA says whether
// they are int8 or uint8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/depthwise/packing.hpp"

namespace qinfer {

// The most taps (groups times the kernel's taps per group) a run holds; longer windows run in
// several passes, each adding to the sums of the last.
inline constexpr std::size_t depthwise_run_taps = 32;

struct DepthwiseRun {
  const uint8_t* const* taps;
  std::size_t groups;
  std::size_t pixels;
  std::size_t step;
  const int16_t* pairs;
  std::size_t pair_stride;
  const int8_t* quads;
  std::size_t quad_stride;
  const int32_t* init;
  std::size_t init_stride;
  std::size_t channels;
  int32_t* out;
  std::size_t out_stride;
};

template <class TA>
using DepthwiseFn = void (*)(const DepthwiseRun& run) noexcept;

template <class TA>
struct DepthwiseKernel {
  const char* name;  // ISA and instruction, e.g. "avx512vnni vpdpwssd x16"
  Isa isa;
  std::size_t taps_per_group;  // 2: the pairs layout; 4: the quads layout
  bool codes;                  // multiplies activation codes (see above)
  DepthwiseFn<TA> run;
};

namespace kernels::scalar {

// The value of an activation byte: as stored for uint8, two's complement for int8.
template <class TA>
constexpr int32_t activation_value(uint8_t byte) noexcept {
  return std::is_same_v<TA, int8_t> && byte >= 128 ? int32_t{byte} - 256 : int32_t{byte};
}

// Channels [first, run.channels) of pixel p; the SIMD kernels finish their tails here.
template <class TA>
void depthwise_channels(const DepthwiseRun& run, std::size_t p, std::size_t first) noexcept {
  const int32_t* init = run.init + p * run.init_stride;
  int32_t* out = run.out + p * run.out_stride;
  const std::size_t offset = p * run.step;
  for (std::size_t c = first; c < run.channels; ++c) {
    auto sum = static_cast<uint32_t>(init[c]);
    for (std::size_t q = 0; q < run.groups; ++q) {
      const int16_t* w = run.pairs + q * run.pair_stride + 2 * c;
      sum += static_cast<uint32_t>(activation_value<TA>(run.taps[2 * q][offset + c]) * w[0] +
                                   activation_value<TA>(run.taps[2 * q + 1][offset + c]) * w[1]);
    }
    out[c] = static_cast<int32_t>(sum);
  }
}

template <class TA>
void depthwise(const DepthwiseRun& run) noexcept {
  for (std::size_t p = 0; p < run.pixels; ++p) depthwise_channels<TA>(run, p, 0);
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_kernel() noexcept {
  return {"scalar", Isa::scalar, 2, false, &depthwise<TA>};
}

}  // namespace kernels::scalar
}  // namespace qinfer
