// conpat/detail/doorbell.hpp — wake-ups for lock-free structures whose fast
// path must not pay for a full memory fence.
//
// A lock-free ring publishes an index with a release store. A waiter that
// parks must not miss that store, which classically needs a StoreLoad fence
// on *both* sides (Dekker). Doorbell makes the fence asymmetric, as folly's
// asymmetric barriers do: the parking side, which is about to spend tens of
// microseconds asleep anyway, issues membarrier(2) — a fence on every CPU
// running this process — so the ringing side needs only a compiler barrier.
// Where membarrier is unavailable both sides use a seq_cst fence.
//
// Memory ordering: a thread that stores state (a release store that
// publishes, or an announcement that a publication is imminent) and then
// calls ring() will wake any waiter whose predicate was false before that
// store; the waiter re-evaluates its predicate (with acquire loads of its
// own) before returning.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>

#include "conpat/detail/park.hpp"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace conpat::detail {

// True once membarrier(PRIVATE_EXPEDITED) is registered for this process.
inline bool asymmetric_fences() noexcept {
#if defined(__linux__) && defined(SYS_membarrier) && !defined(__SANITIZE_THREAD__)
  static const bool ok = [] {
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return false;
    // A sandbox may allow registering but refuse the command itself: try it.
    return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
  }();
  return ok;
#else
  // ThreadSanitizer does not model membarrier; it sees the seq_cst path.
  return false;
#endif
}

// g++ warns that TSan ignores fences; under TSan these fences order only the
// sleeper count, never data, so the warning does not apply.
#if defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif

[[gnu::always_inline]] inline void light_fence() noexcept {
  if (asymmetric_fences()) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

inline void heavy_fence() noexcept {
#if defined(__linux__) && defined(SYS_membarrier)
  if (asymmetric_fences()) {
    // asymmetric_fences() made this very call once and required it to work;
    // if it fails now the other side is unfenced, so going on would be wrong.
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) std::terminate();
    return;
  }
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

#if defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic pop
#endif

class Doorbell {
 public:
  Doorbell() { asymmetric_fences(); }  // register early, off the hot path
  Doorbell(const Doorbell&) = delete;  // non-copyable and non-movable
  Doorbell& operator=(const Doorbell&) = delete;

  // Call after publishing (release store). Cheap unless someone sleeps.
  void ring() noexcept {
    light_fence();
    if (sleepers_.load(std::memory_order_relaxed) != 0) ring_slow();
  }

  // ring() in two steps, for a caller that must not touch the doorbell's
  // owner after some store: prepare() bumps the epoch if anyone sleeps and
  // returns the futex word to wake (nullptr if none); wake(word) after the
  // store makes only the futex system call on that address, which reads no
  // memory (a waiter that already left merely sees a spurious wake-up).
  std::atomic<std::uint32_t>* prepare() noexcept {
    light_fence();
    if (sleepers_.load(std::memory_order_relaxed) == 0) return nullptr;
    epoch_.fetch_add(1, std::memory_order_release);
    return &epoch_;
  }
  static void wake(std::atomic<std::uint32_t>* word) noexcept {
    if (word != nullptr) futex_wake(*word, INT32_MAX);
  }

  // Wakes every parked waiter whatever the sleeper count says (close, stop).
  void notify_all() noexcept { ring_slow(); }

  // Waits until `ready()` holds (true) or the deadline passes (false).
  template <class Pred>
  bool wait(Pred&& ready, const Clock::time_point* deadline = nullptr) noexcept {
    if (spin_until(ready, deadline)) return true;
    for (;;) {
      std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      heavy_fence();
      if (ready()) {
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
      bool in_time = futex_wait(epoch_, epoch, deadline);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (ready()) return true;
      if (!in_time) return false;
    }
  }

 private:
  void ring_slow() noexcept {
    epoch_.fetch_add(1, std::memory_order_release);
    futex_wake(epoch_, INT32_MAX);
  }

  std::atomic<std::uint32_t> epoch_{0};     // the futex word; bumped per wake-up
  std::atomic<std::uint32_t> sleepers_{0};  // threads between announcing and leaving a park
};

// Counts close() calls in progress, so that a destructor can wait for them.
// A consumer that sees "closed and drained" may destroy a ring at once, yet
// close() still has doorbells to ring after publishing the closed state (a
// waiter must see the state when it wakes). The guard's decrement is the
// last thing close() does to the object; the destructor waits for zero.
//
// Memory ordering: construct the guard before the release RMW that
// publishes "closed"; whoever acquires that state then sees the count >= 1
// until the guard's release decrement.
class CloseGuard {
 public:
  explicit CloseGuard(std::atomic<std::uint32_t>& count) noexcept : count_(count) {
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  ~CloseGuard() { count_.fetch_sub(1, std::memory_order_release); }
  CloseGuard(const CloseGuard&) = delete;  // non-copyable and non-movable
  CloseGuard& operator=(const CloseGuard&) = delete;

  static void wait_idle(const std::atomic<std::uint32_t>& count) noexcept {
    while (count.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  }

 private:
  std::atomic<std::uint32_t>& count_;
};

}  // namespace conpat::detail
