// SPDX-License-Identifier: Apache-2.0
//
// AVX-512 VNNI depthwise kernels (contract in kernels/depthwise/scalar.hpp). For any weights,
// 16 channels per zmm with the AVX2 kernel's tap-pair scheme and vpdpwssd, which multiplies
// both taps, sums them and accumulates in one instruction. For weights whose w' fit int8, the
// quads kernel below multiplies bytes with vpdpbusd, 4 taps per lane, and the rows kernel does
// the same for 3x3 windows with each input row interleaved once. Channel tails run the same
// loops under masks.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/kernels/depthwise/scalar.hpp"
#include "qinfer/quant/convert/avx512.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/quantize.hpp"

// GCC 12 bug 105593 (see quant/convert/avx512.hpp): the widening intrinsics warn about the
// undefined vectors they pass to their builtins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qinfer::kernels::avx512 {

// Activations of channels [c, c + 16) under `mask`, widened to int32 lanes as TA is signed.
template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline __m512i widen16(
    const uint8_t* x, __mmask16 mask) noexcept {
  const __m128i v = _mm_maskz_loadu_epi8(mask, x);
  return std::is_same_v<TA, int8_t> ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
depthwise_block(const DepthwiseRun& run, std::size_t offset, const int32_t* init, std::size_t c,
                __mmask16 mask, int32_t* out) noexcept {
  __m512i acc = _mm512_maskz_loadu_epi32(mask, init + c);
  for (std::size_t q = 0; q < run.groups; ++q) {
    const __m512i first = widen16<TA>(run.taps[2 * q] + offset + c, mask);
    const __m512i second =
        _mm512_slli_epi32(widen16<TA>(run.taps[2 * q + 1] + offset + c, mask), 16);
    const __m512i x = _mm512_mask_blend_epi16(0xAAAAAAAAu, first, second);
    // Packed weights are padded to whole vectors: the full load stays inside them.
    const __m512i w = _mm512_loadu_si512(run.pairs + q * run.pair_stride + 2 * c);
    acc = _mm512_dpwssd_epi32(acc, x, w);
  }
  _mm512_mask_storeu_epi32(out + c, mask, acc);
}

template <class TA>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void depthwise(
    const DepthwiseRun& run) noexcept {
  constexpr std::size_t lanes = 16;
  const std::size_t full = run.channels / lanes * lanes;
  const auto tail = static_cast<__mmask16>((1u << (run.channels - full)) - 1);
  for (std::size_t p = 0; p < run.pixels; ++p) {
    const int32_t* init = run.init + p * run.init_stride;
    int32_t* out = run.out + p * run.out_stride;
    const std::size_t offset = p * run.step;
    for (std::size_t c = 0; c < full; c += lanes) {
      depthwise_block<TA>(run, offset, init, c, 0xFFFF, out);
    }
    if (tail != 0) depthwise_block<TA>(run, offset, init, full, tail, out);
  }
}

// The quads kernel: 64 channels per block in four zmm accumulators. Per tap quad, four
// 64-byte activation vectors are interleaved by two rounds of byte and word unpacks into the
// 4-taps-per-lane operand of vpdpbusd, which then does 4 products per lane. The unpacks work
// within 128-bit lanes and leave the channels permuted (packing.hpp's quads order); one 4x4
// transpose of 128-bit lanes per pixel and block restores them. int8 activations enter as codes
// (top bit flipped), which the driver's starting sums account for.
// One tap quad: four activation vectors interleaved by two rounds of byte and word unpacks into
// vpdpbusd's 4-bytes-per-lane operand, times the quad's four packed weight vectors.
__attribute__((always_inline, target("avx512f,avx512bw,avx512vnni"))) inline void quads_step(
    const __m512i (&x)[4], const __m512i (&w)[4], __m512i (&acc)[4]) noexcept {
  const __m512i lo01 = _mm512_unpacklo_epi8(x[0], x[1]), hi01 = _mm512_unpackhi_epi8(x[0], x[1]);
  const __m512i lo23 = _mm512_unpacklo_epi8(x[2], x[3]), hi23 = _mm512_unpackhi_epi8(x[2], x[3]);
  acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_unpacklo_epi16(lo01, lo23), w[0]);
  acc[1] = _mm512_dpbusd_epi32(acc[1], _mm512_unpackhi_epi16(lo01, lo23), w[1]);
  acc[2] = _mm512_dpbusd_epi32(acc[2], _mm512_unpacklo_epi16(hi01, hi23), w[2]);
  acc[3] = _mm512_dpbusd_epi32(acc[3], _mm512_unpackhi_epi16(hi01, hi23), w[3]);
}

