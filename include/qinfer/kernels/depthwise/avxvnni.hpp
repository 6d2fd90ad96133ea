// SPDX-License-Identifier: Apache-2.0
//
// AVX-VNNI depthwise kernel (contract in kernels/depthwise/scalar.hpp) for weights with the
// quads layout: the AVX-512 quads kernel's scheme (kernels/depthwise/avx512.hpp) on 256-bit
// vectors, for CPUs that have AVX-VNNI without AVX-512 (Intel client cores from Alder Lake on).
// Per tap quad, four activation vectors are interleaved by byte and word unpacks into
// vpdpbusd's 4-bytes-per-lane operand, which multiplies 4 taps per lane where the AVX2 kernel's
// vpmaddwd multiplies 2 of int16.
//
// A 64-channel block of the quads layout splits into two halves of 32 channels: the unpacks
// stay within 128-bit lanes, so ymm lane j of half h is the block's 128-bit lane 2h + j, and
// the half's weights are bytes [32h, 32h + 32) of each of the block's four 64-byte weight
// vectors. Channel tails run 128-bit quarters of 16 channels the same way.
#pragma once

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/depthwise/scalar.hpp"
#include "qinfer/quant/convert/avx2.hpp"
#include "qinfer/quant/output_stage.hpp"

namespace qinfer::kernels::avxvnni {

// The raw sums of 32 channels whose activations start at taps[t] + offset, in the quads order:
// lane j of acc[i] holds channels 16 j + 4 i .. + 3 of the half. Activations enter as codes.
template <class TA>
__attribute__((always_inline, target("avx2,avxvnni"))) inline void half_sums(
    const uint8_t* const* taps, std::size_t offset, std::size_t groups, const int8_t* weights,
    std::size_t quad_stride, __m256i (&acc)[4]) noexcept {
  const __m256i flip = _mm256_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
#pragma GCC unroll 4
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (std::size_t q = 0; q < groups; ++q) {
    __m256i x[4];
#pragma GCC unroll 4
    for (std::size_t u = 0; u < 4; ++u) {
      x[u] = _mm256_xor_si256(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(taps[4 * q + u] + offset)), flip);
    }
    const auto* w = reinterpret_cast<const __m256i*>(weights + q * quad_stride);
    const __m256i lo01 = _mm256_unpacklo_epi8(x[0], x[1]), hi01 = _mm256_unpackhi_epi8(x[0], x[1]);
    const __m256i lo23 = _mm256_unpacklo_epi8(x[2], x[3]), hi23 = _mm256_unpackhi_epi8(x[2], x[3]);
    // Weight vector i of the block starts 64 i bytes in: two ymm apart.
    acc[0] =
        _mm256_dpbusd_avx_epi32(acc[0], _mm256_unpacklo_epi16(lo01, lo23), _mm256_load_si256(w));
    acc[1] = _mm256_dpbusd_avx_epi32(acc[1], _mm256_unpackhi_epi16(lo01, lo23),
                                     _mm256_load_si256(w + 2));
    acc[2] = _mm256_dpbusd_avx_epi32(acc[2], _mm256_unpacklo_epi16(hi01, hi23),
                                     _mm256_load_si256(w + 4));
    acc[3] = _mm256_dpbusd_avx_epi32(acc[3], _mm256_unpackhi_epi16(hi01, hi23),
                                     _mm256_load_si256(w + 6));
  }
}

