// SPDX-License-Identifier: Apache-2.0
//
// The scalar reference of the float <-> quantized conversions, and the facts the vectorized
// versions (xsimd.hpp, avx2.hpp, avx512.hpp beside this file) rely on to reproduce it exactly.
//
//   quantize:    q = saturate(round(x / scale) + zero_point)   (NaN -> zero_point)
//   dequantize:  x = float(q - zero_point) * scale
#pragma once

#include <algorithm>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__linux__)
#include <unistd.h>
#endif

#include "qinfer/quant/params.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer {

// The integer levels a quantize call may produce and the parameters it uses.
struct QuantizeRange {
  float scale;
  int32_t zero_point;
  int32_t qmin;
  int32_t qmax;
};

// The level of one value, zero point added: the definition every quantize kernel reproduces.
template <class Rounding>
int32_t quantize_level(float x, QuantizeRange r) noexcept {
  return round_clamped<Rounding>(x / r.scale, static_cast<float>(r.qmin - r.zero_point),
                                 static_cast<float>(r.qmax - r.zero_point)) +
         r.zero_point;
}

template <class Storage, class Rounding = RoundHalfToEven>
void quantize_scalar(const float* x, std::size_t n, Storage* q, QuantizeRange r) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    q[i] = static_cast<Storage>(quantize_level<Rounding>(x[i], r));
}

template <class Storage>
void dequantize_scalar(const Storage* q, std::size_t n, float* x, QuantParams p) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(int32_t{q[i]} - p.zero_point) * p.scale;
  }
}

// The row strides, in elements, of a [rows, channels] block of accumulators and of its output:
// a GEMM tile buffer and the rows of C it fills differ.
struct RowStrides {
  std::size_t acc;
  std::size_t out;
};

// Applies `stage` (quant/output_stage.hpp) to a [rows, channels] block of accumulators.
template <class Stage>
void requantize_scalar(const int32_t* acc, std::size_t rows, std::size_t channels,
                       const Stage& stage, typename Stage::Output* out,
                       RowStrides strides) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < channels; ++c)
      out[r * strides.out + c] = stage(acc[r * strides.acc + c], c);
  }
}