// The raw sums of channels [c, c + 64) of one pixel, under the byte mask of the channels that
// exist, in the quads order: acc[i] lane j holds channels 16 j + 4 i .. + 3.
template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
quads_accumulate(const DepthwiseRun& run, std::size_t offset, std::size_t c, __mmask64 bytes,
                 __m512i (&acc)[4]) noexcept {
  const __m512i flip = _mm512_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
#pragma GCC unroll 4
  for (auto& a : acc) a = _mm512_setzero_si512();
#pragma GCC unroll 8
  for (std::size_t q = 0; q < run.groups; ++q) {
    __m512i x[4], w[4];
    const int8_t* weights = run.quads + q * run.quad_stride + c * 4;
#pragma GCC unroll 4
    for (std::size_t u = 0; u < 4; ++u) {
      x[u] =
          _mm512_xor_si512(_mm512_maskz_loadu_epi8(bytes, run.taps[4 * q + u] + offset + c), flip);
      w[u] = _mm512_load_si512(weights + 64 * u);
    }
    quads_step(x, w, acc);
  }
}

// The 4 x 4 transpose of 128-bit lanes: lane j of out[i] is lane i of in[j]. It takes the quads
// order to channel order and back.
__attribute__((always_inline, target("avx512f"))) inline void transpose_lanes(
    const __m512i (&in)[4], __m512i (&out)[4]) noexcept {
  const __m512i t0 = _mm512_shuffle_i32x4(in[0], in[1], 0x44);
  const __m512i t1 = _mm512_shuffle_i32x4(in[2], in[3], 0x44);
  const __m512i t2 = _mm512_shuffle_i32x4(in[0], in[1], 0xEE);
  const __m512i t3 = _mm512_shuffle_i32x4(in[2], in[3], 0xEE);
  out[0] = _mm512_shuffle_i32x4(t0, t1, 0x88);
  out[1] = _mm512_shuffle_i32x4(t0, t1, 0xDD);
  out[2] = _mm512_shuffle_i32x4(t2, t3, 0x88);
  out[3] = _mm512_shuffle_i32x4(t2, t3, 0xDD);
}

// The same sums in channel order, from init.
template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
quads_sums(const DepthwiseRun& run, std::size_t offset, const int32_t* init, std::size_t c,
           __mmask64 bytes, __m512i (&sums)[4]) noexcept {
  __m512i acc[4];
  quads_accumulate<TA>(run, offset, c, bytes, acc);
  transpose_lanes(acc, sums);
#pragma GCC unroll 4
  for (std::size_t j = 0; j < 4; ++j) {
    const auto lanes = static_cast<__mmask16>(bytes >> (16 * j));
    sums[j] = _mm512_add_epi32(sums[j], _mm512_maskz_loadu_epi32(lanes, init + c + 16 * j));
  }
}

// The byte mask of the channels of block [c, c + 64) below `channels`.
inline __mmask64 block_mask(std::size_t channels, std::size_t c) noexcept {
  const std::size_t remaining = channels - c;
  return remaining >= 64 ? ~__mmask64{0} : (__mmask64{1} << remaining) - 1;
}

template <class TA>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void depthwise_quads(
    const DepthwiseRun& run) noexcept {
  for (std::size_t p = 0; p < run.pixels; ++p) {
    const int32_t* init = run.init + p * run.init_stride;
    int32_t* out = run.out + p * run.out_stride;
    for (std::size_t c = 0; c < run.channels; c += depthwise_quad_block) {
      const __mmask64 bytes = block_mask(run.channels, c);
      __m512i sums[4];
      quads_sums<TA>(run, p * run.step, init, c, bytes, sums);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < 4; ++j) {
        _mm512_mask_storeu_epi32(out + c + 16 * j, static_cast<__mmask16>(bytes >> (16 * j)),
                                 sums[j]);
      }
    }
  }
}

