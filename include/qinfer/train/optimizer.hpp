// SPDX-License-Identifier: Apache-2.0
//
// SGD with momentum and Adam (Kingma & Ba, 2015), stepping a model's parameters from their
// accumulated gradients. The learning rate is a field so that a schedule can set it per step.
#pragma once

#include "qinfer/core/host_only.hpp"

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

// Learning-rate schedules, as functions of the step (or epoch) so that a loop sets
// optimizer.lr before each one.

// Cosine annealing from `base` at step 0 towards 0 at step `total` (Loshchilov & Hutter,
// "SGDR", 2017, without restarts).
inline float cosine_learning_rate(float base, std::size_t step, std::size_t total) noexcept {
  if (total == 0 || step >= total) return 0.0f;
  constexpr double pi = 3.14159265358979323846;
  return static_cast<float>(
      0.5 * base * (1.0 + std::cos(pi * static_cast<double>(step) / static_cast<double>(total))));
}

// Step decay: base x gamma^(step / every).
inline float step_learning_rate(float base, std::size_t step, std::size_t every,
                                float gamma) noexcept {
  return every == 0
             ? base
             : base *
                   static_cast<float>(std::pow(double{gamma}, static_cast<double>(step / every)));
}

}  // namespace qinfer::train
