// SPDX-License-Identifier: Apache-2.0
//
// 2-D convolution, NHWC activations, OHWI weights, on the dispatched kernels:
//
//   y[n][oy][ox][oc] = stage(bias[oc] + sum_{ky,kx,ic} (x[..][g cpg + ic] - zx)
//                                                     * (w[oc][ky][kx][ic] - zw[oc]))
//
// with every geometry of reference::conv2d (stride, dilation, padding on each side, groups),
// bit-exact with it on every path (tests/ops/conv2d_test.cpp). Weights are packed once by
// pack_conv2d(). Five ways through, chosen per call from the shape:
//
// - depthwise (groups == channels, one filter each): the depthwise kernels (ops/depthwise.hpp);
// - 1x1, stride 1, no padding: the image already is the GEMM's A operand ([N H W, C], each
//   group a column slice), so the GEMM runs on it directly, with no copy and no workspace;
// - on AVX-512 VNNI with a requantizing stage, one group and no dilation along the width:
//   windows read in place (conv2d_windows() below, where conv2d_window_band() says which shapes
//   gain), from bands of image rows copied with their padding;
// - on AMX, one group, no dilation along the width, kernel rows of whole 64-byte chunks and
//   fewer than amx_pack_min_panels panels: windows read in place the same way, in slots of 16
//   windows, two a tile (conv2d_amx_windows() below);
// - anything else: im2col into a bounded workspace, conv2d_chunk_rows() output pixels at a time,
//   each chunk one GEMM per group. A full im2col of a 56x56x64 3x3 layer takes 1.8 MB; the
//   chunks keep it near 256 KiB, inside L2 (2 MiB here), while each GEMM still has at least 64
//   rows, one task of the GEMM driver. im2col reuses the packed GEMM of every path unchanged;
//   reading windows in place needs a path's micro-kernel to take rows in runs (RowRuns).
//
// Memory: with a caller-provided workspace of conv2d_workspace_size() int32 values nothing is
// allocated. Threads: the executor splits each GEMM (a large chunk into pieces that each copy
// and multiply their own rows) and the depthwise rows; results do not depend on the number of
// workers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/kernels/depthwise/packing.hpp"
#include "qinfer/kernels/gemm/packing.hpp"
#include "qinfer/ops/depthwise.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/ops/im2col.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

// What the packed weights of a convolution fix: channels, groups and kernel size.
struct Conv2dFilter {
  std::size_t out_c = 0;
  std::size_t in_c = 0;
  std::size_t groups = 1;
  std::size_t kernel_h = 1, kernel_w = 1;

  std::size_t in_c_per_group() const noexcept { return in_c / groups; }
  std::size_t out_c_per_group() const noexcept { return out_c / groups; }
  // The GEMM's K: one window of one group.
  std::size_t depth() const noexcept { return kernel_h * kernel_w * in_c_per_group(); }
  // One kernel row of a window read in place from the image (see conv2d()): with several kernel
  // rows each is padded to whole groups of gemm_kr, so that no group straddles two image rows.
  // The padding taps weigh the column's zero point, which adds nothing to a sum whatever
  // activation they meet.
  std::size_t window_row() const noexcept {
    const std::size_t run = kernel_w * in_c_per_group();
    return kernel_h > 1 ? (run + gemm_kr - 1) / gemm_kr * gemm_kr : run;
  }
  std::size_t window_depth() const noexcept { return kernel_h * window_row(); }
  bool depthwise() const noexcept { return groups == in_c && out_c == in_c; }
};

// The packed weights of a convolution's groups, each K = depth() x N = out_c_per_group(), side
// by side in one buffer at a fixed stride; group(g) is a view of group g.
class PackedGroups {
 public:
  PackedGroups() = default;
  PackedGroups(const PackedWeights& first, std::size_t count, std::size_t stride) noexcept
      : first_(first), count_(count), stride_(stride) {}

  std::size_t size() const noexcept { return count_; }
  PackedWeights operator[](std::size_t g) const noexcept {
    PackedWeights w = first_;
    w.storage = nullptr;  // the PackedConv2d holds the buffer
    w.data = shifted(first_.data, g);
    w.column_sums = shifted(first_.column_sums, g);
    w.zero_points = shifted(first_.zero_points, g);
    w.bias = shifted(first_.bias, g);
    w.has_zero_points = false;
    for (std::size_t n = 0; n < w.n; ++n) {
      w.has_zero_points = w.has_zero_points || w.zero_points[n] != 0;
    }
    return w;
  }

 private:
  template <class T>
  Span<T> shifted(Span<T> span, std::size_t g) const noexcept {
    if (span.empty()) return span;
    return {reinterpret_cast<T*>(reinterpret_cast<std::byte*>(span.data()) + g * stride_),
            span.size()};
  }

  PackedWeights first_;
  std::size_t count_ = 0, stride_ = 0;
};

