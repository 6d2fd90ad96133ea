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

// AMX's 16-row tiles would mostly multiply padding below this many rows of A; the AVX-512 VNNI
// kernel computes only the rows there are (M = 1, N = K = 4096 in gemm_bench: about 35 GOPS on
// AMX tiles against 41 on AVX-512 VNNI).
inline constexpr std::size_t amx_min_rows = 16;  // the rows of one AMX tile
#if QINFER_X86
static_assert(amx_min_rows == kernels::amx::tile_rows);
#endif

// The micro-kernel for activations of type TA at level `isa` (normally active_isa()), weights
// `w` and `rows` rows of A: AVX2 picks its fast form only for 7-bit weights, AMX hands short
// products to AVX-512 VNNI. The level must be one the CPU supports.
template <class TA>
GemmMicrokernel<TA> gemm_microkernel(Isa isa, const PackedWeights& w,
                                     std::size_t rows = amx_min_rows) noexcept {
#if QINFER_X86
  if (is_x86_isa(isa)) {
    if (isa >= Isa::amx && rows >= amx_min_rows) return kernels::amx::gemm_microkernel<TA>();
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
  static_cast<void>(rows);
  return kernels::scalar::gemm_microkernel<TA>();
}

}  // namespace qinfer
