// SPDX-License-Identifier: Apache-2.0
//
// ONNX's own node tests (libonnx-testdata) run through qinfer::onnx, compared exactly: integer
// outputs element for element, float outputs bit for bit.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "qinfer/reference/onnx.hpp"
#include "support/onnx_pb.hpp"

namespace {

namespace pb = qinfer::test::onnx_pb;
using qinfer::Tensor;

const std::string node_dir = QINFER_ONNX_NODE_DIR;

template <class T>
Tensor<T> to_tensor(const pb::TensorProto& t) {
  Tensor<T> out;
  for (int64_t d : t.dims) out.dims.push_back(static_cast<std::size_t>(d));
  if (t.raw.size() != t.size() * sizeof(T)) throw std::runtime_error("tensor type mismatch");
  out.data.resize(t.size());
  std::memcpy(out.data.data(), t.raw.data(), t.raw.size());
  return out;
}

struct Case {
  std::vector<pb::TensorProto> inputs;
  std::vector<pb::TensorProto> outputs;
  pb::Node node;  // the graph's first node of the tested operator
};

Case load_case(const std::string& name, const std::string& op_type) {
  const std::string dir = node_dir + "/" + name;
  Case c;
  for (const pb::Node& n : pb::load_nodes(dir + "/model.onnx")) {
    if (n.op_type == op_type) {
      c.node = n;
      break;
    }
  }
  for (const char* kind : {"input", "output"}) {
    auto& list = std::string(kind) == "input" ? c.inputs : c.outputs;
    for (int i = 0;; ++i) {
      const std::string path = dir + "/test_data_set_0/" + kind + "_" + std::to_string(i) + ".pb";
      if (!std::filesystem::exists(path)) break;
      list.push_back(pb::load_tensor(path));
    }
  }
  return c;
}

template <class T>
void require_equal(const Tensor<T>& actual, const pb::TensorProto& expected) {
  const Tensor<T> e = to_tensor<T>(expected);
  REQUIRE(actual.dims == e.dims);
  REQUIRE(actual.data.size() == e.data.size());
  for (std::size_t i = 0; i < e.data.size(); ++i) {
    INFO("element " << i);
    if constexpr (std::is_floating_point_v<T>) {
      uint32_t a = 0, b = 0;
      std::memcpy(&a, &actual.data[i], 4);
      std::memcpy(&b, &e.data[i], 4);
      REQUIRE(a == b);
    } else {
      REQUIRE(int64_t{actual.data[i]} == int64_t{e.data[i]});
    }
  }
}

int64_t int_attribute(const pb::Node& node, const std::string& name, int64_t fallback) {
  auto it = node.attributes.find(name);
  return it == node.attributes.end() ? fallback : it->second.i;
}

qinfer::onnx::ConvAttributes conv_attributes(const pb::Node& node) {
  qinfer::onnx::ConvAttributes a;
  auto ints = [&](const char* name) {
    auto it = node.attributes.find(name);
    return it == node.attributes.end() ? std::vector<int64_t>{} : it->second.ints;
  };
  if (auto it = node.attributes.find("auto_pad"); it != node.attributes.end())
    a.auto_pad = it->second.s;
  a.dilations = ints("dilations");
  a.kernel_shape = ints("kernel_shape");
  a.pads = ints("pads");
  a.strides = ints("strides");
  a.group = int_attribute(node, "group", 1);
  return a;
}

// Every case the package ships for each operator, so a newer libonnx-testdata adding cases is
// covered without editing this list; the known 1.12 cases must all be there.
std::vector<std::string> cases_with_prefix(const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(node_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

}  // namespace

TEST_CASE("ONNX QuantizeLinear node tests pass exactly", "[onnx]") {
  const auto names = cases_with_prefix("test_quantizelinear");
  REQUIRE(names.size() >= 2);
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "QuantizeLinear");
      const auto axis = int_attribute(c.node, "axis", 1);
      const auto x = to_tensor<float>(c.inputs[0]);
      const auto scale = to_tensor<float>(c.inputs[1]);
      if (c.inputs.size() > 2 && c.inputs[2].data_type == pb::DataType::int8) {
        require_equal(qinfer::onnx::quantize_linear(x, scale, to_tensor<int8_t>(c.inputs[2]), axis),
                      c.outputs[0]);
      } else {
        const auto zp = c.inputs.size() > 2 ? to_tensor<uint8_t>(c.inputs[2]) : Tensor<uint8_t>{};
        require_equal(qinfer::onnx::quantize_linear(x, scale, zp, axis), c.outputs[0]);
      }
    }
  }
}