// Packed convolution weights: views of one buffer, as PackedWeights (kernels/gemm/packing.hpp).
// pack_conv2d() allocates it and copies share it; pack_conv2d_into() packs into the caller's.
struct PackedConv2d {
  Conv2dFilter filter;
  PackedGroups groups;        // per group: K = depth() x N = out_c_per_group()
  PackedDepthwise depthwise;  // instead, for depthwise filters
  // K = window_depth() x N = out_c, for windows read in place where kernel rows need padding
  // (x86 builds, one group, kernel_w x in_c not a multiple of gemm_kr): the first layers of
  // 3-channel images. im2col keeps the tight K: on AVX2 the padded rows cost the 3-channel 3x3
  // layer 13% (72 against 63 GOPS).
  std::optional<PackedWeights> windows;
  // K = kernel_h x one 64-byte chunk, for windows read in place on AMX where a kernel row is
  // shorter than a chunk (x86 builds, one group): each kernel row one tile load.
  std::optional<PackedWeights> chunk_windows;
  // The buffer pack_conv2d() made; null for a caller's buffer.
  std::shared_ptr<const AlignedVector<std::byte>> storage;
};

namespace detail {

// Whether this build packs `f` a second time for windows read in place (see PackedConv2d).
inline bool packs_windows(const Conv2dFilter& f) noexcept {
  return QINFER_X86 && f.groups == 1 && f.window_row() != f.kernel_w * f.in_c;
}

// Taps per kernel row of PackedConv2d::chunk_windows: one AMX chunk.
inline constexpr std::size_t chunk_window_row = 64;

// Whether AMX reads kernel rows of `run` bytes as one chunk each: rows shorter than a chunk,
// the first layers of images, but at least a quarter of one. The padding taps cost tile dots
// that im2col's tight K does not; the copy they save repays up to four times the dots: against
// im2col, GOPS (Emerald Rapids), ResNet-50's 7x7 stem (21-byte rows) 456 -> 827, MobileNetV2's
// 3x3 one (9-byte rows) 233 -> 205.
inline bool reads_run_as_chunk(std::size_t run) noexcept {
  return run < chunk_window_row && 4 * run >= chunk_window_row;
}

// Whether this build packs `f` for AMX's windows of one chunk per kernel row.
inline bool packs_chunk_windows(const Conv2dFilter& f) noexcept {
  return QINFER_X86 && f.groups == 1 && reads_run_as_chunk(f.kernel_w * f.in_c);
}

// Where pack_conv2d_into() puts what: the bytes of one group (the stride between groups), of
// all of them, and in total; false for an invalid filter or a size past size_t.
struct Conv2dPackLayout {
  std::size_t group_bytes = 0, groups_bytes = 0, total = 0;

  bool plan(const Conv2dFilter& f) noexcept {
    if (f.groups == 0 || f.in_c == 0 || f.out_c == 0 || f.kernel_h == 0 || f.kernel_w == 0 ||
        f.in_c % f.groups != 0 || f.out_c % f.groups != 0) {
      return false;
    }
    std::size_t depth = 0, count = 0;
    if (!checked_mul(f.kernel_h * f.in_c_per_group(), f.kernel_w, depth) ||
        !checked_mul(depth, f.out_c, count)) {
      return false;
    }
    if (f.depthwise()) {
      total = packed_depthwise_size(f.in_c, f.kernel_h, f.kernel_w);
      return total != 0;
    }
    group_bytes = packed_weights_size(depth, f.out_c_per_group());
    if (group_bytes == 0 || !checked_mul(group_bytes, f.groups, groups_bytes)) return false;
    total = groups_bytes;
    windows_offset = total;
    if (packs_windows(f) && !add_windows(f, f.window_row())) return false;
    chunk_windows_offset = total;
    return !packs_chunk_windows(f) || add_windows(f, chunk_window_row);
  }

  std::size_t windows_offset = 0, chunk_windows_offset = 0;

 private:
  // One more packing of all filters with kernel rows of `row` taps.
  bool add_windows(const Conv2dFilter& f, std::size_t row) noexcept {
    std::size_t depth = 0;
    if (!checked_mul(f.kernel_h, row, depth)) return false;
    const std::size_t bytes = packed_weights_size(depth, f.out_c);
    return bytes != 0 && checked_add(total, bytes, total);
  }
};

}  // namespace detail

// Bytes of the buffer pack_conv2d_into() needs for `f` (an upper bound for depthwise filters,
// whose int8 layouts depend on the weights); 0 for an invalid filter or a size past size_t.
inline std::size_t packed_conv2d_size(const Conv2dFilter& f) noexcept {
  detail::Conv2dPackLayout layout;
  return layout.plan(f) ? layout.total : 0;
}

