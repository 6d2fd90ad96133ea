// SPDX-License-Identifier: Apache-2.0
//
// Quantizer types: a layer's scheme is a type, not a run-time branch.
//
//   Quantizer<Storage, Scheme, Rounding>         one (scale, zero point) for a whole tensor
//   PerAxisQuantizer<Storage, Scheme, Rounding>  one per index along an axis (per-channel)
//   PerGroupQuantizer<Storage, Scheme, Rounding> one per run of group_size elements along an
//                                                axis, separately for every other index (the
//                                                block layout of LLM weight formats)
//
// Storage is int8_t or uint8_t; Scheme is Affine, Symmetric<> or SymmetricNarrow (params.hpp);
// Rounding is RoundHalfToEven (ONNX) or RoundHalfAwayFromZero (TFLite). Objects come only from
// the checked factories, so a quantizer in hand always holds valid parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "qinfer/core/error.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/quant/rounding.hpp"

namespace qinfer {

// A tensor seen as [outer, extent, inner] around one axis.
struct AxisLayout {
  std::size_t outer = 1;
  std::size_t extent = 1;
  std::size_t inner = 1;
  std::size_t size() const noexcept { return outer * extent * inner; }
};

inline Status axis_layout(Span<const std::size_t> dims, std::size_t axis,
                          AxisLayout& layout) noexcept {
  if (axis >= dims.size()) return {Errc::invalid_argument, "axis out of range for the shape"};
  layout = {};
  layout.extent = dims[axis];
  std::size_t total = 1;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (!checked_mul(total, dims[d], total)) {
      return {Errc::size_overflow, "product of extents overflows"};
    }
    if (d < axis) layout.outer *= dims[d];
    if (d > axis) layout.inner *= dims[d];
  }
  return {};
}

namespace detail {

struct MinMax {
  float min = 0.0f;
  float max = 0.0f;
};

inline Status check_finite(Span<const float> x, const char* message) noexcept {
  for (float v : x) {
    if (!std::isfinite(v)) return {Errc::invalid_range, message};
  }
  return {};
}

template <class Storage, class Scheme>
Status check_params(const std::vector<QuantParams>& params) noexcept {
  if (params.empty()) return {Errc::invalid_argument, "quantizer: no parameters"};
  for (const QuantParams& p : params) {
    if (auto s = Scheme::template check<Storage>(p); !s) return s;
  }
  return {};
}

template <class Storage, class Scheme>
Status params_from_ranges(const std::vector<MinMax>& ranges, std::vector<QuantParams>& params) {
  params.clear();
  params.reserve(ranges.size());
  for (const MinMax& r : ranges) {
    if (auto s = check_range(r.min, r.max); !s) return s;
    params.push_back(Scheme::template params_from_range<Storage>(r.min, r.max));
  }
  return {};
}

template <class Storage, class Scheme>
QuantizeRange range_of(QuantParams p) noexcept {
  return {p.scale, p.zero_point, Scheme::template qmin<Storage>, Scheme::template qmax<Storage>};
}

}  // namespace detail

template <class Storage, class Scheme = Affine, class Rounding = RoundHalfToEven>
class Quantizer {
 public:
  using storage_type = Storage;
  using scheme_type = Scheme;
  using rounding_type = Rounding;
  static constexpr int32_t qmin = Scheme::template qmin<Storage>;
  static constexpr int32_t qmax = Scheme::template qmax<Storage>;

  static Result<Quantizer> create(QuantParams params) {
    if (auto s = Scheme::template check<Storage>(params); !s) return fail<Quantizer>(s);
    return Quantizer(params);
  }

  static Result<Quantizer> from_range(float min, float max) {
    if (auto s = check_range(min, max); !s) return fail<Quantizer>(s);
    return Quantizer(Scheme::template params_from_range<Storage>(min, max));
  }

