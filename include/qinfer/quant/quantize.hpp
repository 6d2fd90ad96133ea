// SPDX-License-Identifier: Apache-2.0
//
// Quantize, dequantize and requantize over contiguous buffers.
//
//   quantize:    q = saturate(round(x / scale) + zero_point)   (NaN -> zero_point)
//   dequantize:  x = float(q - zero_point) * scale
//   requantize:  out[r][c] = stage(acc[r][c], c)               (see output_stage.hpp)
//
// x / scale is a true division, as ONNX and TFLite specify. The scalar functions in
// convert/scalar.hpp are the reference; the public functions here run the fastest path this CPU
// has (AVX-512, AVX2, xsimd) and produce the same bits (tests/quant/quantize_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/simd.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/convert/avx2.hpp"
#include "qinfer/quant/convert/avx512.hpp"
#include "qinfer/quant/convert/scalar.hpp"
#include "qinfer/quant/convert/xsimd.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer {

// The conversion kernels, slowest first. `portable` is xsimd for the translation unit's own
// ISA; avx2 and avx512 are compiled into every x86 build and chosen at run time.
enum class ConvertPath { scalar, portable, avx2, avx512 };

inline const char* path_name(ConvertPath path) noexcept {
  switch (path) {
    case ConvertPath::scalar:
      return "scalar";
    case ConvertPath::portable:
      return "xsimd";
    case ConvertPath::avx2:
      return "avx2";
    case ConvertPath::avx512:
      return "avx512";
  }
  return "unknown";
}

// Whether this build and CPU can run `path`. The AVX-512 conversions need F and BW, which every
// CPU with AVX-512 VNNI has, so they follow that level (and its cap).
inline bool is_available(ConvertPath path) noexcept {
  switch (path) {
    case ConvertPath::scalar:
      return true;
    case ConvertPath::portable:
      return simd_enabled;
    case ConvertPath::avx2:
      return cpu_features().supports(Isa::avx2);
    case ConvertPath::avx512:
      return cpu_features().supports(Isa::avx512vnni);
  }
  return false;
}

// The fastest path allowed by the active level (core/cpu.hpp). A cap that leaves only scalar
// (QINFER_ISA=scalar, or a level this CPU's family lacks) selects the scalar reference.
inline ConvertPath best_convert_path() noexcept {
  const Isa active = active_isa();
  if (active >= Isa::avx512vnni && active <= Isa::amx) return ConvertPath::avx512;
  if (is_x86_isa(active)) return ConvertPath::avx2;
  if (active == Isa::scalar && isa_cap().has_value()) return ConvertPath::scalar;
  return simd_enabled ? ConvertPath::portable : ConvertPath::scalar;
}

template <class Storage>
inline constexpr bool has_x86_kernels =
    std::is_same_v<Storage, int8_t> || std::is_same_v<Storage, uint8_t>;

// Runs one path; a path that is unavailable, or has no kernel for Storage, falls back to the
// next slower one. The public functions below pass best_convert_path().
template <class Storage, class Rounding = RoundHalfToEven>
void quantize_with([[maybe_unused]] ConvertPath path, const float* x, std::size_t n, Storage* q,
                   QuantizeRange r) noexcept {
#if QINFER_X86
  if constexpr (has_x86_kernels<Storage>) {
    if (path == ConvertPath::avx512 && is_available(path)) {
      return convert::avx512::quantize<Storage, Rounding>(x, n, q, r);
    }
    if (path >= ConvertPath::avx2 && is_available(ConvertPath::avx2)) {
      return convert::avx2::quantize<Storage, Rounding>(x, n, q, r);
    }
  }
#endif
#if QINFER_USE_XSIMD
  if (path != ConvertPath::scalar)
    return convert::portable::quantize<Storage, Rounding>(x, n, q, r);
#endif
  quantize_scalar<Storage, Rounding>(x, n, q, r);
}

template <class Storage>
void dequantize_with([[maybe_unused]] ConvertPath path, const Storage* q, std::size_t n, float* x,
                     QuantParams p) noexcept {
#if QINFER_X86
  if constexpr (has_x86_kernels<Storage>) {
    if (path == ConvertPath::avx512 && is_available(path)) {
      return convert::avx512::dequantize(q, n, x, p);
    }
    if (path >= ConvertPath::avx2 && is_available(ConvertPath::avx2)) {
      return convert::avx2::dequantize(q, n, x, p);
    }
  }
#endif
#if QINFER_USE_XSIMD
  if (path != ConvertPath::scalar) return convert::portable::dequantize(q, n, x, p);
#endif
  dequantize_scalar(q, n, x, p);
}

// Stages with AVX2 / AVX-512 kernels: the float and fixed-point requantizations to 8 bits. They
// are also the stages convert::avx512::StageLanes holds, which the GEMM and depthwise kernels
// apply in their registers.
template <class Stage>
struct HasX86Requantize : std::false_type {};
template <class Out>
struct HasX86Requantize<RequantizeFloat<Out>> : std::bool_constant<has_x86_kernels<Out>> {};
template <class Out, class Rounding>
struct HasX86Requantize<RequantizeFixedPoint<Out, Rounding>>
    : std::bool_constant<has_x86_kernels<Out>> {};