// The same for the 16 channels of one 128-bit lane of a block, whose weights are bytes
// [16 L, 16 L + 16) of each weight vector for lane L: acc[i] holds channels 4 i .. 4 i + 3, so
// the sums come out in channel order.
template <class TA>
__attribute__((always_inline, target("avx2,avxvnni"))) inline void quarter_sums(
    const uint8_t* const* taps, std::size_t offset, std::size_t groups, const int8_t* weights,
    std::size_t quad_stride, __m128i (&acc)[4]) noexcept {
  const __m128i flip = _mm_set1_epi8(std::is_same_v<TA, int8_t> ? -128 : 0);
#pragma GCC unroll 4
  for (auto& a : acc) a = _mm_setzero_si128();
  for (std::size_t q = 0; q < groups; ++q) {
    __m128i x[4];
#pragma GCC unroll 4
    for (std::size_t u = 0; u < 4; ++u) {
      x[u] = _mm_xor_si128(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(taps[4 * q + u] + offset)), flip);
    }
    const auto* w = reinterpret_cast<const __m128i*>(weights + q * quad_stride);
    const __m128i lo01 = _mm_unpacklo_epi8(x[0], x[1]), hi01 = _mm_unpackhi_epi8(x[0], x[1]);
    const __m128i lo23 = _mm_unpacklo_epi8(x[2], x[3]), hi23 = _mm_unpackhi_epi8(x[2], x[3]);
    acc[0] = _mm_dpbusd_avx_epi32(acc[0], _mm_unpacklo_epi16(lo01, lo23), _mm_load_si128(w));
    acc[1] = _mm_dpbusd_avx_epi32(acc[1], _mm_unpackhi_epi16(lo01, lo23), _mm_load_si128(w + 4));
    acc[2] = _mm_dpbusd_avx_epi32(acc[2], _mm_unpacklo_epi16(hi01, hi23), _mm_load_si128(w + 8));
    acc[3] = _mm_dpbusd_avx_epi32(acc[3], _mm_unpackhi_epi16(hi01, hi23), _mm_load_si128(w + 12));
  }
}

// The quads order of half_sums to channel order: vector m gets channels 8 m .. 8 m + 7, lane
// j = m / 2 of accumulators 2 (m % 2) and 2 (m % 2) + 1.
__attribute__((always_inline, target("avx2"))) inline void channel_order(
    const __m256i (&acc)[4], __m256i (&sums)[4]) noexcept {
  sums[0] = _mm256_permute2x128_si256(acc[0], acc[1], 0x20);
  sums[1] = _mm256_permute2x128_si256(acc[2], acc[3], 0x20);
  sums[2] = _mm256_permute2x128_si256(acc[0], acc[1], 0x31);
  sums[3] = _mm256_permute2x128_si256(acc[2], acc[3], 0x31);
}

// The sums of every pixel of the run, starting sums added, in channel order: whole(p, c, sums)
// for each step of 32 channels (sums[m] holds channels c + 8 m .. c + 8 m + 7), then part(p, c,
// width, lanes) for each step of at most 16 (lanes[k] holds channel c + k, k < width).
// Channels run in halves of 32 while they last, then in quarters of 16; a last quarter of fewer
// channels reads its activations from zero-padded copies, since a full load from the image
// could read past its end. Packed weights are padded to whole 64-channel blocks, so the weight
// loads always stay inside them; channel c's weights start (c / 64) * 256 + c % 64 bytes into a
// quad.
template <class TA, class Whole, class Part>
__attribute__((always_inline, target("avx2,avxvnni"))) inline void for_each_step(
    const DepthwiseRun& run, const Whole& whole, const Part& part) noexcept {
  const std::size_t taps = 4 * run.groups;
  const auto weights_at = [&run](std::size_t c) { return run.quads + (c / 64) * 256 + c % 64; };
  for (std::size_t p = 0; p < run.pixels; ++p) {
    const int32_t* init = run.init + p * run.init_stride;
    const std::size_t offset = p * run.step;
    std::size_t c = 0;
    for (; c + 32 <= run.channels; c += 32) {
      __m256i acc[4], sums[4];
      half_sums<TA>(run.taps, offset + c, run.groups, weights_at(c), run.quad_stride, acc);
      channel_order(acc, sums);
#pragma GCC unroll 4
      for (std::size_t m = 0; m < 4; ++m) {
        sums[m] = _mm256_add_epi32(
            sums[m], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(init + c + 8 * m)));
      }
      whole(p, c, sums);
    }
    for (; c < run.channels; c += 16) {
      const std::size_t width = std::min<std::size_t>(16, run.channels - c);
      alignas(16) uint8_t staged[depthwise_run_taps][16];
      const uint8_t* rows[depthwise_run_taps];
      const uint8_t* const* sources = run.taps;
      std::size_t from = offset + c;
      if (width < 16) {
        for (std::size_t t = 0; t < taps; ++t) {
          std::memcpy(staged[t], run.taps[t] + from, width);
          std::memset(staged[t] + width, 0, 16 - width);
          rows[t] = staged[t];
        }
        sources = rows;
        from = 0;
      }
      __m128i acc[4];
      quarter_sums<TA>(sources, from, run.groups, weights_at(c), run.quad_stride, acc);
      alignas(16) int32_t lanes[16];
#pragma GCC unroll 4
      for (std::size_t i = 0; i < 4; ++i) {
        _mm_store_si128(reinterpret_cast<__m128i*>(lanes + 4 * i), acc[i]);
      }
      for (std::size_t k = 0; k < width; ++k) {
        lanes[k] = static_cast<int32_t>(static_cast<uint32_t>(lanes[k]) +
                                        static_cast<uint32_t>(init[c + k]));
      }
      part(p, c, width, lanes);
    }
  }
}