  // Min-max calibration over x; every value must be finite.
  static Result<Quantizer> from_data(Span<const float> x) {
    if (auto s = check_data(x.data(), x.size(), "Quantizer::from_data: null data"); !s) {
      return fail<Quantizer>(s);
    }
    if (auto s = detail::check_finite(x, "Quantizer::from_data: x holds NaN or Inf"); !s) {
      return fail<Quantizer>(s);
    }
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    return from_range(x.empty() ? 0.0f : *lo, x.empty() ? 0.0f : *hi);
  }

  QuantParams params() const noexcept { return params_; }

  Storage quantize(float x) const noexcept {
    Storage q;
    quantize_scalar<Storage, Rounding>(&x, 1, &q, detail::range_of<Storage, Scheme>(params_));
    return q;
  }
  float dequantize(Storage q) const noexcept {
    return static_cast<float>(int32_t{q} - params_.zero_point) * params_.scale;
  }

  Result<void> quantize(Span<const float> x, Span<Storage> q) const {
    return qinfer::quantize<Storage, Rounding, Scheme>(x, q, params_);
  }
  Result<void> dequantize(Span<const Storage> q, Span<float> x) const {
    return qinfer::dequantize<Storage>(q, x, params_);
  }

 private:
  explicit Quantizer(QuantParams params) : params_(params) {}
  QuantParams params_;
};

template <class Storage, class Rounding = RoundHalfToEven>
using AffineQuantizer = Quantizer<Storage, Affine, Rounding>;
template <class Storage, bool NarrowRange = false, class Rounding = RoundHalfToEven>
using SymmetricQuantizer = Quantizer<Storage, Symmetric<NarrowRange>, Rounding>;

namespace detail {

// Shared by the per-axis and per-group quantizers: both map each element to one parameter set
// and differ only in the map, given as runs(layout, fn) calling fn(offset, length, index) for
// runs of consecutive elements sharing params[index].
template <class Storage, class Scheme, class Rounding, class Runs>
Status quantize_runs(const Runs& runs, const std::vector<QuantParams>& params, AxisLayout layout,
                     Span<const float> x, Span<Storage> q) {
  if (auto s = check_buffers(x, q, "quantize: x and q differ in size",
                             "quantize: null buffer with non-zero size");
      !s) {
    return s;
  }
  if (x.size() != layout.size())
    return {Errc::shape_mismatch, "quantize: x does not match the shape"};
  runs(layout, [&](std::size_t offset, std::size_t length, std::size_t index) {
    quantize_n<Storage, Rounding>(x.data() + offset, length, q.data() + offset,
                                  range_of<Storage, Scheme>(params[index]));
  });
  return {};
}

template <class Storage, class Runs>
Status dequantize_runs(const Runs& runs, const std::vector<QuantParams>& params, AxisLayout layout,
                       Span<const Storage> q, Span<float> x) {
  if (auto s = check_buffers(q, x, "dequantize: q and x differ in size",
                             "dequantize: null buffer with non-zero size");
      !s) {
    return s;
  }
  if (q.size() != layout.size())
    return {Errc::shape_mismatch, "dequantize: q does not match the shape"};
  runs(layout, [&](std::size_t offset, std::size_t length, std::size_t index) {
    dequantize_n(q.data() + offset, length, x.data() + offset, params[index]);
  });
  return {};
}

// Min-max calibration: the parameters of each run index's range over x.
template <class Storage, class Scheme, class Runs>
Status params_from_data(const Runs& runs, std::size_t count, AxisLayout layout, Span<const float> x,
                        std::vector<QuantParams>& params) {
  if (x.size() != layout.size())
    return {Errc::shape_mismatch, "from_data: x does not match the shape"};
  if (auto s = check_data(x.data(), x.size(), "from_data: null data"); !s) return s;
  if (auto s = check_finite(x, "from_data: x holds NaN or Inf"); !s) return s;
  // Starting from {0, 0} widens every range to contain 0, which the schemes do anyway.
  std::vector<MinMax> ranges(count);
  runs(layout, [&](std::size_t offset, std::size_t length, std::size_t index) {
    for (std::size_t i = offset; i < offset + length; ++i) {
      ranges[index].min = std::min(ranges[index].min, x[i]);
      ranges[index].max = std::max(ranges[index].max, x[i]);
    }
  });
  return params_from_ranges<Storage, Scheme>(ranges, params);
}

}  // namespace detail

