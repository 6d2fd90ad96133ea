// SPDX-License-Identifier: Apache-2.0
//
// The weight-only GEMM kernel for one packed group of 16 output rows at each level (contract in
// kernels/blocks/scalar.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/blocks/amx.hpp"
#include "qinfer/kernels/blocks/avx2.hpp"
#include "qinfer/kernels/blocks/avx512vnni.hpp"
#include "qinfer/kernels/blocks/avxvnni.hpp"
#include "qinfer/kernels/blocks/dotprod.hpp"
#include "qinfer/kernels/blocks/neon.hpp"
#include "qinfer/kernels/blocks/scalar.hpp"
#include "qinfer/reference/block_gemm.hpp"

namespace qinfer::kernels {

// block_group(w, group, activations, first_row, rows, y, ldy, count).
template <class Block>
using BlockGroupFn = void (*)(const PackedBlocks<Block>&, std::size_t, const BlockActivations&,
                              std::size_t, std::size_t, float*, std::size_t, std::size_t) noexcept;

// quantize_activation_row(x, k, codes): reference::quantize_activation_row for k a multiple of
// 32, bit for bit.
using QuantizeRowFn = float (*)(const float*, std::size_t, int8_t*) noexcept;

namespace scalar {
inline float quantize_activation_row(const float* x, std::size_t k, int8_t* codes) noexcept {
  return reference::quantize_activation_row(Span<const float>(x, k), Span<int8_t>(codes, k));
}
}  // namespace scalar

inline QuantizeRowFn quantize_row_kernel(Isa isa) noexcept {
#if QINFER_X86
  if (isa >= Isa::avx512vnni && isa <= Isa::amx) return avx512vnni::quantize_activation_row;
  if (is_x86_isa(isa) && isa >= Isa::avx2) return avx2::quantize_activation_row;
#elif defined(__aarch64__)
  if (is_arm_isa(isa)) return neon::quantize_activation_row;
#endif
  static_cast<void>(isa);
  return scalar::quantize_activation_row;
}

// The kernel at level `isa` (normally active_isa()), which the CPU must support: AMX runs the
// AVX-512 VNNI kernel for fewer than 16 rows and i8mm the dotprod one; the ymm kernels need
// FMA, which the bit-exact sums use, and F16C, as every AVX2 CPU has.
template <class Block>
BlockGroupFn<Block> block_group_kernel(Isa isa) noexcept {
#if QINFER_X86
  if (isa == Isa::amx) return amx::block_group<Block>;
  if (isa == Isa::avx512vnni) return avx512vnni::block_group<Block>;
  if (is_x86_isa(isa) && isa >= Isa::avx2 && cpu_features().fma && cpu_features().f16c) {
    return isa == Isa::avxvnni ? avxvnni::block_group<Block> : avx2::block_group<Block>;
  }
#elif defined(__aarch64__)
  if (isa >= Isa::dotprod) return dotprod::block_group<Block>;
  if (isa == Isa::neon) return neon::block_group<Block>;
#endif
  static_cast<void>(isa);
  return scalar::block_group<Block>;
}

}  // namespace qinfer::kernels
