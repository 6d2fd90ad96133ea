// SPDX-License-Identifier: Apache-2.0
//
// A minimal contiguous view (C++17 has no std::span). Converts from pointer + size, from
// containers with data()/size(), and from Span<T> to Span<const T>.
#pragma once

#include <cstddef>
#include <type_traits>

namespace qinfer {

template <class T>
class Span {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;

  constexpr Span() noexcept = default;
  constexpr Span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  template <class U, class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
  constexpr Span(Span<U> other) noexcept : data_(other.data()), size_(other.size()) {}
  template <class Container,
            class = std::enable_if_t<std::is_convertible_v<
                std::remove_pointer_t<decltype(std::declval<Container&>().data())> (*)[], T (*)[]>>>
  constexpr Span(Container& c) noexcept : data_(c.data()), size_(c.size()) {}  // NOLINT
  template <std::size_t N>
  constexpr Span(T (&array)[N]) noexcept : data_(array), size_(N) {}  // NOLINT

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }
  constexpr Span subspan(std::size_t offset, std::size_t count) const noexcept {
    return {data_ + offset, count};
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

template <class Container>
Span(Container&) -> Span<std::remove_pointer_t<decltype(std::declval<Container&>().data())>>;

// A span whose size must be either 1 (one value for every channel) or the channel count: the
// shape of per-tensor-or-per-channel parameters (scales, zero points, multipliers).
template <class T>
constexpr const T& broadcast_at(Span<const T> values, std::size_t channel) noexcept {
  return values[values.size() == 1 ? 0 : channel];
}

template <class T>
constexpr bool is_broadcastable(Span<const T> values, std::size_t channels) noexcept {
  return values.size() == 1 || (values.size() == channels && channels != 0);
}

}  // namespace qinfer