// The stage whose arithmetic the fused GEMM epilogues run for a requantizing Stage. An int8
// level q is the uint8 level q + 128 with its top bit flipped, and clamping commutes with that
// shift, so an int8 stage runs as the uint8 stage with its zero point and bounds 128 higher (the
// StageLanes of the uint8 stage built from the int8 one), whose stores flip each byte's top bit
// back (a register xor, with 0 for uint8 outputs). One kernel body per requantization and
// rounding then serves both output types: apart, the int8 bodies were 40% of the fused kernels'
// instantiations.
template <class Stage>
struct FusedStageOf {
  using type = Stage;
};
template <class Out, class Rounding>
struct FusedStageOf<RequantizeFixedPoint<Out, Rounding>> {
  using type = RequantizeFixedPoint<uint8_t, Rounding>;
};
template <class Out>
struct FusedStageOf<RequantizeFloat<Out>> {
  using type = RequantizeFloat<uint8_t>;
};
template <class Stage>
using fused_stage_t = typename FusedStageOf<Stage>::type;

template <class Stage>
void requantize_with([[maybe_unused]] ConvertPath path, const int32_t* acc, std::size_t rows,
                     std::size_t channels, const Stage& stage, typename Stage::Output* out,
                     RowStrides strides) noexcept {
#if QINFER_X86
  if constexpr (HasX86Requantize<Stage>::value) {
    if (path == ConvertPath::avx512 && is_available(path)) {
      return convert::avx512::requantize(acc, rows, channels, stage, out, strides);
    }
    if (path >= ConvertPath::avx2 && is_available(ConvertPath::avx2)) {
      return convert::avx2::requantize(acc, rows, channels, stage, out, strides);
    }
  }
#endif
#if QINFER_USE_XSIMD
  if constexpr (std::is_same_v<Stage, RequantizeFloat<typename Stage::Output>>) {
    if (path != ConvertPath::scalar) {
      return convert::portable::requantize(acc, rows, channels, stage, out, strides);
    }
  }
#endif
  requantize_scalar(acc, rows, channels, stage, out, strides);
}

// The same over a row-major [rows, channels] block.
template <class Stage>
void requantize_with(ConvertPath path, const int32_t* acc, std::size_t rows, std::size_t channels,
                     const Stage& stage, typename Stage::Output* out) noexcept {
  requantize_with(path, acc, rows, channels, stage, out, RowStrides{channels, channels});
}

// Unchecked entry points on the best path; the checked functions below and the quantizer types
// call these.
template <class Storage, class Rounding = RoundHalfToEven>
void quantize_n(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  quantize_with<Storage, Rounding>(best_convert_path(), x, n, q, r);
}

template <class Storage>
void dequantize_n(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  dequantize_with(best_convert_path(), q, n, x, p);
}

namespace detail {
template <class In, class Out>
Status check_buffers(Span<const In> in, Span<Out> out, const char* mismatch,
                     const char* null) noexcept {
  if (in.size() != out.size()) return {Errc::shape_mismatch, mismatch};
  if (auto s = check_data(in.data(), in.size(), null); !s) return s;
  return check_data(out.data(), out.size(), null);
}
}  // namespace detail

// Quantizes x into q under `scheme` (the scheme bounds the levels: SymmetricNarrow never
// writes -128).
template <class Storage, class Rounding = RoundHalfToEven, class Scheme = Affine>
Result<void> quantize(Span<const float> x, Span<Storage> q, QuantParams p) {
  if (auto s = detail::check_buffers(x, q, "quantize: x and q differ in size",
                                     "quantize: null buffer with non-zero size");
      !s) {
    return fail(s);
  }
  if (auto s = Scheme::template check<Storage>(p); !s) return fail(s);
  const QuantizeRange r{p.scale, p.zero_point, Scheme::template qmin<Storage>,
                        Scheme::template qmax<Storage>};
  quantize_n<Storage, Rounding>(x.data(), x.size(), q.data(), r);
  return ok();
}

template <class Storage>
Result<void> dequantize(Span<const Storage> q, Span<float> x, QuantParams p) {
  if (auto s = detail::check_buffers(q, x, "dequantize: q and x differ in size",
                                     "dequantize: null buffer with non-zero size");
      !s) {
    return fail(s);
  }
  if (auto s = check_scale(p.scale, "dequantize: scale must be finite, normal and > 0"); !s) {
    return fail(s);
  }
  if (auto s =
          check_zero_point(p.zero_point, StorageTraits<Storage>::min, StorageTraits<Storage>::max,
                           "dequantize: zero_point outside the storage type");
      !s) {
    return fail(s);
  }
  dequantize_n(q.data(), q.size(), x.data(), p);
  return ok();
}

// Applies an output stage to a row-major [rows, channels] block: acc.size() == out.size() ==
// rows * channels.
template <class Stage>
Result<void> requantize(Span<const int32_t> acc, std::size_t channels, const Stage& stage,
                        Span<typename Stage::Output> out) {
  if (auto s = detail::check_buffers(acc, out, "requantize: acc and out differ in size",
                                     "requantize: null buffer with non-zero size");
      !s) {
    return fail(s);
  }
  if (channels == 0 ? !acc.empty() : acc.size() % channels != 0) {
    return fail(Errc::shape_mismatch, "requantize: size is not a multiple of channels");
  }
  if (auto s = stage.check(channels); !s) return fail(s);
  const std::size_t rows = channels == 0 ? 0 : acc.size() / channels;
  requantize_with(best_convert_path(), acc.data(), rows, channels, stage, out.data());
  return ok();
}

}  // namespace qinfer