// The quads kernel with the stage fused: pixel p's channel c goes to out[p * out_stride + c]
// (run.out is unused), stage channel first_channel + c. The run must cover the whole window.
// A partial vector of 16 channels goes through the stage lane by lane, which the vector stage
// matches bit for bit.
template <class TA, class Stage>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void depthwise_quads_fused(
    const DepthwiseRun& run, const Stage& stage, const convert::avx512::StageLanes<Stage>& lanes,
    typename Stage::Output* out, std::size_t out_stride, std::size_t first_channel) noexcept {
  const convert::avx512::StageLanes<Stage> local = lanes;
  for (std::size_t p = 0; p < run.pixels; ++p) {
    typename Stage::Output* pixel = out + p * out_stride;
    for (std::size_t c = 0; c < run.channels; c += depthwise_quad_block) {
      const __mmask64 bytes = block_mask(run.channels, c);
      __m512i sums[4];
      quads_sums<TA>(run, p * run.step, run.init, c, bytes, sums);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < 4; ++j) {
        const std::size_t first = c + 16 * j;
        if (first + 16 <= run.channels) {
          convert::avx512::store16(pixel + first, local(sums[j], first_channel + first));
        } else if (first < run.channels) {
          alignas(64) int32_t tail[16];
          _mm512_store_si512(tail, sums[j]);
          for (std::size_t i = 0; first + i < run.channels; ++i) {
            pixel[first + i] = stage(tail[i], first_channel + first + i);
          }
        }
      }
    }
  }
}

// Lays out `channels` 32-bit values in the quads order, blocks of 64 with zeros past the last
// channel: in each block, vector i, lane j, dword k holds channel 16 j + 4 i + k.
__attribute__((target("avx512f"))) inline void to_quads_order(const void* in, std::size_t channels,
                                                              void* out) noexcept {
  const auto* from = static_cast<const int32_t*>(in);
  auto* to = static_cast<int32_t*>(out);
  for (std::size_t c = 0; c < channels; c += depthwise_quad_block) {
    __m512i block[4], quads[4];
#pragma GCC unroll 4
    for (std::size_t j = 0; j < 4; ++j) {
      const std::size_t first = std::min(channels, c + 16 * j), rest = channels - first;
      const auto lanes = static_cast<__mmask16>(rest >= 16 ? 0xFFFF : (1u << rest) - 1);
      block[j] = _mm512_maskz_loadu_epi32(lanes, from + first);
    }
    transpose_lanes(block, quads);
#pragma GCC unroll 4
    for (std::size_t i = 0; i < 4; ++i) _mm512_storeu_si512(to + c + 16 * i, quads[i]);
  }
}

// The float requantization in the quads order (to_quads_order): starting sums and multipliers
// per channel, the clamp bounds and zero point of RequantizeFloat<Out>.
struct QuadsFloatStage {
  const int32_t* init;
  const float* multipliers;
  float hi;    // max - zero_point
  int16_t lo;  // min - zero_point
  int16_t zero_point;
};

// The output bytes of four vectors of sums (starting sums included) in the quads order, given
// their multipliers in the same order. The packs that narrow 32-bit levels to 16 and then 8 bits
// interleave 128-bit lanes back into channel order, so no transpose is needed. Bit-exact with
// RequantizeFloat<Out>: the upper bound clamps in float (it also keeps cvtps2dq from
// overflowing), the lower one after rounding, which is the same for integer bounds; packssdw's
// saturation only reaches values below every lower bound.
template <class Out>
__attribute__((always_inline, target("avx512f,avx512bw"))) inline __m512i quads_bytes(
    const __m512i (&sums)[4], const __m512 (&multipliers)[4],
    const QuadsFloatStage& stage) noexcept {
  const __m512 hi = _mm512_set1_ps(stage.hi);
  __m512i levels[4];
#pragma GCC unroll 4
  for (std::size_t i = 0; i < 4; ++i) {
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(sums[i]), multipliers[i]);
    levels[i] = _mm512_cvtps_epi32(_mm512_min_ps(v, hi));
  }
  const __m512i lo = _mm512_set1_epi16(stage.lo), zero_point = _mm512_set1_epi16(stage.zero_point);
  const __m512i low =
      _mm512_add_epi16(_mm512_max_epi16(_mm512_packs_epi32(levels[0], levels[1]), lo), zero_point);
  const __m512i high =
      _mm512_add_epi16(_mm512_max_epi16(_mm512_packs_epi32(levels[2], levels[3]), lo), zero_point);
  return std::is_same_v<Out, uint8_t> ? _mm512_packus_epi16(low, high)
                                      : _mm512_packs_epi16(low, high);
}