// Packs OHWI weights ([out_c, kernel_h, kernel_w, in_c / groups]) with zero points and bias of
// 0, 1 or out_c entries into `buffer`: packed_conv2d_size(f) bytes, 64-byte aligned. Allocates
// nothing; the result refers to the buffer. Scheme is the weights' quantizer scheme
// (quant/params.hpp).
template <class Scheme = Affine, class TW>
Result<PackedConv2d> pack_conv2d_into(Span<std::byte> buffer, const Conv2dFilter& f,
                                      Span<const TW> weights, Span<const int32_t> zero_points,
                                      Span<const int32_t> bias) {
  if (f.groups == 0 || f.in_c == 0 || f.out_c == 0 || f.kernel_h == 0 || f.kernel_w == 0 ||
      f.in_c % f.groups != 0 || f.out_c % f.groups != 0) {
    return fail<PackedConv2d>(Errc::invalid_argument,
                              "pack_conv2d: channels and kernel must be > 0, channels divisible "
                              "by groups");
  }
  std::size_t depth = 0, count = 0;
  if (!checked_mul(f.kernel_h * f.in_c_per_group(), f.kernel_w, depth) ||
      !checked_mul(depth, f.out_c, count)) {
    return fail<PackedConv2d>(Errc::size_overflow, "pack_conv2d: weights size overflows");
  }
  if (weights.size() != count) {
    return fail<PackedConv2d>(Errc::shape_mismatch,
                              "pack_conv2d: weights must be [out_c, kernel_h, kernel_w, "
                              "in_c / groups]");
  }
  if (auto s = reference::detail::check_offsets<uint8_t, TW>({0, zero_points, bias}, f.out_c); !s) {
    return fail<PackedConv2d>(s);
  }
  detail::Conv2dPackLayout layout;
  if (!layout.plan(f)) {
    return fail<PackedConv2d>(Errc::size_overflow, "pack_conv2d: packed size overflows");
  }
  if (!fits_carved(buffer, layout.total)) {
    return fail<PackedConv2d>(
        Errc::invalid_argument,
        "pack_conv2d_into: buffer not 64-byte aligned or smaller than packed_conv2d_size()");
  }
  PackedConv2d p;
  p.filter = f;
  if (f.depthwise()) {
    if (auto s = take(pack_depthwise_into<Scheme>(buffer, f.in_c, f.kernel_h, f.kernel_w, weights,
                                                  zero_points, bias),
                      p.depthwise);
        !s) {
      return fail<PackedConv2d>(s);
    }
    return p;
  }
  const std::size_t opg = f.out_c_per_group();
  const auto slice = [&](Span<const int32_t> values, std::size_t g) {
    return values.size() <= 1 ? values : Span<const int32_t>(values.data() + g * opg, opg);
  };
  if (auto s = detail::check_packing<Scheme, TW>(f.out_c, zero_points, bias); !s) {
    return fail<PackedConv2d>(s);
  }
  PackedWeights first;
  for (std::size_t g = 0; g < f.groups; ++g) {
    // B[k][n] = w[g opg + n][k]: the group's filters, one per column.
    const TW* group = weights.data() + g * opg * depth;
    const auto code = [&](std::size_t k, std::size_t n) -> int32_t { return group[n * depth + k]; };
    PackedWeights w;
    const Span<std::byte> part(buffer.data() + g * layout.group_bytes, layout.group_bytes);
    if (auto s = detail::fill_packed_weights<Scheme, TW>(part, depth, opg, code,
                                                         slice(zero_points, g), slice(bias, g), w);
        !s) {
      return fail<PackedConv2d>(s);
    }
    if (g == 0) first = w;
  }
  p.groups = PackedGroups(first, f.groups, layout.group_bytes);
  // Each kernel row padded to `row` taps that weigh the column's zero point, at `offset`.
  const auto pack_windows = [&](std::size_t row, std::size_t offset,
                                std::optional<PackedWeights>& into) -> Status {
    const std::size_t run = f.kernel_w * f.in_c;
    const auto code = [&](std::size_t k, std::size_t n) -> int32_t {
      const std::size_t kh = k / row, at = k % row;
      return at < run ? int32_t{weights[n * depth + kh * run + at]} : broadcast_at(zero_points, n);
    };
    PackedWeights w;
    const Span<std::byte> part(buffer.data() + offset, layout.total - offset);
    if (auto s = detail::fill_packed_weights<Scheme, TW>(part, f.kernel_h * row, f.out_c, code,
                                                         zero_points, bias, w);
        !s) {
      return s;
    }
    into = w;
    return Status{};
  };
  if (detail::packs_windows(f)) {
    if (auto s = pack_windows(f.window_row(), layout.windows_offset, p.windows); !s) {
      return fail<PackedConv2d>(s);
    }
  }
  if (detail::packs_chunk_windows(f)) {
    if (auto s =
            pack_windows(detail::chunk_window_row, layout.chunk_windows_offset, p.chunk_windows);
        !s) {
      return fail<PackedConv2d>(s);
    }
  }
  return p;
}

// The same into a buffer of its own, which copies of the result share.
template <class Scheme = Affine, class TW>
Result<PackedConv2d> pack_conv2d(const Conv2dFilter& f, Span<const TW> weights,
                                 Span<const int32_t> zero_points, Span<const int32_t> bias) {
  auto storage = std::make_shared<AlignedVector<std::byte>>(packed_conv2d_size(f));
  PackedConv2d p;
  if (auto s = take(
          pack_conv2d_into<Scheme>(Span<std::byte>(*storage), f, weights, zero_points, bias), p);
      !s) {
    return fail<PackedConv2d>(s);
  }
  p.storage = std::move(storage);
  return p;
}

// Output pixels per im2col chunk for windows of `depth` bytes: about 256 KiB of columns, at
// least 64 rows (one GEMM task) and at most 1024.
constexpr std::size_t conv2d_chunk_rows(std::size_t depth) noexcept {
  constexpr std::size_t budget = std::size_t{256} << 10, task = 64;
  const std::size_t rows = depth == 0 ? task : budget / depth / task * task;
  return std::min<std::size_t>(1024, std::max(task, rows));
}

