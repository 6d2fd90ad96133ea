// SPDX-License-Identifier: Apache-2.0
//
// Quantization-aware training: prepare_qat() calibrates a trained float model as PTQ would,
// then puts fake quantization where the int8 model quantizes (a FakeQuantize layer at each
// activation quantization point, a WeightFakeQuant with learnable scales on each conv and
// linear layer). Fine-tuning then trains through the quantization error; freeze_qat() stops the
// activation observers, and quantize_model() converts with the trained ranges and scales.
//
//   calib::prepare_qat(model, calibration, options);
//   train::Adam adam(model.parameters(), 1e-4f);        // includes the weight scales
//   train::train_epoch(model, adam, train_set, {...});
//   calib::freeze_qat(model);
//   auto int8 = calib::quantize_model(model, calibration, options);
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/nn/fake_quant.hpp"

namespace qinfer::calib {

inline void prepare_qat(nn::Sequential& model, const train::Dataset& calibration,
                        const PtqOptions& options) {
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i].kind() == nn::LayerKind::fake_quantize) {
      fail(Errc::invalid_argument, "prepare_qat: the model is already prepared");
    }
  }
  // PTQ finds the starting ranges and scales: the points in model order, the weights per layer.
  const PtqResult ptq = quantize_model(model, calibration, options);
  std::vector<const nn::QuantizedMatmul*> matmuls;
  for (const nn::QuantizedStep& step : ptq.model.steps) {
    if (const auto* m = std::get_if<nn::QuantizedMatmul>(&step)) matmuls.push_back(m);
  }
  std::size_t next_matmul = 0, next_point = 1;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (!nn::has_weights(model[i].kind())) continue;
    auto& layer = static_cast<nn::MatmulLayer&>(model[i]);
    const nn::QuantizedMatmul& m = *matmuls[next_matmul++];
    layer.set_weight_fake_quant(
        std::make_unique<nn::WeightFakeQuant>(m.bits, layer.depth(), m.weight_scales));
    if (m.dequantize) continue;
    const bool fused = i + 1 < model.size() && detail::is_activation(model[i + 1].kind());
    const std::size_t after = fused ? i + 1 : i;
    model.insert<nn::FakeQuantize>(after + 1, ptq.points[next_point++].range);
    i = after + 1;
  }
  model.insert<nn::FakeQuantize>(0, ptq.points[0].range);
}

// Stops the activation observers: the ranges stay where training left them.
inline void freeze_qat(nn::Sequential& model) {
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i].kind() == nn::LayerKind::fake_quantize)
      static_cast<nn::FakeQuantize&>(model[i]).freeze();
  }
}

}  // namespace qinfer::calib
