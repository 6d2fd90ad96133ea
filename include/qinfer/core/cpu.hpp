// SPDX-License-Identifier: Apache-2.0
//
// Run-time CPU detection and the instruction-set levels kernels dispatch on.
//
// Detection runs once, on first use. A feature counts only when the CPU reports it (cpuid,
// getauxval) and the OS saves its register state (xgetbv): a kernel for state the OS does not
// save would fault on its first instruction. AMX additionally needs the process's permission
// for the tile-data state, which detection requests through arch_prctl(ARCH_REQ_XCOMP_PERM);
// this is process-wide and enlarges signal frames, which is why it happens only when qinfer's
// dispatch is first used.
//
// The active level is the best detected level at or below a cap. The cap starts from the
// QINFER_ISA environment variable (read once) and can be changed with set_isa_cap(); an
// unsupported or foreign request falls back to the best supported level below it, so asking
// for `amx` on a CPU without AMX runs AVX-512 VNNI if that is there.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QINFER_X86 1
#include <cpuid.h>
#else
#define QINFER_X86 0
#endif

#if defined(__aarch64__) && defined(__linux__)
#define QINFER_AARCH64_LINUX 1
#include <sys/auxv.h>
#else
#define QINFER_AARCH64_LINUX 0
#endif

#if QINFER_X86 && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "qinfer/core/error.hpp"

namespace qinfer {

// Instruction-set levels of the int8 kernels, ordered within each architecture family: a level
// implies the ones before it in its family.
enum class Isa : uint8_t {
  scalar,
  // x86
  avx2,        // AVX2 (vpmaddubsw / vpmaddwd)
  avxvnni,     // AVX-VNNI: ymm vpdpbusd
  avx512vnni,  // AVX-512 F, BW, VL, DQ and VNNI: zmm vpdpbusd
  amx,         // AMX-TILE and AMX-INT8: tdpbusd / tdpbssd
  // AArch64
  neon,
  dotprod,  // sdot / udot
  i8mm,     // smmla / ummla / usmmla
};

inline constexpr Isa all_isas[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni,
                                   Isa::amx,    Isa::neon, Isa::dotprod, Isa::i8mm};

inline constexpr const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::avx2:
      return "avx2";
    case Isa::avxvnni:
      return "avxvnni";
    case Isa::avx512vnni:
      return "avx512vnni";
    case Isa::amx:
      return "amx";
    case Isa::neon:
      return "neon";
    case Isa::dotprod:
      return "dotprod";
    case Isa::i8mm:
      return "i8mm";
  }
  return "unknown";
}

// The level named as in QINFER_ISA (the isa_name() spellings).
inline Result<Isa> parse_isa(const char* name) {
  if (name != nullptr) {
    for (Isa isa : all_isas) {
      if (std::strcmp(name, isa_name(isa)) == 0) return isa;
    }
  }
  return fail<Isa>(Errc::invalid_argument,
                   "parse_isa: expected scalar, avx2, avxvnni, avx512vnni, amx, neon, dotprod "
                   "or i8mm");
}

inline constexpr bool is_x86_isa(Isa isa) noexcept {
  return isa >= Isa::avx2 && isa <= Isa::amx;
}
inline constexpr bool is_arm_isa(Isa isa) noexcept {
  return isa >= Isa::neon;
}

// What the CPU and OS provide. Each field implies the OS saves the state it needs.
struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;   // not an int8 level; the fp32 GEMM of the training code uses it
  bool f16c = false;  // not a level either; the AVX2 embedding kernels widen fp16 scales with it
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  bool amx_int8 = false;  // including the process's permission to use tile data
  bool neon = false;
  bool dotprod = false;
  bool i8mm = false;

  bool supports(Isa isa) const noexcept {
    switch (isa) {
      case Isa::scalar:
        return true;
      case Isa::avx2:
        return avx2;
      case Isa::avxvnni:
        return avx2 && avxvnni;
      case Isa::avx512vnni:
        return avx512f && avx512bw && avx512vl && avx512dq && avx512vnni;
      case Isa::amx:
        return supports(Isa::avx512vnni) && amx_int8;
      case Isa::neon:
        return neon;
      case Isa::dotprod:
        return neon && dotprod;
      case Isa::i8mm:
        return neon && dotprod && i8mm;
    }
    return false;
  }

  // The best level this CPU supports.
  Isa best() const noexcept {
    Isa best = Isa::scalar;
    for (Isa isa : all_isas) {
      if (supports(isa)) best = isa;
    }
    return best;
  }
};

