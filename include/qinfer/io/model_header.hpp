// SPDX-License-Identifier: Apache-2.0
//
// From an nn::QuantizedSequential to the constant arrays of an embedded::Model
// (embedded/static_model.hpp), in memory (StaticModelData) and as a C++ header for a firmware
// build (write_model_header). The header holds only constexpr data: compiled for a
// microcontroller it lands in flash (.rodata), and the model runs from there.
//
// Weights become the reference convolution's [out][ky][kx][in] order (the model file keeps
// [ky, kx, in][out], the packed GEMM's); 4-bit codes are widened to int8. Floats are written as
// hexadecimal literals, so the header holds the model's multipliers to the bit.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/embedded/static_model.hpp"
#include "qinfer/nn/quantized.hpp"

namespace qinfer::io {

class StaticModelData {
 public:
  // `input` is one image's [height, width, channels]; a model file does not record it.
  StaticModelData(const nn::QuantizedSequential& model, std::array<std::size_t, 3> input) {
    for (const nn::QuantizedStep& step : model.steps) add(step);
    model_.height = narrow(input[0]);
    model_.width = narrow(input[1]);
    model_.channels = narrow(input[2]);
    model_.input = model.input;
    link();
    std::size_t ignored = 0, outputs = 0;
    if (auto s = embedded::detail::plan(model_, ignored, outputs); !s) fail(s);
  }
  StaticModelData(const StaticModelData& other) : arrays_(other.arrays_), steps_(other.steps_) {
    model_ = other.model_;
    link();
  }
  StaticModelData& operator=(const StaticModelData&) = delete;

  const embedded::Model& model() const noexcept { return model_; }

  // The step's arrays, for the header writer.
  struct Arrays {
    std::vector<int8_t> weights;  // embedded::Step's order
    std::vector<int32_t> bias;
    std::vector<float> multipliers;
  };
  const std::vector<Arrays>& arrays() const noexcept { return arrays_; }
  const std::vector<embedded::Step>& steps() const noexcept { return steps_; }

 private:
  void add(const nn::QuantizedStep& step) {
    embedded::Step s;
    Arrays a;
    if (const auto* m = std::get_if<nn::QuantizedMatmul>(&step)) {
      s.kind = m->kernel > 0 ? embedded::StepKind::conv : embedded::StepKind::linear;
      s.kernel = narrow(m->kernel);
      s.stride = narrow(m->stride);
      s.padding = narrow(m->padding);
      s.in_channels = narrow(m->in_channels);
      s.out_channels = narrow(m->out_channels);
      s.depthwise = m->depthwise;
      s.input_zero_point = m->input.zero_point;
      s.dequantize = m->dequantize;
      s.output_zero_point = m->output.zero_point;
      s.clamp_min = m->clamp_min;
      s.clamp_max = m->clamp_max;
      a.bias = m->bias;
      a.multipliers = m->multipliers;
      a.weights = m->weight_codes;
      if (m->kernel > 0) {  // [depth][out] to [out][depth]
        const std::size_t depth = m->weight_codes.size() / m->out_channels;
        for (std::size_t d = 0; d < depth; ++d) {
          for (std::size_t c = 0; c < m->out_channels; ++c) {
            a.weights[c * depth + d] = m->weight_codes[d * m->out_channels + c];
          }
        }
      }
    } else if (const auto* p = std::get_if<nn::QuantizedMaxPool>(&step)) {
      s.kind = embedded::StepKind::max_pool;
      s.kernel = narrow(p->kernel);
      s.stride = narrow(p->stride);
    } else if (const auto* v = std::get_if<nn::QuantizedAvgPool>(&step)) {
      s.kind = embedded::StepKind::avg_pool;
      s.kernel = narrow(v->kernel);
      s.stride = narrow(v->stride);
      s.padding = narrow(v->padding);
      s.count_include_pad = v->count_include_pad;
      s.pool_zero_point = v->zero_point;
    } else if (std::holds_alternative<nn::QuantizedGlobalAvgPool>(step)) {
      s.kind = embedded::StepKind::global_avg_pool;
    } else if (std::holds_alternative<nn::QuantizedFlatten>(step)) {
      s.kind = embedded::StepKind::flatten;
    } else {
      fail(Errc::invalid_argument, "StaticModelData: residual blocks are not supported");
    }
    steps_.push_back(s);
    arrays_.push_back(std::move(a));
  }

