// SPDX-License-Identifier: Apache-2.0
//
// The firmware example: an int8 Fashion-MNIST CNN that runs from constant arrays with static
// buffers only. fashion_mnist_model.hpp (written by qinfer_model_header from a model file) holds
// the model, sample images with their labels and the outputs the host computed for them; this
// program classifies the samples with embedded::run and checks every output against the host's,
// to the bit. The same source builds for a Cortex-M4 and for the host.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fashion_mnist_model.hpp"
#include "platform.hpp"

namespace {

namespace model = fashion_mnist_model;

uint8_t workspace[model::workspace_size];
float image[model::image_size];
float outputs[model::output_size];
char predictions[model::sample_count + 1];

void write_count(const char* label, std::size_t count, const char* rest) {
  char digits[24];
  char* p = digits + sizeof digits;
  *--p = '\0';
  do {
    *--p = static_cast<char>('0' + count % 10);
    count /= 10;
  } while (count != 0);
  platform_write(label);
  platform_write(p);
  platform_write(rest);
}

}  // namespace

int run_example() {
  std::size_t same = 0, correct = 0;
  for (std::size_t i = 0; i < model::sample_count; ++i) {
    for (std::size_t p = 0; p < model::image_size; ++p) {
      image[p] = model::samples[i * model::image_size + p] / 255.0f;
    }
    const qinfer::Status status =
        qinfer::embedded::run(model::model, qinfer::Span<const float>(image),
                              qinfer::Span<uint8_t>(workspace), qinfer::Span<float>(outputs));
    if (!status) {
      platform_write("embedded::run failed: ");
      platform_write(status.message());
      platform_write("\n");
      return 1;
    }
    std::size_t best = 0;
    for (std::size_t c = 1; c < model::output_size; ++c)
      best = outputs[c] > outputs[best] ? c : best;
    predictions[i] = static_cast<char>('0' + best);
    correct += best == model::labels[i] ? 1 : 0;
    same +=
        std::memcmp(outputs, model::expected_outputs + i * model::output_size, sizeof outputs) == 0
            ? 1
            : 0;
  }
  predictions[model::sample_count] = '\0';
  platform_write("predictions: ");
  platform_write(predictions);
  platform_write("\n");
  write_count("outputs equal to the host model's, bit for bit: ", same, "");
  write_count(" of ", model::sample_count, "\n");
  write_count("correct labels: ", correct, "");
  write_count(" of ", model::sample_count, "\n");
  return same == model::sample_count ? 0 : 1;
}
