// conpat/wait_group.hpp — conpat::WaitGroup: Go's sync.WaitGroup. A counter
// of outstanding work; wait() blocks until it reaches zero.
//
// States: the counter (>= 0). add(n) moves it by n, done() by -1; wait()
// returns as soon as it observes zero. A WaitGroup may be reused: after the
// counter reaches zero, add() starts a new round.
//
// Waiting spins, then yields, then parks on a futex (detail/park.hpp); the
// last done() wakes the kernel only if some waiter actually parked.
//
// Memory ordering: everything a worker wrote before its done() is visible
// to a thread once wait() (or a wait_for() that returned true) returns —
// done() is a release operation and wait() an acquire one, as in Go.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "conpat/detail/park.hpp"

namespace conpat {

class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;  // non-copyable and non-movable
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds `delta` (may be negative) to the counter. Throws std::logic_error,
  // leaving the counter unchanged, if it would go negative (Go panics).
  void add(std::ptrdiff_t delta = 1) {
    std::int64_t cur = count_.load(std::memory_order_relaxed);
    std::int64_t next = 0;
    do {
      next = cur + static_cast<std::int64_t>(delta);
      if (next < 0) throw std::logic_error("conpat::WaitGroup: negative counter");
    } while (!count_.compare_exchange_weak(cur, next, std::memory_order_seq_cst,
                                           std::memory_order_relaxed));
    if (next == 0 && delta != 0) wake_waiters();
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
  bool zero() const noexcept { return count_.load(std::memory_order_acquire) == 0; }

  void wake_waiters() noexcept {
    // The seq_cst CAS on count_ and this load pair with the waiter's seq_cst
    // increment of sleepers_ and its seq_cst re-read of count_: either we see
    // the sleeper, or it sees zero.
    if (sleepers_.load(std::memory_order_seq_cst) != 0) {
      epoch_.fetch_add(1, std::memory_order_release);
      detail::futex_wake(epoch_, INT32_MAX);
    }
  }

  bool wait_impl(const detail::Deadline& deadline) {
    if (detail::spin_until([this] { return zero(); }, deadline.get())) return true;
    for (;;) {
      std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      bool done = count_.load(std::memory_order_seq_cst) == 0;
      bool woke = done || detail::futex_wait(epoch_, epoch, deadline.get());
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (done || zero()) return true;
      if (!woke) return false;
    }
  }

  std::atomic<std::int64_t> count_{0};
  std::atomic<std::uint32_t> epoch_{0};     // bumped on each wake-up; the futex word
  std::atomic<std::uint32_t> sleepers_{0};  // waiters that may be parked on epoch_
};

}  // namespace conpat