// The same from raw sums and their starting sums.
template <class Out>
__attribute__((always_inline, target("avx512f,avx512bw"))) inline __m512i quads_levels(
    const __m512i (&acc)[4], const __m512i (&init)[4], const __m512 (&multipliers)[4],
    const QuadsFloatStage& stage) noexcept {
  const __m512i sums[4] = {_mm512_add_epi32(acc[0], init[0]), _mm512_add_epi32(acc[1], init[1]),
                           _mm512_add_epi32(acc[2], init[2]), _mm512_add_epi32(acc[3], init[3])};
  return quads_bytes<Out>(sums, multipliers, stage);
}

// One pixel's 64-channel block [c, c + 64), or fewer under `bytes`, in zmm registers.
template <class TA, class Out>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
quads_float_zmm(const DepthwiseRun& run, const QuadsFloatStage& stage, std::size_t offset,
                std::size_t c, __mmask64 bytes, Out* pixel) noexcept {
  __m512i acc[4], init[4];
  __m512 multipliers[4];
  quads_accumulate<TA>(run, offset, c, bytes, acc);
#pragma GCC unroll 4
  for (std::size_t i = 0; i < 4; ++i) {
    init[i] = _mm512_loadu_si512(stage.init + c + 16 * i);
    multipliers[i] = _mm512_loadu_ps(stage.multipliers + c + 16 * i);
  }
  _mm512_mask_storeu_epi8(pixel + c, bytes, quads_levels<Out>(acc, init, multipliers, stage));
}

// The same for a last block of at most 32 channels in ymm registers: the first two 128-bit lanes
// of the block's packed vectors, so half the work of a masked zmm block (MobileNetV2's layers of
// 32, 96 and 144 channels end in one).
template <class TA, class Out>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
quads_float_ymm(const DepthwiseRun& run, const QuadsFloatStage& stage, std::size_t offset,
                std::size_t c, __mmask32 bytes, Out* pixel) noexcept {
  const __m256i flip = _mm256_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  for (std::size_t q = 0; q < run.groups; ++q) {
    __m256i x[4];
#pragma GCC unroll 4
    for (std::size_t u = 0; u < 4; ++u) {
      x[u] =
          _mm256_xor_si256(_mm256_maskz_loadu_epi8(bytes, run.taps[4 * q + u] + offset + c), flip);
    }
    const __m256i lo01 = _mm256_unpacklo_epi8(x[0], x[1]), hi01 = _mm256_unpackhi_epi8(x[0], x[1]);
    const __m256i lo23 = _mm256_unpacklo_epi8(x[2], x[3]), hi23 = _mm256_unpackhi_epi8(x[2], x[3]);
    const int8_t* w = run.quads + q * run.quad_stride + c * 4;
    const __m256i x4[4] = {_mm256_unpacklo_epi16(lo01, lo23), _mm256_unpackhi_epi16(lo01, lo23),
                           _mm256_unpacklo_epi16(hi01, hi23), _mm256_unpackhi_epi16(hi01, hi23)};
#pragma GCC unroll 4
    for (std::size_t i = 0; i < 4; ++i) {
      acc[i] = _mm256_dpbusd_epi32(acc[i], x4[i],
                                   _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 64 * i)));
    }
  }
  const __m256 hi = _mm256_set1_ps(stage.hi);
  __m256i levels[4];
