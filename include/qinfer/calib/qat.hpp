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

#include "qinfer/core/host_only.hpp"

#include <cstddef>
#include <memory>
#include <vector>

#include "qinfer/calib/ptq.hpp"
#include "qinfer/nn/fake_quant.hpp"

namespace qinfer::calib {

namespace detail {

// PTQ's weight steps in model order: each block's body, then its shortcut.
inline void collect_matmuls(const std::vector<nn::QuantizedStep>& steps,
                            std::vector<const nn::QuantizedMatmul*>& out) {
  for (const nn::QuantizedStep& step : steps) {
    if (const auto* m = std::get_if<nn::QuantizedMatmul>(&step)) {
      out.push_back(m);
    } else if (const auto* r = std::get_if<nn::QuantizedResidual>(&step)) {
      collect_matmuls(r->body, out);
      collect_matmuls(r->shortcut, out);
    }
  }
}

// Walks the chains in the order PTQ numbered its points and weight steps.
class QatPreparer {
 public:
  explicit QatPreparer(const PtqResult& ptq) : ptq_(ptq) {
    collect_matmuls(ptq.model.steps, matmuls_);
  }

  void prepare(nn::Sequential& chain) {
    for (std::size_t i = 0; i < chain.size(); ++i) {
      const nn::LayerKind k = chain[i].kind();
      if (k == nn::LayerKind::residual) {
        auto& r = static_cast<nn::Residual&>(chain[i]);
        prepare(r.body());
        prepare(r.shortcut());
      } else if (nn::has_weights(k)) {
        auto& layer = static_cast<nn::MatmulLayer&>(chain[i]);
        const nn::QuantizedMatmul& m = *matmuls_.at(next_matmul_++);
        layer.set_weight_fake_quant(
            std::make_unique<nn::WeightFakeQuant>(m.bits, layer.depth(), m.weight_scales));
        if (m.dequantize) continue;
      } else {
        continue;
      }
      const std::size_t after = point_layer(chain, i);
      chain.insert<nn::FakeQuantize>(after + 1, ptq_.points.at(next_point_++).range);
      i = after + 1;
    }
  }

 private:
  const PtqResult& ptq_;
  std::vector<const nn::QuantizedMatmul*> matmuls_;
  std::size_t next_matmul_ = 0, next_point_ = 1;  // point 0 is the input
};

inline void freeze(nn::Sequential& chain) {
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (chain[i].kind() == nn::LayerKind::fake_quantize) {
      static_cast<nn::FakeQuantize&>(chain[i]).freeze();
    } else if (chain[i].kind() == nn::LayerKind::residual) {
      freeze(static_cast<nn::Residual&>(chain[i]).body());
      freeze(static_cast<nn::Residual&>(chain[i]).shortcut());
    }
  }
}

}  // namespace detail

inline void prepare_qat(nn::Sequential& model, const train::Dataset& calibration,
                        const PtqOptions& options) {
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i].kind() == nn::LayerKind::fake_quantize) {
      fail(Errc::invalid_argument, "prepare_qat: the model is already prepared");
    }
  }
  // PTQ finds the starting ranges and scales.
  const PtqResult ptq = quantize_model(model, calibration, options);
  detail::QatPreparer(ptq).prepare(model);
  model.insert<nn::FakeQuantize>(0, ptq.points[0].range);
}

// Stops the activation observers: the ranges stay where training left them.
inline void freeze_qat(nn::Sequential& model) {
  detail::freeze(model);
}

}  // namespace qinfer::calib
