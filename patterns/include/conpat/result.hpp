// conpat/result.hpp — expected-style results: a value or an error, returned
// instead of thrown (Go's `value, err` pair as one object).
//
// conpat builds as C++20 (g++ 12's std::expected needs -std=c++23), so this
// header provides conpat::Expected<T, E>, a documented subset of
// std::expected: construction from a value or conpat::Unexpected<E>,
// has_value(), operator bool, value() (throws BadExpectedAccess<E> when
// holding an error), error(), operator* / ->, value_or(), and_then() and
// transform(). Where the standard library has std::expected
// (__cpp_lib_expected), conpat::Expected *is* std::expected, so code written
// against this subset compiles unchanged either way.
//
// Result<T> = Expected<T, std::error_code> is the error-code flavour;
// Outcome<T> = Expected<T, std::exception_ptr> carries exceptions by value
// across threads (see callback.hpp).
#pragma once

#include <exception>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#if defined(__has_include) && __has_include(<expected>) && __cplusplus > 202002L
#include <expected>
#endif

namespace conpat {

#if defined(__cpp_lib_expected)

template <class T, class E>
using Expected = std::expected<T, E>;
template <class E>
using Unexpected = std::unexpected<E>;
template <class E>
using BadExpectedAccess = std::bad_expected_access<E>;
inline constexpr bool kStdExpected = true;

#else

inline constexpr bool kStdExpected = false;

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E e) : e_(std::move(e)) {}
  const E& error() const& noexcept { return e_; }
  E& error() & noexcept { return e_; }
  E&& error() && noexcept { return std::move(e_); }

 private:
  E e_;
};

template <class E>
class BadExpectedAccess : public std::exception {
 public:
  explicit BadExpectedAccess(E e) : e_(std::move(e)) {}
  const char* what() const noexcept override { return "conpat::Expected: value() on an error"; }
  const E& error() const noexcept { return e_; }

 private:
  E e_;
};

template <class T, class E>
class Expected {
 public:
  using value_type = T;
  using error_type = E;

  Expected() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit, as std::expected
  Expected(Unexpected<E> u) : v_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    if (!has_value()) throw BadExpectedAccess<E>(error());
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!has_value()) throw BadExpectedAccess<E>(error());
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!has_value()) throw BadExpectedAccess<E>(error());
    return std::get<0>(std::move(v_));
  }
  const E& error() const& noexcept { return *std::get_if<1>(&v_); }
  E& error() & noexcept { return *std::get_if<1>(&v_); }

  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }

  // f(T) -> Expected<U, E>; an error passes through untouched.
  template <class F>
  auto and_then(F&& f) const& {
    using R = std::invoke_result_t<F, const T&>;
    return has_value() ? std::forward<F>(f)(**this) : R(Unexpected<E>(error()));
  }
  // f(T) -> U, wrapped as Expected<U, E>; an error passes through untouched.
  template <class F>
  auto transform(F&& f) const& {
    using U = std::invoke_result_t<F, const T&>;
    return has_value() ? Expected<U, E>(std::forward<F>(f)(**this)) : Expected<U, E>(Unexpected<E>(error()));
  }

 private:
  std::variant<T, E> v_;
};

#endif

template <class T>
using Result = Expected<T, std::error_code>;

template <class T>
using Outcome = Expected<T, std::exception_ptr>;

// Runs f(); a thrown exception becomes the Outcome's error (Go's recover,
// on the thread where the panic happened).
template <class F>
auto capture(F&& f) noexcept -> Outcome<std::invoke_result_t<F>> {
  using T = std::invoke_result_t<F>;
  try {
    return Outcome<T>(std::forward<F>(f)());
  } catch (...) {
    return Outcome<T>(Unexpected<std::exception_ptr>(std::current_exception()));
  }
}

// The value, or the carried exception rethrown here (on the waiter's thread).
template <class T>
T get_or_rethrow(Outcome<T> o) {
  if (!o.has_value()) std::rethrow_exception(o.error());
  return std::move(*o);
}

}  // namespace conpat
