// SPDX-License-Identifier: Apache-2.0
//
// The pooling kernels: loops over the contiguous channels of NHWC pixels, written once and
// compiled for each instruction-set level (kernels/pool/dispatch.hpp). Every loop is element-wise
// over channels, with no dependence between iterations, which the compilers turn into full-width
// vector code at whatever level the function is compiled for (vpmaxub, vpmovzxbw and vpaddd,
// vdivps, vcvttps2dq and vpackuswb on AVX-512; umax, uaddw, fdiv on NEON, as read in the
// disassembly of g++ 12), so one source gives bit-identical kernels at every level.
//
// The operators (ops/pool.hpp) gather each output pixel's window as a list of tap pointers,
// in chunks, and call:
//   max_taps:     out[c] = clamp(max(out[c] unless first, taps[t][c] for every t))
//   sum_taps:     acc[c] = (acc[c] unless first) + sum_t taps[t][c]
//   average_row:  out[c] = clamp(round_half_away((acc[c] + bias) / count))
// Clamping commutes with max (both are monotone), so max_taps may clamp every chunk.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/quant/output_stage.hpp"

namespace qinfer::kernels::pool {

// The division of average_row: the taps' sum (plus the padded taps' zero points) and count.
struct Average {
  int32_t bias;   // (window - taps inside) * zero point with count_include_pad, else 0
  int32_t count;  // taps averaged, in [1, max_float_count]
  ClampBounds clamp;
};

// The largest count for which average_row's float division is exact. With |sum| <= 255 count
// and count < 2^16, the numerator a = sum +- count / 2 has |a| < 2^24 and is a float exactly.
// a / count is either an integer k (then fl(a / count) = k) or at least 1 / count > 2^-16 from
// one, while fl(a / count) <= 256 lies within half an ulp (2^-17) of it: truncating the float
// quotient therefore gives C++'s truncating integer division, the reference's rounded_average.
inline constexpr int32_t max_float_count = 65535;

template <class T>
__attribute__((always_inline)) inline T clamp_code(int32_t v, ClampBounds b) noexcept {
  return static_cast<T>(v < b.min ? b.min : (v > b.max ? b.max : v));
}

template <class T>
__attribute__((always_inline)) inline void max_taps(T* out, const T* const* taps, std::size_t count,
                                                    std::size_t channels, bool first,
                                                    ClampBounds clamp) noexcept {
  std::size_t t = 0;
  if (first) {
    const T* tap = taps[t++];
    for (std::size_t c = 0; c < channels; ++c) out[c] = tap[c];
  }
  for (; t < count; ++t) {
    const T* tap = taps[t];
    for (std::size_t c = 0; c < channels; ++c) out[c] = out[c] < tap[c] ? tap[c] : out[c];
  }
  const T lo = static_cast<T>(clamp.min), hi = static_cast<T>(clamp.max);
  for (std::size_t c = 0; c < channels; ++c) {
    out[c] = out[c] < lo ? lo : (out[c] > hi ? hi : out[c]);
  }
}

template <class T>
__attribute__((always_inline)) inline void sum_taps(int32_t* acc, const T* const* taps,
                                                    std::size_t count, std::size_t channels,
                                                    bool first) noexcept {
  if (first) {
    for (std::size_t c = 0; c < channels; ++c) acc[c] = 0;
  }
  for (std::size_t t = 0; t < count; ++t) {
    const T* tap = taps[t];
    for (std::size_t c = 0; c < channels; ++c) acc[c] += tap[c];
  }
}

template <class T>
__attribute__((always_inline)) inline void average_row(T* out, const int32_t* acc,
                                                       std::size_t channels, Average a) noexcept {
  const float count = static_cast<float>(a.count);
  const int32_t half = a.count / 2;
  for (std::size_t c = 0; c < channels; ++c) {
    const int32_t sum = acc[c] + a.bias;
    const float quotient = static_cast<float>(sum + (sum >= 0 ? half : -half)) / count;
    out[c] = clamp_code<T>(static_cast<int32_t>(quotient), a.clamp);
  }
}

}  // namespace qinfer::kernels::pool
