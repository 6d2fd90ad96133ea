// SPDX-License-Identifier: Apache-2.0
//
// One error scheme for the whole library.
//
// Every check that can fail on user input reports through `fail<T>()`. By default that throws
// `qinfer::Error`; when the including translation unit defines QINFER_NO_EXCEPTIONS, the same
// check returns a `Status` (or an `Expected<T>` holding one) instead, so firmware built with
// -fno-exceptions keeps every check. `Result<T>` names the return type of a checked function in
// the current mode: plain `T` with exceptions, `Expected<T>` without (`Status` for T = void).
// Messages are static strings: reporting an error never allocates in no-exceptions mode.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#if !defined(QINFER_NO_EXCEPTIONS)
#include <stdexcept>
#include <string>
#endif

namespace qinfer {

enum class Errc {
  ok = 0,
  invalid_argument,    // a parameter outside its documented domain
  invalid_scale,       // scale <= 0, NaN, Inf or subnormal
  invalid_range,       // a real range with NaN/Inf bounds or min > max
  invalid_zero_point,  // zero point outside the storage type
  shape_mismatch,      // extents or buffer sizes that do not agree
  size_overflow,       // a product of extents that does not fit in size_t
  null_pointer,        // null data with a non-zero size
  index_out_of_range,  // an index (an embedding row, a bag offset) outside what it indexes
};

inline constexpr const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::ok:
      return "ok";
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::invalid_scale:
      return "invalid scale";
    case Errc::invalid_range:
      return "invalid range";
    case Errc::invalid_zero_point:
      return "invalid zero point";
    case Errc::shape_mismatch:
      return "shape mismatch";
    case Errc::size_overflow:
      return "size overflow";
    case Errc::null_pointer:
      return "null pointer";
    case Errc::index_out_of_range:
      return "index out of range";
  }
  return "unknown error";
}

// An error code and a static message naming the offending argument ("gemm: b_zero_points must
// have 1 or n entries").
class [[nodiscard]] Status {
 public:
  constexpr Status() noexcept = default;
  constexpr Status(Errc code, const char* message) noexcept : code_(code), message_(message) {}

  constexpr bool ok() const noexcept { return code_ == Errc::ok; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr Errc code() const noexcept { return code_; }
  constexpr const char* message() const noexcept { return message_; }

 private:
  Errc code_ = Errc::ok;
  const char* message_ = "ok";
};

// A value or the Status that explains its absence (no-exceptions mode only needs this, but it is
// an ordinary type usable in both modes).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Expected(Status status) : status_(status) {}     // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  Status status() const noexcept { return status_; }
  // Precondition for the accessors: ok().
  T& value() noexcept { return *value_; }
  const T& value() const noexcept { return *value_; }
  T& operator*() noexcept { return *value_; }
  const T& operator*() const noexcept { return *value_; }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_{};
};

#if defined(QINFER_NO_EXCEPTIONS)
inline constexpr bool exceptions_enabled = false;
#else
inline constexpr bool exceptions_enabled = true;

// Thrown by every failed check. `status()` keeps the machine-readable code.
class Error : public std::runtime_error {
 public:
  explicit Error(Status status)
      : std::runtime_error(std::string("qinfer: ") + errc_name(status.code()) + ": " +
                           status.message()),
        status_(status) {}
  Status status() const noexcept { return status_; }

 private:
  Status status_;
};
#endif

namespace detail {
template <class T>
struct ResultOf {
  using type = std::conditional_t<exceptions_enabled, T, Expected<T>>;
};
template <>
struct ResultOf<void> {
  using type = std::conditional_t<exceptions_enabled, void, Status>;
};
}  // namespace detail

// The return type of a checked function returning T.
template <class T>
using Result = typename detail::ResultOf<T>::type;

// Reports a failed check: throws with exceptions, returns the status without.
template <class T = void>
Result<T> fail(Status status) {
#if defined(QINFER_NO_EXCEPTIONS)
  return Result<T>(status);
#else
  throw Error(status);
#endif
}

template <class T = void>
Result<T> fail(Errc code, const char* message) {
  return fail<T>(Status(code, message));
}

// Moves the value of a checked call's result into `out`, or returns the status that explains its
// absence, so that code calling checked functions reads the same in both modes (with
// exceptions a failure has already thrown).
#if defined(QINFER_NO_EXCEPTIONS)
template <class T>
Status take(Expected<T>&& result, T& out) {
  if (!result) return result.status();
  out = std::move(*result);
  return {};
}
#else
template <class T>
Status take(T&& value, std::remove_reference_t<T>& out) {
  out = std::forward<T>(value);
  return {};
}
#endif

// The Status of a checked call returning Result<void>, in either mode (with exceptions a
// failure has already thrown), for code that goes on or stops by the Status.
template <class Call>
Status status_of(Call&& call) {
  if constexpr (exceptions_enabled) {
    call();
    return {};
  } else {
    return call();
  }
}

// The successful return of a checked function returning nothing.
#if defined(QINFER_NO_EXCEPTIONS)
inline Status ok() {
  return Status{};
}
#else
inline void ok() {}
#endif

}  // namespace qinfer
