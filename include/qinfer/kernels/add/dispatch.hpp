// SPDX-License-Identifier: Apache-2.0
//
// The requantizing add's kernel at each level; the portable one is reference::add_one.
#pragma once

#include <cstddef>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/add/avx2.hpp"
#include "qinfer/kernels/add/avx512.hpp"
#include "qinfer/kernels/add/neon.hpp"
#include "qinfer/reference/elementwise.hpp"

namespace qinfer::kernels {

template <class T>
using AddFn = void (*)(const T*, const T*, T*, std::size_t, const reference::AddParams&) noexcept;

namespace scalar {
template <class T>
void add(const T* a, const T* b, T* out, std::size_t n, const reference::AddParams& p) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = reference::add_one(p, a[i], b[i]);
}
}  // namespace scalar

// The add at level `isa` (normally active_isa()), which the CPU must support: AVX-VNNI runs
// the AVX2 kernel, AMX the AVX-512 one, and every Arm level the NEON one.
template <class T>
AddFn<T> add_kernel(Isa isa) noexcept {
#if QINFER_X86
  if (isa >= Isa::avx512vnni && isa <= Isa::amx) return avx512::add<T>;
  if (is_x86_isa(isa)) return avx2::add<T>;
#elif defined(__aarch64__)
  if (is_arm_isa(isa)) return neon::add<T>;
#endif
  static_cast<void>(isa);
  return scalar::add<T>;
}

}  // namespace qinfer::kernels