#pragma GCC unroll 4
  for (std::size_t i = 0; i < 4; ++i) {
    const __m256i sum = _mm256_add_epi32(
        acc[i], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(stage.init + c + 16 * i)));
    const __m256 v =
        _mm256_mul_ps(_mm256_cvtepi32_ps(sum), _mm256_loadu_ps(stage.multipliers + c + 16 * i));
    levels[i] = _mm256_cvtps_epi32(_mm256_min_ps(v, hi));
  }
  const __m256i lo = _mm256_set1_epi16(stage.lo), zero_point = _mm256_set1_epi16(stage.zero_point);
  const __m256i low =
      _mm256_add_epi16(_mm256_max_epi16(_mm256_packs_epi32(levels[0], levels[1]), lo), zero_point);
  const __m256i high =
      _mm256_add_epi16(_mm256_max_epi16(_mm256_packs_epi32(levels[2], levels[3]), lo), zero_point);
  const __m256i narrow =
      std::is_same_v<Out, uint8_t> ? _mm256_packus_epi16(low, high) : _mm256_packs_epi16(low, high);
  _mm256_mask_storeu_epi8(pixel + c, bytes, narrow);
}

// The first two 128-bit lanes of a 64-byte vector, in both halves of a zmm register.
__attribute__((always_inline, target("avx512f"))) inline __m512i twice(const void* p) noexcept {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

// Two pixels of a layer of at most 32 channels in zmm registers: lanes 0-1 hold pixel p's
// channels as quads_float_ymm does, lanes 2-3 pixel p + 1's, whose taps lie `step` bytes on.
// The packed weights, starting sums and multipliers of the first two lanes serve both halves.
template <class TA, class Out>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void
quads_float_pixel_pair(const DepthwiseRun& run, const QuadsFloatStage& stage, std::size_t offset,
                       __mmask32 bytes, Out* pixel, std::size_t out_stride) noexcept {
  const __m512i flip = _mm512_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
  for (std::size_t q = 0; q < run.groups; ++q) {
    __m512i x[4], w[4];
    const int8_t* weights = run.quads + q * run.quad_stride;
#pragma GCC unroll 4
    for (std::size_t u = 0; u < 4; ++u) {
      const uint8_t* tap = run.taps[4 * q + u] + offset;
      const __m512i both =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(bytes, tap)),
                             _mm256_maskz_loadu_epi8(bytes, tap + run.step), 1);
      x[u] = _mm512_xor_si512(both, flip);
      w[u] = twice(weights + 64 * u);
    }
    quads_step(x, w, acc);
  }
  __m512i init[4];
  __m512 multipliers[4];
#pragma GCC unroll 4
  for (std::size_t i = 0; i < 4; ++i) {
    init[i] = twice(stage.init + 16 * i);
    multipliers[i] = _mm512_castsi512_ps(twice(stage.multipliers + 16 * i));
  }
  const __m512i narrow = quads_levels<Out>(acc, init, multipliers, stage);
  _mm256_mask_storeu_epi8(pixel, bytes, _mm512_castsi512_si256(narrow));
  _mm256_mask_storeu_epi8(pixel + out_stride, bytes, _mm512_extracti64x4_epi64(narrow, 1));
}

// The quads kernel with RequantizeFloat<Out> fused, never leaving the quads order. Groups is the
// run's tap quads when fixed at compile time (3 for 3x3, 7 for 5x5), which lets the compiler
// keep the accumulators in registers across the unrolled taps; 0 loops over them.
template <class TA, class Out, std::size_t Groups>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void depthwise_quads_float_run(
    const DepthwiseRun& run, const QuadsFloatStage& stage, Out* out,
    std::size_t out_stride) noexcept {
  DepthwiseRun fixed = run;
  if constexpr (Groups != 0) fixed.groups = Groups;
  const std::size_t full = run.channels / depthwise_quad_block * depthwise_quad_block;
  const std::size_t rest = run.channels - full;
  std::size_t p = 0;
  if (run.channels <= 32) {
    const auto bytes = static_cast<__mmask32>((uint64_t{1} << rest) - 1);
    for (; p + 2 <= run.pixels; p += 2) {
      quads_float_pixel_pair<TA>(fixed, stage, p * run.step, bytes, out + p * out_stride,
                                 out_stride);
    }
  }
  for (; p < run.pixels; ++p) {
    Out* pixel = out + p * out_stride;
    for (std::size_t c = 0; c < full; c += depthwise_quad_block) {
      quads_float_zmm<TA>(fixed, stage, p * run.step, c, ~__mmask64{0}, pixel);
    }
    if (rest > 32) {
      quads_float_zmm<TA>(fixed, stage, p * run.step, full, block_mask(run.channels, full), pixel);
    } else if (rest != 0) {
      quads_float_ymm<TA>(fixed, stage, p * run.step, full,
                          static_cast<__mmask32>((uint64_t{1} << rest) - 1), pixel);
    }
  }
}

