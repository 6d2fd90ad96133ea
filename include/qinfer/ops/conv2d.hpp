// SPDX-License-Identifier: Apache-2.0
//
// 2-D convolution, NHWC activations, OHWI weights, on the dispatched kernels:
//
//   y[n][oy][ox][oc] = stage(bias[oc] + sum_{ky,kx,ic} (x[..][g cpg + ic] - zx)
//                                                     * (w[oc][ky][kx][ic] - zw[oc]))
//
// with every geometry of reference::conv2d (stride, dilation, padding on each side, groups),
// bit-exact with it on every path (tests/ops/conv2d_test.cpp). Weights are packed once by
// pack_conv2d(). Three ways through, chosen per call from the shape:
//
// - depthwise (groups == channels, one filter each): the depthwise kernels (ops/depthwise.hpp);
// - 1x1, stride 1, no padding: the image already is the GEMM's A operand ([N H W, C], each
//   group a column slice), so the GEMM runs on it directly, with no copy and no workspace;
// - anything else: im2col into a bounded workspace, conv2d_chunk_rows() output pixels at a time,
//   each chunk one GEMM per group. A full im2col of a 56x56x64 3x3 layer takes 1.8 MB; the
//   chunks keep it near 256 KiB, inside L2 (2 MiB here), while each GEMM still has at least 64
//   rows, one task of the GEMM driver. An indirect GEMM (XNNPACK's indirection buffer) would
//   save the copy but needs a micro-kernel per path that reads rows through pointers; im2col
//   reuses the packed GEMM of every path unchanged.
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
  bool depthwise() const noexcept { return groups == in_c && out_c == in_c; }
};

struct PackedConv2d {
  Conv2dFilter filter;
  std::vector<PackedWeights> groups;  // per group: K = depth() x N = out_c_per_group()
  PackedDepthwise depthwise;          // instead, for depthwise filters
};

// Packs OHWI weights ([out_c, kernel_h, kernel_w, in_c / groups]) with zero points and bias of
// 0, 1 or out_c entries. Scheme is the weights' quantizer scheme (quant/params.hpp).
template <class Scheme = Affine, class TW>
Result<PackedConv2d> pack_conv2d(const Conv2dFilter& f, Span<const TW> weights,
                                 Span<const int32_t> zero_points, Span<const int32_t> bias) {
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
  PackedConv2d p;
  p.filter = f;
  if (f.depthwise()) {
    if (auto s =
            take(pack_depthwise<Scheme>(f.in_c, f.kernel_h, f.kernel_w, weights, zero_points, bias),
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
  for (std::size_t g = 0; g < f.groups; ++g) {
    // B[k][n] = w[g opg + n][k]: the group's filters, one per column.
    const MatrixView<const TW> b{weights.data() + g * opg * depth, depth, opg, 1, depth};
    p.groups.emplace_back();
    if (auto s =
            take(pack_weights<Scheme>(b, slice(zero_points, g), slice(bias, g)), p.groups.back());
        !s) {
      return fail<PackedConv2d>(s);
    }
  }
  return p;
}

// Output pixels per im2col chunk for windows of `depth` bytes: about 256 KiB of columns, at
// least 64 rows (one GEMM task) and at most 1024.
constexpr std::size_t conv2d_chunk_rows(std::size_t depth) noexcept {
  constexpr std::size_t budget = std::size_t{256} << 10, task = 64;
  const std::size_t rows = depth == 0 ? task : budget / depth / task * task;
  return std::min<std::size_t>(1024, std::max(task, rows));
}

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
  const std::size_t bytes = std::min(pixels, conv2d_chunk_rows(depth)) * depth;
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
  const std::size_t depth = w.filter.depth();
  const std::size_t chunk = std::min(pixels, conv2d_chunk_rows(depth));
  // The workspace's storage now holds activations: objects of TA begin their lifetime there.
  TA* columns = reinterpret_cast<TA*>(workspace.data());
  std::uninitialized_default_construct_n(columns, chunk * depth);
  const ImageWindows windows{shape.batch, cpg, shape.h, shape.w};
  const TA pad = static_cast<TA>(input_zero_point);
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