TEST_CASE("ONNX DequantizeLinear node tests pass exactly", "[onnx]") {
  const auto names = cases_with_prefix("test_dequantizelinear");
  REQUIRE(names.size() >= 2);
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "DequantizeLinear");
      const auto axis = int_attribute(c.node, "axis", 1);
      const auto scale = to_tensor<float>(c.inputs[1]);
      switch (c.inputs[0].data_type) {
        case pb::DataType::uint8: {
          const auto zp = c.inputs.size() > 2 ? to_tensor<uint8_t>(c.inputs[2]) : Tensor<uint8_t>{};
          require_equal(
              qinfer::onnx::dequantize_linear(to_tensor<uint8_t>(c.inputs[0]), scale, zp, axis),
              c.outputs[0]);
          break;
        }
        case pb::DataType::int8: {
          const auto zp = c.inputs.size() > 2 ? to_tensor<int8_t>(c.inputs[2]) : Tensor<int8_t>{};
          require_equal(
              qinfer::onnx::dequantize_linear(to_tensor<int8_t>(c.inputs[0]), scale, zp, axis),
              c.outputs[0]);
          break;
        }
        default: {
          const auto zp = c.inputs.size() > 2 ? to_tensor<int32_t>(c.inputs[2]) : Tensor<int32_t>{};
          require_equal(
              qinfer::onnx::dequantize_linear(to_tensor<int32_t>(c.inputs[0]), scale, zp, axis),
              c.outputs[0]);
        }
      }
    }
  }
}

TEST_CASE("ONNX DynamicQuantizeLinear node tests (plain and expanded) pass exactly", "[onnx]") {
  const auto names = cases_with_prefix("test_dynamicquantizelinear");
  REQUIRE(names.size() >= 6);
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "DynamicQuantizeLinear");
      const auto result = qinfer::onnx::dynamic_quantize_linear(to_tensor<float>(c.inputs[0]));
      require_equal(result.y, c.outputs[0]);
      require_equal(Tensor<float>::scalar(result.y_scale), c.outputs[1]);
      require_equal(Tensor<uint8_t>::scalar(result.y_zero_point), c.outputs[2]);
    }
  }
}

TEST_CASE("ONNX MatMulInteger node test passes exactly", "[onnx]") {
  const auto names = cases_with_prefix("test_matmulinteger");
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "MatMulInteger");
      const auto y = qinfer::onnx::matmul_integer(
          to_tensor<uint8_t>(c.inputs[0]), to_tensor<uint8_t>(c.inputs[1]),
          c.inputs.size() > 2 ? to_tensor<uint8_t>(c.inputs[2]) : Tensor<uint8_t>{},
          c.inputs.size() > 3 ? to_tensor<uint8_t>(c.inputs[3]) : Tensor<uint8_t>{});
      require_equal(y, c.outputs[0]);
    }
  }
}

TEST_CASE("ONNX QLinearMatMul node tests pass exactly", "[onnx]") {
  const auto names = cases_with_prefix("test_qlinearmatmul");
  REQUIRE(names.size() >= 2);
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "QLinearMatMul");
      const auto& in = c.inputs;
      const auto y = qinfer::onnx::qlinear_matmul(
          to_tensor<uint8_t>(in[0]), to_tensor<float>(in[1]), to_tensor<uint8_t>(in[2]),
          to_tensor<uint8_t>(in[3]), to_tensor<float>(in[4]), to_tensor<uint8_t>(in[5]),
          to_tensor<float>(in[6]), to_tensor<uint8_t>(in[7]));
      require_equal(y, c.outputs[0]);
    }
  }
}

TEST_CASE("ONNX ConvInteger node tests pass exactly", "[onnx]") {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(node_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find("convinteger") != std::string::npos) names.push_back(name);
  }
  REQUIRE(names.size() >= 3);
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "ConvInteger");
      const auto y = qinfer::onnx::conv_integer(
          to_tensor<uint8_t>(c.inputs[0]), to_tensor<uint8_t>(c.inputs[1]),
          c.inputs.size() > 2 ? to_tensor<uint8_t>(c.inputs[2]) : Tensor<uint8_t>{},
          c.inputs.size() > 3 ? to_tensor<uint8_t>(c.inputs[3]) : Tensor<uint8_t>{},
          conv_attributes(c.node));
      require_equal(y, c.outputs[0]);
    }
  }
}

TEST_CASE("ONNX QLinearConv node test passes exactly", "[onnx]") {
  const auto names = cases_with_prefix("test_qlinearconv");
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    SECTION(name) {
      const Case c = load_case(name, "QLinearConv");
      const auto& in = c.inputs;
      const auto y = qinfer::onnx::qlinear_conv(
          to_tensor<uint8_t>(in[0]), to_tensor<float>(in[1]), to_tensor<uint8_t>(in[2]),
          to_tensor<uint8_t>(in[3]), to_tensor<float>(in[4]), to_tensor<uint8_t>(in[5]),
          to_tensor<float>(in[6]), to_tensor<uint8_t>(in[7]),
          in.size() > 8 ? to_tensor<int32_t>(in[8]) : Tensor<int32_t>{}, conv_attributes(c.node));
      require_equal(y, c.outputs[0]);
    }
  }
}
