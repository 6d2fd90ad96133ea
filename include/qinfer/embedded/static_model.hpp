// SPDX-License-Identifier: Apache-2.0
//
// An int8 model held in constant arrays and run by the scalar reference kernels: the firmware
// form of nn::QuantizedSequential. No heap, no exceptions needed, no threads, no RTTI: the caller
// gives one workspace of workspace_size() bytes (a static array on a microcontroller). The
// tool tools/model_header.cpp writes such arrays, a Model included, from a model file
// (io/model_file.hpp), so a model quantized on a host becomes .rodata in a firmware image.
//
// Each step computes what the matching nn::QuantizedSequential step computes: the reference
// kernels define those results and every optimized path reproduces them, so a firmware build
// gives the host's logits bit for bit (tests/embedded/static_model_test.cpp checks it against
// the model it came from; the firmware example against the host on qemu's Cortex-M4).
//
// Activations are uint8 codes, NHWC for one image; weights symmetric int8 (4-bit models are
// stored widened to int8). Residual blocks are not supported here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qinfer/core/error.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/reference/gemm.hpp"
#include "qinfer/reference/pool.hpp"

namespace qinfer::embedded {

enum class StepKind : uint8_t { conv, linear, max_pool, avg_pool, global_avg_pool, flatten };

struct Step {
  StepKind kind = StepKind::flatten;
  uint32_t kernel = 0, stride = 1, padding = 0;  // conv and pools: square windows
  uint32_t in_channels = 0, out_channels = 0;    // conv and linear
  bool depthwise = false;                        // conv: one 2-D filter per channel
  // conv: [out][ky][kx][in] ([channel][ky][kx] when depthwise); linear: [in][out].
  const int8_t* weights = nullptr;
  const int32_t* bias = nullptr;       // per output channel, in units of s_in w_c; or none
  const float* multipliers = nullptr;  // per output channel: s_in w_c / s_out, or s_in w_c
  int32_t input_zero_point = 0;
  bool dequantize = false;  // the last step: float outputs with `multipliers` as scales
  int32_t output_zero_point = 0, clamp_min = 0, clamp_max = 255;
  bool count_include_pad = true;  // avg pool, whose padded taps hold pool_zero_point
  int32_t pool_zero_point = 0;
};

struct Model {
  const Step* steps = nullptr;
  std::size_t step_count = 0;
  uint32_t height = 0, width = 0, channels = 0;  // of one float input image, HWC
  QuantParams input;                             // the input's uint8 quantization
};

namespace detail {

// One image's activation: [height, width, channels], or [features] once flat.
struct Extent {
  std::size_t height = 0, width = 0, channels = 0;
  bool flat = false;