// The padded image rows conv2d() reads windows from in place, per band of output rows: about
// 256 KiB, as the im2col chunks; a layer whose single output row needs more runs im2col.
inline constexpr std::size_t conv2d_band_budget = std::size_t{256} << 10;
inline constexpr std::size_t conv2d_band_limit = std::size_t{4} << 20;
// Windows are read in place when their kernel rows are shorter or the output wider than these.
inline constexpr std::size_t conv2d_window_row_limit = 64;
inline constexpr std::size_t conv2d_window_min_width = 24;

// On a parallel executor, chunks of at least this many output pixels are cut into
// gemm_parallel_tasks pieces (of at least 32 rows); smaller ones (a 14x14 or 7x7 layer) run one
// GEMM that the executor splits by columns as well.
inline constexpr std::size_t conv2d_split_rows = 256;

namespace detail {

// The convolution takes no workspace: a 1x1 filter of stride 1 without padding.
inline bool conv2d_is_direct(const reference::Conv2dShape& s) noexcept {
  const auto unit = [](const reference::Window1d& w) {
    return w.kernel == 1 && w.stride == 1 && w.pad_begin == 0 && w.pad_end == 0;
  };
  return unit(s.h) && unit(s.w);
}

// How conv2d() reads windows in place: from bands of image rows copied with their padding, so
// that every window lies inside the copy, or from the image itself when there is no padding to
// add and no padded kernel row reads past a window.
struct WindowBand {
  std::size_t width = 0;  // pixels per row of the copy (the image's, with left and right padding)
  std::size_t rows = 0;   // output rows per band
  std::size_t size = 0;   // elements of the copy: its rows and gemm_kr more for the last window
  bool in_place = false;

  // Image rows a band of `out_rows` output rows reads.
  static std::size_t input_rows(const reference::Conv2dShape& s, std::size_t out_rows) noexcept {
    return (out_rows - 1) * s.h.stride + (s.h.kernel - 1) * s.h.dilation + 1;
  }
};

// Sets band's width, rows and copy size for `s`'s windows: image rows of about
// conv2d_band_budget bytes with their padding. False when one output row's image rows pass
// conv2d_band_limit.
inline bool fit_band(const reference::Conv2dShape& s, WindowBand& band) noexcept {
  band.width = s.w.input + s.w.pad_begin + s.w.pad_end;
  std::size_t row = 0;
  if (!checked_mul(band.width, s.in_c, row)) return false;
  const std::size_t window = WindowBand::input_rows(s, 1);
  if (row > conv2d_band_limit / window) return false;
  const std::size_t fit = conv2d_band_budget / row;
  band.rows = std::min(s.h.output(), fit > window ? (fit - window) / s.h.stride + 1 : 1);
  band.size = WindowBand::input_rows(s, band.rows) * row + gemm_kr;
  return true;
}

// Whether conv2d() reads `s`'s windows in place, and how. It needs one group (a window row is
// then a run of whole pixels) without dilation along the width and a shape that im2col would
// otherwise copy. Each output row is one GEMM, so a panel's weights serve only that row's
// pixels: narrow outputs of deep windows run faster through im2col, whose GEMMs take 64 rows.
// On Zen 5, GOPS in place against im2col: 3 and 7 channels (K = 27, 147; 112 wide): 316-325
// against 185-190 and 805-818 against 566-585; ResNet-50's 3x3 layers 56 and 28 wide: 1021-1047
// against 916-1004; 14 and 7 wide: 828-996 against 1016-1034.
inline bool conv2d_window_band(const reference::Conv2dShape& s, WindowBand& band) noexcept {
  if (s.groups != 1 || s.w.dilation != 1 || conv2d_is_direct(s)) return false;
  const Conv2dFilter f{s.out_c, s.in_c, 1, s.h.kernel, s.w.kernel};
  if (f.window_row() >= conv2d_window_row_limit && s.w.output() < conv2d_window_min_width) {
    return false;
  }
  if (!fit_band(s, band)) return false;
  band.in_place = s.h.pad_begin == 0 && s.h.pad_end == 0 && s.w.pad_begin == 0 &&
                  s.w.pad_end == 0 && f.window_row() == s.w.kernel * s.in_c;
  if (band.in_place) band.size = 0;
  return true;
}

#if QINFER_X86
// How far a padded kernel row read as one chunk reads past its run (0 for whole chunks).
inline std::size_t amx_window_overread(const reference::Conv2dShape& s) noexcept {
  const std::size_t run = s.w.kernel * s.in_c;
  return reads_run_as_chunk(run) ? chunk_window_row - run : 0;
}

// Whether conv2d() reads `s`'s windows in place on AMX (conv2d_amx_windows() below), and how:
// always from a band copy, whose tiles of 16 or 32 windows read past an output row's last window
// into the next row's windows or the copy's slack. A window row must be a whole number of
// 64-byte chunks, so that each chunk is one strided tile load, or shorter than one chunk, read
// as one with the packing whose padding taps weigh the zero point (packs_chunk_windows); and
// an output row at most gemm_task_max_rows wide, a task's row sums.
inline bool amx_window_band(const reference::Conv2dShape& s, WindowBand& band) noexcept {
  if (s.groups != 1 || s.w.dilation != 1 || conv2d_is_direct(s)) return false;
  const std::size_t run = s.w.kernel * s.in_c;
  if ((run % kernels::amx::chunk != 0 && !reads_run_as_chunk(run)) ||
      s.w.output() > gemm_task_max_rows) {
    return false;
  }
  std::size_t window_step = 0, slack = 0;
  if (!fit_band(s, band) || !checked_mul(s.w.stride, s.in_c, window_step) ||
      !checked_mul(window_step, kernels::amx::mr, slack)) {
    return false;
  }
  band.in_place = false;
  return checked_add(slack, amx_window_overread(s), slack) &&
         checked_add(band.size, slack, band.size);
}
#endif

}  // namespace detail

