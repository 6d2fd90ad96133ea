// SPDX-License-Identifier: Apache-2.0
#include "qinfer/io/safetensors.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "qinfer/io/json.hpp"

namespace qinfer::io {
namespace {

// A file with the given header text and data bytes.
std::vector<uint8_t> file_of(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> f;
  f.reserve(8 + header.size() + data.size());
  for (std::size_t i = 0; i < 8; ++i)
    f.push_back(static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i)));
  f.insert(f.end(), header.begin(), header.end());
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

// Appends a value's little-endian bytes.
template <class T>
void append(std::vector<uint8_t>& data, T value) {
  uint8_t bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  data.insert(data.end(), bytes, bytes + sizeof value);
}

TEST_CASE("safetensors reads every dtype from a hand-written file", "[io][safetensors]") {
  std::vector<uint8_t> data;
  append(data, 1.5f);
  append(data, -2.25f);
  // F16: 1.0, -0.5, the smallest subnormal, +Inf.
  const uint16_t halves[] = {0x3c00, 0xb800, 0x0001, 0x7c00};
  for (uint16_t v : halves) append(data, v);
  const uint16_t bfloats[] = {0x3f80, 0xc040};  // BF16: 1.0, -3.0
  for (uint16_t v : bfloats) append(data, v);
  append(data, int8_t{-1});
  append(data, uint8_t{255});
  append(data, int32_t{-123456});
  const std::string header = R"({"__metadata__":{"format":"pt","note":"a\"b\u00e9"},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("h":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]},)"
                             R"("i":{"dtype":"I8","shape":[],"data_offsets":[20,21]},)"
                             R"("u":{"dtype":"U8","shape":[1],"data_offsets":[21,22]},)"
                             R"("n":{"dtype":"I32","shape":[1,1],"data_offsets":[22,26]},)"
                             R"("empty":{"dtype":"F32","shape":[0,3],"data_offsets":[26,26]}})";
  const Safetensors s = Safetensors::parse(file_of(header, data));
  REQUIRE(s.tensors().size() == 7);
  CHECK(*s.metadata_value("format") == "pt");
  CHECK(*s.metadata_value("note") == "a\"b\xc3\xa9");
  CHECK(s.to_float(*s.find("a")) == std::vector<float>{1.5f, -2.25f});
  const std::vector<float> h = s.to_float(*s.find("h"));
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -0.5f);
  CHECK(h[2] == std::ldexp(1.0f, -24));
  CHECK(std::isinf(h[3]));
  CHECK(s.find("h")->shape == std::vector<std::size_t>{2, 2});
  CHECK(s.to_float(*s.find("b")) == std::vector<float>{1.0f, -3.0f});
  CHECK(s.to_float(*s.find("i")) == std::vector<float>{-1.0f});
  CHECK(s.find("i")->shape.empty());
  CHECK(s.to_float(*s.find("u")) == std::vector<float>{255.0f});
  CHECK(s.to_float(*s.find("n")) == std::vector<float>{-123456.0f});
  CHECK(s.to_float(*s.find("empty")).empty());
  CHECK(s.find("missing") == nullptr);
}

TEST_CASE("every binary16 value converts exactly", "[io][safetensors]") {
  // Against the definition: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 (m/1024).
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) continue;
    const double magnitude = e == 0 ? std::ldexp(m / 1024.0, -14)
                                    : std::ldexp(1.0 + m / 1024.0, static_cast<int>(e) - 15);
    const double expected = (h & 0x8000) ? -magnitude : magnitude;
    REQUIRE(half_to_float(static_cast<uint16_t>(h)) == static_cast<float>(expected));
  }
  CHECK(std::isnan(half_to_float(0x7e00)));
}

TEST_CASE("write_safetensors round-trips through the reader", "[io][safetensors]") {
  const std::vector<SafetensorsTensor> tensors{
      {"w", Dtype::f32, {2, 1}, {0, 0, 128, 63, 0, 0, 0, 64}},
      {"q \"x\"", Dtype::i8, {3}, {1, 2, 255}}};
  const std::vector<uint8_t> bytes = write_safetensors(tensors, {{"epochs", "3"}});
  const uint64_t header = bytes[0] | (uint64_t{bytes[1]} << 8);
  CHECK(header % 8 == 0);
  const Safetensors s = Safetensors::parse(bytes);
  CHECK(s.to_float(*s.find("w")) == std::vector<float>{1.0f, 2.0f});
  CHECK(s.to_float(*s.find("q \"x\"")) == std::vector<float>{1, 2, -1});
  CHECK(*s.metadata_value("epochs") == "3");
  CHECK_THROWS_AS(write_safetensors({{"bad", Dtype::f32, {2}, {0, 0, 0}}}), Error);
}

TEST_CASE("safetensors rejects malformed and hostile files", "[io][safetensors][errors]") {
  const std::vector<uint8_t> four(4, 0);
  const auto rejects = [](const std::string& header, std::size_t data_bytes) {
    CHECK_THROWS_AS(Safetensors::parse(file_of(header, std::vector<uint8_t>(data_bytes))), Error);
  };
  CHECK_THROWS_AS(Safetensors::parse({1, 2, 3}), Error);  // shorter than the length field
  std::vector<uint8_t> huge = file_of("{}", {});
  huge[7] = 0x7f;  // a header length past the file
  CHECK_THROWS_AS(Safetensors::parse(huge), Error);
  rejects("{", 0);
  rejects("[]", 0);
  rejects(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8);
  rejects(R"({"a":{"dtype":"F32","shape":[1]}})", 4);
  rejects(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", 4);  // past the data
  rejects(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4);  // wrong size
  rejects(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4);  // reversed
  rejects(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  rejects(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4);
  rejects(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4);
  rejects(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}})", 4);
  rejects(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})",
          4);
  rejects(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
          R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
          4);  // overlap
  rejects(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
          R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
          2);  // duplicate
  rejects(R"({"__metadata__":{"k":1}})", 0);
  rejects(R"({"a":"F32"})", 0);
  rejects(std::string(100, '[') + std::string(100, ']'), 0);  // too deep
}

TEST_CASE("safetensors never reads past any prefix of a valid file", "[io][safetensors][errors]") {
  const std::vector<uint8_t> bytes =
      write_safetensors({{"w", Dtype::f32, {3}, std::vector<uint8_t>(12, 7)}});
  for (std::size_t n = 0; n + 1 < bytes.size(); ++n) {
    const std::vector<uint8_t> prefix(bytes.begin(),
                                      bytes.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(Safetensors::parse(prefix), Error);
  }
}

TEST_CASE("the JSON reader handles escapes and rejects malformed text", "[io][json]") {
  const JsonValue v =
      parse_json(R"( {"s": "\ud83d\ude00 \n", "n": [-1.5e3, 0, true, false, null]} )");
  CHECK(v.find("s")->text == "\xf0\x9f\x98\x80 \n");
  CHECK(v.find("n")->items.size() == 5);
  std::size_t size = 0;
  CHECK_FALSE(as_size(v.find("n")->items[0], size));
  CHECK(as_size(v.find("n")->items[1], size));
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "\"\\x\"", "01x", "tru",
                          "\"abc", "1 2", "-", "1.", "1e"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_json(bad), Error);
  }
}

}  // namespace
}  // namespace qinfer::io
