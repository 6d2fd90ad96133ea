// SPDX-License-Identifier: Apache-2.0
//
// Whether the element-wise paths use xsimd. QINFER_USE_XSIMD=0 forces the scalar code (the
// vendoring case: the core then needs the standard library alone); by default xsimd is used when
// its header is found. xsimd targets the ISA the including translation unit is compiled for; the
// int8 GEMM and convolution kernels do their own run-time dispatch instead.
#pragma once

#if !defined(QINFER_USE_XSIMD)
#if __has_include(<xsimd/xsimd.hpp>)
#define QINFER_USE_XSIMD 1
#else
#define QINFER_USE_XSIMD 0
#endif
#endif

#if QINFER_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace qinfer {

inline constexpr bool simd_enabled = QINFER_USE_XSIMD != 0;

}  // namespace qinfer
