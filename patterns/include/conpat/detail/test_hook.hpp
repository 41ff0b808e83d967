// conpat/detail/test_hook.hpp — a one-shot hook that tests use to run code
// at a chosen point inside a lock-free operation, so an interleaving that a
// stress loop reaches once in millions of rounds is forced every time.
//
// Compiled in only where CONPAT_TEST_HOOKS is defined (one test executable
// does); elsewhere CONPAT_TEST_HOOK(name) is nothing. The hook is
// thread-local: it fires on the thread that armed it, once.
#pragma once

#if defined(CONPAT_TEST_HOOKS)
#include <functional>
#include <string_view>
#include <utility>

namespace conpat::detail::test_hook {

struct Armed {
  std::string_view point;
  std::function<void()> fn;
};
inline thread_local Armed armed;

// Runs fn() the next time this thread passes CONPAT_TEST_HOOK(point).
inline void arm(std::string_view point, std::function<void()> fn) { armed = {point, std::move(fn)}; }

inline void fire(std::string_view point) {
  if (armed.fn && armed.point == point) {
    auto fn = std::exchange(armed.fn, nullptr);
    fn();
  }
}

}  // namespace conpat::detail::test_hook

#define CONPAT_TEST_HOOK(point) ::conpat::detail::test_hook::fire(point)
#else
#define CONPAT_TEST_HOOK(point) ((void)0)
#endif