  static uint32_t narrow(std::size_t v) {
    if (v > UINT32_MAX) fail(Errc::size_overflow, "StaticModelData: a size past 32 bits");
    return static_cast<uint32_t>(v);
  }

  // Points the steps at this object's arrays.
  void link() noexcept {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      embedded::Step& s = steps_[i];
      const Arrays& a = arrays_[i];
      s.weights = a.weights.empty() ? nullptr : a.weights.data();
      s.bias = a.bias.empty() ? nullptr : a.bias.data();
      s.multipliers = a.multipliers.empty() ? nullptr : a.multipliers.data();
    }
    model_.steps = steps_.data();
    model_.step_count = steps_.size();
  }

  std::vector<Arrays> arrays_;
  std::vector<embedded::Step> steps_;
  embedded::Model model_;
};

// Sample inputs to compile into the header beside the model, with what the host computed for
// them: a firmware build then checks itself against the host.
struct HeaderSamples {
  std::vector<uint8_t> pixels;  // count x height x width x channels, each the float p / 255
  std::vector<uint8_t> labels;  // count; empty when unknown
  std::vector<float> outputs;   // count x output_size(), the host's model outputs
};

namespace detail {

// INT32_MIN has no literal: 2147483648 alone is a long, and its negation would narrow.
inline std::string int_literal(int64_t v) {
  return v == INT32_MIN ? "(-2147483647 - 1)" : std::to_string(v);
}

inline std::string hex_float(float v) {
  char text[48];
  std::snprintf(text, sizeof text, "%af", static_cast<double>(v));
  return text;
}

template <class T, class Format>
void write_array(std::string& out, const char* type, const std::string& name,
                 const std::vector<T>& values, Format format) {
  out += "inline constexpr " + std::string(type) + " " + name + "[] = {";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += i % 16 == 0 ? "\n    " : " ";
    out += format(values[i]);
    out += ",";
  }
  out += "\n};\n";
}

// Whether `name` can name the header's namespace: identifiers, possibly nested with ::.
inline bool is_namespace_name(const std::string& name) noexcept {
  bool start = true;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == ':' && !start && i + 2 < name.size() && name[i + 1] == ':') {
      ++i;
      start = true;
      continue;
    }
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && (start || c < '0' || c > '9')) return false;
    start = false;
  }
  return !start;
}

inline const char* step_kind_name(embedded::StepKind kind) noexcept {
  switch (kind) {
    case embedded::StepKind::conv:
      return "conv";
    case embedded::StepKind::linear:
      return "linear";
    case embedded::StepKind::max_pool:
      return "max_pool";
    case embedded::StepKind::avg_pool:
      return "avg_pool";
    case embedded::StepKind::global_avg_pool:
      return "global_avg_pool";
    case embedded::StepKind::flatten:
      return "flatten";
  }
  return "flatten";
}

}  // namespace detail

