// SPDX-License-Identifier: Apache-2.0
//
// Depthwise weights packed once for the depthwise kernels of every path (kernels/depthwise/).
//
// A depthwise convolution has one small filter per channel (groups == channels, multiplier 1),
// so the kernels vectorize over channels, which are contiguous in NHWC, and loop over taps.
// Each product pairs an activation code (0..255) with a weight minus its zero point
// (-255..255): both fit int16, and two taps summed fit int32, which is what vpmaddwd, vpdpwssd
// and vmlal_s16 compute. The layout "pairs" stores taps two by two: for tap pair p and channel c
// the two int16 weights (w'[2p][c], w'[2p+1][c]) sit side by side, one 32-bit lane per channel,
// channels padded to whole vectors of depthwise_cr. An odd tap count gets a zero last weight.
//
// A second layout, "quads", exists when every w' fits int8 (symmetric int8 weights, the usual
// case): taps four by four, the operand of vpdpbusd (4 uint8 x int8 products per 32-bit lane)
// and of NEON's sdot (kernels/depthwise/dotprod.hpp).
// Its channels go in blocks of 64, in the order that the byte and word unpacks of four
// 64-channel activation vectors leave them: in vector i of a block, 128-bit lane j, dword k
// holds channel 16 j + 4 i + k, its 4 bytes the weights of taps 4q .. 4q + 3.
//
// A 3x3 filter with the quads layout also gets "row quads": the same channel order, but quad ky
// holds the taps of kernel row ky, (w'[ky][0], w'[ky][1], w'[ky][2], 0). The rows kernel
// (kernels/depthwise/avx512.hpp) interleaves each input row once for every output row that
// reads it, which needs the taps of one row together.
//
// The activation zero point never enters the inner loop. Padding taps hold the zero point, so
//   sum_t (x_t - zx) w'_t = sum_t x_t w'_t - zx sum_t w'_t
// over all taps, and the driver starts each channel from bias - zx colsum(w'), exact modulo
// 2^32 like the reference's accumulator. x is the activation as stored (int8 or uint8), so
// both fit the int16 products without any code shift.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "qinfer/core/aligned.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/reference/gemm.hpp"

namespace qinfer {

// Channels per packed vector: the 16 int32 lanes of a zmm register.
inline constexpr std::size_t depthwise_cr = 16;
// Channels per block of the quads layout: four zmm registers of 16 lanes.
inline constexpr std::size_t depthwise_quad_block = 64;

// Views of one buffer, as PackedWeights (kernels/gemm/packing.hpp): pack_depthwise() allocates
// it and copies share it; pack_depthwise_into() packs into the caller's.
struct PackedDepthwise {
  std::size_t channels = 0;
  std::size_t kernel_h = 0, kernel_w = 0;
  std::size_t pairs = 0;            // ceil(kernel_h * kernel_w / 2)
  std::size_t padded_channels = 0;  // channels rounded up to depthwise_cr
  Span<int16_t> data;               // [pairs][padded_channels][2]
  Span<int32_t> weight_sums;        // per channel: sum_t w'[t][c] (modulo 2^32)
  Span<int32_t> bias;               // per channel
  // The quads layout, empty unless every w' fits int8: [quads][blocks of 64][4][16][4].
  Span<int8_t> quads;
  // The row quads layout, empty unless the filter is 3x3 and has quads: the quads layout with
  // kernel row ky as quad ky, tap kx of channel c at quad_index(ky, c, kx).
  Span<int8_t> row_quads;
  // The buffer pack_depthwise() made; null for a caller's buffer.
  std::shared_ptr<const AlignedVector<std::byte>> storage;

