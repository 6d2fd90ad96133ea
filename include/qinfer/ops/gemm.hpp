// SPDX-License-Identifier: Apache-2.0
//
// The int8 GEMM over packed weights, on the best kernel the active ISA level allows:
//
//   C = stage((A - a_zero_point) x (B - b_zero_points) + bias)
//
// with B packed once by pack_weights() (kernels/gemm/packing.hpp). It gives exactly
// reference::gemm's result on every path; tests/kernels/gemm_test.cpp checks that on each path
// the CPU has. A may have any row stride (its columns contiguous), C any strides.
//
// Per tile of gemm_mr x gemm_nr the kernel computes raw sums into an L1-resident buffer, and
// the epilogue adds bias and zero-point corrections, then applies the stage with the vector
// requantization kernels. Fusing the epilogue into the kernel's registers is the next step
// for speed; the results cannot change with it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/kernels/gemm/avx512vnni.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/kernels/gemm/scalar.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/quantize.hpp"

namespace qinfer {

namespace detail {

template <class TA>
void gemm_tile(Isa isa, const TA* a, std::size_t lda, std::size_t mr, std::size_t k,
               const int8_t* panel, int32_t* acc) noexcept {
#if QINFER_X86
  if (isa >= Isa::avx512vnni && is_x86_isa(isa)) {
    return kernels::avx512vnni::gemm_tile(a, lda, mr, k, panel, acc);
  }
#endif
  static_cast<void>(isa);
  kernels::scalar::gemm_tile(a, lda, mr, k, panel, acc);
}

// Applies `stage` to one tile row of corrected sums, channels [first, first + count).
template <class Stage>
void store_tile_row(ConvertPath path, const int32_t* sums, std::size_t first, std::size_t count,
                    const Stage& stage, typename Stage::Output* out,
                    std::size_t out_stride) noexcept {
  if (out_stride == 1) {
    requantize_with(path, sums, 1, count, slice_channels(stage, first, count), out);
    return;
  }
  for (std::size_t n = 0; n < count; ++n) out[n * out_stride] = stage(sums[n], first + n);
}

}  // namespace detail

template <class A, class Stage>
Result<void> gemm(MatrixView<A> a, int32_t a_zero_point, const PackedWeights& w, const Stage& stage,
                  MatrixView<typename Stage::Output> c) {
  using TA = std::remove_const_t<A>;
  static_assert(reference::is_quantized_8bit<TA>, "gemm: A must be int8_t or uint8_t");
  const MatrixView<const TA> av = a;
  if (av.cols != w.k) return fail(Errc::shape_mismatch, "gemm: A columns != packed weights' K");
  if (c.rows != av.rows || c.cols != w.n) {
    return fail(Errc::shape_mismatch, "gemm: C must be A rows x packed weights' N");
  }
  if (av.col_stride != 1 && av.cols > 1) {
    return fail(Errc::invalid_argument, "gemm: A's columns must be contiguous (col_stride 1)");
  }
  if (auto s = check_view(av, "gemm: A"); !s) return fail(s);
  if (auto s = check_view(c, "gemm: C"); !s) return fail(s);
  if (auto s = check_zero_point(a_zero_point, StorageTraits<TA>::min, StorageTraits<TA>::max,
                                "gemm: a_zero_point outside A's type");
      !s) {
    return fail(s);
  }
  if (auto s = stage.check(w.n); !s) return fail(s);

  // The uint8 zero point of the codes the kernels see (packing.hpp); uint32 arithmetic keeps
  // the corrections modulo 2^32 like the sums.
  const uint32_t za = static_cast<uint32_t>(a_zero_point + (std::is_same_v<TA, int8_t> ? 128 : 0));
  const auto depth = static_cast<uint32_t>(w.k);
  // Resolved once per call: the level can change between calls (set_isa_cap), never within one.
  const Isa isa = active_isa();
  const ConvertPath epilogue_path = best_convert_path();
  alignas(64) int32_t tile[gemm_mr * gemm_nr];
  uint32_t correction[gemm_nr];
  uint32_t row_sums[gemm_mr] = {};
  for (std::size_t m0 = 0; m0 < av.rows; m0 += gemm_mr) {
    const std::size_t mr = std::min(gemm_mr, av.rows - m0);
    const TA* rows = av.data + m0 * av.row_stride;
    if (w.has_zero_points) {
      for (std::size_t m = 0; m < mr; ++m) {
        uint32_t sum = 0;
        for (std::size_t p = 0; p < w.k; ++p) sum += activation_code(rows[m * av.row_stride + p]);
        row_sums[m] = sum;
      }
    }
    for (std::size_t panel = 0; panel < w.panels; ++panel) {
      const std::size_t n0 = panel * gemm_nr;
      const std::size_t nr = std::min(gemm_nr, w.n - n0);
      if (w.k == 0) {
        std::fill(tile, tile + gemm_mr * gemm_nr, 0);
      } else {
        detail::gemm_tile(isa, rows, av.row_stride, mr, w.k, w.panel(panel), tile);
      }
      for (std::size_t n = 0; n < nr; ++n) {
        const auto zb = static_cast<uint32_t>(w.zero_points[n0 + n]);
        correction[n] = static_cast<uint32_t>(w.bias[n0 + n]) -
                        za * static_cast<uint32_t>(w.column_sums[n0 + n]) + depth * za * zb;
      }
      for (std::size_t m = 0; m < mr; ++m) {
        int32_t* sums = tile + m * gemm_nr;
        for (std::size_t n = 0; n < nr; ++n) {
          const auto zb = static_cast<uint32_t>(w.zero_points[n0 + n]);
          sums[n] = static_cast<int32_t>(static_cast<uint32_t>(sums[n]) + correction[n] -
                                         zb * row_sums[m]);
        }
        detail::store_tile_row(epilogue_path, sums, n0, nr, stage, &c(m0 + m, n0), c.col_stride);
      }
    }
  }
  return ok();
}

}  // namespace qinfer
