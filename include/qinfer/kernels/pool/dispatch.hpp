// SPDX-License-Identifier: Apache-2.0
//
// The pooling kernels of kernels/pool/rows.hpp compiled for each level: the x86 versions through
// function-level target attributes (the always_inline loops are vectorized inside them at that
// width), the portable version at the translation unit's own level, which is NEON on AArch64.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/pool/rows.hpp"

namespace qinfer::kernels::pool {

template <class T>
struct PoolKernels {
  const char* name;
  void (*max_taps)(T*, const T* const*, std::size_t, std::size_t, bool, ClampBounds) noexcept;
  void (*sum_taps)(int32_t*, const T* const*, std::size_t, std::size_t, bool) noexcept;
  void (*average_row)(T*, const int32_t*, std::size_t, Average) noexcept;
};

namespace portable {
template <class T>
void max_taps_fn(T* out, const T* const* taps, std::size_t count, std::size_t channels, bool first,
                 ClampBounds clamp) noexcept {
  max_taps(out, taps, count, channels, first, clamp);
}
template <class T>
void sum_taps_fn(int32_t* acc, const T* const* taps, std::size_t count, std::size_t channels,
                 bool first) noexcept {
  sum_taps(acc, taps, count, channels, first);
}
template <class T>
void average_row_fn(T* out, const int32_t* acc, std::size_t channels, Average a) noexcept {
  average_row(out, acc, channels, a);
}
}  // namespace portable

#if QINFER_X86
namespace avx2 {
template <class T>
__attribute__((target("avx2"))) void max_taps_fn(T* out, const T* const* taps, std::size_t count,
                                                 std::size_t channels, bool first,
                                                 ClampBounds clamp) noexcept {
  max_taps(out, taps, count, channels, first, clamp);
}
template <class T>
__attribute__((target("avx2"))) void sum_taps_fn(int32_t* acc, const T* const* taps,
                                                 std::size_t count, std::size_t channels,
                                                 bool first) noexcept {
  sum_taps(acc, taps, count, channels, first);
}
template <class T>
__attribute__((target("avx2"))) void average_row_fn(T* out, const int32_t* acc,
                                                    std::size_t channels, Average a) noexcept {
  average_row(out, acc, channels, a);
}
}  // namespace avx2

// The AVX-512 build asks for 512-bit vectors, which GCC and clang otherwise avoid in
// auto-vectorized AVX-512 code; the two compilers spell that request differently, so the
// attribute is the one macro here.
#if defined(__clang__)
#define QINFER_POOL_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl"), min_vector_width(512)))
#else
#define QINFER_POOL_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,prefer-vector-width=512")))
#endif

namespace avx512 {
template <class T>
QINFER_POOL_AVX512 void max_taps_fn(T* out, const T* const* taps, std::size_t count,
                                    std::size_t channels, bool first, ClampBounds clamp) noexcept {
  max_taps(out, taps, count, channels, first, clamp);
}
template <class T>
QINFER_POOL_AVX512 void sum_taps_fn(int32_t* acc, const T* const* taps, std::size_t count,
                                    std::size_t channels, bool first) noexcept {
  sum_taps(acc, taps, count, channels, first);
}
template <class T>
QINFER_POOL_AVX512 void average_row_fn(T* out, const int32_t* acc, std::size_t channels,
                                       Average a) noexcept {
  average_row(out, acc, channels, a);
}
}  // namespace avx512
#undef QINFER_POOL_AVX512
#endif

// The kernels at level `isa` (normally active_isa()), which the CPU must support. AVX-VNNI
// runs the AVX2 build, AMX the AVX-512 one; every Arm level runs the portable (NEON) build.
template <class T>
PoolKernels<T> pool_kernels(Isa isa) noexcept {
#if QINFER_X86
  if (isa >= Isa::avx512vnni && isa <= Isa::amx) {
    return {"avx512", avx512::max_taps_fn<T>, avx512::sum_taps_fn<T>, avx512::average_row_fn<T>};
  }
  if (is_x86_isa(isa)) {
    return {"avx2", avx2::max_taps_fn<T>, avx2::sum_taps_fn<T>, avx2::average_row_fn<T>};
  }
#endif
  static_cast<void>(isa);
  return {"portable", portable::max_taps_fn<T>, portable::sum_taps_fn<T>,
          portable::average_row_fn<T>};
}

}  // namespace qinfer::kernels::pool
