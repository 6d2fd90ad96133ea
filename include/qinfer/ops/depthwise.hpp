// SPDX-License-Identifier: Apache-2.0
//
// Depthwise 2-D convolution, NHWC, on the depthwise kernel of the active ISA level:
//
//   y[n][oy][ox][c] = stage(bias[c] + sum_{ky,kx} (x[n][iy][ix][c] - zx) * (w[c][ky][kx] - zw[c]))
//
// with weights packed once by pack_depthwise() (kernels/depthwise/packing.hpp). It gives exactly
// reference::conv2d's result with groups == channels, on every path; tests/ops/depthwise_test.cpp
// checks that on each path the CPU has. Any kernel size, stride, dilation and padding on each
// side separately; a channel multiplier above 1 is a grouped convolution, not this operator.
//
// Memory: the caller may pass a workspace of depthwise_workspace_size() int32 values, and then
// nothing is allocated (firmware builds); the overload without one allocates it. Output rows
// are split among the executor's workers (runtime/parallel.hpp); results do not depend on it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/kernels/depthwise/dispatch.hpp"
#include "qinfer/kernels/depthwise/packing.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

// The workspace of a depthwise convolution of `shape`, in int32 values: each channel's starting
// sum; the starting sums and float multipliers again in the AVX-512 bytes kernel's channel order
// (channels rounded up to 64); then a row of zero-point bytes that stands for the padding, long
// enough for a run of a whole output row to step through it. A shape that does not validate,
// or whose workspace would not fit size_t, gives SIZE_MAX.
inline std::size_t depthwise_workspace_size(const reference::Conv2dShape& shape) noexcept {
  constexpr std::size_t invalid = static_cast<std::size_t>(-1);
  if (!shape.w.check("") || shape.in_c == 0 || shape.in_c > invalid / 8) return invalid;
  std::size_t padding_bytes = 0;
  const std::size_t values = shape.in_c + 2 * ((shape.in_c + depthwise_quad_block - 1) /
                                               depthwise_quad_block * depthwise_quad_block);
  if (!checked_mul(shape.w.output() - 1, shape.w.stride, padding_bytes) ||
      !checked_add(padding_bytes, std::size_t{1}, padding_bytes) ||
      !checked_mul(padding_bytes, shape.in_c, padding_bytes) ||
      padding_bytes > invalid - sizeof(int32_t) - values * sizeof(int32_t)) {
    return invalid;
  }
  return values + (padding_bytes + sizeof(int32_t) - 1) / sizeof(int32_t);
}

