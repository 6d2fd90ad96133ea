// SPDX-License-Identifier: Apache-2.0
//
// An owning dense tensor (row-major, dims outermost first) for the host-side operator API. The
// kernels never need it: they take spans and shapes.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace qinfer {

template <class T>
struct Tensor {
  std::vector<std::size_t> dims;  // empty for a scalar
  std::vector<T> data;

  Tensor() = default;
  Tensor(std::vector<std::size_t> d, std::vector<T> values)
      : dims(std::move(d)), data(std::move(values)) {}

  // A scalar (rank 0) tensor.
  static Tensor scalar(T value) { return Tensor({}, {value}); }

  std::size_t rank() const noexcept { return dims.size(); }
  std::size_t size() const noexcept { return data.size(); }
  bool empty() const noexcept { return data.empty(); }
};

}  // namespace qinfer