namespace detail {

#if QINFER_X86
// XCR0 state components: SSE | AVX; opmask | zmm upper halves | zmm16-31; tile config | data.
inline constexpr uint64_t xcr0_avx = 0x6;
inline constexpr uint64_t xcr0_avx512 = 0xe6;
inline constexpr uint64_t xcr0_amx = 0x60000;

inline uint64_t read_xcr0() noexcept {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

// Linux gates the AMX tile-data state per process (kernel 5.16+).
inline bool request_amx_permission() noexcept {
#if defined(__linux__)
  constexpr long arch_get_xcomp_perm = 0x1022;
  constexpr long arch_req_xcomp_perm = 0x1023;
  constexpr long xfeature_xtiledata = 18;
  if (syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) != 0) return false;
  unsigned long permitted = 0;
  if (syscall(SYS_arch_prctl, arch_get_xcomp_perm, &permitted) != 0) return false;
  return (permitted & (1ul << xfeature_xtiledata)) != 0;
#else
  return false;
#endif
}

inline CpuFeatures detect_cpu_features() noexcept {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0 || eax < 7) return f;
  __cpuid_count(1, 0, eax, ebx, ecx, edx);
  if ((ecx & bit_OSXSAVE) == 0) return f;
  const unsigned leaf1_ecx = ecx;
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & xcr0_avx) == xcr0_avx;
  const bool os_avx512 = (xcr0 & xcr0_avx512) == xcr0_avx512;
  const bool os_amx = (xcr0 & xcr0_amx) == xcr0_amx;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned leaf7_ebx = ebx, leaf7_ecx = ecx, leaf7_edx = edx;
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  const unsigned leaf7_1_eax = eax;
  f.avx2 = os_avx && (leaf7_ebx & bit_AVX2) != 0;
  f.fma = os_avx && (leaf1_ecx & bit_FMA) != 0;
  f.f16c = os_avx && (leaf1_ecx & bit_F16C) != 0;
  f.avxvnni = f.avx2 && (leaf7_1_eax & (1u << 4)) != 0;
  f.avx512f = os_avx512 && (leaf7_ebx & bit_AVX512F) != 0;
  f.avx512bw = f.avx512f && (leaf7_ebx & bit_AVX512BW) != 0;
  f.avx512vl = f.avx512f && (leaf7_ebx & bit_AVX512VL) != 0;
  f.avx512dq = f.avx512f && (leaf7_ebx & bit_AVX512DQ) != 0;
  f.avx512vnni = f.avx512f && (leaf7_ecx & (1u << 11)) != 0;
  const bool amx_tile = (leaf7_edx & (1u << 24)) != 0;
  const bool amx_int8 = (leaf7_edx & (1u << 25)) != 0;
  f.amx_int8 = os_amx && amx_tile && amx_int8 && request_amx_permission();
  return f;
}
#elif QINFER_AARCH64_LINUX
inline CpuFeatures detect_cpu_features() noexcept {
  // HWCAP_ASIMD, HWCAP_ASIMDDP and HWCAP2_I8MM from the kernel's uapi/asm/hwcap.h.
  constexpr unsigned long hwcap_asimd = 1ul << 1;
  constexpr unsigned long hwcap_asimddp = 1ul << 20;
  constexpr unsigned long hwcap2_i8mm = 1ul << 13;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  CpuFeatures f;
  f.neon = (hwcap & hwcap_asimd) != 0;
  f.dotprod = (hwcap & hwcap_asimddp) != 0;
  f.i8mm = (hwcap2 & hwcap2_i8mm) != 0;
  return f;
}
#else
inline CpuFeatures detect_cpu_features() noexcept {
  return {};
}
#endif