// The workspace of conv2d() for `shape`, in int32 values (0 for the direct 1x1 case); SIZE_MAX
// for a shape that does not validate.
inline std::size_t conv2d_workspace_size(const reference::Conv2dShape& shape) noexcept {
  reference::Conv2dSizes sizes;
  if (!reference::conv2d_sizes(shape, sizes)) return static_cast<std::size_t>(-1);
  if (shape.groups == shape.in_c && shape.out_c == shape.in_c) {
    return depthwise_workspace_size(shape);
  }
  if (detail::conv2d_is_direct(shape)) return 0;
  const std::size_t depth = shape.h.kernel * shape.w.kernel * shape.in_c_per_group();
  const std::size_t pixels = sizes.output / shape.out_c;
  std::size_t bytes = std::min(pixels, conv2d_chunk_rows(depth)) * depth;
#if QINFER_X86
  if (detail::WindowBand band; detail::conv2d_window_band(shape, band)) {
    bytes = std::max(bytes, band.size);
  }
  if (detail::WindowBand band; detail::amx_window_band(shape, band)) {
    bytes = std::max(bytes, band.size);
  }
#endif
  return (bytes + sizeof(int32_t) - 1) / sizeof(int32_t);
}

// Checks conv2d()'s arguments without running it.
template <class TA, class Stage>
Status validate_conv2d(const reference::Conv2dShape& shape, Span<const TA> input,
                       int32_t input_zero_point, const PackedConv2d& w, const Stage& stage,
                       Span<typename Stage::Output> output, std::size_t workspace_size) {
  static_assert(reference::is_quantized_8bit<TA>, "conv2d: input must be int8_t or uint8_t");
  reference::Conv2dSizes sizes;
  if (auto s = reference::conv2d_sizes(shape, sizes); !s) return s;
  const Conv2dFilter& f = w.filter;
  if (f.out_c != shape.out_c || f.in_c != shape.in_c || f.groups != shape.groups ||
      f.kernel_h != shape.h.kernel || f.kernel_w != shape.w.kernel) {
    return {Errc::shape_mismatch, "conv2d: packed weights do not match the shape"};
  }
  if (input.size() != sizes.input || output.size() != sizes.output) {
    return {Errc::shape_mismatch, "conv2d: a buffer's size does not match the shape"};
  }
  if (auto s = check_data(input.data(), input.size(), "conv2d: null input"); !s) return s;
  if (auto s = check_data(output.data(), output.size(), "conv2d: null output"); !s) return s;
  if (workspace_size < conv2d_workspace_size(shape)) {
    return {Errc::invalid_argument, "conv2d: workspace smaller than conv2d_workspace_size()"};
  }
  if (auto s = check_zero_point(input_zero_point, StorageTraits<TA>::min, StorageTraits<TA>::max,
                                "conv2d: input zero point outside the input's type");
      !s) {
    return s;
  }
  return stage.check(shape.out_c);
}