template <class Storage, class Scheme = Affine, class Rounding = RoundHalfToEven>
class PerAxisQuantizer {
 public:
  using storage_type = Storage;
  using scheme_type = Scheme;
  using rounding_type = Rounding;

  // params[c] quantizes index c along `axis`.
  static Result<PerAxisQuantizer> create(std::size_t axis, std::vector<QuantParams> params) {
    if (auto s = detail::check_params<Storage, Scheme>(params); !s) {
      return fail<PerAxisQuantizer>(s);
    }
    return PerAxisQuantizer(axis, std::move(params));
  }

  // Min-max calibration per index along axis.
  static Result<PerAxisQuantizer> from_data(Span<const float> x, Span<const std::size_t> dims,
                                            std::size_t axis) {
    AxisLayout layout;
    std::vector<QuantParams> params;
    if (auto s = axis_layout(dims, axis, layout); !s) return fail<PerAxisQuantizer>(s);
    if (auto s =
            detail::params_from_data<Storage, Scheme>(Runs{}, layout.extent, layout, x, params);
        !s) {
      return fail<PerAxisQuantizer>(s);
    }
    return PerAxisQuantizer(axis, std::move(params));
  }

  std::size_t axis() const noexcept { return axis_; }
  const std::vector<QuantParams>& params() const noexcept { return params_; }

  Result<void> quantize(Span<const float> x, Span<const std::size_t> dims, Span<Storage> q) const {
    AxisLayout layout;
    if (auto s = layout_of(dims, layout); !s) return fail(s);
    if (auto s = detail::quantize_runs<Storage, Scheme, Rounding>(Runs{}, params_, layout, x, q);
        !s) {
      return fail(s);
    }
    return ok();
  }

  Result<void> dequantize(Span<const Storage> q, Span<const std::size_t> dims,
                          Span<float> x) const {
    AxisLayout layout;
    if (auto s = layout_of(dims, layout); !s) return fail(s);
    if (auto s = detail::dequantize_runs<Storage>(Runs{}, params_, layout, q, x); !s)
      return fail(s);
    return ok();
  }

 private:
  // Runs are the inner blocks: every element of block (o, c) uses params[c].
  struct Runs {
    template <class Fn>
    void operator()(AxisLayout l, Fn&& fn) const {
      for (std::size_t o = 0; o < l.outer; ++o) {
        for (std::size_t c = 0; c < l.extent; ++c) fn((o * l.extent + c) * l.inner, l.inner, c);
      }
    }
  };

  PerAxisQuantizer(std::size_t axis, std::vector<QuantParams> params)
      : axis_(axis), params_(std::move(params)) {}

  Status layout_of(Span<const std::size_t> dims, AxisLayout& layout) const noexcept {
    if (auto s = axis_layout(dims, axis_, layout); !s) return s;
    return layout.extent == params_.size()
               ? Status{}
               : Status(Errc::shape_mismatch, "PerAxisQuantizer: axis extent != parameter count");
  }

  std::size_t axis_;
  std::vector<QuantParams> params_;
};

template <class Storage, class Scheme = Affine, class Rounding = RoundHalfToEven>
class PerGroupQuantizer {
 public:
  using storage_type = Storage;
  using scheme_type = Scheme;
  using rounding_type = Rounding;

  // Parameters are laid out [outer][ceil(extent / group_size)][inner]: for weights [N, K]
  // grouped along K, N rows of ceil(K / group_size) groups.
  static Result<PerGroupQuantizer> create(std::vector<std::size_t> dims, std::size_t axis,
                                          std::size_t group_size, std::vector<QuantParams> params) {
    AxisLayout layout;
    if (auto s = checked_layout(dims, axis, group_size, layout); !s) {
      return fail<PerGroupQuantizer>(s);
    }
    if (auto s = detail::check_params<Storage, Scheme>(params); !s) {
      return fail<PerGroupQuantizer>(s);
    }
    if (params.size() != param_count(layout, group_size)) {
      return fail<PerGroupQuantizer>(Errc::shape_mismatch,
                                     "PerGroupQuantizer: wrong parameter count");
    }
    return PerGroupQuantizer(std::move(dims), axis, layout, group_size, std::move(params));
  }

