// SPDX-License-Identifier: Apache-2.0
//
// qinfer_model_header: a model file (io/model_file.hpp) as a C++ header of constant arrays for
// embedded::run (embedded/static_model.hpp), optionally with sample images from IDX files and
// the outputs this host computes for them, so that a firmware build can check itself.
//
//   qinfer_model_header MODEL.qinfer --input HxWxC --name NAMESPACE --out FILE.hpp
//                       [--images IDX --labels IDX --count N]
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "qinfer/io/idx.hpp"
#include "qinfer/io/model_file.hpp"
#include "qinfer/io/model_header.hpp"

using namespace qinfer;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::array<std::size_t, 3> parse_dims(const std::string& text) {
  std::array<std::size_t, 3> dims{};
  std::size_t start = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t end = i < 2 ? text.find('x', start) : text.size();
    if (end == std::string::npos) break;
    const std::string part = text.substr(start, end - start);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
        part.size() > 6) {
      break;
    }
    dims[i] = std::stoul(part);
    start = end + 1;
    if (i == 2) return dims;
  }
  throw std::invalid_argument("--input takes HxWxC, e.g. 28x28x1");
}

// The first `count` images (and labels) of IDX files, which must match the model's input.
void load_samples(const std::string& images_path, const std::string& labels_path, std::size_t count,
                  const std::array<std::size_t, 3>& dims, io::HeaderSamples& samples) {
  const std::vector<uint8_t> bytes = read_file(images_path);
  const io::IdxArray images = io::parse_idx(bytes);
  if (images.dims.size() != 3 || images.dims[1] != dims[0] || images.dims[2] != dims[1] ||
      dims[2] != 1 || images.dims[0] < count) {
    throw std::runtime_error(images_path + ": not " + std::to_string(count) +
                             " single-channel images of the model's input size");
  }
  const std::size_t image_size = dims[0] * dims[1];
  samples.pixels.assign(images.data.begin(),
                        images.data.begin() + static_cast<std::ptrdiff_t>(count * image_size));
  if (!labels_path.empty()) {
    const std::vector<uint8_t> label_bytes = read_file(labels_path);
    const io::IdxArray labels = io::parse_idx(label_bytes);
    if (labels.dims.size() != 1 || labels.dims[0] < count) {
      throw std::runtime_error(labels_path + ": fewer labels than images");
    }
    samples.labels.assign(labels.data.begin(),
                          labels.data.begin() + static_cast<std::ptrdiff_t>(count));
  }
}

}  // namespace

int main(int argc, char** argv) try {
  std::string model_path, input, name, out, images, labels;
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      model_path = arg;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--input") {
      input = value;
    } else if (arg == "--name") {
      name = value;
    } else if (arg == "--out") {
      out = value;
    } else if (arg == "--images") {
      images = value;
    } else if (arg == "--labels") {
      labels = value;
    } else if (arg == "--count") {
      count = std::stoul(value);
    } else {
      throw std::invalid_argument("unknown option " + arg);
    }
  }
  if (model_path.empty() || input.empty() || name.empty() || out.empty() ||
      (images.empty() != (count == 0))) {
    throw std::invalid_argument(
        "usage: qinfer_model_header MODEL.qinfer --input HxWxC --name NAMESPACE --out FILE.hpp "
        "[--images IDX [--labels IDX] --count N]");
  }
  const std::array<std::size_t, 3> dims = parse_dims(input);
  const std::vector<uint8_t> bytes = read_file(model_path);
  const nn::QuantizedSequential model = io::load_model(bytes);
  const io::StaticModelData data(model, dims);

  io::HeaderSamples samples;
  if (count > 0) {
    load_samples(images, labels, count, dims, samples);
    // The outputs of the host's model, which a firmware build must reproduce to the bit; the
    // embedded runner on this host must already.
    const std::size_t image_size = dims[0] * dims[1] * dims[2];
    Tensor<float> x({count, dims[0], dims[1], dims[2]}, std::vector<float>(count * image_size));
    for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] = samples.pixels[i] / 255.0f;
    samples.outputs = model.forward(x).data;
    std::vector<uint8_t> workspace(embedded::workspace_size(data.model()));
    std::vector<float> output(embedded::output_size(data.model()));
    for (std::size_t i = 0; i < count; ++i) {
      embedded::run(data.model(), Span<const float>(x.data.data() + i * image_size, image_size),
                    Span<uint8_t>(workspace), Span<float>(output));
      if (std::memcmp(output.data(), samples.outputs.data() + i * output.size(),
                      output.size() * sizeof(float)) != 0) {
        throw std::runtime_error("embedded::run differs from the model on sample " +
                                 std::to_string(i));
      }
    }
  }
  const std::string text = io::write_model_header(data, name, model_path, samples);
  std::ofstream file(out, std::ios::binary);
  file << text;
  if (!file) throw std::runtime_error("cannot write " + out);
  std::printf("wrote %s: %zu steps, workspace %zu bytes, %zu samples\n", out.c_str(),
              data.steps().size(), embedded::workspace_size(data.model()), count);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "qinfer_model_header: %s\n", e.what());
  return 1;
}
