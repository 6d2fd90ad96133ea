// SPDX-License-Identifier: Apache-2.0
//
// safetensors files (the format of PyTorch's and Hugging Face's `safetensors` package): an
// 8-byte little-endian header length N, N bytes of JSON, then the tensor data. The JSON maps
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section) and may hold a "__metadata__" object of strings. Read: F32, F16, BF16, I8, U8,
// I32; written: the same.
//
// The file is untrusted. Before any tensor is used: the header length must fit in the file; the
// JSON must parse (bounded depth); every dtype, shape and offset pair must be well formed; the
// byte count must equal shape x element size (overflow-checked); the ranges must lie inside the
// data section and must not overlap; names must be unique. Any failure is an Errc error whose
// message names the problem.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/half.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/io/json.hpp"

namespace qinfer::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian and is copied as is");

enum class Dtype : uint8_t { f32, f16, bf16, i8, u8, i32 };

inline constexpr std::pair<Dtype, const char*> dtype_names[] = {
    {Dtype::f32, "F32"}, {Dtype::f16, "F16"}, {Dtype::bf16, "BF16"},
    {Dtype::i8, "I8"},   {Dtype::u8, "U8"},   {Dtype::i32, "I32"}};

inline const char* dtype_name(Dtype d) noexcept {
  for (const auto& [dtype, name] : dtype_names) {
    if (dtype == d) return name;
  }
  return "?";
}

inline std::size_t dtype_size(Dtype d) noexcept {
  switch (d) {
    case Dtype::f32:
    case Dtype::i32:
      return 4;
    case Dtype::f16:
    case Dtype::bf16:
      return 2;
    case Dtype::i8:
    case Dtype::u8:
      return 1;
  }
  return 1;
}

struct SafetensorsEntry {
  std::string name;
  Dtype dtype = Dtype::f32;
  std::vector<std::size_t> shape;
  std::size_t begin = 0, end = 0;  // in the data section

  std::size_t element_count() const noexcept { return (end - begin) / dtype_size(dtype); }
};

// A tensor to write: its bytes are little-endian values of `dtype`.
struct SafetensorsTensor {
  std::string name;
  Dtype dtype = Dtype::f32;
  std::vector<std::size_t> shape;
  std::vector<uint8_t> data;
};

class Safetensors {
 public:
  // A header larger than this is refused before it is parsed (real ones are kilobytes).
  static constexpr std::size_t max_header = std::size_t{100} << 20;

  static Result<Safetensors> parse(std::vector<uint8_t> file) {
    Safetensors s;
    if (auto st = s.read(std::move(file)); !st) return fail<Safetensors>(st);
    return s;
  }

