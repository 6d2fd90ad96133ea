// SPDX-License-Identifier: Apache-2.0
//
// The depthwise dispatch table: the kernel of each instruction-set level.
#pragma once

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/depthwise/avx2.hpp"
#include "qinfer/kernels/depthwise/avx512.hpp"
#include "qinfer/kernels/depthwise/avxvnni.hpp"
#include "qinfer/kernels/depthwise/dotprod.hpp"
#include "qinfer/kernels/depthwise/neon.hpp"
#include "qinfer/kernels/depthwise/scalar.hpp"

namespace qinfer {

// The depthwise kernel at level `isa` (normally active_isa()), which the CPU must support, for
// weights `w`: AVX-512 VNNI, AVX-VNNI and NEON dotprod (and i8mm, which has it) multiply bytes
// when w has the quads layout, and otherwise run 16-bit pairs (AVX-VNNI on the AVX2 kernel,
// dotprod on the NEON one).
template <class TA>
DepthwiseKernel<TA> depthwise_kernel(Isa isa, const PackedDepthwise& w) noexcept {
#if QINFER_X86
  if (is_x86_isa(isa)) {
    if (isa >= Isa::avx512vnni) {
      return w.has_quads() ? kernels::avx512::depthwise_quads_kernel<TA>()
                           : kernels::avx512::depthwise_kernel<TA>();
    }
    if (isa == Isa::avxvnni && w.has_quads()) return kernels::avxvnni::depthwise_quads_kernel<TA>();
    return kernels::avx2::depthwise_kernel<TA>();
  }
#elif defined(__aarch64__)
  if (is_arm_isa(isa)) {
    if (isa >= Isa::dotprod && w.has_quads()) return kernels::dotprod::depthwise_quads_kernel<TA>();
    return kernels::neon::depthwise_kernel<TA>();
  }
#endif
  static_cast<void>(isa);
  static_cast<void>(w);
  return kernels::scalar::depthwise_kernel<TA>();
}

}  // namespace qinfer
