// SPDX-License-Identifier: Apache-2.0
//
// The quantized model file: an nn::QuantizedSequential on disk. Little-endian throughout:
//
//   "QINFERM\0"  magic (8 bytes)          u32 version (1)         u32 step count
//   f32 input scale, i32 input zero point
//   per step: u8 kind (0 conv/linear, 1 max pool, 2 flatten, 3 global average pool,
//             4 average pool, 5 residual block), then
//     conv/linear: u8 weight bits (8 or 4), u8 dequantize (0/1), u16 flags (bit 0: depthwise),
//                  u32 kernel (0: linear), stride, padding, in channels, out channels,
//                  u64 depth (rows of the weights),
//                  f32 input scale, i32 input zero point,
//                  f32 output scale, i32 output zero point, i32 clamp min, i32 clamp max,
//                  f32 weight scale per output channel, i32 bias per output channel,
//                  weight codes [depth, out] row-major: int8 bytes, or at 4 bits two codes per
//                  byte (low nibble first, two's complement)
//     max pool:    u32 kernel, u32 stride
//     average pool: u32 kernel, stride, padding, u8 count_include_pad (0/1), i32 zero point
//     residual:    u32 body step count, u32 shortcut step count (0: identity),
//                  f32 scale + i32 zero point of the body's output, the shortcut's output and
//                  the sum, i32 clamp min, i32 clamp max, then the body's steps and the
//                  shortcut's steps, nested at most 16 deep
//   u32 CRC-32 (IEEE 802.3, as zlib's crc32) of every byte before it
//
// Weights are stored as codes, not in a kernel's packed layout: the file does not depend on the
// ISA, and loading packs them for the CPU at hand (and checks their range on the way).
// Multipliers are recomputed from the scales, by the function PTQ uses, so a loaded model gives
// the saved model's outputs bit for bit.
//
// Loading is for untrusted bytes: the CRC is checked first, every read is bounds-checked, every
// count is checked against the bytes left before anything is allocated, and every value is
// validated (scales finite and > 0, zero points and clamps in uint8, bits, kinds, shapes). Any
// failure is an Errc error naming the problem.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/nn/quantized.hpp"

namespace qinfer::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the model file is little-endian");

inline constexpr char model_magic[8] = {'Q', 'I', 'N', 'F', 'E', 'R', 'M', '\0'};
inline constexpr uint32_t model_version = 1;