  // Min-max calibration per group.
  static Result<PerGroupQuantizer> from_data(Span<const float> x, std::vector<std::size_t> dims,
                                             std::size_t axis, std::size_t group_size) {
    AxisLayout layout;
    std::vector<QuantParams> params;
    if (auto s = checked_layout(dims, axis, group_size, layout); !s) {
      return fail<PerGroupQuantizer>(s);
    }
    if (auto s = detail::params_from_data<Storage, Scheme>(
            Runs{group_size}, param_count(layout, group_size), layout, x, params);
        !s) {
      return fail<PerGroupQuantizer>(s);
    }
    return PerGroupQuantizer(std::move(dims), axis, layout, group_size, std::move(params));
  }

  static std::size_t param_count(AxisLayout l, std::size_t group_size) noexcept {
    return l.outer * ((l.extent + group_size - 1) / group_size) * l.inner;
  }

  const std::vector<std::size_t>& dims() const noexcept { return dims_; }
  std::size_t axis() const noexcept { return axis_; }
  std::size_t group_size() const noexcept { return group_size_; }
  const std::vector<QuantParams>& params() const noexcept { return params_; }

  Result<void> quantize(Span<const float> x, Span<Storage> q) const {
    if (auto s = detail::quantize_runs<Storage, Scheme, Rounding>(Runs{group_size_}, params_,
                                                                  layout_, x, q);
        !s) {
      return fail(s);
    }
    return ok();
  }
  Result<void> dequantize(Span<const Storage> q, Span<float> x) const {
    if (auto s = detail::dequantize_runs<Storage>(Runs{group_size_}, params_, layout_, q, x); !s) {
      return fail(s);
    }
    return ok();
  }

 private:
  // With inner == 1 a group is a contiguous run; otherwise each element of a group has its own
  // parameters along inner, and runs are single elements.
  struct Runs {
    std::size_t group_size;
    template <class Fn>
    void operator()(AxisLayout l, Fn&& fn) const {
      const std::size_t count = (l.extent + group_size - 1) / group_size;
      for (std::size_t o = 0; o < l.outer; ++o) {
        for (std::size_t g = 0; g < count; ++g) {
          const std::size_t first = g * group_size;
          const std::size_t length = std::min(group_size, l.extent - first);
          if (l.inner == 1) {
            fn(o * l.extent + first, length, o * count + g);
            continue;
          }
          for (std::size_t c = first; c < first + length; ++c) {
            for (std::size_t i = 0; i < l.inner; ++i) {
              fn((o * l.extent + c) * l.inner + i, 1, (o * count + g) * l.inner + i);
            }
          }
        }
      }
    }
  };

  static Status checked_layout(Span<const std::size_t> dims, std::size_t axis,
                               std::size_t group_size, AxisLayout& layout) noexcept {
    if (group_size == 0)
      return {Errc::invalid_argument, "PerGroupQuantizer: group_size must be > 0"};
    return axis_layout(dims, axis, layout);
  }

  PerGroupQuantizer(std::vector<std::size_t> dims, std::size_t axis, AxisLayout layout,
                    std::size_t group_size, std::vector<QuantParams> params)
      : dims_(std::move(dims)),
        axis_(axis),
        layout_(layout),
        group_size_(group_size),
        params_(std::move(params)) {}

  std::vector<std::size_t> dims_;
  std::size_t axis_;
  AxisLayout layout_;  // dims_ around axis_, computed once
  std::size_t group_size_;
  std::vector<QuantParams> params_;
};

}  // namespace qinfer