namespace convert {

// What the StageLanes of an Out stage built from a From stage (fused_stage_t, quant/quantize.hpp)
// add to its levels: 128 when int8 levels run as uint8 ones, whose bytes the stores flip back
// (xor 0x80); 0 when the stage is its own.
template <class From, class Out>
inline constexpr int32_t code_shift = std::is_same_v<From, Out> ? 0 : 128;
template <class From, class Out>
inline constexpr bool is_code_shift_valid = std::is_same_v<From, Out> ||
                                            (std::is_same_v<From, int8_t> &&
                                             std::is_same_v<Out, uint8_t>);

// Why the vector kernels may multiply by 1 / scale and still match the division exactly.
//
// Division throughput (about 1.6 floats per cycle on recent x86 at any vector width) caps a
// dividing kernel at a fraction of copy speed, so the kernels compute p = fl(x * fl(1 / s))
// instead. With u = 2^-24, fl(1 / s) = (1 / s)(1 + e1) and p = (x / s)(1 + e1)(1 + e2), while
// the reference q = fl(x / s) = (x / s)(1 + e3), |e_i| <= u; so |p - q| < 3u |p| (1 + 2u).
// round(p) and round(q) can differ only if a rounding boundary (a half-integer) lies between
// them, hence within 3u |p| of p. After the clamp to the integer bounds [lo, hi] only the
// boundaries inside (lo, hi) matter, whose magnitude is below m = max(|lo|, |hi|), so the two
// results can differ only where |p| < m. When a lane lies within
// delta = near_tie_ratio * m > 3u m (1 + 2u) of a half-integer, the whole vector is recomputed
// with a true division. The distance |p - round(p)| is exact for |p| < 2^31; larger |p| (and
// NaN) converts to INT32_MIN, so its distance is large or NaN and it is divided too, with NaN
// mapped to the zero point. So a kernel may round p clamped (xsimd.hpp) or unclamped and clamp
// the integers (avx2.hpp, where saturating packs clamp four vectors at a time).
//
// avx512.hpp adds the zero point z in the same rounding: w = fl(x * fl(1 / s) + z), one fused
// multiply-add, and the level of x is round(w) when no half-integer lies within delta of w. The
// exact value is r = q + z; |w - r| < 2u |q| (1 + 2u) + u |w|. The boundaries that matter now
// lie inside (lo + z, hi + z), and |q| < m where they can be crossed, so with
// m = max(|lo|, |hi|, |lo + z|, |hi + z|) the same delta bounds |w - r|.
// Gaussian data takes the division for about one vector in 3000; data sitting on exact ties
// takes it always, which is merely as slow as dividing. The argument needs fl(1 / s) to be a
// normal float: for scale > 2^126, delta is infinite and every vector divides.
inline constexpr float near_tie_ratio = 1.0f / (1 << 21);  // 2^-21 > 3u (1 + 2u), margin 2.6x

// Outputs larger than this many bytes bypass the caches (non-temporal stores) in the dequantize
// kernels: they would not stay in the last-level cache, and streaming saves the read for
// ownership of every written line. Below it, cached stores win by far. On AMD Zen 5 (32 MiB
// L3) they ran at 2x the streaming rate up to 16 MiB of output, and streaming won from 32 MiB
// on; on the Xeon, streaming 4 MiB of output (the earlier 2 MiB threshold) ran at 0.75x memset's
// cached rate. glibc's L3 size is the whole socket's and in a VM can be far beyond what one core
// sees (384 MiB on the Zen 5 VM), so it only lowers the 16 MiB cap, for CPUs with a small L3.
inline std::size_t streaming_threshold() noexcept {
  static const std::size_t bytes = [] {
    constexpr std::size_t cap = std::size_t{16} << 20;
#if defined(__linux__) && defined(_SC_LEVEL3_CACHE_SIZE)
    const long last_level = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (last_level > 0) return std::min(cap, static_cast<std::size_t>(last_level));
#endif
    return cap;
  }();
  return bytes;
}

// Runs a vector dequantize kernel over whole, aligned output vectors: a scalar head aligns x to
// VectorBytes (a float output is 4x the input, so dequantize is bound by its writes, and a store
// split across two cache lines costs two), then body(q, n, x, p, streaming) does the rest, with
// streaming = std::true_type beyond streaming_threshold.
template <std::size_t VectorBytes, class Storage, class Body>
void dequantize_aligned_vectors(const Storage* q, std::size_t n, float* x, QuantParams p,
                                Body body) noexcept {
  const std::size_t misalignment = reinterpret_cast<std::uintptr_t>(x) % VectorBytes;
  std::size_t head = misalignment == 0 ? 0 : (VectorBytes - misalignment) / sizeof(float);
  if (misalignment % sizeof(float) != 0 || head > n) head = n;
  dequantize_scalar(q, head, x, p);
  if (n - head > streaming_threshold() / sizeof(float)) {
    body(q + head, n - head, x + head, p, std::true_type{});
  } else {
    body(q + head, n - head, x + head, p, std::false_type{});
  }
}

// delta for a quantize call (see above).
inline float near_tie_delta(const QuantizeRange& r) noexcept {
  if (!(1.0f / r.scale >= FLT_MIN)) return std::numeric_limits<float>::infinity();
  const auto magnitude = [](int32_t v) { return v < 0 ? -v : v; };
  const int32_t m = std::max({magnitude(r.qmin - r.zero_point), magnitude(r.qmax - r.zero_point),
                              magnitude(r.qmin), magnitude(r.qmax)});
  return near_tie_ratio * static_cast<float>(m);
}

}  // namespace convert
}  // namespace qinfer