// CRC-32 (reflected polynomial 0xEDB88320), the checksum of zlib, PNG and gzip.
inline uint32_t crc32(Span<const uint8_t> bytes, uint32_t crc = 0) noexcept {
  static constexpr auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (uint8_t b : bytes) crc = table[(crc ^ b) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

namespace detail {

enum class StepKind : uint8_t {
  matmul = 0,
  max_pool = 1,
  flatten = 2,
  global_avg_pool = 3,
  avg_pool = 4,
  residual = 5
};
inline constexpr uint16_t flag_depthwise = 1;
inline constexpr int max_nesting = 16;

class ByteWriter {
 public:
  template <class T>
  void put(T value) {
    uint8_t bytes[sizeof value];
    std::memcpy(bytes, &value, sizeof value);
    out_.insert(out_.end(), bytes, bytes + sizeof value);
  }
  void put_bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  std::vector<uint8_t>& bytes() noexcept { return out_; }

 private:
  std::vector<uint8_t> out_;
};

class ByteReader {
 public:
  explicit ByteReader(Span<const uint8_t> bytes) : bytes_(bytes) {}
  template <class T>
  bool get(T& value) noexcept {
    if (left() < sizeof value) return false;
    std::memcpy(&value, bytes_.data() + pos_, sizeof value);
    pos_ += sizeof value;
    return true;
  }
  bool get_bytes(void* data, std::size_t size) noexcept {
    if (left() < size) return false;
    std::memcpy(data, bytes_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  std::size_t left() const noexcept { return bytes_.size() - pos_; }

 private:
  Span<const uint8_t> bytes_;
  std::size_t pos_ = 0;
};

inline Status truncated() noexcept {
  return {Errc::invalid_argument, "model file: truncated"};
}

inline Status check_params(float scale, int32_t zero_point) noexcept {
  if (!is_valid_scale(scale))
    return {Errc::invalid_scale, "model file: a scale is not finite and > 0"};
  if (zero_point < 0 || zero_point > 255) {
    return {Errc::invalid_zero_point, "model file: a zero point lies outside uint8"};
  }
  return {};
}

inline Status read_matmul(ByteReader& r, nn::QuantizedMatmul& m) {
  uint8_t bits = 0, dequantize = 0;
  uint16_t flags = 0;
  uint32_t geometry[5] = {};
  uint64_t depth = 0;
  if (!r.get(bits) || !r.get(dequantize) || !r.get(flags)) return truncated();
  for (uint32_t& g : geometry) {
    if (!r.get(g)) return truncated();
  }
  if (!r.get(depth) || !r.get(m.input.scale) || !r.get(m.input.zero_point) ||
      !r.get(m.output.scale) || !r.get(m.output.zero_point) || !r.get(m.clamp_min) ||
      !r.get(m.clamp_max)) {
    return truncated();
  }
  if ((bits != 8 && bits != 4) || dequantize > 1 || (flags & ~flag_depthwise) != 0) {
    return {Errc::invalid_argument, "model file: bad weight bits or flags"};
  }
  m.bits = bits;
  m.dequantize = dequantize == 1;
  m.kernel = geometry[0];
  m.stride = geometry[1];
  m.padding = geometry[2];
  m.in_channels = geometry[3];
  m.out_channels = geometry[4];
  m.depthwise = (flags & flag_depthwise) != 0;
  if (m.out_channels == 0 || m.in_channels == 0 || m.stride == 0) {
    return {Errc::invalid_argument, "model file: zero channels or stride"};
  }
  if (m.depthwise && (m.kernel == 0 || m.in_channels != m.out_channels)) {
    return {Errc::invalid_argument, "model file: a depthwise step needs a kernel and in == out"};
  }
  const uint64_t taps = uint64_t{m.kernel == 0 ? 1 : m.kernel} * (m.kernel == 0 ? 1 : m.kernel);
  const uint64_t expected_depth = m.depthwise ? taps : taps * m.in_channels;
  if (depth != expected_depth) {
    return {Errc::shape_mismatch, "model file: weight rows do not match kernel and channels"};
  }
  if (auto s = check_params(m.input.scale, m.input.zero_point); !s) return s;
  if (!m.dequantize) {
    if (auto s = check_params(m.output.scale, m.output.zero_point); !s) return s;
    if (m.clamp_min < 0 || m.clamp_max > 255 || m.clamp_min > m.clamp_max) {
      return {Errc::invalid_argument, "model file: clamp bounds outside uint8"};
    }
  }
  // Counts against the bytes left before allocating: per channel 8 bytes, per code 1 or 1/2.
  const uint64_t n = m.out_channels;
  if (n > r.left() / 8) return truncated();
  m.weight_scales.resize(n);
  std::vector<int32_t> bias(n);
  for (float& s : m.weight_scales) {
    r.get(s);
    if (!is_valid_scale(s))
      return {Errc::invalid_scale, "model file: a weight scale is not finite and > 0"};
  }
  for (int32_t& b : bias) r.get(b);
  std::size_t count = 0;
  if (depth > r.left() || !checked_mul(static_cast<std::size_t>(depth), m.out_channels, count) ||
      count > r.left() * (bits == 4 ? 2 : 1)) {
    return truncated();
  }
  m.weight_codes.resize(count);
  if (bits == 8) {
    if (!r.get_bytes(m.weight_codes.data(), count)) return truncated();
  } else {
    std::vector<uint8_t> packed((count + 1) / 2);
    if (!r.get_bytes(packed.data(), packed.size())) return truncated();
    for (std::size_t i = 0; i < count; ++i) {
      const uint8_t nibble = (i % 2 == 0 ? packed[i / 2] : packed[i / 2] >> 4) & 0x0fu;
      m.weight_codes[i] = static_cast<int8_t>(nibble >= 8 ? int{nibble} - 16 : int{nibble});
    }
  }
  try {
    nn::pack_quantized_weights(m, bias);  // also rejects codes outside the weights' range
  } catch (const Error& e) {
    return e.status();
  }
  nn::set_multipliers(m);
  return {};
}

inline Status read_params(ByteReader& r, QuantParams& p) {
  if (!r.get(p.scale) || !r.get(p.zero_point)) return truncated();
  return check_params(p.scale, p.zero_point);
}

// `count` steps into `steps`; `top`: the model's own chain, whose last step dequantizes.
inline Status read_steps(ByteReader& r, uint32_t count, int depth, bool top,
                         std::vector<nn::QuantizedStep>& steps) {
  if (depth > max_nesting) return {Errc::invalid_argument, "model file: blocks nested too deep"};
  if (count > r.left()) return truncated();  // every step takes at least one byte
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t kind = 0;
    if (!r.get(kind)) return truncated();
    switch (static_cast<StepKind>(kind)) {
      case StepKind::matmul: {
        nn::QuantizedMatmul m;
        if (auto s = read_matmul(r, m); !s) return s;
        if (m.dequantize != (top && i + 1 == count)) {
          return {Errc::invalid_argument, "model file: only the last step dequantizes"};
        }
        m.name = (m.kernel == 0 ? "linear" : m.depthwise ? "dwconv" : "conv") + std::to_string(i);
        steps.emplace_back(std::move(m));
        break;
      }
      case StepKind::max_pool: {
        uint32_t kernel = 0, stride = 0;
        if (!r.get(kernel) || !r.get(stride)) return truncated();
        if (kernel == 0 || stride == 0)
          return {Errc::invalid_argument, "model file: zero pool window"};
        steps.emplace_back(nn::QuantizedMaxPool{kernel, stride});
        break;
      }
      case StepKind::avg_pool: {
        uint32_t kernel = 0, stride = 0, padding = 0;
        uint8_t include_pad = 0;
        int32_t zero_point = 0;
        if (!r.get(kernel) || !r.get(stride) || !r.get(padding) || !r.get(include_pad) ||
            !r.get(zero_point)) {
          return truncated();
        }
        if (kernel == 0 || stride == 0 || padding >= kernel || include_pad > 1) {
          return {Errc::invalid_argument, "model file: bad average pool window"};
        }
        if (zero_point < 0 || zero_point > 255) {
          return {Errc::invalid_zero_point, "model file: a zero point lies outside uint8"};
        }
        steps.emplace_back(
            nn::QuantizedAvgPool{kernel, stride, padding, include_pad == 1, zero_point});
        break;
      }
      case StepKind::flatten:
        steps.emplace_back(nn::QuantizedFlatten{});
        break;
      case StepKind::global_avg_pool:
        steps.emplace_back(nn::QuantizedGlobalAvgPool{});
        break;
      case StepKind::residual: {
        nn::QuantizedResidual q;
        uint32_t body = 0, shortcut = 0;
        if (!r.get(body) || !r.get(shortcut)) return truncated();
        for (QuantParams* p : {&q.body_output, &q.shortcut_output, &q.output}) {
          if (auto s = read_params(r, *p); !s) return s;
        }
        if (!r.get(q.clamp_min) || !r.get(q.clamp_max)) return truncated();
        if (q.clamp_min < 0 || q.clamp_max > 255 || q.clamp_min > q.clamp_max) {
          return {Errc::invalid_argument, "model file: clamp bounds outside uint8"};
        }
        if (body == 0) return {Errc::invalid_argument, "model file: a residual body is empty"};
        if (auto s = read_steps(r, body, depth + 1, false, q.body); !s) return s;
        if (auto s = read_steps(r, shortcut, depth + 1, false, q.shortcut); !s) return s;
        try {
          nn::set_add_params(q);
        } catch (const Error& e) {
          return e.status();
        }
        steps.emplace_back(std::move(q));
        break;
      }
      default:
        return {Errc::invalid_argument, "model file: unknown step kind"};
    }
  }
  return {};
}

inline Status read_model(Span<const uint8_t> bytes, nn::QuantizedSequential& model) {
  constexpr std::size_t crc_size = 4;
  if (bytes.size() < sizeof model_magic + crc_size ||
      std::memcmp(bytes.data(), model_magic, sizeof model_magic) != 0) {
    return {Errc::invalid_argument, "model file: not a qinfer model (bad magic)"};
  }
  uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - crc_size, crc_size);
  const Span<const uint8_t> body(bytes.data(), bytes.size() - crc_size);
  if (crc32(body) != stored)
    return {Errc::invalid_argument, "model file: CRC-32 mismatch (corrupted)"};
  ByteReader r(body.subspan(sizeof model_magic, body.size() - sizeof model_magic));
  uint32_t version = 0, steps = 0;
  if (!r.get(version) || !r.get(steps)) return truncated();
  if (version != model_version) return {Errc::invalid_argument, "model file: unsupported version"};
  if (auto s = read_params(r, model.input); !s) return s;
  if (auto s = read_steps(r, steps, 0, true, model.steps); !s) return s;
  if (r.left() != 0) return {Errc::invalid_argument, "model file: bytes after the last step"};
  if (model.steps.empty() || !std::holds_alternative<nn::QuantizedMatmul>(model.steps.back())) {
    return {Errc::invalid_argument, "model file: the last step must be a dequantizing layer"};
  }
  return {};
}

inline void write_matmul(ByteWriter& w, const nn::QuantizedMatmul& m) {
  w.put(static_cast<uint8_t>(m.bits));
  w.put(static_cast<uint8_t>(m.dequantize ? 1 : 0));
  w.put(static_cast<uint16_t>(m.depthwise ? flag_depthwise : 0));
  for (std::size_t g : {m.kernel, m.stride, m.padding, m.in_channels, m.out_channels}) {
    w.put(static_cast<uint32_t>(g));
  }
  w.put(static_cast<uint64_t>(m.weight_codes.size() / m.out_channels));
  w.put(m.input.scale);
  w.put(m.input.zero_point);
  w.put(m.output.scale);
  w.put(m.output.zero_point);
  w.put(m.clamp_min);
  w.put(m.clamp_max);
  for (float s : m.weight_scales) w.put(s);
  for (int32_t b : m.bias) w.put(b);
  if (m.bits == 8) {
    w.put_bytes(m.weight_codes.data(), m.weight_codes.size());
    return;
  }
  for (std::size_t i = 0; i < m.weight_codes.size(); i += 2) {
    const auto low = static_cast<uint8_t>(m.weight_codes[i] & 0x0f);
    const auto high = static_cast<uint8_t>(
        i + 1 < m.weight_codes.size() ? (m.weight_codes[i + 1] & 0x0f) << 4 : 0);
    w.put(static_cast<uint8_t>(low | high));
  }
}

inline void write_steps(ByteWriter& w, const std::vector<nn::QuantizedStep>& steps) {
  for (const nn::QuantizedStep& step : steps) {
    if (const auto* m = std::get_if<nn::QuantizedMatmul>(&step)) {
      w.put(static_cast<uint8_t>(StepKind::matmul));
      write_matmul(w, *m);
    } else if (const auto* p = std::get_if<nn::QuantizedMaxPool>(&step)) {
      w.put(static_cast<uint8_t>(StepKind::max_pool));
      w.put(static_cast<uint32_t>(p->kernel));
      w.put(static_cast<uint32_t>(p->stride));
    } else if (const auto* a = std::get_if<nn::QuantizedAvgPool>(&step)) {
      w.put(static_cast<uint8_t>(StepKind::avg_pool));
      for (std::size_t g : {a->kernel, a->stride, a->padding}) w.put(static_cast<uint32_t>(g));
      w.put(static_cast<uint8_t>(a->count_include_pad ? 1 : 0));
      w.put(a->zero_point);
    } else if (const auto* r = std::get_if<nn::QuantizedResidual>(&step)) {
      w.put(static_cast<uint8_t>(StepKind::residual));
      w.put(static_cast<uint32_t>(r->body.size()));
      w.put(static_cast<uint32_t>(r->shortcut.size()));
      for (const QuantParams& params : {r->body_output, r->shortcut_output, r->output}) {
        w.put(params.scale);
        w.put(params.zero_point);
      }
      w.put(r->clamp_min);
      w.put(r->clamp_max);
      write_steps(w, r->body);
      write_steps(w, r->shortcut);
    } else if (std::holds_alternative<nn::QuantizedGlobalAvgPool>(step)) {
      w.put(static_cast<uint8_t>(StepKind::global_avg_pool));
    } else {
      w.put(static_cast<uint8_t>(StepKind::flatten));
    }
  }
}

}  // namespace detail

inline std::vector<uint8_t> save_model(const nn::QuantizedSequential& model) {
  detail::ByteWriter w;
  w.put_bytes(model_magic, sizeof model_magic);
  w.put(model_version);
  w.put(static_cast<uint32_t>(model.steps.size()));
  w.put(model.input.scale);
  w.put(model.input.zero_point);
  detail::write_steps(w, model.steps);
  w.put(crc32(w.bytes()));
  return std::move(w.bytes());
}

inline Result<nn::QuantizedSequential> load_model(Span<const uint8_t> bytes) {
  nn::QuantizedSequential model;
  if (auto s = detail::read_model(bytes, model); !s) return fail<nn::QuantizedSequential>(s);
  return model;
}

}  // namespace qinfer::io
