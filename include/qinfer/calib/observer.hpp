// SPDX-License-Identifier: Apache-2.0
//
// Observers watch the values of a tensor over calibration batches and choose the real range
// [min, max] its quantization parameters are then built from:
//
// - MinMaxObserver: the extremes seen (PyTorch's and TFLite's default for activations);
// - MovingAverageMinMaxObserver: exponential moving averages of each batch's extremes
//   (PyTorch's default during QAT), less sensitive to one outlier batch;
// - HistogramObserver: a histogram of the values, from which three rules pick a narrower
//   range, clipping rare outliers to spend the 256 codes on the bulk of the distribution:
//   a percentile of |x|, the threshold minimising the KL divergence between the clipped and the
//   quantized distribution (TensorRT's entropy calibration, Migacz, "8-bit Inference with
//   TensorRT", GTC 2017), and the threshold minimising the expected squared error.
#pragma once

#include "qinfer/core/host_only.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/span.hpp"

namespace qinfer::calib {

struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

namespace detail {
inline Status check_finite(Span<const float> x) noexcept {
  for (float v : x) {
    if (!std::isfinite(v))
      return {Errc::invalid_range, "observer: NaN or Inf in the observed values"};
  }
  return {};
}
}  // namespace detail

class MinMaxObserver {
 public:
  Result<void> observe(Span<const float> x) {
    if (auto s = detail::check_finite(x); !s) return fail(s);
    for (float v : x) {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    return ok();
  }
  // [0, 0] before any value was seen.
  Range range() const noexcept { return min_ > max_ ? Range{} : Range{min_, max_}; }

 private:
  float min_ = std::numeric_limits<float>::infinity();
  float max_ = -std::numeric_limits<float>::infinity();
};

class MovingAverageMinMaxObserver {
 public:
  explicit MovingAverageMinMaxObserver(float momentum = 0.01f) : momentum_(momentum) {}

  Result<void> observe(Span<const float> x) {
    if (x.size() == 0) return ok();
    MinMaxObserver batch;
    if (auto s = detail::check_finite(x); !s) return fail(s);
    batch.observe(x);
    const Range r = batch.range();
    if (!seen_) {
      range_ = r;
      seen_ = true;
    } else {
      range_.min += momentum_ * (r.min - range_.min);
      range_.max += momentum_ * (r.max - range_.max);
    }
    return ok();
  }
  Range range() const noexcept { return range_; }

 private:
  float momentum_;
  bool seen_ = false;
  Range range_;
};

// How a HistogramObserver turns its histogram into a range.
enum class HistogramRule { percentile, entropy, mse };

// Counts of |x| in `bins` equal bins over [0, limit); the limit doubles (merging bin pairs)
// whenever a value reaches it, so one pass serves any scale. The sign is kept as the extremes:
// a range of non-negative data (after ReLU) stays [0, t].
class HistogramObserver {
 public:
  static constexpr std::size_t bins = 2048;

  Result<void> observe(Span<const float> x) {
    if (auto s = detail::check_finite(x); !s) return fail(s);
    for (float v : x) {
      extremes_.min = std::min(extremes_.min, v);
      extremes_.max = std::max(extremes_.max, v);
      const float a = std::fabs(v);
      if (a == 0.0f) {
        ++zeros_;
        continue;
      }
      if (limit_ == 0.0f) limit_ = a * 1.0001f;
      while (a >= limit_) grow();
      ++counts_[std::min(bins - 1, static_cast<std::size_t>(a / limit_ * bins))];
    }
    return ok();
  }

  // The range for `levels` quantization steps over [0, t] (255 for uint8 after ReLU, 127 per
  // side for int8); `percentile` is used by that rule, in percent.
  Range range(HistogramRule rule, std::size_t levels = 255, double percentile = 99.99) const {
    if (limit_ == 0.0f) return {};
    std::size_t edge = bins;
    switch (rule) {
      case HistogramRule::percentile:
        edge = percentile_edge(percentile);
        break;
      case HistogramRule::entropy:
        edge = entropy_edge(levels);
        break;
      case HistogramRule::mse:
        edge = mse_edge(levels);
        break;
    }
    const float t = limit_ * static_cast<float>(edge) / static_cast<float>(bins);
    return {std::max(extremes_.min, -t), std::min(extremes_.max, t)};
  }

