// conpat/callback.hpp — the seed's third pattern: results (and errors)
// handed back through callbacks and closures.
//
//   ErrorFirst<T>            void(std::error_code, T): Node-style error-first callback
//   FunctionRef<R(A...)>     a non-owning view of any callable (no allocation, no ownership)
//   Callback<R(A...)>        a virtual interface; make_callback() wraps a callable in it
//   Chain<T>                 an async chain: then(...) steps run on one worker thread; the
//                            first exception or error skips the rest and reaches the end
//
// With std::function and the plain template parameter, these are the
// holders the callback.dispatch benchmark compares (std::move_only_function
// needs C++23; conpat builds as C++20, so it is used only where the library
// has it, __cpp_lib_move_only_function).
//
// Errors across threads: an exception that escapes a std::thread calls
// std::terminate — no handler on another thread can catch it, as no
// recover can catch another goroutine's panic. Chain catches every
// exception on the thread where it is thrown and carries it as a
// std::exception_ptr (an Outcome<T>) to the final handler or future, like
// the seed's advice to call recover inside the callback itself.
//
// Memory ordering: Chain's final handler runs on the chain's thread after
// every step; launch()'s future makes the result visible to get().
#pragma once

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "conpat/result.hpp"

namespace conpat {

template <class T>
using ErrorFirst = std::function<void(std::error_code, T)>;

// ---- FunctionRef -------------------------------------------------------------

template <class Sig>
class FunctionRef;

// Refers to a callable that must outlive it; copying copies the reference.
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, A...>)
  FunctionRef(F& f) noexcept  // NOLINT: implicit, like a reference
      : obj_(static_cast<void*>(std::addressof(f))), call_([](void* o, A... a) -> R {
          return std::invoke(*static_cast<F*>(o), std::forward<A>(a)...);
        }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

// ---- Callback: a virtual interface ---------------------------------------------

template <class Sig>
struct Callback;

template <class R, class... A>
struct Callback<R(A...)> {
  virtual ~Callback() = default;
  virtual R operator()(A... a) = 0;
};

template <class Sig, class F>
class CallbackImpl;

template <class R, class... A, class F>
class CallbackImpl<R(A...), F> final : public Callback<R(A...)> {
 public:
  explicit CallbackImpl(F f) : f_(std::move(f)) {}
  R operator()(A... a) override { return std::invoke(f_, std::forward<A>(a)...); }

 private:
  F f_;
};

template <class Sig, class F>
std::unique_ptr<Callback<Sig>> make_callback(F f) {
  return std::make_unique<CallbackImpl<Sig, F>>(std::move(f));
}

// ---- Chain ---------------------------------------------------------------------

namespace detail {
template <class T>
struct is_result : std::false_type {};
template <class V>
struct is_result<Expected<V, std::error_code>> : std::true_type {
  using value_type = V;
};
}  // namespace detail

// A sequence of steps run on one thread. A step f(T) may return U (the next
// value), Result<U> (an error_code error stops the chain as a
// std::system_error), or throw (the exception stops the chain). Later steps
// are skipped; the failure reaches the end unchanged.
template <class T>
class Chain {
 public:
  explicit Chain(std::function<Outcome<T>()> run) : run_(std::move(run)) {}

  template <class F>
  auto then(F f) && {
    using R = std::invoke_result_t<F, T>;
    if constexpr (detail::is_result<R>::value) {
      using U = typename detail::is_result<R>::value_type;
      return Chain<U>([prev = std::move(run_), f = std::move(f)]() mutable -> Outcome<U> {
        Outcome<T> in = prev();
        if (!in.has_value()) return Outcome<U>(Unexpected<std::exception_ptr>(in.error()));
        return capture([&]() -> U {
          R r = f(std::move(*in));
          if (!r.has_value()) throw std::system_error(r.error());
          return std::move(*r);
        });
      });
    } else {
      return Chain<R>([prev = std::move(run_), f = std::move(f)]() mutable -> Outcome<R> {
        Outcome<T> in = prev();
        if (!in.has_value()) return Outcome<R>(Unexpected<std::exception_ptr>(in.error()));
        return capture([&]() -> R { return f(std::move(*in)); });
      });
    }
  }

  // Runs the chain on a new thread; the future yields the value or rethrows
  // the first failure on the thread that calls get().
  std::future<T> launch() && {
    return std::async(std::launch::async, [run = std::move(run_)]() mutable { return get_or_rethrow(run()); });
  }

  // Runs the chain on a new thread and hands its Outcome — the value or the
  // first failure — to handler there. The future completes after handler.
  template <class H>
  std::future<void> launch(H handler) && {
    return std::async(std::launch::async, [run = std::move(run_), h = std::move(handler)]() mutable { h(run()); });
  }

  // Runs the chain on the calling thread.
  Outcome<T> run() && { return run_(); }

 private:
  std::function<Outcome<T>()> run_;
};

// Starts a chain with f() as its first step.
template <class F>
auto chain(F f) {
  using T = std::invoke_result_t<F>;
  return Chain<T>([f = std::move(f)]() mutable { return capture(f); });
}

}  // namespace conpat
