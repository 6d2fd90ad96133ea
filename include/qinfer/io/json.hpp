// SPDX-License-Identifier: Apache-2.0
//
// A small JSON reader for untrusted headers (safetensors): objects, arrays, strings (with
// escapes, \u as UTF-8), numbers, true, false, null. Nesting depth and input size are bounded,
// every read is bounds-checked, and malformed input is an error naming what was expected.
// Numbers keep their text; callers convert what they need (as_size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qinfer/core/error.hpp"

namespace qinfer::io {

struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;              // a string's value, or a number's spelling
  std::vector<JsonValue> items;  // array
  std::vector<std::pair<std::string, JsonValue>> members;  // object, in file order

  const JsonValue* find(std::string_view key) const noexcept {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

// A number that is a non-negative integer fitting in size_t, or false.
inline bool as_size(const JsonValue& v, std::size_t& out) noexcept {
  if (v.kind != JsonValue::Kind::number || v.text.empty()) return false;
  std::size_t value = 0;
  for (char c : v.text) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<std::size_t>(c - '0');
    if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

namespace detail {

class JsonParser {
 public:
  // Deep enough for any header; shallow enough that recursion cannot exhaust the stack.
  static constexpr int max_depth = 64;

  explicit JsonParser(std::string_view text) : s_(text) {}

  Status parse(JsonValue& out) {
    if (auto st = value(out, 0); !st) return st;
    skip_space();
    return pos_ == s_.size() ? Status{} : error("JSON: unexpected text after the value");
  }

 private:
  static Status error(const char* message) noexcept { return {Errc::invalid_argument, message}; }

  void skip_space() noexcept {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) noexcept {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) noexcept {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status value(JsonValue& out, int depth) {
    if (depth > max_depth) return error("JSON: nesting too deep");
    skip_space();
    if (pos_ >= s_.size()) return error("JSON: unexpected end");
    const char c = s_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.kind = JsonValue::Kind::string;
      return string(out.text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    if (literal("true")) {
      out.kind = JsonValue::Kind::boolean;
      out.boolean = true;
      return {};
    }
    if (literal("false")) {
      out.kind = JsonValue::Kind::boolean;
      return {};
    }
    if (literal("null")) return {};
    return error("JSON: expected a value");
  }

  Status object(JsonValue& out, int depth) {
    out.kind = JsonValue::Kind::object;
    ++pos_;
    if (consume('}')) return {};
    do {
      skip_space();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"') return error("JSON: expected a member name");
      if (auto st = string(key); !st) return st;
      if (!consume(':')) return error("JSON: expected ':'");
      JsonValue v;
      if (auto st = value(v, depth + 1); !st) return st;
      out.members.emplace_back(std::move(key), std::move(v));
    } while (consume(','));
    return consume('}') ? Status{} : error("JSON: expected ',' or '}'");
  }

  Status array(JsonValue& out, int depth) {
    out.kind = JsonValue::Kind::array;
    ++pos_;
    if (consume(']')) return {};
    do {
      JsonValue v;
      if (auto st = value(v, depth + 1); !st) return st;
      out.items.push_back(std::move(v));
    } while (consume(','));
    return consume(']') ? Status{} : error("JSON: expected ',' or ']'");
  }

  Status number(JsonValue& out) {
    out.kind = JsonValue::Kind::number;
    const std::size_t start = pos_;
    const auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (s_[pos_] == '-') ++pos_;
    if (!digits()) return error("JSON: malformed number");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return error("JSON: malformed number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return error("JSON: malformed number");
    }
    out.text.assign(s_.substr(start, pos_ - start));
    return {};
  }

  static int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Appends code point `cp` as UTF-8.
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  Status hex4(uint32_t& cp) {
    if (s_.size() - pos_ < 4) return error("JSON: truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(s_[pos_++]);
      if (h < 0) return error("JSON: malformed \\u escape");
      cp = cp * 16 + static_cast<uint32_t>(h);
    }
    return {};
  }

  Status string(std::string& out) {
    ++pos_;  // the opening quote
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return {};
      if (static_cast<unsigned char>(c) < 0x20) return error("JSON: control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (auto st = hex4(cp); !st) return st;
          if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
            uint32_t low = 0;
            if (!literal("\\u")) return error("JSON: unpaired surrogate");
            if (auto st = hex4(low); !st) return st;
            if (low < 0xdc00 || low >= 0xe000) return error("JSON: unpaired surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            return error("JSON: unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return error("JSON: unknown escape");
      }
    }
    return error("JSON: unterminated string");
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace detail

inline Result<JsonValue> parse_json(std::string_view text) {
  JsonValue v;
  if (auto st = detail::JsonParser(text).parse(v); !st) return fail<JsonValue>(st);
  return v;
}

}  // namespace qinfer::io