  std::size_t taps() const noexcept { return kernel_h * kernel_w; }
  // int16 elements from one tap pair to the next.
  std::size_t pair_stride() const noexcept { return 2 * padded_channels; }
  bool has_quads() const noexcept { return !quads.empty(); }
  bool has_row_quads() const noexcept { return !row_quads.empty(); }
  // Bytes from one tap quad to the next.
  std::size_t quad_stride() const noexcept {
    return (channels + depthwise_quad_block - 1) / depthwise_quad_block * depthwise_quad_block * 4;
  }
  // Where the quads layout keeps tap 4q + u of channel c.
  std::size_t quad_index(std::size_t q, std::size_t c, std::size_t u) const noexcept {
    const std::size_t r = c % depthwise_quad_block, lane = r / 16, vector = r % 16 / 4;
    return q * quad_stride() + (c - r) * 4 + vector * 64 + (4 * lane + r % 4) * 4 + u;
  }
};

namespace detail {

// The arrays of a depthwise filter, carved in their order; the quads layouts only `with_quads`
// (the size query counts them: they exist for any int8 symmetric filter). Precondition:
// channels and the kernel are > 0 and taps x channels fits size_t.
inline PackedDepthwise carve_packed_depthwise(BufferCarver& carver, std::size_t channels,
                                              std::size_t kernel_h, std::size_t kernel_w,
                                              bool with_quads) {
  PackedDepthwise p;
  p.channels = channels;
  p.kernel_h = kernel_h;
  p.kernel_w = kernel_w;
  p.pairs = (p.taps() + 1) / 2;
  p.padded_channels = (channels + depthwise_cr - 1) / depthwise_cr * depthwise_cr;
  std::size_t pair_elements = 0, quad_bytes = 0;
  if (p.padded_channels < channels || !checked_mul(p.pairs, p.pair_stride(), pair_elements) ||
      !checked_mul((p.taps() + 3) / 4, p.quad_stride(), quad_bytes)) {
    carver.overflow();
    return p;
  }
  p.data = carver.take<int16_t>(pair_elements);
  p.weight_sums = carver.take<int32_t>(channels);
  p.bias = carver.take<int32_t>(channels);
  if (with_quads) {
    p.quads = carver.take<int8_t>(quad_bytes);
    if (kernel_h == 3 && kernel_w == 3) p.row_quads = carver.take<int8_t>(3 * p.quad_stride());
  }
  return p;
}

}  // namespace detail

// Bytes of the buffer pack_depthwise_into() needs; 0 for a kernel or channel count of 0 or a
// size past size_t.
inline std::size_t packed_depthwise_size(std::size_t channels, std::size_t kernel_h,
                                         std::size_t kernel_w) noexcept {
  std::size_t taps = 0, count = 0;
  if (channels == 0 || !checked_mul(kernel_h, kernel_w, taps) || taps == 0 ||
      !checked_mul(taps, channels, count)) {
    return 0;
  }
  BufferCarver carver;
  detail::carve_packed_depthwise(carver, channels, kernel_h, kernel_w, true);
  return carver.size();
}

// Packs depthwise weights given as the reference convolution's OHWI with one input channel per
// group ([channels, kernel_h, kernel_w], ONNX's [C, 1, kh, kw] in memory), with zero points and
// bias of 0, 1 or `channels` entries, into `buffer`: packed_depthwise_size() bytes, 64-byte
// aligned. Allocates nothing; the result refers to the buffer. Scheme is the weights' quantizer
// scheme (quant/params.hpp), checked as pack_weights() checks it.
template <class Scheme = Affine, class TW>
Result<PackedDepthwise> pack_depthwise_into(Span<std::byte> buffer, std::size_t channels,
                                            std::size_t kernel_h, std::size_t kernel_w,
                                            Span<const TW> weights, Span<const int32_t> zero_points,
                                            Span<const int32_t> bias) {
  static_assert(reference::is_quantized_8bit<TW>, "pack_depthwise: weights must be 8-bit");
  constexpr int32_t qmin = Scheme::template qmin<TW>, qmax = Scheme::template qmax<TW>;
  std::size_t taps = 0, count = 0;
  if (channels == 0 || kernel_h == 0 || kernel_w == 0) {
    return fail<PackedDepthwise>(Errc::invalid_argument,
                                 "pack_depthwise: channels and kernel must be > 0");
  }
  if (!checked_mul(kernel_h, kernel_w, taps) || !checked_mul(taps, channels, count)) {
    return fail<PackedDepthwise>(Errc::size_overflow, "pack_depthwise: weights size overflows");
  }
  if (weights.size() != count) {
    return fail<PackedDepthwise>(Errc::shape_mismatch,
                                 "pack_depthwise: weights must be [channels, kernel_h, kernel_w]");
  }
  if (auto s = reference::detail::check_offsets<uint8_t, TW>({0, zero_points, bias}, channels);
      !s) {
    return fail<PackedDepthwise>(s);
  }
  for (const int32_t zp : zero_points) {
    if (!Scheme::template check<TW>({1.0f, zp})) {
      return fail<PackedDepthwise>(Errc::invalid_zero_point,
                                   "pack_depthwise: a zero point does not fit the weights' scheme");
    }
  }
  // The quads layouts exist when every w' fits int8: known before anything is written.
  bool int8_range = true;
  for (std::size_t c = 0; c < channels; ++c) {
    const int32_t zw = broadcast_at(zero_points, c);
    for (std::size_t t = 0; t < taps; ++t) {
      const int32_t value = weights[c * taps + t];
      if (value < qmin || value > qmax) {
        return fail<PackedDepthwise>(
            Errc::invalid_argument,
            "pack_depthwise: a weight code lies outside its scheme's range");
      }
      int8_range = int8_range && value - zw >= -128 && value - zw <= 127;
    }
  }
  BufferCarver measure;
  detail::carve_packed_depthwise(measure, channels, kernel_h, kernel_w, int8_range);
  if (!measure.ok()) {
    return fail<PackedDepthwise>(Errc::size_overflow, "pack_depthwise: packed size overflows");
  }
  if (!fits_carved(buffer, measure.size())) {
    return fail<PackedDepthwise>(
        Errc::invalid_argument,
        "pack_depthwise_into: buffer not 64-byte aligned or smaller than packed_depthwise_size()");
  }
  if (measure.size() != 0) std::memset(buffer.data(), 0, measure.size());
  BufferCarver carver(buffer.data());
  PackedDepthwise p =
      detail::carve_packed_depthwise(carver, channels, kernel_h, kernel_w, int8_range);
  for (std::size_t c = 0; c < channels; ++c) {
    const int32_t zw = broadcast_at(zero_points, c);
    uint32_t sum = 0;
    for (std::size_t t = 0; t < taps; ++t) {
      const int32_t centered = weights[c * taps + t] - zw;
      p.data[(t / 2) * p.pair_stride() + 2 * c + t % 2] = static_cast<int16_t>(centered);
      sum += static_cast<uint32_t>(centered);
      if (p.has_quads()) p.quads[p.quad_index(t / 4, c, t % 4)] = static_cast<int8_t>(centered);
      if (p.has_row_quads()) {
        p.row_quads[p.quad_index(t / kernel_w, c, t % kernel_w)] = static_cast<int8_t>(centered);
      }
    }
    p.weight_sums[c] = static_cast<int32_t>(sum);
    p.bias[c] = bias.empty() ? 0 : broadcast_at(bias, c);
  }
  return p;
}

// The same into a buffer of its own, which copies of the result share.
template <class Scheme = Affine, class TW>
Result<PackedDepthwise> pack_depthwise(std::size_t channels, std::size_t kernel_h,
                                       std::size_t kernel_w, Span<const TW> weights,
                                       Span<const int32_t> zero_points, Span<const int32_t> bias) {
  const std::size_t size = packed_depthwise_size(channels, kernel_h, kernel_w);
  auto storage = std::make_shared<AlignedVector<std::byte>>(size);
  PackedDepthwise p;
  if (auto s = take(pack_depthwise_into<Scheme>(Span<std::byte>(*storage), channels, kernel_h,
                                                kernel_w, weights, zero_points, bias),
                    p);
      !s) {
    return fail<PackedDepthwise>(s);
  }
  p.storage = std::move(storage);
  return p;
}

}  // namespace qinfer