  std::size_t size() const noexcept { return height * width * channels; }
};

inline reference::Window1d window(std::size_t input, const Step& s) noexcept {
  return {input, s.kernel, s.stride, 1, s.padding, s.padding};
}

inline reference::Conv2dShape conv_shape(const Extent& x, const Step& s) noexcept {
  return {1,
          s.in_channels,
          s.out_channels,
          s.depthwise ? s.in_channels : 1,
          window(x.height, s),
          window(x.width, s)};
}

inline Pool2dShape pool_shape(const Extent& x, const Step& s) noexcept {
  Pool2dShape shape;
  shape.channels = x.channels;
  if (s.kind == StepKind::global_avg_pool)
    return Pool2dShape::global(1, x.height, x.width, x.channels);
  // Max pools have no padding in the model file; their windows always fit.
  shape.h = s.kind == StepKind::max_pool ? reference::Window1d{x.height, s.kernel, s.stride}
                                         : window(x.height, s);
  shape.w = s.kind == StepKind::max_pool ? reference::Window1d{x.width, s.kernel, s.stride}
                                         : window(x.width, s);
  shape.count_include_pad = s.count_include_pad;
  shape.zero_point = s.pool_zero_point;
  return shape;
}

// The extent after step s, or why s cannot take x. Kernels recheck their own arguments.
inline Status next_extent(const Step& s, Extent& x) noexcept {
  if ((s.kind == StepKind::conv || s.kind == StepKind::linear) &&
      (s.weights == nullptr || s.multipliers == nullptr)) {
    return {Errc::null_pointer, "embedded::Model: a conv or linear step without weights or scales"};
  }
  switch (s.kind) {
    case StepKind::conv: {
      if (x.flat || x.channels != s.in_channels ||
          (s.depthwise && s.out_channels != s.in_channels)) {
        return {Errc::shape_mismatch, "embedded::Model: a convolution's input does not match"};
      }
      const reference::Conv2dShape shape = conv_shape(x, s);
      reference::Conv2dSizes sizes;
      if (auto status = reference::conv2d_sizes(shape, sizes); !status) return status;
      x = {shape.h.output(), shape.w.output(), s.out_channels, false};
      return {};
    }
    case StepKind::linear:
      if (!x.flat || x.size() != s.in_channels) {
        return {Errc::shape_mismatch, "embedded::Model: a linear step's input does not match"};
      }
      x = {1, 1, s.out_channels, true};
      return {};
    case StepKind::max_pool:
    case StepKind::avg_pool:
    case StepKind::global_avg_pool: {
      if (x.flat) return {Errc::shape_mismatch, "embedded::Model: pooling a flat activation"};
      const Pool2dShape shape = pool_shape(x, s);
      if (auto status = shape.h.check("embedded::Model: a pooling window does not fit"); !status) {
        return status;
      }
      if (auto status = shape.w.check("embedded::Model: a pooling window does not fit"); !status) {
        return status;
      }
      x = s.kind == StepKind::global_avg_pool
              ? Extent{1, 1, x.channels, true}
              : Extent{shape.h.output(), shape.w.output(), x.channels, false};
      return {};
    }
    case StepKind::flatten:
      x = {1, 1, x.size(), true};
      return {};
  }
  return {Errc::invalid_argument, "embedded::Model: unknown step kind"};
}

// Walks the model's extents: the largest activation (in bytes) and the output count; only the
// last step may, and must, dequantize.
inline Status plan(const Model& m, std::size_t& largest, std::size_t& outputs) noexcept {
  if (m.steps == nullptr || m.step_count == 0) {
    return {Errc::invalid_argument, "embedded::Model: no steps"};
  }
  const std::size_t dims[] = {m.height, m.width, m.channels};
  Expected<std::size_t> input_size = element_count(Span<const std::size_t>(dims));
  if (!input_size.ok()) return input_size.status();
  Extent x{m.height, m.width, m.channels, false};
  largest = *input_size;
  for (std::size_t i = 0; i < m.step_count; ++i) {
    const Step& s = m.steps[i];
    const bool last = i + 1 == m.step_count;
    if (last != (s.dequantize && (s.kind == StepKind::conv || s.kind == StepKind::linear))) {
      return {Errc::invalid_argument,
              "embedded::Model: the last step, and only it, must be a dequantizing conv or linear"};
    }
    if (auto status = next_extent(s, x); !status) return status;
    if (x.size() > largest) largest = x.size();
  }
  outputs = x.size();
  return {};
}

}  // namespace detail

// Bytes of the workspace run() needs: two buffers of the largest activation; 0 for a model
// that is not valid (run() then says why).
inline std::size_t workspace_size(const Model& m) noexcept {
  std::size_t largest = 0, outputs = 0;
  if (!detail::plan(m, largest, outputs) || largest > SIZE_MAX / 2) return 0;
  return 2 * largest;
}

// The number of floats run() writes: the last step's outputs for one image.
inline std::size_t output_size(const Model& m) noexcept {
  std::size_t largest = 0, outputs = 0;
  return detail::plan(m, largest, outputs) ? outputs : 0;
}

// Runs the model on one image (height x width x channels floats, HWC) into `output`.
inline Result<void> run(const Model& m, Span<const float> image, Span<uint8_t> workspace,
                        Span<float> output) {
  std::size_t largest = 0, outputs = 0;
  if (auto s = detail::plan(m, largest, outputs); !s) return fail(s);
  if (image.size() != static_cast<std::size_t>(m.height) * m.width * m.channels ||
      output.size() != outputs) {
    return fail(Errc::shape_mismatch, "embedded::run: image or output size does not match");
  }
  if (largest > SIZE_MAX / 2 || workspace.size() < 2 * largest) {
    return fail(Errc::invalid_argument, "embedded::run: workspace smaller than workspace_size()");
  }
  Span<uint8_t> x(workspace.data(), image.size());
  uint8_t* other = workspace.data() + largest;
  if (auto s = status_of([&] { return quantize<uint8_t>(image, x, m.input); }); !s) return fail(s);
  detail::Extent extent{m.height, m.width, m.channels, false};
  const int32_t zero_point = 0;
  const Span<const int32_t> weight_zero_point(&zero_point, 1);
  for (std::size_t i = 0; i < m.step_count; ++i) {
    const Step& s = m.steps[i];
    detail::Extent next = extent;
    if (auto status = detail::next_extent(s, next); !status) return fail(status);
    const Span<uint8_t> y(other, next.size());
    const Span<const float> multipliers(s.multipliers, s.out_channels);
    const Span<const int32_t> bias =
        s.bias == nullptr ? Span<const int32_t>() : Span<const int32_t>(s.bias, s.out_channels);
    const reference::GemmOffsets offsets{s.input_zero_point, weight_zero_point, bias};
    const RequantizeFloat<uint8_t> requantize{multipliers, s.output_zero_point, s.clamp_min,
                                              s.clamp_max};
    const DequantizeFloat dequantize{multipliers};
    Status status;
    if (s.kind == StepKind::conv) {
      const reference::Conv2dShape shape = detail::conv_shape(extent, s);
      const Span<const int8_t> weights(
          s.weights, std::size_t{s.out_channels} * s.kernel * s.kernel * shape.in_c_per_group());
      status = status_of([&] {
        return s.dequantize
                   ? reference::conv2d<uint8_t, int8_t>(shape, x, weights, offsets, dequantize,
                                                        output)
                   : reference::conv2d<uint8_t, int8_t>(shape, x, weights, offsets, requantize, y);
      });
    } else if (s.kind == StepKind::linear) {
      const MatrixView<const uint8_t> a = row_major<const uint8_t>(x.data(), 1, s.in_channels);
      const MatrixView<const int8_t> b =
          row_major<const int8_t>(s.weights, s.in_channels, s.out_channels);
      status = status_of([&] {
        return s.dequantize ? reference::gemm(a, b, offsets, dequantize,
                                              row_major(output.data(), 1, s.out_channels))
                            : reference::gemm(a, b, offsets, requantize,
                                              row_major(y.data(), 1, s.out_channels));
      });
    } else if (s.kind == StepKind::max_pool) {
      status = status_of(
          [&] { return reference::max_pool2d<uint8_t>(detail::pool_shape(extent, s), x, y); });
    } else if (s.kind == StepKind::avg_pool || s.kind == StepKind::global_avg_pool) {
      status = status_of(
          [&] { return reference::avg_pool2d<uint8_t>(detail::pool_shape(extent, s), x, y); });
    } else {
      extent = next;  // flatten: the same bytes
      continue;
    }
    if (!status) return fail(status);
    x = y;
    other = x.data() == workspace.data() ? workspace.data() + largest : workspace.data();
    extent = next;
  }
  return ok();
}

}  // namespace qinfer::embedded