template <class TA, class Out>
void depthwise_quads_float(const DepthwiseRun& run, const QuadsFloatStage& stage, Out* out,
                           std::size_t out_stride) noexcept {
  switch (run.groups) {
    case 3:
      return depthwise_quads_float_run<TA, Out, 3>(run, stage, out, out_stride);
    case 7:
      return depthwise_quads_float_run<TA, Out, 7>(run, stage, out, out_stride);
    default:
      return depthwise_quads_float_run<TA, Out, 0>(run, stage, out, out_stride);
  }
}

// ---------------------------------------------------------------------------------------------
// The rows kernel: 3x3 windows with the float stage fused. The quads kernel interleaves the
// four activation vectors of every tap quad for every output pixel: 24 byte and word unpacks
// per pixel and 64 channels, all on the one shuffle port. Here a quad is the three taps of one
// kernel row (row quads, packing.hpp), so the interleaved quad of output column ox in input row
// iy serves every output row that reads iy: each input row is interleaved once into a ring of
// three rows, and at stride 1 a pixel costs 8 unpacks instead of 24.
//
// A "unit" is what one zmm lane set holds: 64 channels of one output column, or, in Pair mode
// (a block of at most 32 channels), 32 channels of output columns 2u and 2u + 1 in the low and
// high 256 bits, as quads_float_pixel_pair does. Its interleaved quad is 4 vectors, 256 bytes.
inline constexpr std::size_t rows_unit_bytes = 256;
// Units per strip of output columns: the ring of three interleaved rows takes 24 KiB, in L1.
inline constexpr std::size_t rows_strip = 32;
// Bytes per ring slot: one strip and 3 cache lines. Slots a multiple of 4 KiB apart made the
// loads from one slot wait on the stores to another at the same address modulo 4 KiB
// (4K aliasing): 56x56x144 ran at 52-59 GOPS with 4096-byte slots and 74-77 with these.
inline constexpr std::size_t rows_slot_bytes = rows_strip * rows_unit_bytes + 192;

// One task of the rows kernel: output rows [row_begin, row_end) of one image, one block of
// channels.
struct DepthwiseRows {
  const uint8_t* image;      // the image's first input pixel, at the block's first channel
  std::size_t pixel_bytes;   // bytes from one input pixel to the next: the channel count
  reference::Window1d h, w;  // the window's geometry; h.dilation is 1
  std::size_t row_begin, row_end;
  // The row quads at the block's first channel; kernel row ky's are weight_stride bytes apart.
  const int8_t* weights;
  std::size_t weight_stride;
  QuadsFloatStage stage;  // at the block's first channel
  std::size_t channels;   // in the block: <= 64, or <= 32 in Pair mode
  uint8_t zero_point;     // the input zero point's byte
  // Output columns [interior_begin, interior_end) have all three taps inside the image.
  std::size_t interior_begin, interior_end;
};

// Interleaves the codes of a kernel row's three taps into a unit's quad: byte k of lane j of
// vector i is tap k of the channel that the quads order keeps there (a zero fourth tap).
__attribute__((always_inline, target("avx512f,avx512bw"))) inline void interleave_row_quad(
    __m512i x0, __m512i x1, __m512i x2, uint8_t* unit) noexcept {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lo01 = _mm512_unpacklo_epi8(x0, x1), hi01 = _mm512_unpackhi_epi8(x0, x1);
  const __m512i lo2 = _mm512_unpacklo_epi8(x2, zero), hi2 = _mm512_unpackhi_epi8(x2, zero);
  _mm512_store_si512(unit, _mm512_unpacklo_epi16(lo01, lo2));
  _mm512_store_si512(unit + 64, _mm512_unpackhi_epi16(lo01, lo2));
  _mm512_store_si512(unit + 128, _mm512_unpacklo_epi16(hi01, hi2));
  _mm512_store_si512(unit + 192, _mm512_unpackhi_epi16(hi01, hi2));
}

