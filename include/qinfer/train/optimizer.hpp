// SPDX-License-Identifier: Apache-2.0
//
// SGD with momentum and Adam (Kingma & Ba, 2015), stepping a model's parameters from their
// accumulated gradients. The learning rate is a field so that a schedule can set it per step.
#pragma once

#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "qinfer/nn/layer.hpp"

namespace qinfer::train {

class Sgd {
 public:
  Sgd(std::vector<nn::Parameter*> params, float learning_rate, float momentum_factor = 0.9f)
      : params_(std::move(params)), lr(learning_rate), momentum(momentum_factor) {
    for (const nn::Parameter* p : params_) velocity_.emplace_back(p->value.size());
  }

  void step() {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      nn::Parameter& p = *params_[i];
      std::vector<float>& v = velocity_[i];
      for (std::size_t j = 0; j < p.value.size(); ++j) {
        v[j] = momentum * v[j] + p.grad[j];
        p.value[j] -= lr * v[j];
      }
    }
  }

 private:
  std::vector<nn::Parameter*> params_;
  std::vector<std::vector<float>> velocity_;

 public:
  float lr;
  float momentum;
};

class Adam {
 public:
  explicit Adam(std::vector<nn::Parameter*> params, float learning_rate = 1e-3f, float beta1 = 0.9f,
                float beta2 = 0.999f, float epsilon = 1e-8f)
      : params_(std::move(params)),
        lr(learning_rate),
        beta1_(beta1),
        beta2_(beta2),
        epsilon_(epsilon) {
    for (const nn::Parameter* p : params_) {
      m_.emplace_back(p->value.size());
      v_.emplace_back(p->value.size());
    }
  }

  void step() {
    ++t_;
    const double correction1 = 1.0 - std::pow(double{beta1_}, t_);
    const double correction2 = 1.0 - std::pow(double{beta2_}, t_);
    const auto step_size = static_cast<float>(lr * std::sqrt(correction2) / correction1);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      nn::Parameter& p = *params_[i];
      for (std::size_t j = 0; j < p.value.size(); ++j) {
        const float g = p.grad[j];
        m_[i][j] = beta1_ * m_[i][j] + (1.0f - beta1_) * g;
        v_[i][j] = beta2_ * v_[i][j] + (1.0f - beta2_) * g * g;
        p.value[j] -= step_size * m_[i][j] / (std::sqrt(v_[i][j]) + epsilon_);
      }
    }
  }

 private:
  std::vector<nn::Parameter*> params_;
  std::vector<std::vector<float>> m_, v_;
  int t_ = 0;

 public:
  float lr;

 private:
  float beta1_, beta2_, epsilon_;
};

}  // namespace qinfer::train
