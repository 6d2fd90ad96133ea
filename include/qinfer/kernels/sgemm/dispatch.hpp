// SPDX-License-Identifier: Apache-2.0
//
// The fp32 micro-kernel for an ISA level: AVX-512 where the int8 level says zmm registers are
// usable (avx512vnni and up imply AVX-512 F), AVX2 + FMA from the avx2 level when the CPU has
// FMA, the portable kernel otherwise (AArch64 included, for now).
#pragma once

#include "qinfer/core/cpu.hpp"
#include "qinfer/kernels/sgemm/avx2.hpp"
#include "qinfer/kernels/sgemm/avx512.hpp"
#include "qinfer/kernels/sgemm/microkernel.hpp"
#include "qinfer/kernels/sgemm/scalar.hpp"

namespace qinfer {

inline kernels::sgemm::SgemmMicrokernel sgemm_microkernel(Isa isa) noexcept {
#if QINFER_X86
  if (is_x86_isa(isa) && isa >= Isa::avx512vnni) return kernels::sgemm::avx512::microkernel();
  if (is_x86_isa(isa) && cpu_features().fma) return kernels::sgemm::avx2::microkernel();
#else
  (void)isa;
#endif
  return kernels::sgemm::scalar::microkernel();
}

}  // namespace qinfer