namespace detail {

// Image rows [first, first + count) of `image` (first may lie in the top padding, the last rows
// in the bottom one) with their padding, `band.width` pixels each, then gemm_kr more values.
template <class TA>
void copy_band(const reference::Conv2dShape& s, const WindowBand& band, const TA* image, TA pad,
               std::ptrdiff_t first, std::size_t count, TA* out) noexcept {
  const std::size_t c = s.in_c, left = s.w.pad_begin * c, inside = s.w.input * c;
  const std::size_t row = band.width * c;
  for (std::size_t r = 0; r < count; ++r, out += row) {
    const std::ptrdiff_t y = first + static_cast<std::ptrdiff_t>(r);
    if (y < 0 || static_cast<std::size_t>(y) >= s.h.input) {
      std::fill_n(out, row, pad);
      continue;
    }
    std::fill_n(out, left, pad);
    std::copy_n(image + static_cast<std::size_t>(y) * inside, inside, out + left);
    std::fill(out + left + inside, out + row, pad);
  }
  std::fill_n(out, gemm_kr, pad);
}

#if QINFER_X86
// Calls body(n, oy0, rows, base) for each band of `rows` output rows from oy0 of each image n:
// base holds the band's image rows, copied with their padding and then `slack` elements of the
// zero point unless the band is read from the image itself.
template <class TA, class Body>
void for_each_band(const reference::Conv2dShape& s, const WindowBand& band, const TA* input,
                   int32_t input_zero_point, std::size_t slack, TA* workspace, Body&& body) {
  const std::size_t row = band.width * s.in_c, oh = s.h.output();
  const auto pad = static_cast<TA>(input_zero_point);
  for (std::size_t n = 0; n < s.batch; ++n) {
    const TA* image = input + n * s.h.input * s.w.input * s.in_c;
    for (std::size_t oy0 = 0; oy0 < oh; oy0 += band.rows) {
      const std::size_t rows = std::min(band.rows, oh - oy0);
      const TA* base = image + oy0 * s.h.stride * row;
      if (!band.in_place) {
        const std::size_t copied = WindowBand::input_rows(s, rows);
        copy_band(s, band, image, pad,
                  static_cast<std::ptrdiff_t>(oy0 * s.h.stride) -
                      static_cast<std::ptrdiff_t>(s.h.pad_begin),
                  copied, workspace);
        std::fill_n(workspace + copied * row, slack, pad);
        base = workspace;
      }
      body(n, oy0, rows, base);
    }
  }
}

// conv2d() on windows read in place: each output row is a GEMM whose A rows are its windows,
// stride x channels apart, each in kernel_h runs (RowRuns) one image row apart, against weights
// packed with kernel rows of whole groups (Conv2dFilter::window_row). Only the tiles with the
// stage fused (AVX-512 VNNI, AVX-VNNI, AVX2) take runs: `call` has the lanes of one of them,
// its runs and its kernel. For MobileNetV2's first layer (3 channels, K = 27) im2col took as long
// as the GEMM and the padded rows' 36 bytes per window cost less than the copy; see
// benchmarks/README.md for the layers it serves.
template <class TA, class Stage, class Executor>
void conv2d_windows(const reference::Conv2dShape& s, const WindowBand& band, const TA* input,
                    int32_t input_zero_point, const GemmCall<TA, Stage>& call,
                    typename Stage::Output* output, TA* workspace, Executor& executor) {
  using Out = typename Stage::Output;
  const PackedWeights& w = call.w;
  const std::size_t c = s.in_c, oh = s.h.output(), ow = s.w.output();
  const std::size_t row = band.width * c;
  const std::size_t task_rows = gemm_task_rows_for(call.kernel.mr, w.panels);
  const std::size_t row_blocks = (ow + task_rows - 1) / task_rows;
  const std::size_t panel_blocks = (w.panels + gemm_task_panels - 1) / gemm_task_panels;
  for_each_band(s, band, input, input_zero_point, 0, workspace,
                [&](std::size_t n, std::size_t oy0, std::size_t rows, const TA* base) {
                  executor(rows * row_blocks * panel_blocks, [&](std::size_t task) {
                    const std::size_t oy = task / (row_blocks * panel_blocks);
                    const std::size_t block = task % (row_blocks * panel_blocks);
                    const std::size_t first = block / panel_blocks * task_rows;
                    const std::size_t panel = block % panel_blocks * gemm_task_panels;
                    GemmCall<TA, Stage> own = call;
                    own.a = {base + oy * s.h.stride * row, ow, w.k, s.w.stride * c, 1};
                    own.c = MatrixView<Out>{output + ((n * oh + oy0 + oy) * ow) * s.out_c, ow,
                                            s.out_c, s.out_c, 1};
                    gemm_block(own, first, std::min(ow, first + task_rows), panel,
                               std::min(w.panels, panel + gemm_task_panels));
                  });
                });
}

// conv2d() on AMX with windows read in place (amx_window_band()): band by band, the band's image
// rows copied with their padding, then tasks of output rows x panels. A task runs panel by panel
// over its output rows, so that a panel's weights stay in L1, each output row in slots of 16
// windows stride x channels apart, two slots a tile, one strided tile load per chunk of 64 k. A
// slot's windows past the row's last are computed and dropped (the copy's slack holds what they
// read): 56 and 28 wide rows waste an eighth, 7 wide ones more than half. im2col instead copied
// each window, kernel_h x kernel_w pixels, a third of the time of ResNet-50's 56x56 3x3 layer
// (benchmarks/README.md).
template <class TA, class Stage, class Executor>
void conv2d_amx_windows(const reference::Conv2dShape& s, const WindowBand& band, const TA* input,
                        int32_t input_zero_point, const GemmCall<TA, Stage>& call,
                        typename Stage::Output* output, TA* workspace, Executor& executor) {
  namespace amx = kernels::amx;
  using Out = typename Stage::Output;
  const PackedWeights& w = call.w;
  const std::size_t c = s.in_c, oh = s.h.output(), ow = s.w.output();
  const std::size_t row = band.width * c, lda = s.w.stride * c, run_k = w.k / call.runs.count;
  const std::size_t slack = amx::mr * lda + gemm_kr + amx_window_overread(s);
  const auto blocks = [](std::size_t total, std::size_t per_task) {
    return (total + per_task - 1) / per_task;
  };
  // A task's output rows hold at most gemm_task_max_rows windows, its row sums.
  std::size_t task_rows = std::max<std::size_t>(1, gemm_task_max_rows / ow);
  std::size_t task_panels = gemm_amx_task_panels;
  if (!runs_serially(executor)) {
    const auto tasks = [&] { return blocks(band.rows, task_rows) * blocks(w.panels, task_panels); };
    while (tasks() < gemm_parallel_tasks && task_panels > 2) task_panels /= 2;
    while (tasks() < gemm_parallel_tasks && task_rows > 1) task_rows = blocks(task_rows, 2);
  }
  const std::size_t panel_blocks = blocks(w.panels, task_panels);
  const auto band_tasks = [&](std::size_t n, std::size_t oy0, std::size_t rows, const TA* base) {
    executor(blocks(rows, task_rows) * panel_blocks, [&](std::size_t task) {
      const std::size_t r0 = task / panel_blocks * task_rows, r1 = std::min(rows, r0 + task_rows);
      const std::size_t p0 = task % panel_blocks * task_panels;
      const std::size_t p1 = std::min(w.panels, p0 + task_panels);
      const auto windows = [&](std::size_t r) { return base + r * s.h.stride * row; };
      const auto row_call = [&](std::size_t r) {
        GemmCall<TA, Stage> own = call;
        own.a = {windows(r), ow, w.k, lda, 1};
        own.c =
            MatrixView<Out>{output + (n * oh + oy0 + r) * ow * s.out_c, ow, s.out_c, s.out_c, 1};
        return own;
      };
      alignas(64) int32_t init[gemm_max_task_panels][gemm_nr];
      panel_init(call, p0, p1, init);
      uint32_t row_sums[gemm_task_max_rows];
      for (std::size_t r = r0; r < r1; ++r) {
        row_code_sums(row_call(r), 0, ow, row_sums + (r - r0) * ow);
      }
      // The task's windows in slots of 16, row by row, two slots a tile.
      const std::size_t slots_per_row = blocks(ow, amx::tile_rows);
      const std::size_t slots = (r1 - r0) * slots_per_row;
      struct Slot {
        std::size_t r, x;
      };
      const auto slot = [&](std::size_t i) {
        return Slot{r0 + i / slots_per_row, i % slots_per_row * amx::tile_rows};
      };
      alignas(64) int32_t tile[amx::mr * gemm_nr];
      amx::begin();
      for (std::size_t panel = p0; panel < p1; ++panel) {
        const auto finish = [&](Slot at, int32_t* sums) {
          finish_tile(row_call(at.r), sums, row_sums + (at.r - r0) * ow + at.x, at.x,
                      std::min(amx::tile_rows, ow - at.x), panel * gemm_nr);
        };
        for (std::size_t t = 0; t < slots; t += 2) {
          const bool pair = t + 1 < slots;
          const Slot low = slot(t), high = pair ? slot(t + 1) : low;
          const auto dots = pair ? &amx::gemm_windows<2, TA> : &amx::gemm_windows<1, TA>;
          dots(windows(low.r) + low.x * lda, windows(high.r) + high.x * lda, lda, call.runs, run_k,
               w.panel(panel), init[panel - p0], tile);
          finish(low, tile);
          if (pair) finish(high, tile + amx::tile_rows * gemm_nr);
        }
      }
      amx::end();
    });
  };
  for_each_band(s, band, input, input_zero_point, slack, workspace, band_tasks);
}
#endif

}  // namespace detail

