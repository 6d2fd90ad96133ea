// SPDX-License-Identifier: Apache-2.0
//
// Cache-line-aligned storage. Packed GEMM panels are read with 64-byte vector and tile loads;
// from a 16-byte-aligned allocation (what operator new gives) every such load would straddle
// two cache lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "qinfer/core/span.hpp"

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

// Arrays carved one after another from one buffer, each on a cache line. Packing code runs the
// same carving twice: over no buffer, to learn the size (size(); 0 after an overflow), then over
// a caller's buffer of that size, 64-byte aligned, to place its arrays there.
class BufferCarver {
 public:
  explicit BufferCarver(std::byte* base = nullptr) noexcept : base_(base) {}

  // The next array of `count` T; its data is null when measuring.
  template <class T>
  Span<T> take(std::size_t count) noexcept {
    const std::size_t start = (used_ + cache_line - 1) / cache_line * cache_line;
    if (!ok_ || start < used_ || count > (SIZE_MAX - start) / sizeof(T)) {
      ok_ = false;
      return {};
    }
    used_ = start + count * sizeof(T);
    // The buffer's storage now holds Ts: their objects begin their lifetime here.
    return {base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + start), count};
  }

  // Marks the layout as too large for size_t (a caller's own size computation overflowed).
  void overflow() noexcept { ok_ = false; }
  bool ok() const noexcept { return ok_; }
  // Bytes used so far, rounded up to a whole cache line; 0 after an overflow.
  std::size_t size() const noexcept {
    return ok_ && used_ <= SIZE_MAX - cache_line
               ? (used_ + cache_line - 1) / cache_line * cache_line
               : 0;
  }

 private:
  std::byte* base_;
  std::size_t used_ = 0;
  bool ok_ = true;
};

// Whether `buffer` can take what a carver measured: large enough and 64-byte aligned.
inline bool fits_carved(Span<std::byte> buffer, std::size_t size) noexcept {
  return buffer.size() >= size &&
         (size == 0 || reinterpret_cast<uintptr_t>(buffer.data()) % cache_line == 0);
}

}  // namespace qinfer
