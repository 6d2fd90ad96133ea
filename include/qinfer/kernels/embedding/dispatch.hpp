// SPDX-License-Identifier: Apache-2.0
//
// The EmbeddingBag kernel for one bag at each level; the portable one is reference::pool_bag.
#pragma once

#include <cstddef>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/embedding/avx2.hpp"
#include "qinfer/kernels/embedding/avx512.hpp"
#include "qinfer/kernels/embedding/neon.hpp"
#include "qinfer/reference/embedding_bag.hpp"

namespace qinfer::kernels {

// pool_bag(table, idx, count, ahead, weights, pooling, out): `count` checked indices at idx,
// `ahead` indices readable from idx on (for prefetching), weights null or one per index.
template <class Table, class Index>
using PoolBagFn = void (*)(const Table&, const Index*, std::size_t, std::size_t, const float*,
                           Pooling, float*) noexcept;

namespace scalar {
template <class Table, class Index>
void pool_bag(const Table& table, const Index* idx, std::size_t count, std::size_t /*ahead*/,
              const float* weights, Pooling pooling, float* out) noexcept {
  reference::pool_bag(table, idx, count, weights, pooling, out);
}
}  // namespace scalar

// The kernel at level `isa` (normally active_isa()), which the CPU must support: AVX-VNNI runs
// the AVX2 kernel (when the CPU has FMA, which the bit-exact sums need, and F16C, as every AVX2
// CPU does), AMX the AVX-512 one, and every Arm level the NEON one.
template <class Table, class Index>
PoolBagFn<Table, Index> pool_bag_kernel(Isa isa) noexcept {
#if QINFER_X86
  if (isa >= Isa::avx512vnni && isa <= Isa::amx) return avx512::pool_bag<Table, Index>;
  if (is_x86_isa(isa) && cpu_features().fma && cpu_features().f16c)
    return avx2::pool_bag<Table, Index>;
#elif defined(__aarch64__)
  if (is_arm_isa(isa)) return neon::pool_bag<Table, Index>;
#endif
  static_cast<void>(isa);
  return scalar::pool_bag<Table, Index>;
}

}  // namespace qinfer::kernels