// The C++ header of `data` in namespace `name`: arrays, `steps`, `model`, the constants
// `workspace_size` and `output_size`, and with samples `sample_count`, `samples` (pixels),
// `labels` (if known) and `expected_outputs`.
inline std::string write_model_header(const StaticModelData& data, const std::string& name,
                                      const std::string& source,
                                      const HeaderSamples& samples = {}) {
  const embedded::Model& m = data.model();
  const std::size_t image_size = std::size_t{m.height} * m.width * m.channels;
  const std::size_t outputs = embedded::output_size(m);
  const std::size_t count = image_size == 0 ? 0 : samples.pixels.size() / image_size;
  if (samples.pixels.size() != count * image_size || samples.outputs.size() != count * outputs ||
      (!samples.labels.empty() && samples.labels.size() != count)) {
    fail(Errc::shape_mismatch, "write_model_header: samples do not match the model");
  }
  if (!detail::is_namespace_name(name)) {
    fail(Errc::invalid_argument, "write_model_header: the name must be a C++ namespace name");
  }
  // The source goes into a line comment: one line of it.
  std::string origin = source;
  for (char& c : origin) c = c == '\n' || c == '\r' ? ' ' : c;
  const auto integer = [](auto v) { return detail::int_literal(static_cast<int64_t>(v)); };
  std::string out =
      "// SPDX-License-Identifier: Apache-2.0\n"
      "// Generated by qinfer_model_header from " +
      origin +
      "; do not edit.\n"
      "#pragma once\n\n#include <cstddef>\n#include <cstdint>\n\n"
      "#include \"qinfer/embedded/static_model.hpp\"\n\nnamespace " +
      name + " {\n\n";
  for (std::size_t i = 0; i < data.steps().size(); ++i) {
    const StaticModelData::Arrays& a = data.arrays()[i];
    const std::string prefix = "step" + std::to_string(i) + "_";
    if (!a.weights.empty())
      detail::write_array(out, "int8_t", prefix + "weights", a.weights, integer);
    if (!a.bias.empty()) detail::write_array(out, "int32_t", prefix + "bias", a.bias, integer);
    if (!a.multipliers.empty()) {
      detail::write_array(out, "float", prefix + "multipliers", a.multipliers, detail::hex_float);
    }
  }
  out += "\ninline constexpr qinfer::embedded::Step steps[] = {\n";
  for (std::size_t i = 0; i < data.steps().size(); ++i) {
    const embedded::Step& s = data.steps()[i];
    const StaticModelData::Arrays& a = data.arrays()[i];
    const std::string prefix = "step" + std::to_string(i) + "_";
    out += "    {qinfer::embedded::StepKind::" + std::string(detail::step_kind_name(s.kind)) +
           ", " + integer(s.kernel) + ", " + integer(s.stride) + ", " + integer(s.padding) + ", " +
           integer(s.in_channels) + ", " + integer(s.out_channels) + ", " +
           (s.depthwise ? "true" : "false") + ", " +
           (a.weights.empty() ? "nullptr" : prefix + "weights") + ", " +
           (a.bias.empty() ? "nullptr" : prefix + "bias") + ", " +
           (a.multipliers.empty() ? "nullptr" : prefix + "multipliers") + ", " +
           integer(s.input_zero_point) + ", " + (s.dequantize ? "true" : "false") + ", " +
           integer(s.output_zero_point) + ", " + integer(s.clamp_min) + ", " +
           integer(s.clamp_max) + ", " + (s.count_include_pad ? "true" : "false") + ", " +
           integer(s.pool_zero_point) + "},\n";
  }
  out += "};\n\ninline constexpr qinfer::embedded::Model model{steps, " +
         integer(data.steps().size()) + ", " + integer(m.height) + ", " + integer(m.width) + ", " +
         integer(m.channels) + ", {" + detail::hex_float(m.input.scale) + ", " +
         integer(m.input.zero_point) + "}};\n";
  out += "inline constexpr std::size_t workspace_size = " + integer(embedded::workspace_size(m)) +
         ";\n";
  out += "inline constexpr std::size_t output_size = " + integer(outputs) + ";\n";
  out += "inline constexpr std::size_t image_size = " + integer(image_size) + ";\n";
  if (count > 0) {
    out += "\ninline constexpr std::size_t sample_count = " + integer(count) + ";\n";
    detail::write_array(out, "uint8_t", "samples", samples.pixels, integer);
    if (!samples.labels.empty())
      detail::write_array(out, "uint8_t", "labels", samples.labels, integer);
    detail::write_array(out, "float", "expected_outputs", samples.outputs, detail::hex_float);
  }
  out += "\n}  // namespace " + name + "\n";
  return out;
}

}  // namespace qinfer::io
