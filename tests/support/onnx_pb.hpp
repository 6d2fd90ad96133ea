// SPDX-License-Identifier: Apache-2.0
//
// A small, bounds-checked reader for the parts of ONNX's protobuf files the conformance tests
// need: TensorProto (input_N.pb / output_N.pb) and the first node of a ModelProto's graph (its
// op_type and attributes). Every read checks the remaining length; malformed input throws
// std::runtime_error. Test support only: the library itself does not parse protobuf.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace qinfer::test::onnx_pb {

// ONNX TensorProto.DataType values used by the quantization operators.
enum class DataType : int32_t { float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7 };

struct TensorProto {
  std::vector<int64_t> dims;
  DataType data_type = DataType::float32;
  std::string name;
  std::vector<uint8_t> raw;  // little-endian element bytes, from raw_data or the typed fields

  std::size_t size() const {
    std::size_t n = 1;
    for (int64_t d : dims) n *= static_cast<std::size_t>(d);
    return n;
  }
};

struct Attribute {
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

struct Node {
  std::string op_type;
  std::vector<std::string> inputs;
  std::map<std::string, Attribute> attributes;
};

class Reader {
 public:
  Reader(const uint8_t* begin, const uint8_t* end) : p_(begin), end_(end) {}

  bool done() const { return p_ == end_; }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw std::runtime_error("protobuf: truncated varint");
      const uint8_t byte = *p_++;
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    throw std::runtime_error("protobuf: varint longer than 10 bytes");
  }

  Reader bytes() {
    const uint64_t length = varint();
    if (length > static_cast<uint64_t>(end_ - p_))
      throw std::runtime_error("protobuf: length past end");
    Reader sub(p_, p_ + length);
    p_ += length;
    return sub;
  }

  std::string string() {
    Reader r = bytes();
    return {reinterpret_cast<const char*>(r.p_), static_cast<std::size_t>(r.end_ - r.p_)};
  }

  template <class T>
  T fixed() {
    if (static_cast<std::size_t>(end_ - p_) < sizeof(T))
      throw std::runtime_error("protobuf: truncated fixed");
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        break;
      case 1:
        fixed<uint64_t>();
        break;
      case 2:
        bytes();
        break;
      case 5:
        fixed<uint32_t>();
        break;
      default:
        throw std::runtime_error("protobuf: unsupported wire type");
    }
  }

  // Repeated varint field, packed (wire type 2) or not (0).
  void varints(uint32_t wire_type, std::vector<int64_t>& out) {
    if (wire_type == 0) {
      out.push_back(static_cast<int64_t>(varint()));
      return;
    }
    Reader r = bytes();
    while (!r.done()) out.push_back(static_cast<int64_t>(r.varint()));
  }

  void floats(uint32_t wire_type, std::vector<float>& out) {
    if (wire_type == 5) {
      out.push_back(fixed<float>());
      return;
    }
    Reader r = bytes();
    while (!r.done()) out.push_back(r.fixed<float>());
  }

  const uint8_t* data() const { return p_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

inline std::size_t element_size(DataType t) {
  switch (t) {
    case DataType::float32:
      return 4;
    case DataType::uint8:
    case DataType::int8:
      return 1;
    case DataType::int32:
      return 4;
    case DataType::int64:
      return 8;
  }
  throw std::runtime_error("onnx: unsupported data type");
}

inline TensorProto parse_tensor(Reader r) {
  TensorProto t;
  std::vector<int64_t> ints;
  std::vector<float> float_data;
  bool has_raw = false;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3);
    const auto wire = static_cast<uint32_t>(key & 7);
    switch (field) {
      case 1:
        r.varints(wire, t.dims);
        break;
      case 2:
        t.data_type = static_cast<DataType>(r.varint());
        break;
      case 4:
        r.floats(wire, float_data);
        break;
      case 5:  // int32_data: also holds int8 and uint8 elements
      case 7:
        r.varints(wire, ints);
        break;
      case 8:
        t.name = r.string();
        break;
      case 9: {
        Reader raw = r.bytes();
        t.raw.assign(raw.data(), raw.data() + raw.remaining());
        has_raw = true;
        break;
      }
      default:
        r.skip(wire);
    }
  }
  for (int64_t d : t.dims) {
    if (d < 0 || d > (int64_t{1} << 32)) throw std::runtime_error("onnx: bad dimension");
  }
  const std::size_t width = element_size(t.data_type);
  if (!has_raw) {
    if (t.data_type == DataType::float32) {
      t.raw.resize(float_data.size() * 4);
      std::memcpy(t.raw.data(), float_data.data(), t.raw.size());
    } else {
      t.raw.resize(ints.size() * width);
      for (std::size_t i = 0; i < ints.size(); ++i) std::memcpy(&t.raw[i * width], &ints[i], width);
    }
  }
  if (t.raw.size() != t.size() * width)
    throw std::runtime_error("onnx: data size does not match dims");
  return t;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline TensorProto load_tensor(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse_tensor(Reader(bytes.data(), bytes.data() + bytes.size()));
}

inline Attribute parse_attribute(Reader r, std::string& name) {
  Attribute a;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3);
    const auto wire = static_cast<uint32_t>(key & 7);
    switch (field) {
      case 1:
        name = r.string();
        break;
      case 2:
        a.f = r.fixed<float>();
        break;
      case 3:
        a.i = static_cast<int64_t>(r.varint());
        break;
      case 4:
        a.s = r.string();
        break;
      case 7:
        r.floats(wire, a.floats);
        break;
      case 8:
        r.varints(wire, a.ints);
        break;
      default:
        r.skip(wire);
    }
  }
  return a;
}

inline Node parse_node(Reader r) {
  Node n;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3);
    const auto wire = static_cast<uint32_t>(key & 7);
    switch (field) {
      case 1:
        n.inputs.push_back(r.string());
        break;
      case 4:
        n.op_type = r.string();
        break;
      case 5: {
        std::string name;
        Attribute a = parse_attribute(r.bytes(), name);
        n.attributes[name] = a;
        break;
      }
      default:
        r.skip(wire);
    }
  }
  return n;
}

// The nodes of model.onnx's graph, in order.
inline std::vector<Node> load_nodes(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  Reader model(bytes.data(), bytes.data() + bytes.size());
  std::vector<Node> nodes;
  while (!model.done()) {
    const uint64_t key = model.varint();
    if ((key >> 3) != 7) {
      model.skip(static_cast<uint32_t>(key & 7));
      continue;
    }
    Reader graph = model.bytes();
    while (!graph.done()) {
      const uint64_t gkey = graph.varint();
      if ((gkey >> 3) == 1) {
        nodes.push_back(parse_node(graph.bytes()));
      } else {
        graph.skip(static_cast<uint32_t>(gkey & 7));
      }
    }
  }
  return nodes;
}

}  // namespace qinfer::test::onnx_pb