// The codes of tap kx of output column ox in input row `row`, or the zero point's where the tap
// falls in the padding. Branch-free: a tap outside loads nothing (mask 0) from a clamped column,
// so the address stays inside the row; past the last output column (the second column of a
// Pair unit) the codes are those of some real column, which no output uses.
template <class TA>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline __m512i border_tap(
    const DepthwiseRows& r, const uint8_t* row, std::size_t ox, std::size_t kx, __mmask64 bytes,
    __m512i zero_point_bytes) noexcept {
  const std::ptrdiff_t ix = r.w.coordinate(ox, kx);
  const bool inside = ix >= 0 && static_cast<std::size_t>(ix) < r.w.input;
  const std::size_t column = ix < 0 ? 0 : std::min(static_cast<std::size_t>(ix), r.w.input - 1);
  const __m512i flip = _mm512_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
  return _mm512_xor_si512(
      _mm512_mask_loadu_epi8(zero_point_bytes, inside ? bytes : 0, row + column * r.pixel_bytes),
      flip);
}

// The codes of the three taps of a unit whose columns all lie inside the image; the first tap of
// its (first) column starts at p, its second column `column` bytes further.
template <class TA, bool Pair>
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) inline void interior_taps(
    const uint8_t* p, std::size_t tap, std::size_t column, __mmask64 bytes,
    __m512i (&x)[3]) noexcept {
  const __m512i flip = _mm512_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
#pragma GCC unroll 3
  for (std::size_t kx = 0; kx < 3; ++kx) {
    if constexpr (Pair) {
      const auto half = static_cast<__mmask32>(bytes);
      x[kx] =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(half, p + kx * tap)),
                             _mm256_maskz_loadu_epi8(half, p + kx * tap + column), 1);
    } else {
      x[kx] = _mm512_maskz_loadu_epi8(bytes, p + kx * tap);
    }
    x[kx] = _mm512_xor_si512(x[kx], flip);
  }
}

// Interleaves units [u0, u0 + count) of input row iy into `ring`; units [first, last) are
// interior (every column's taps inside the image).
template <class TA, bool Pair>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void interleave_row(
    const DepthwiseRows& r, std::size_t iy, std::size_t u0, std::size_t count, std::size_t first,
    std::size_t last, __mmask64 bytes, __m512i zero_point_bytes, uint8_t* ring) noexcept {
  constexpr std::size_t columns = Pair ? 2 : 1;
  const uint8_t* row = r.image + iy * r.w.input * r.pixel_bytes;
  const std::size_t tap = r.w.dilation * r.pixel_bytes, column = r.w.stride * r.pixel_bytes;
  for (std::size_t u = u0; u < u0 + count; ++u) {
    __m512i x[3];
    if (u >= first && u < last) {
      const auto ix = static_cast<std::size_t>(r.w.coordinate(columns * u, 0));
      interior_taps<TA, Pair>(row + ix * r.pixel_bytes, tap, column, bytes, x);
    } else {
#pragma GCC unroll 3
      for (std::size_t kx = 0; kx < 3; ++kx) {
        x[kx] = border_tap<TA>(r, row, columns * u, kx, bytes, zero_point_bytes);
        if constexpr (Pair) {
          x[kx] = _mm512_inserti64x4(x[kx],
                                     _mm512_castsi512_si256(border_tap<TA>(
                                         r, row, columns * u + 1, kx, bytes, zero_point_bytes)),
                                     1);
        }
      }
    }
    interleave_row_quad(x[0], x[1], x[2], ring + (u - u0) * rows_unit_bytes);
  }
}

// A 64-byte vector of the block's packed data; Pair mode repeats its first 32 bytes.
template <bool Pair>
__attribute__((always_inline, target("avx512f"))) inline __m512i block_vector(
    const void* p) noexcept {
  if constexpr (Pair) {
    return twice(p);
  } else {
    return _mm512_loadu_si512(p);
  }
}

