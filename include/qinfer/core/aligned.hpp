// SPDX-License-Identifier: Apache-2.0
//
// Cache-line-aligned storage. Packed GEMM panels are read with 64-byte vector and tile loads;
// from a 16-byte-aligned allocation (what operator new gives) every such load would straddle
// two cache lines.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace qinfer {

inline constexpr std::size_t cache_line = 64;

template <class T, std::size_t Alignment = cache_line>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Alignment>;
  };

  AlignedAllocator() noexcept = default;
  template <class U>
  explicit AlignedAllocator(const AlignedAllocator<U, Alignment>& /*other*/) noexcept {}

  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Alignment}));
  }
  void deallocate(T* p, std::size_t /*n*/) noexcept {
    ::operator delete (p, std::align_val_t{Alignment});
  }

  friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) noexcept { return true; }
  friend bool operator!=(const AlignedAllocator&, const AlignedAllocator&) noexcept {
    return false;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace qinfer