namespace detail {

// Sums buffered per task before the stage runs over them: 8 KiB, on the stack.
inline constexpr std::size_t depthwise_buffer = 2048;

template <class TA, class Stage>
struct DepthwiseCall {
  const reference::Conv2dShape& shape;
  const uint8_t* input;  // the activations' bytes
  const PackedDepthwise& w;
  const Stage& stage;
  typename Stage::Output* output;
  const int32_t* init;
  const uint8_t* padding;  // zero-point bytes, depthwise_workspace_size() long
  DepthwiseKernel<TA> kernel;
  ConvertPath epilogue_path;
  // Output columns [interior_begin, interior_end) have every tap inside the image's width:
  // they run as one run per row, their taps stepping stride * channels bytes per pixel.
  std::size_t interior_begin, interior_end;
};

// The first and past-the-last output columns whose windows lie inside the input's width.
inline void interior_columns(const reference::Window1d& w, std::size_t& begin,
                             std::size_t& end) noexcept {
  const std::size_t span = w.dilation * (w.kernel - 1);
  begin = (w.pad_begin + w.stride - 1) / w.stride;
  end = w.input - 1 + w.pad_begin >= span ? (w.input - 1 + w.pad_begin - span) / w.stride + 1 : 0;
  end = std::min(end, w.output());
  if (end < begin) end = begin;
}

// The run of taps [t0, t0 + count) of output pixel (n, oy, ox), channels from c0, for the
// call's kernel: pointers filled, weights, and the next output pixels up to run_end.
template <class TA, class Stage>
DepthwiseRun tap_run(const DepthwiseCall<TA, Stage>& call, std::size_t n, std::size_t oy,
                     std::size_t ox, std::size_t run_end, std::size_t t0, std::size_t count,
                     std::size_t c0, const uint8_t** pointers) noexcept {
  const reference::Conv2dShape& s = call.shape;
  const std::size_t channels = s.in_c;
  for (std::size_t t = 0; t < count; ++t) {
    const std::size_t ky = (t0 + t) / s.w.kernel, kx = (t0 + t) % s.w.kernel;
    const std::ptrdiff_t iy = s.h.coordinate(oy, ky), ix = s.w.coordinate(ox, kx);
    const bool inside = iy >= 0 && static_cast<std::size_t>(iy) < s.h.input && ix >= 0 &&
                        static_cast<std::size_t>(ix) < s.w.input;
    pointers[t] = inside ? call.input +
                               ((n * s.h.input + static_cast<std::size_t>(iy)) * s.w.input +
                                static_cast<std::size_t>(ix)) *
                                   channels +
                               c0
                         : call.padding + c0;
  }
  // A short last group has zero weights; any readable row serves as its taps.
  const std::size_t group = call.kernel.taps_per_group;
  const std::size_t groups = (count + group - 1) / group;
  for (std::size_t t = count; t < groups * group; ++t) pointers[t] = call.padding + c0;
  const std::size_t pair_stride = call.w.pair_stride(), quad_stride = call.w.quad_stride();
  return {pointers,
          groups,
          run_end - ox,
          s.w.stride * channels,
          call.w.data.data() + (t0 / 2) * pair_stride + 2 * c0,
          pair_stride,
          call.w.has_quads() ? call.w.quads.data() + (t0 / 4) * quad_stride + 4 * c0 : nullptr,
          quad_stride,
          call.init + c0,
          0,
          0,
          nullptr,
          0};
}

// The end of the run that starts at output column ox: the interior columns up to `end` run
// together, a border column alone.
template <class TA, class Stage>
std::size_t run_end(const DepthwiseCall<TA, Stage>& call, std::size_t ox,
                    std::size_t end) noexcept {
  const bool interior = ox >= call.interior_begin && ox < call.interior_end;
  return interior ? std::min(end, call.interior_end) : ox + 1;
}

// Output row `row` (image n = row / out_h) of the convolution, its sums buffered per task and
// the stage applied to the buffer.
template <class TA, class Stage>
void depthwise_row(const DepthwiseCall<TA, Stage>& call, std::size_t row) noexcept {
  const reference::Conv2dShape& s = call.shape;
  const std::size_t out_h = s.h.output(), out_w = s.w.output(), channels = s.in_c;
  const std::size_t n = row / out_h, oy = row % out_h, taps = call.w.taps();
  const std::size_t block = std::min(channels, depthwise_buffer);
  const std::size_t chunk = depthwise_buffer / block;
  alignas(64) int32_t sums[depthwise_buffer];
  const uint8_t* pointers[depthwise_run_taps];
  for (std::size_t c0 = 0; c0 < channels; c0 += block) {
    const std::size_t width = std::min(block, channels - c0);
    for (std::size_t ox0 = 0; ox0 < out_w; ox0 += chunk) {
      const std::size_t end = std::min(out_w, ox0 + chunk);
      for (std::size_t ox = ox0; ox < end;) {
        const std::size_t last = run_end(call, ox, end);
        int32_t* out = sums + (ox - ox0) * width;
        for (std::size_t t0 = 0; t0 < taps; t0 += depthwise_run_taps) {
          const std::size_t count = std::min(depthwise_run_taps, taps - t0);
          DepthwiseRun run = tap_run(call, n, oy, ox, last, t0, count, c0, pointers);
          if (t0 != 0) {
            run.init = out;
            run.init_stride = width;
          }
          run.channels = width;
          run.out = out;
          run.out_stride = width;
          call.kernel.run(run);
        }
        ox = last;
      }
      requantize_with(call.epilogue_path, sums, end - ox0, width,
                      slice_channels(call.stage, c0, width),
                      call.output + ((n * out_h + oy) * out_w + ox0) * channels + c0,
                      RowStrides{width, channels});
    }
  }
}

#if QINFER_X86
// The same with the stage fused into the AVX-512 quads kernel: no buffer, outputs written from
// registers by apply(run, output of the run's first pixel, first channel). Requires the whole
// window in one run of taps.
template <class TA, class Stage, class Apply>
void depthwise_row_fused(const DepthwiseCall<TA, Stage>& call, std::size_t row,
                         const Apply& apply) noexcept {
  const reference::Conv2dShape& s = call.shape;
  const std::size_t out_h = s.h.output(), out_w = s.w.output(), channels = s.in_c;
  const std::size_t n = row / out_h, oy = row % out_h;
  const std::size_t block = std::min(channels, depthwise_buffer);
  const uint8_t* pointers[depthwise_run_taps];
  for (std::size_t c0 = 0; c0 < channels; c0 += block) {
    for (std::size_t ox = 0; ox < out_w;) {
      const std::size_t last = run_end(call, ox, out_w);
      DepthwiseRun run = tap_run(call, n, oy, ox, last, 0, call.w.taps(), c0, pointers);
      run.channels = std::min(block, channels - c0);
      apply(run, call.output + ((n * out_h + oy) * out_w + ox) * channels + c0, c0);
      ox = last;
    }
  }
}

// Output rows per task of the rows kernel on a parallel executor, at most: each task
// interleaves the input rows above its first output row again (2 of 10 at stride 1). An
// executor that runs serially (runtime/parallel.hpp) gets one task per image.
inline constexpr std::size_t depthwise_rows_band = 8;
// Multiply-adds per task of the rows kernel, about (6 us on one core here). Finer tasks cost
// more than a second thread gives: 7x7x960 took 10.8 us on one thread, and 13.3 us on two in
// 30 tasks.
inline constexpr std::size_t depthwise_task_macs = std::size_t{1} << 18;

// The convolution on the rows kernel (3x3 windows, h.dilation 1, row quads, float stage). A
// task is a band of output rows of one image over every block of 64 channels, so tasks that run
// at once write different rows: two that wrote neighbouring blocks of the same pixels shared
// the cache lines where their channels meet, and 2 threads ran no faster than one (28x28x192:
// 34 us and 36 us). A last block of at most 32 channels runs two output columns per register.
template <class TA, class Stage, class Executor>
void depthwise_rows(const DepthwiseCall<TA, Stage>& call,
                    const kernels::avx512::QuadsFloatStage& stage, uint8_t zero_point,
                    Executor& executor) {
  const reference::Conv2dShape& s = call.shape;
  const std::size_t out_h = s.h.output(), out_w = s.w.output(), channels = s.in_c;
  const std::size_t image_macs = out_h * out_w * channels * 9;
  const std::size_t wanted = std::clamp<std::size_t>(image_macs / depthwise_task_macs, 1, out_h);
  const std::size_t band_rows = runs_serially(executor)
                                    ? out_h
                                    : std::min(depthwise_rows_band, (out_h + wanted - 1) / wanted);
  const std::size_t bands = (out_h + band_rows - 1) / band_rows;
  executor(s.batch * bands, [&](std::size_t task) {
    const std::size_t n = task / bands, band = task % bands;
    for (std::size_t c0 = 0; c0 < channels; c0 += depthwise_quad_block) {
      kernels::avx512::QuadsFloatStage block_stage = stage;
      block_stage.init += c0;
      block_stage.multipliers += c0;
      const kernels::avx512::DepthwiseRows rows{
          call.input + n * s.h.input * s.w.input * channels + c0,
          channels,
          s.h,
          s.w,
          band * band_rows,
          std::min(out_h, (band + 1) * band_rows),
          call.w.row_quads.data() + 4 * c0,
          call.w.quad_stride(),
          block_stage,
          std::min(depthwise_quad_block, channels - c0),
          zero_point,
          call.interior_begin,
          call.interior_end};
      typename Stage::Output* out = call.output + n * out_h * out_w * channels + c0;
      if (rows.channels <= depthwise_quad_block / 2) {
        kernels::avx512::depthwise_rows_float<TA, typename Stage::Output, true>(rows, out,
                                                                                channels);
      } else {
        kernels::avx512::depthwise_rows_float<TA, typename Stage::Output, false>(rows, out,
                                                                                 channels);
      }
    }
  });
}

template <class Stage>
inline constexpr bool is_float_requantize = false;
template <class Out>
inline constexpr bool is_float_requantize<RequantizeFloat<Out>> = has_x86_kernels<Out>;
#endif

}  // namespace detail