template <class TA>
__attribute__((target("avx2,avxvnni"))) void depthwise_quads(const DepthwiseRun& run) noexcept {
  for_each_step<TA>(
      run,
      [&run](std::size_t p, std::size_t c, const __m256i(&sums)[4])
          __attribute__((always_inline, target("avx2"))) {
            int32_t* out = run.out + p * run.out_stride + c;
#pragma GCC unroll 4
            for (std::size_t m = 0; m < 4; ++m) {
              _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * m), sums[m]);
            }
          },
      [&run](std::size_t p, std::size_t c, std::size_t width, const int32_t* lanes) {
        std::memcpy(run.out + p * run.out_stride + c, lanes, width * sizeof(int32_t));
      });
}

// The kernel with the float stage fused: pixel p's channel c goes to out[p * out_stride + c]
// (run.out is unused), stage channel first_channel + c. The run must cover the whole window.
// Channels past the last whole 8 go through the stage lane by lane, which the vector stage
// matches bit for bit.
template <class TA, class Out>
__attribute__((target("avx2,avxvnni"))) void depthwise_quads_float(
    const DepthwiseRun& run, const RequantizeFloat<Out>& stage,
    const convert::avx2::StageLanes<RequantizeFloat<Out>>& lanes, Out* out, std::size_t out_stride,
    std::size_t first_channel) noexcept {
  const convert::avx2::StageLanes<RequantizeFloat<Out>> local = lanes;
  for_each_step<TA>(
      run,
      [&](std::size_t p, std::size_t c, const __m256i(&sums)[4])
          __attribute__((always_inline, target("avx2"))) {
            __m256i levels[4];
#pragma GCC unroll 4
            for (std::size_t m = 0; m < 4; ++m) {
              levels[m] = local.levels(sums[m], local.multiplier(first_channel + c + 8 * m));
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + p * out_stride + c),
                                local.pack(levels[0], levels[1], levels[2], levels[3]));
          },
      [&](std::size_t p, std::size_t c, std::size_t width, const int32_t* sums)
          __attribute__((always_inline, target("avx2"))) {
            Out* pixel = out + p * out_stride + c;
            std::size_t k = 0;
            for (; k + 8 <= width; k += 8) {
              const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + k));
              convert::avx2::store8(pixel + k, local(v, first_channel + c + k));
            }
            for (; k < width; ++k) pixel[k] = stage(sums[k], first_channel + c + k);
          });
}

template <class TA>
constexpr DepthwiseKernel<TA> depthwise_quads_kernel() noexcept {
  return {"avxvnni vpdpbusd x32", Isa::avxvnni, 4, true, &depthwise_quads<TA>};
}

}  // namespace qinfer::kernels::avxvnni
#endif
