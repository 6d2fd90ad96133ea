// SPDX-License-Identifier: Apache-2.0
//
// The GEMM dispatch table: the micro-kernel of each instruction-set level.
#pragma once

#include <cstddef>

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/gemm/amx.hpp"
#include "qinfer/kernels/gemm/avx2.hpp"
#include "qinfer/kernels/gemm/avx512vnni.hpp"
#include "qinfer/kernels/gemm/avxvnni.hpp"
#include "qinfer/kernels/gemm/dotprod.hpp"
#include "qinfer/kernels/gemm/i8mm.hpp"
#include "qinfer/kernels/gemm/microkernel.hpp"
#include "qinfer/kernels/gemm/neon.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/kernels/gemm/scalar.hpp"

namespace qinfer {

// The micro-kernel of level `isa` (normally active_isa()) for activations of type TA and weights
// `w`: AVX2 picks its fast form only for 7-bit weights. The level must be one the CPU supports.
template <class TA>
GemmMicrokernel<TA> gemm_microkernel(Isa isa, const PackedWeights& w) noexcept {
#if QINFER_X86
  if (is_x86_isa(isa)) {
    if (isa >= Isa::amx) return kernels::amx::gemm_microkernel<TA>();
    if (isa >= Isa::avx512vnni) return kernels::avx512vnni::gemm_microkernel<TA>();
    if (isa >= Isa::avxvnni) return kernels::avxvnni::gemm_microkernel<TA>();
    return kernels::avx2::gemm_microkernel<TA>(w.seven_bit);
  }
#elif defined(__aarch64__)
  if (is_arm_isa(isa)) {
    if (isa >= Isa::i8mm) return kernels::i8mm::gemm_microkernel<TA>();
    if (isa >= Isa::dotprod) return kernels::dotprod::gemm_microkernel<TA>();
    return kernels::neon::gemm_microkernel<TA>();
  }
#endif
  static_cast<void>(isa);
  static_cast<void>(w);
  return kernels::scalar::gemm_microkernel<TA>();
}

// Where AMX pays off. Its tiles multiply 16 rows of A by 64-deep groups of K; every call
// configures the tiles, and with no fused epilogue it makes a second pass over the int32 sums.
// Short, shallow or narrow products go to the AVX-512 VNNI kernel, which computes only the rows
// there are and requantizes in its registers. Measured in conv_bench on MobileNetV2's layers
// (GOPS, AVX-512 VNNI against AMX): K = 16-32: 65-204 against 35-154; N = 24: 278-326 against
// 80-120; K >= 64 and N >= 32: AMX ahead, 302-1636 against 191-562. In gemm_bench, with a tile
// of fewer than 16 rows packed (zero rows multiplying for free): from 8 rows AMX led on every
// shape tried, 8x4096x4096 375 against 333, 8x512x512 1065 against 494, 8x1024x64 289 against
// 250, 12x1024x1024 1516 against 579; at 6 rows it led where the weights are in cache (6x1024^2
// 718 against 577) but not on the memory-bound 6x4096x4096 (284 against 304), and at 1-2 rows
// AVX-512 VNNI led everywhere (1x4096x4096 51 against 48, 2x256x1024 398 against 264).
inline constexpr std::size_t amx_min_rows = 8;
inline constexpr std::size_t amx_min_depth = 64;
inline constexpr std::size_t amx_min_columns = 32;
#if QINFER_X86
static_assert(amx_min_rows <= kernels::amx::tile_rows);
#endif

// The micro-kernel ops/gemm.hpp runs for a product of `rows` rows of A and weights `w` at level
// `isa`: the level's own, except that AMX hands the products above to AVX-512 VNNI.
template <class TA>
GemmMicrokernel<TA> gemm_microkernel_for(Isa isa, const PackedWeights& w,
                                         std::size_t rows) noexcept {
  if (isa == Isa::amx && (rows < amx_min_rows || w.k < amx_min_depth || w.n < amx_min_columns)) {
    return gemm_microkernel<TA>(Isa::avx512vnni, w);
  }
  return gemm_microkernel<TA>(isa, w);
}

}  // namespace qinfer