// Checks depthwise_conv2d()'s arguments without running it.
template <class TA, class Stage>
Status validate_depthwise_conv2d(const reference::Conv2dShape& shape, Span<const TA> input,
                                 int32_t input_zero_point, const PackedDepthwise& w,
                                 const Stage& stage, Span<typename Stage::Output> output,
                                 std::size_t workspace_size) {
  static_assert(reference::is_quantized_8bit<TA>, "depthwise_conv2d: input must be 8-bit");
  reference::Conv2dSizes sizes;
  if (auto s = reference::conv2d_sizes(shape, sizes); !s) return s;
  if (shape.groups != shape.in_c || shape.out_c != shape.in_c) {
    return {Errc::invalid_argument,
            "depthwise_conv2d: needs groups == in_c == out_c (a channel multiplier above 1 is a "
            "grouped convolution)"};
  }
  if (w.channels != shape.in_c || w.kernel_h != shape.h.kernel || w.kernel_w != shape.w.kernel) {
    return {Errc::shape_mismatch, "depthwise_conv2d: packed weights do not match the shape"};
  }
  if (input.size() != sizes.input || output.size() != sizes.output) {
    return {Errc::shape_mismatch, "depthwise_conv2d: a buffer's size does not match the shape"};
  }
  if (auto s = check_data(input.data(), input.size(), "depthwise_conv2d: null input"); !s) {
    return s;
  }
  if (auto s = check_data(output.data(), output.size(), "depthwise_conv2d: null output"); !s) {
    return s;
  }
  if (workspace_size < depthwise_workspace_size(shape)) {
    return {Errc::invalid_argument,
            "depthwise_conv2d: workspace smaller than depthwise_workspace_size()"};
  }
  if (auto s = check_zero_point(input_zero_point, StorageTraits<TA>::min, StorageTraits<TA>::max,
                                "depthwise_conv2d: input zero point outside the input's type");
      !s) {
    return s;
  }
  return stage.check(shape.out_c);
}