// The convolution with a caller-provided workspace of conv2d_workspace_size(shape) int32
// values: allocates nothing.
template <class TA, class Stage, class Executor = SerialExecutor>
Result<void> conv2d(const reference::Conv2dShape& shape, Span<const TA> input,
                    int32_t input_zero_point, const PackedConv2d& w, const Stage& stage,
                    Span<typename Stage::Output> output, Span<int32_t> workspace,
                    Executor&& executor = Executor{}) {
  if (auto s = validate_conv2d(shape, input, input_zero_point, w, stage, output, workspace.size());
      !s) {
    return fail(s);
  }
  if (w.filter.depthwise()) {
    return depthwise_conv2d(shape, input, input_zero_point, w.depthwise, stage, output, workspace,
                            std::forward<Executor>(executor));
  }
  using Out = typename Stage::Output;
  const std::size_t pixels = output.size() / shape.out_c;
  const std::size_t cpg = shape.in_c_per_group(), opg = shape.out_c_per_group();
  const auto run_gemm = [&](MatrixView<const TA> a, std::size_t first_pixel, std::size_t g) {
    const MatrixView<Out> c{output.data() + first_pixel * shape.out_c + g * opg, a.rows, opg,
                            shape.out_c, 1};
    // Every argument has been checked above.
    static_cast<void>(
        gemm(a, input_zero_point, w.groups[g], slice_channels(stage, g * opg, opg), c, executor));
  };
  if (detail::conv2d_is_direct(shape)) {
    for (std::size_t g = 0; g < shape.groups; ++g) {
      run_gemm({input.data() + g * cpg, pixels, cpg, shape.in_c, 1}, 0, g);
    }
    return ok();
  }
  // The workspace's storage now holds activations: objects of TA begin their lifetime there.
  TA* columns = reinterpret_cast<TA*>(workspace.data());
  const TA pad = static_cast<TA>(input_zero_point);
#if QINFER_X86
  if (detail::WindowBand band; detail::amx_window_band(shape, band)) {
    // A kernel row of whole chunks needs no padding: the plain packing serves (packs_windows);
    // a shorter one is read as a chunk (packs_chunk_windows).
    // From amx_pack_min_panels panels on, im2col's copy serves enough panels for the GEMM to
    // pack it (amx_block), whose contiguous tiles load faster than windows in place: ResNet-50's
    // 56x56 256-to-512 1x1 layer of stride 2 ran 1241 GOPS in place against 1903.
    const PackedWeights& packed = w.chunk_windows ? *w.chunk_windows : w.groups[0];
    const GemmMicrokernel<TA> kernel = gemm_microkernel_for<TA>(active_isa(), packed, pixels);
    if (kernel.isa == Isa::amx && packed.panels < detail::amx_pack_min_panels) {
      detail::GemmCall<TA, Stage> call{
          {},
          packed,
          stage,
          {},
          kernel,
          best_convert_path(),
          detail::kernel_zero_point(input_zero_point, kernel),
          {shape.h.kernel, shape.h.dilation * band.width * shape.in_c}};
      const auto windows = [&] {
        std::uninitialized_default_construct_n(columns, band.size);
        detail::conv2d_amx_windows(shape, band, input.data(), input_zero_point, call, output.data(),
                                   columns, executor);
      };
      if constexpr (HasX86Requantize<Stage>::value) {
        if (call.epilogue_path == ConvertPath::avx512) {
          const convert::avx512::StageLanes<fused_stage_t<Stage>> lanes(stage);
          call.fused = &lanes;
          windows();
          return ok();
        }
      }
      windows();
      return ok();
    }
  }
  if constexpr (HasX86Requantize<Stage>::value) {
    detail::WindowBand band;
    if (detail::conv2d_window_band(shape, band)) {
      const PackedWeights& packed = w.windows ? *w.windows : w.groups[0];
      const GemmMicrokernel<TA> kernel = gemm_microkernel_for<TA>(active_isa(), packed, pixels);
      const ConvertPath path = best_convert_path();
      detail::GemmCall<TA, Stage> call{
          {},
          packed,
          stage,
          {},
          kernel,
          path,
          detail::kernel_zero_point(input_zero_point, kernel),
          {shape.h.kernel, shape.h.dilation * band.width * shape.in_c}};
      const auto windows = [&] {
        std::uninitialized_default_construct_n(columns, band.size);
        detail::conv2d_windows(shape, band, input.data(), input_zero_point, call, output.data(),
                               columns, executor);
      };
      if (kernel.isa == Isa::avx512vnni && path == ConvertPath::avx512) {
        const convert::avx512::StageLanes<fused_stage_t<Stage>> lanes(stage);
        call.fused = &lanes;
        windows();
        return ok();
      }
      if ((kernel.isa == Isa::avxvnni || kernel.isa == Isa::avx2) && path == ConvertPath::avx2) {
        const convert::avx2::StageLanes<fused_stage_t<Stage>> lanes(stage);
        call.fused_ymm = &lanes;
        windows();
        return ok();
      }
    }
  }
#endif
  const std::size_t depth = w.filter.depth();
  const std::size_t chunk = std::min(pixels, conv2d_chunk_rows(depth));
  std::uninitialized_default_construct_n(columns, chunk * depth);
  const ImageWindows windows{shape.batch, cpg, shape.h, shape.w};
  for (std::size_t first = 0; first < pixels; first += chunk) {
    const std::size_t rows = std::min(chunk, pixels - first);
    for (std::size_t g = 0; g < shape.groups; ++g) {
      if (runs_serially(executor) || rows < conv2d_split_rows) {
        im2col_rows(windows, shape.in_c, g * cpg, input.data(), pad, first, rows, columns);
        run_gemm(row_major<const TA>(columns, rows, depth), first, g);
        continue;
      }
      // Pieces that each task copies and multiplies itself, so that each core reads the columns
      // it wrote and the copy runs in parallel. With the copy shared out first and one GEMM
      // after it, two threads ran the 3-channel first layer at 1.03-1.05x one thread, the 7x7
      // stem at 1.3x and 56x56x64 3x3 at 1.2-1.25x; this way 1.4x, 1.6-1.7x and 1.4-1.6x.
      const std::size_t piece = (rows + gemm_parallel_tasks - 1) / gemm_parallel_tasks;
      executor(gemm_parallel_tasks, [&](std::size_t task) {
        const std::size_t begin = task * piece;
        if (begin >= rows) return;
        const std::size_t count = std::min(piece, rows - begin);
        TA* own = columns + begin * depth;
        im2col_rows(windows, shape.in_c, g * cpg, input.data(), pad, first + begin, count, own);
        const MatrixView<Out> c{output.data() + (first + begin) * shape.out_c + g * opg, count, opg,
                                shape.out_c, 1};
        static_cast<void>(gemm(row_major<const TA>(own, count, depth), input_zero_point,
                               w.groups[g], slice_channels(stage, g * opg, opg), c));
      });
    }
  }
  return ok();
}

// The same, allocating its workspace.
template <class TA, class Stage, class Executor = SerialExecutor,
          class = std::enable_if_t<!std::is_convertible_v<Executor, Span<int32_t>>>>
Result<void> conv2d(const reference::Conv2dShape& shape, Span<const TA> input,
                    int32_t input_zero_point, const PackedConv2d& w, const Stage& stage,
                    Span<typename Stage::Output> output, Executor&& executor = Executor{}) {
  reference::Conv2dSizes sizes;
  if (auto s = reference::conv2d_sizes(shape, sizes); !s) return fail(s);
  std::vector<int32_t> workspace(conv2d_workspace_size(shape));
  return conv2d(shape, input, input_zero_point, w, stage, output, Span<int32_t>(workspace),
                std::forward<Executor>(executor));
}

}  // namespace qinfer