template <class TA, class Out, bool Pair>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void depthwise_rows_float(
    const DepthwiseRows& r, Out* out, std::size_t out_stride) noexcept {
  constexpr std::size_t kernel = 3;
  alignas(64) uint8_t ring[kernel][rows_slot_bytes];
  alignas(64) uint8_t padding[rows_unit_bytes];
  const std::size_t out_w = r.w.output();
  const std::size_t units = Pair ? (out_w + 1) / 2 : out_w;
  const __mmask64 bytes = block_mask(r.channels, 0);
  const __m512i zero_point_bytes = _mm512_set1_epi8(static_cast<char>(r.zero_point));
  const __m512i zero_point =
      _mm512_xor_si512(zero_point_bytes, _mm512_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0));
  interleave_row_quad(zero_point, zero_point, zero_point, padding);
  // Units [first, last) have every column in the interior.
  constexpr std::size_t columns = Pair ? 2 : 1;
  const std::size_t first = std::min((r.interior_begin + columns - 1) / columns, units);
  const std::size_t last = std::max(first, r.interior_end / columns);
  __m512i weights[kernel][4], init[4];
  __m512 multipliers[4];
#pragma GCC unroll 4
  for (std::size_t i = 0; i < 4; ++i) {
#pragma GCC unroll 3
    for (std::size_t ky = 0; ky < kernel; ++ky) {
      weights[ky][i] = block_vector<Pair>(r.weights + ky * r.weight_stride + 64 * i);
    }
    init[i] = block_vector<Pair>(r.stage.init + 16 * i);
    multipliers[i] = _mm512_castsi512_ps(block_vector<Pair>(r.stage.multipliers + 16 * i));
  }
  for (std::size_t u0 = 0; u0 < units; u0 += rows_strip) {
    const std::size_t count = std::min(rows_strip, units - u0);
    // The input row each ring slot holds: rows iy, iy + 1, iy + 2 go to distinct slots iy % 3.
    std::size_t held[kernel] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (std::size_t oy = r.row_begin; oy < r.row_end; ++oy) {
      const uint8_t* rows[kernel];
      std::size_t unit_step[kernel];
      for (std::size_t ky = 0; ky < kernel; ++ky) {
        const std::ptrdiff_t iy = r.h.coordinate(oy, ky);
        if (iy < 0 || static_cast<std::size_t>(iy) >= r.h.input) {
          rows[ky] = padding;
          unit_step[ky] = 0;
          continue;
        }
        const std::size_t slot = static_cast<std::size_t>(iy) % kernel;
        if (held[slot] != static_cast<std::size_t>(iy)) {
          interleave_row<TA, Pair>(r, static_cast<std::size_t>(iy), u0, count, first, last, bytes,
                                   zero_point_bytes, ring[slot]);
          held[slot] = static_cast<std::size_t>(iy);
        }
        rows[ky] = ring[slot];
        unit_step[ky] = rows_unit_bytes;
      }
      Out* row_out = out + oy * out_w * out_stride;
      for (std::size_t u = 0; u < count; ++u) {
        __m512i sums[4] = {init[0], init[1], init[2], init[3]};
#pragma GCC unroll 3
        for (std::size_t ky = 0; ky < kernel; ++ky) {
          const uint8_t* quad = rows[ky] + u * unit_step[ky];
#pragma GCC unroll 4
          for (std::size_t i = 0; i < 4; ++i) {
            sums[i] =
                _mm512_dpbusd_epi32(sums[i], _mm512_load_si512(quad + 64 * i), weights[ky][i]);
          }
        }
        const __m512i narrow = quads_bytes<Out>(sums, multipliers, r.stage);
        if constexpr (Pair) {
          const std::size_t ox = 2 * (u0 + u);
          const auto mask = static_cast<__mmask32>(bytes);
          _mm256_mask_storeu_epi8(row_out + ox * out_stride, mask, _mm512_castsi512_si256(narrow));
          if (ox + 1 < out_w) {
            _mm256_mask_storeu_epi8(row_out + (ox + 1) * out_stride, mask,
                                    _mm512_extracti64x4_epi64(narrow, 1));
          }
        } else {
          _mm512_mask_storeu_epi8(row_out + (u0 + u) * out_stride, bytes, narrow);
        }
      }
    }
  }
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_quads_kernel() noexcept {
  return {"avx512vnni vpdpbusd x64", Isa::avx512vnni, 4, true, &depthwise_quads<TA>};
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_kernel() noexcept {
  return {"avx512vnni vpdpwssd x16", Isa::avx512vnni, 2, false, &depthwise<TA>};
}

}  // namespace qinfer::kernels::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