// The convolution with a caller-provided workspace of depthwise_workspace_size(shape) int32
// values: allocates nothing.
template <class TA, class Stage, class Executor = SerialExecutor>
Result<void> depthwise_conv2d(const reference::Conv2dShape& shape, Span<const TA> input,
                              int32_t input_zero_point, const PackedDepthwise& w,
                              const Stage& stage, Span<typename Stage::Output> output,
                              Span<int32_t> workspace, Executor&& executor = Executor{}) {
  if (auto s = validate_depthwise_conv2d(shape, input, input_zero_point, w, stage, output,
                                         workspace.size());
      !s) {
    return fail(s);
  }
  const std::size_t channels = shape.in_c;
  int32_t* init = workspace.data();
  const DepthwiseKernel<TA> kernel = depthwise_kernel<TA>(active_isa(), w);
  // Kernels that multiply codes see int8 activations and their zero point raised by 128.
  const bool shifted = kernel.codes && std::is_same_v<TA, int8_t>;
  const auto zx = static_cast<uint32_t>(input_zero_point + (shifted ? 128 : 0));
  for (std::size_t c = 0; c < channels; ++c) {
    init[c] = static_cast<int32_t>(static_cast<uint32_t>(w.bias[c]) -
                                   zx * static_cast<uint32_t>(w.weight_sums[c]));
  }
  // The zero point's byte: its value as TA stores it (two's complement for int8).
  const std::size_t block_channels =
      (channels + depthwise_quad_block - 1) / depthwise_quad_block * depthwise_quad_block;
  int32_t* quads_init = init + channels;
  int32_t* quads_multipliers = quads_init + block_channels;
  auto* padding = reinterpret_cast<unsigned char*>(quads_multipliers + block_channels);
  std::memset(padding, static_cast<unsigned char>(input_zero_point),
              (depthwise_workspace_size(shape) - channels - 2 * block_channels) * sizeof(int32_t));
  detail::DepthwiseCall<TA, Stage> call{shape,
                                        reinterpret_cast<const uint8_t*>(input.data()),
                                        w,
                                        stage,
                                        output.data(),
                                        init,
                                        padding,
                                        kernel,
                                        best_convert_path(),
                                        0,
                                        0};
  detail::interior_columns(shape.w, call.interior_begin, call.interior_end);
  const std::size_t rows = shape.batch * shape.h.output();
#if QINFER_X86
  // The AVX-512 quads kernel applies requantizing stages in its registers when one run of taps
  // holds the whole window: the float stage in its own channel order, the fixed-point stage
  // after restoring the order. 3x3 windows with the float stage run on the rows kernel.
  const bool fusable = kernel.taps_per_group == 4 && kernel.isa >= Isa::avx512vnni &&
                       call.epilogue_path == ConvertPath::avx512 && w.taps() <= depthwise_run_taps;
  if constexpr (detail::is_float_requantize<Stage>) {
    if (fusable) {
      kernels::avx512::to_quads_order(init, channels, quads_init);
      if (stage.multipliers.size() == 1) {
        int32_t bits = 0;
        std::memcpy(&bits, stage.multipliers.data(), sizeof bits);
        std::fill_n(quads_multipliers, block_channels, bits);
      } else {
        kernels::avx512::to_quads_order(stage.multipliers.data(), channels, quads_multipliers);
      }
      const kernels::avx512::QuadsFloatStage lanes{
          quads_init, reinterpret_cast<const float*>(quads_multipliers),
          static_cast<float>(stage.max - stage.zero_point),
          static_cast<int16_t>(stage.min - stage.zero_point),
          static_cast<int16_t>(stage.zero_point)};
      if (w.has_row_quads() && shape.h.dilation == 1) {
        detail::depthwise_rows(call, lanes, static_cast<uint8_t>(input_zero_point), executor);
        return ok();
      }
      executor(rows, [&](std::size_t row) {
        detail::depthwise_row_fused(
            call, row, [&](const DepthwiseRun& run, typename Stage::Output* out, std::size_t c0) {
              kernels::avx512::QuadsFloatStage block = lanes;
              block.init += c0;
              block.multipliers += c0;
              kernels::avx512::depthwise_quads_float<TA>(run, block, out, channels);
            });
      });
      return ok();
    }
    // The AVX-VNNI kernel applies the float stage in its registers too, in channel order.
    if (kernel.isa == Isa::avxvnni && kernel.taps_per_group == 4 &&
        call.epilogue_path == ConvertPath::avx2 && w.taps() <= depthwise_run_taps) {
      const convert::avx2::StageLanes<Stage> lanes(stage);
      executor(rows, [&](std::size_t row) {
        detail::depthwise_row_fused(
            call, row, [&](const DepthwiseRun& run, typename Stage::Output* out, std::size_t c0) {
              kernels::avxvnni::depthwise_quads_float<TA>(run, stage, lanes, out, channels, c0);
            });
      });
      return ok();
    }
  } else if constexpr (HasX86Requantize<Stage>::value) {
    if (fusable) {
      const convert::avx512::StageLanes<Stage> lanes(stage);
      executor(rows, [&](std::size_t row) {
        detail::depthwise_row_fused(
            call, row, [&](const DepthwiseRun& run, typename Stage::Output* out, std::size_t c0) {
              kernels::avx512::depthwise_quads_fused<TA>(run, stage, lanes, out, channels, c0);
            });
      });
      return ok();
    }
  }
#endif
  executor(rows, [&](std::size_t row) { detail::depthwise_row(call, row); });
  return ok();
}

// The same, allocating its workspace.
template <class TA, class Stage, class Executor = SerialExecutor,
          class = std::enable_if_t<!std::is_convertible_v<Executor, Span<int32_t>>>>
Result<void> depthwise_conv2d(const reference::Conv2dShape& shape, Span<const TA> input,
                              int32_t input_zero_point, const PackedDepthwise& w,
                              const Stage& stage, Span<typename Stage::Output> output,
                              Executor&& executor = Executor{}) {
  reference::Conv2dSizes sizes;
  if (auto s = reference::conv2d_sizes(shape, sizes); !s) return fail(s);
  std::vector<int32_t> workspace(depthwise_workspace_size(shape));
  return depthwise_conv2d(shape, input, input_zero_point, w, stage, output,
                          Span<int32_t>(workspace), std::forward<Executor>(executor));
}

}  // namespace qinfer
