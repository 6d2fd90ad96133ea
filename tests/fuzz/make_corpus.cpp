// SPDX-License-Identifier: Apache-2.0
// Writes one valid file per reader into <dir>/{safetensors,model_file,idx,blocks,rowwise}/seed:
// the fuzzers start from them, so that they mutate real structure rather than search for a
// header.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/io/model_file.hpp"
#include "qinfer/io/safetensors.hpp"

namespace {
void write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  using namespace qinfer;
  // blocks_fuzz: a shape of 1 x 32 (bytes 0 and 1), then one Q8_0 block with d = 1.
  std::vector<uint8_t> blocks = {1, 4, 0x00, 0x3c};
  for (int j = 0; j < 32; ++j) blocks.push_back(static_cast<uint8_t>(j * 7));
  write(dir + "/blocks/seed", blocks);
  // rowwise_fuzz: 2 rows of 3 (bytes 0 and 1), probe index 1, then two 4-bit rows with fp16 scale
  // 0.5 and bias -2.
  write(dir + "/rowwise/seed",
        {2, 3, 1, 0x21, 0x0f, 0x00, 0x38, 0x00, 0xc0, 0x10, 0x03, 0x00, 0x38, 0x00, 0xc0});
  write(dir + "/safetensors/seed",
        io::write_safetensors({{"a.weight", io::Dtype::f16, {2, 2}, {0, 60, 0, 188, 1, 0, 0, 124}},
                               {"a.bias", io::Dtype::i32, {1}, {1, 2, 3, 4}}},
                              {{"format", "pt"}}));
  nn::Sequential model;
  model.add<nn::Linear>(3, 4);
  model.add<nn::ReLU>();
  model.add<nn::Linear>(4, 2);
  model.initialize(1);
  train::Dataset data{{3}, {0.1f, 0.5f, 0.9f, 0.3f, 0.2f, 0.7f}, {0, 1}};
  calib::PtqOptions four_bit;
  four_bit.weight_bits = 4;
  write(dir + "/model_file/seed", io::save_model(calib::quantize_model(model, data, {}).model));
  write(dir + "/model_file/seed4",
        io::save_model(calib::quantize_model(model, data, four_bit).model));
  nn::Sequential resnet;
  resnet.add<nn::Conv2d>(nn::Conv2dOptions{1, 2, 3, 1, 1});
  auto& block = resnet.add<nn::Residual>();
  block.body().add<nn::Conv2d>(nn::Conv2dOptions{2, 2, 1, 1, 0});
  block.shortcut().add<nn::AvgPool2d>(3, 1, 1);
  resnet.add<nn::ReLU>();
  resnet.add<nn::GlobalAvgPool2d>();
  resnet.add<nn::Linear>(2, 2);
  resnet.initialize(2);
  train::Dataset images{{3, 3, 1}, std::vector<float>(18, 0.5f), {0, 1}};
  images.values[4] = 0.0f;
  write(dir + "/model_file/seed_residual",
        io::save_model(calib::quantize_model(resnet, images, {}).model));
  write(dir + "/idx/seed", {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6});
  return 0;
}