// The cap: QINFER_ISA when set and valid, otherwise none. An invalid QINFER_ISA is ignored
// rather than failing every kernel call; cpu_info().environment_cap_valid reports it.
inline constexpr uint8_t no_cap = 0xff;

struct CapState {
  std::atomic<uint8_t> cap;
  bool environment_valid;
};

inline CapState& cap_state() noexcept {
#if !QINFER_X86 && !QINFER_AARCH64_LINUX
  // Nothing to detect, so nothing to cap but scalar: constant-initialized, which needs neither
  // a guard (firmware has no threads library) nor the environment.
  static CapState state{{no_cap}, true};
#else
  static CapState state = [] {
    const char* requested = std::getenv("QINFER_ISA");
    uint8_t cap = no_cap;
    bool valid = true;
    if (requested != nullptr) {
      valid = false;
      for (Isa isa : all_isas) {
        if (std::strcmp(requested, isa_name(isa)) == 0) {
          cap = static_cast<uint8_t>(isa);
          valid = true;
        }
      }
    }
    return CapState{cap, valid};
  }();
#endif
  return state;
}

inline std::optional<Isa> decode_cap(uint8_t cap) noexcept {
  return cap == no_cap ? std::nullopt : std::optional<Isa>(static_cast<Isa>(cap));
}

}  // namespace detail

// The CPU's features, detected on first use.
inline const CpuFeatures& cpu_features() noexcept {
#if !QINFER_X86 && !QINFER_AARCH64_LINUX
  static constexpr CpuFeatures features{};  // no detection: a constant, without a guard
#else
  static const CpuFeatures features = detail::detect_cpu_features();
#endif
  return features;
}

// Caps the level kernels may use (see the header comment) and returns the previous cap; it
// applies to calls that start afterwards. A cap of another architecture's family leaves scalar.
inline std::optional<Isa> set_isa_cap(std::optional<Isa> cap) noexcept {
  const uint8_t encoded = cap ? static_cast<uint8_t>(*cap) : detail::no_cap;
  return detail::decode_cap(detail::cap_state().cap.exchange(encoded, std::memory_order_relaxed));
}

inline std::optional<Isa> isa_cap() noexcept {
  return detail::decode_cap(detail::cap_state().cap.load(std::memory_order_relaxed));
}

inline constexpr bool within_cap(Isa isa, std::optional<Isa> cap) noexcept {
  if (!cap || isa == Isa::scalar) return true;
  const bool same_family = is_arm_isa(isa) == is_arm_isa(*cap) && *cap != Isa::scalar;
  return same_family && isa <= *cap;
}

// The best supported level within the cap: what kernels run.
inline Isa active_isa() noexcept {
  const std::optional<Isa> cap = isa_cap();
  const CpuFeatures& f = cpu_features();
  Isa active = Isa::scalar;
  for (Isa isa : all_isas) {
    if (f.supports(isa) && within_cap(isa, cap)) active = isa;
  }
  return active;
}

// What was detected and what is used.
struct CpuInfo {
  CpuFeatures features;
  Isa best = Isa::scalar;             // the best level the CPU supports
  std::optional<Isa> cap;             // the current cap (QINFER_ISA or set_isa_cap), if any
  Isa active = Isa::scalar;           // what kernels run
  bool environment_cap_valid = true;  // false when QINFER_ISA names no level
};

inline CpuInfo cpu_info() noexcept {
  const CpuFeatures& f = cpu_features();
  return {f, f.best(), isa_cap(), active_isa(), detail::cap_state().environment_valid};
}

}  // namespace qinfer