  const std::vector<SafetensorsEntry>& tensors() const noexcept { return tensors_; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept {
    return metadata_;
  }
  const SafetensorsEntry* find(std::string_view name) const noexcept {
    for (const SafetensorsEntry& t : tensors_) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  const std::string* metadata_value(std::string_view key) const noexcept {
    for (const auto& [k, v] : metadata_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  Span<const uint8_t> bytes(const SafetensorsEntry& t) const noexcept {
    return {file_.data() + data_start_ + t.begin, t.end - t.begin};
  }

  // The values of any tensor, converted to float (integers exactly up to 2^24).
  std::vector<float> to_float(const SafetensorsEntry& t) const {
    const uint8_t* p = file_.data() + data_start_ + t.begin;
    std::vector<float> out(t.element_count());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const uint8_t* e = p + i * dtype_size(t.dtype);
      switch (t.dtype) {
        case Dtype::f32:
          std::memcpy(&out[i], e, 4);
          break;
        case Dtype::f16:
          out[i] = half_to_float(static_cast<uint16_t>(e[0] | (e[1] << 8)));
          break;
        case Dtype::bf16:
          out[i] = bfloat16_to_float(static_cast<uint16_t>(e[0] | (e[1] << 8)));
          break;
        case Dtype::i8:
          out[i] = static_cast<float>(static_cast<int8_t>(e[0]));
          break;
        case Dtype::u8:
          out[i] = static_cast<float>(e[0]);
          break;
        case Dtype::i32: {
          int32_t v = 0;
          std::memcpy(&v, e, 4);
          out[i] = static_cast<float>(v);
          break;
        }
      }
    }
    return out;
  }

 private:
  static Status error(Errc code, const char* message) noexcept { return {code, message}; }

  Status read(std::vector<uint8_t> file) {
    file_ = std::move(file);
    constexpr std::size_t length_bytes = 8;
    if (file_.size() < length_bytes) {
      return error(Errc::invalid_argument,
                   "safetensors: file shorter than its 8-byte header length");
    }
    uint64_t header = 0;
    for (std::size_t i = 0; i < length_bytes; ++i) header |= uint64_t{file_[i]} << (8 * i);
    if (header > max_header || header > file_.size() - length_bytes) {
      return error(Errc::invalid_argument, "safetensors: header length exceeds the file");
    }
    data_start_ = length_bytes + static_cast<std::size_t>(header);
    const std::string_view text(reinterpret_cast<const char*>(file_.data() + length_bytes),
                                static_cast<std::size_t>(header));
    JsonValue root;
    if (auto st = detail::JsonParser(text).parse(root); !st) return st;
    if (root.kind != JsonValue::Kind::object) {
      return error(Errc::invalid_argument, "safetensors: header is not a JSON object");
    }
    const std::size_t data_size = file_.size() - data_start_;
    for (const auto& [name, value] : root.members) {
      if (name == "__metadata__") {
        if (auto st = read_metadata(value); !st) return st;
        continue;
      }
      SafetensorsEntry t;
      t.name = name;
      if (auto st = read_entry(value, data_size, t); !st) return st;
      tensors_.push_back(std::move(t));
    }
    std::vector<const SafetensorsEntry*> by_offset;
    for (const SafetensorsEntry& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
      if (by_offset[i]->begin < by_offset[i - 1]->end) {
        return error(Errc::invalid_argument, "safetensors: tensor data ranges overlap");
      }
    }
    std::vector<std::string_view> names;
    for (const SafetensorsEntry& t : tensors_) names.push_back(t.name);
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
      return error(Errc::invalid_argument, "safetensors: duplicate tensor name");
    }
    return {};
  }

  Status read_metadata(const JsonValue& value) {
    if (value.kind != JsonValue::Kind::object) {
      return error(Errc::invalid_argument, "safetensors: __metadata__ must be an object");
    }
    for (const auto& [k, v] : value.members) {
      if (v.kind != JsonValue::Kind::string) {
        return error(Errc::invalid_argument, "safetensors: __metadata__ values must be strings");
      }
      metadata_.emplace_back(k, v.text);
    }
    return {};
  }

  static Status read_entry(const JsonValue& value, std::size_t data_size, SafetensorsEntry& t) {
    if (value.kind != JsonValue::Kind::object) {
      return error(Errc::invalid_argument, "safetensors: a tensor entry must be an object");
    }
    const JsonValue* dtype = value.find("dtype");
    const JsonValue* shape = value.find("shape");
    const JsonValue* offsets = value.find("data_offsets");
    if (dtype == nullptr || shape == nullptr || offsets == nullptr) {
      return error(Errc::invalid_argument,
                   "safetensors: a tensor needs dtype, shape and data_offsets");
    }
    bool known = false;
    for (const auto& [d, name] : dtype_names) {
      if (dtype->kind == JsonValue::Kind::string && dtype->text == name) t.dtype = d, known = true;
    }
    if (!known) {
      return error(Errc::invalid_argument,
                   "safetensors: unsupported dtype (F32, F16, BF16, I8, U8, I32 are read)");
    }
    if (shape->kind != JsonValue::Kind::array) {
      return error(Errc::invalid_argument, "safetensors: shape must be an array");
    }
    std::size_t count = 1;
    for (const JsonValue& d : shape->items) {
      std::size_t extent = 0;
      if (!as_size(d, extent)) {
        return error(Errc::invalid_argument, "safetensors: shape entries must be integers >= 0");
      }
      if (!checked_mul(count, extent, count)) {
        return error(Errc::size_overflow, "safetensors: shape's element count overflows");
      }
      t.shape.push_back(extent);
    }
    if (offsets->kind != JsonValue::Kind::array || offsets->items.size() != 2 ||
        !as_size(offsets->items[0], t.begin) || !as_size(offsets->items[1], t.end)) {
      return error(Errc::invalid_argument, "safetensors: data_offsets must be [begin, end]");
    }
    std::size_t bytes = 0;
    if (!checked_mul(count, dtype_size(t.dtype), bytes)) {
      return error(Errc::size_overflow, "safetensors: tensor byte count overflows");
    }
    if (t.begin > t.end || t.end > data_size) {
      return error(Errc::invalid_argument, "safetensors: data_offsets outside the data section");
    }
    if (t.end - t.begin != bytes) {
      return error(Errc::shape_mismatch, "safetensors: data_offsets do not match dtype and shape");
    }
    return {};
  }

  std::vector<uint8_t> file_;
  std::size_t data_start_ = 0;
  std::vector<SafetensorsEntry> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

namespace detail {
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char digits[] = "0123456789abcdef";
      out += "\\u00";
      out += digits[(c >> 4) & 0xf];
      out += digits[c & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}
}  // namespace detail

// The bytes of a safetensors file holding `tensors` in order. The header is padded with spaces
// to a multiple of 8 bytes, so that the data starts aligned.
inline Result<std::vector<uint8_t>> write_safetensors(
    const std::vector<SafetensorsTensor>& tensors,
    const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      if (i > 0) header += ',';
      detail::append_json_string(header, metadata[i].first);
      header += ':';
      detail::append_json_string(header, metadata[i].second);
    }
    header += '}';
  }
  std::size_t offset = 0;
  for (const SafetensorsTensor& t : tensors) {
    std::size_t count = 1;
    for (std::size_t d : t.shape) {
      if (!checked_mul(count, d, count)) {
        return fail<std::vector<uint8_t>>(Errc::size_overflow,
                                          "write_safetensors: shape overflows");
      }
    }
    if (count * dtype_size(t.dtype) != t.data.size()) {
      return fail<std::vector<uint8_t>>(
          Errc::shape_mismatch, "write_safetensors: data size does not match dtype and shape");
    }
    if (header.size() > 1) header += ',';
    detail::append_json_string(header, t.name);
    header += ":{\"dtype\":\"";
    header += dtype_name(t.dtype);
    header += "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(t.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.data.size()) + "]}";
    offset += t.data.size();
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8);
  for (std::size_t i = 0; i < 8; ++i)
    out[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (const SafetensorsTensor& t : tensors) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

}  // namespace qinfer::io
