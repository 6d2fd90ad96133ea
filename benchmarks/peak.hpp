// SPDX-License-Identifier: Apache-2.0
//
// Instruction peaks: each function issues `iterations` rounds of independent multiply-adds (more
// chains than the instruction's latency x throughput, so only throughput limits them) and
// returns the int8 operations done (1 op = 1 multiply or 1 add). Operands come from volatile
// memory and results go to it, so the compiler can neither fold nor drop the loop.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/cpu.hpp"

#if QINFER_X86
#include <immintrin.h>

#include "qinfer/kernels/gemm/amx.hpp"

namespace bench {

inline volatile int32_t peak_operand = 0x01020304;
inline volatile int32_t peak_sink = 0;

inline constexpr int chains = 12;

__attribute__((target("avx512f,avx512vnni"))) inline double peak_vpdpbusd_zmm(
    std::size_t iterations) {
  const __m512i a = _mm512_set1_epi32(peak_operand), b = _mm512_set1_epi32(peak_operand);
  __m512i acc[chains];
  for (auto& x : acc) x = _mm512_setzero_si512();
  for (std::size_t i = 0; i < iterations; ++i) {
    for (auto& x : acc) x = _mm512_dpbusd_epi32(x, a, b);
  }
  __m512i total = acc[0];
  for (int j = 1; j < chains; ++j) total = _mm512_add_epi32(total, acc[j]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, total);
  peak_sink = lanes[0];
  return 2.0 * 64 * chains * double(iterations);
}

__attribute__((target("avx2,avxvnni"))) inline double peak_vpdpbusd_ymm(std::size_t iterations) {
  const __m256i a = _mm256_set1_epi32(peak_operand), b = _mm256_set1_epi32(peak_operand);
  __m256i acc[chains];
  for (auto& x : acc) x = _mm256_setzero_si256();
  for (std::size_t i = 0; i < iterations; ++i) {
    for (auto& x : acc) x = _mm256_dpbusd_avx_epi32(x, a, b);
  }
  __m256i total = acc[0];
  for (int j = 1; j < chains; ++j) total = _mm256_add_epi32(total, acc[j]);
  peak_sink = _mm256_extract_epi32(total, 0);
  return 2.0 * 32 * chains * double(iterations);
}

// AVX2's u8 x s8 dot product into int32: vpmaddubsw, vpmaddwd by ones, vpaddd.
__attribute__((target("avx2"))) inline double peak_maddubs_madd(std::size_t iterations) {
  const __m256i a = _mm256_set1_epi32(peak_operand), b = _mm256_set1_epi32(peak_operand);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[chains];
  for (auto& x : acc) x = _mm256_setzero_si256();
  for (std::size_t i = 0; i < iterations; ++i) {
    for (auto& x : acc)
      x = _mm256_add_epi32(x, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
  }
  __m256i total = acc[0];
  for (int j = 1; j < chains; ++j) total = _mm256_add_epi32(total, acc[j]);
  peak_sink = _mm256_extract_epi32(total, 0);
  return 2.0 * 32 * chains * double(iterations);
}

// tdpbusd into four independent accumulator tiles (16 x 16 x 64 multiply-adds each).
__attribute__((target("amx-tile,amx-int8"))) inline double peak_tdpbusd(std::size_t iterations) {
  alignas(64) int8_t operand[16][64] = {};
  operand[0][0] = static_cast<int8_t>(peak_operand);
  alignas(64) int32_t out[16][16];
  _tile_loadconfig(&qinfer::kernels::amx::tile_config);
  qinfer::kernels::amx::memory_barrier();
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64);
  _tile_loadd(7, operand, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (std::size_t i = 0; i < iterations; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  peak_sink = out[0][0];
  return 2.0 * 16 * 16 * 64 * 4 * double(iterations);
}

// Reads n bytes (n a multiple of 64) as a kernel streaming weights would: the yardstick of
// memory-bound products.
__attribute__((target("avx2"))) inline void stream_read(const uint8_t* bytes, std::size_t n) {
  __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256();
  for (std::size_t i = 0; i < n; i += 64) {
    sum0 = _mm256_add_epi8(sum0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + i)));
    sum1 =
        _mm256_add_epi8(sum1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + i + 32)));
  }
  peak_sink = _mm256_extract_epi32(_mm256_add_epi8(sum0, sum1), 0);
}

}  // namespace bench
#endif
