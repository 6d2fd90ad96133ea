// SPDX-License-Identifier: Apache-2.0
//
// Run-time CPU feature detection, done once. A feature counts only when the CPU reports it
// (cpuid) and the OS saves its register state (xgetbv): a kernel for an ISA the OS does not
// enable would fault on its first instruction.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QINFER_X86 1
#include <cpuid.h>
#else
#define QINFER_X86 0
#endif

#include <cstdint>

namespace qinfer {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512f = false;
  bool avx512bw = false;
};

namespace detail {

#if QINFER_X86
// XCR0 bits: SSE and AVX (ymm upper halves) state; opmask, zmm upper halves and zmm16-31 state.
inline constexpr uint64_t xcr0_avx = 0x6;
inline constexpr uint64_t xcr0_avx512 = 0xe6;

inline uint64_t read_xcr0() noexcept {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

inline CpuFeatures detect_cpu_features() noexcept {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0 || eax < 7) return f;
  __cpuid_count(1, 0, eax, ebx, ecx, edx);
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & xcr0_avx) == xcr0_avx;
  const bool os_avx512 = (xcr0 & xcr0_avx512) == xcr0_avx512;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = os_avx && (ebx & bit_AVX2) != 0;
  f.avx512f = os_avx512 && (ebx & bit_AVX512F) != 0;
  f.avx512bw = f.avx512f && (ebx & bit_AVX512BW) != 0;
  return f;
}
#else
inline CpuFeatures detect_cpu_features() noexcept {
  return {};
}
#endif

}  // namespace detail

// The features of the CPU this process runs on, detected on first use.
inline const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = detail::detect_cpu_features();
  return features;
}

}  // namespace qinfer
