// conpat/wait_group.hpp — conpat::WaitGroup: Go's sync.WaitGroup. A counter
// of outstanding work; wait() blocks until it reaches zero.
//
// States: the counter (0 ... kMaxCount). add(n) moves it by n, done() by -1;
// wait() returns as soon as it observes zero. A WaitGroup may be reused:
// after the counter reaches zero, add() starts a new round.
//
// Invariant: the counter and a "waiters may be parked" flag share one 32-bit
// word, the futex word (as Go keeps counter and waiter count in one state
// word). The flag is set only while the counter is non-zero, and the update
// that takes the counter to zero clears it. So the last done() touches the
// object exactly once — that atomic update — and then wakes the kernel with
// the word's address alone (a private futex wake never reads the memory). A
// waiter that saw zero may therefore destroy the WaitGroup at once, which is
// Go's idiom (`wg.Wait()` and return), the same way glibc fixed sem_post
// (glibc bug 13690).
//
// Waiting spins, then yields, then parks on the futex (detail/park.hpp); the
// last done() makes a system call only if a waiter set the flag.
//
// Memory ordering: everything a worker wrote before its done() is visible
// to a thread once wait() (or a wait_for() that returned true) returns —
// done() is a release operation and wait() an acquire one, as in Go.
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "conpat/detail/park.hpp"

namespace conpat {

class WaitGroup {
 public:
  // The largest counter (Go's is an int32 too). add() beyond it throws.
  static constexpr std::int64_t kMaxCount = (std::int64_t{1} << 31) - 1;

  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;  // non-copyable and non-movable
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds `delta` (may be negative) to the counter. Throws std::logic_error,
  // leaving the counter unchanged, if it would go negative (Go panics) or
  // past kMaxCount.
  void add(std::ptrdiff_t delta = 1) {
    if (delta == 0) return;
    // Beyond these no counter in range can absorb delta (and the sum below
    // could overflow): reject before reading the state.
    if (delta > kMaxCount) throw std::logic_error("conpat::WaitGroup: counter overflow");
    if (delta < -kMaxCount) throw std::logic_error("conpat::WaitGroup: negative counter");
    std::uint32_t cur = state_.load(std::memory_order_relaxed);
    std::uint32_t next = 0;
    do {
      const std::int64_t count = static_cast<std::int64_t>(cur >> 1) + static_cast<std::int64_t>(delta);
      if (count < 0) throw std::logic_error("conpat::WaitGroup: negative counter");
      if (count > kMaxCount) throw std::logic_error("conpat::WaitGroup: counter overflow");
      // Reaching zero clears the waiter flag: those waiters are woken below.
      next = count == 0 ? 0 : (static_cast<std::uint32_t>(count) << 1) | (cur & kWaiters);
    } while (!state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed));
    // From here on `this` may be destroyed by a waiter that saw zero: only the address is used.
    if (next == 0 && (cur & kWaiters) != 0) detail::futex_wake(state_, INT_MAX);
  }

  // Marks one unit of work finished: add(-1).
  void done() { add(-1); }

  // Blocks until the counter is zero.
  void wait() { wait_impl(detail::Deadline{}); }

  // As wait(), but gives up after `timeout`; returns false on timeout.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    return wait_impl(detail::deadline_after(timeout));
  }

 private:
  static constexpr std::uint32_t kWaiters = 1;  // low bit; the counter is the other 31

  bool wait_impl(const detail::Deadline& deadline) {
    if (detail::spin_until([this] { return (state_.load(std::memory_order_acquire) >> 1) == 0; },
                           deadline.get())) {
      return true;
    }
    std::uint32_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((s >> 1) == 0) return true;
      if ((s & kWaiters) == 0 &&
          !state_.compare_exchange_weak(s, s | kWaiters, std::memory_order_acquire, std::memory_order_acquire)) {
        continue;  // s was reloaded
      }
      // Sleeps only while the word still reads "non-zero, waiters flagged".
      if (!detail::futex_wait(state_, s | kWaiters, deadline.get())) {
        return (state_.load(std::memory_order_acquire) >> 1) == 0;
      }
      s = state_.load(std::memory_order_acquire);
    }
  }

  std::atomic<std::uint32_t> state_{0};  // counter << 1 | kWaiters; the futex word
};

}  // namespace conpat