  const std::vector<uint64_t>& counts() const noexcept { return counts_; }
  float limit() const noexcept { return limit_; }

 private:
  void grow() {
    for (std::size_t i = 0; i < bins / 2; ++i) counts_[i] = counts_[2 * i] + counts_[2 * i + 1];
    std::fill(counts_.begin() + bins / 2, counts_.end(), 0);
    limit_ *= 2.0f;
  }

  uint64_t total() const noexcept {
    uint64_t t = zeros_;
    for (uint64_t c : counts_) t += c;
    return t;
  }

  // The first bin edge below which `percentile` % of the values lie.
  std::size_t percentile_edge(double percentile) const {
    const double target = static_cast<double>(total()) * std::clamp(percentile, 0.0, 100.0) / 100.0;
    double seen = static_cast<double>(zeros_);
    for (std::size_t i = 0; i < bins; ++i) {
      seen += static_cast<double>(counts_[i]);
      if (seen >= target) return i + 1;
    }
    return bins;
  }

  // TensorRT's rule: for each candidate edge, P is the histogram below it with the rest folded
  // into its last bin, Q is P squeezed into `levels` buckets and spread back over the non-empty
  // bins of each; the edge with the smallest KL(P || Q) wins.
  std::size_t entropy_edge(std::size_t levels) const {
    levels = std::max<std::size_t>(levels, 1);
    std::size_t best_edge = bins;
    double best = std::numeric_limits<double>::infinity();
    std::vector<double> p, q;
    for (std::size_t edge = std::min(levels, bins); edge <= bins; ++edge) {
      p.assign(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(edge));
      for (std::size_t i = edge; i < bins; ++i) p[edge - 1] += static_cast<double>(counts_[i]);
      q.assign(edge, 0.0);
      for (std::size_t level = 0; level < levels; ++level) {
        const std::size_t first = level * edge / levels, last = (level + 1) * edge / levels;
        double mass = 0.0;
        std::size_t nonzero = 0;
        for (std::size_t i = first; i < last; ++i) {
          mass += static_cast<double>(counts_[i]);
          nonzero += counts_[i] != 0 ? 1 : 0;
        }
        for (std::size_t i = first; i < last; ++i) {
          if (counts_[i] != 0) q[i] = mass / static_cast<double>(nonzero);
        }
      }
      double p_sum = 0.0, q_sum = 0.0;
      for (std::size_t i = 0; i < edge; ++i) p_sum += p[i], q_sum += q[i];
      if (p_sum == 0.0 || q_sum == 0.0) continue;
      double kl = 0.0;
      for (std::size_t i = 0; i < edge; ++i) {
        if (p[i] == 0.0) continue;
        // A bin P has and Q lacks (the folded tail) costs as if Q held a tiny mass there.
        const double qi = q[i] > 0.0 ? q[i] / q_sum : 1e-12;
        kl += p[i] / p_sum * std::log(p[i] / p_sum / qi);
      }
      if (kl < best) best = kl, best_edge = edge;
    }
    return best_edge;
  }

  // The edge minimising the expected squared error: rounding error step^2 / 12 for values
  // inside, (|x| - t)^2 for clipped ones, taking each bin's values at its centre.
  std::size_t mse_edge(std::size_t levels) const {
    levels = std::max<std::size_t>(levels, 1);
    const double width = double{limit_} / bins;
    std::size_t best_edge = bins;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t edge = 1; edge <= bins; ++edge) {
      const double t = width * static_cast<double>(edge);
      const double step = t / static_cast<double>(levels);
      double error = static_cast<double>(zeros_) * step * step / 12.0;
      for (std::size_t i = 0; i < bins; ++i) {
        const double centre = (static_cast<double>(i) + 0.5) * width;
        const double e = centre <= t ? step * step / 12.0 : (centre - t) * (centre - t);
        error += static_cast<double>(counts_[i]) * e;
      }
      if (error < best) best = error, best_edge = edge;
    }
    return best_edge;
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(bins);
  uint64_t zeros_ = 0;
  float limit_ = 0.0f;
  Range extremes_{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
};

}  // namespace qinfer::calib
