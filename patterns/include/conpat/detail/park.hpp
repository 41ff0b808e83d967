// conpat/detail/park.hpp — spin-then-park primitives shared by every blocking type.
//
// A thread that must wait first spins (cheap when the peer is running on another
// core), then yields (cheap when the machine is oversubscribed), and only then
// parks in the kernel. Waking a parked thread costs tens of microseconds on a
// virtual machine, so parking early loses by orders of magnitude; spinning
// forever collapses when there are more threads than cores.
//
// Parking uses the futex word of a std::atomic<std::uint32_t> on Linux — the
// mechanism std::atomic::wait uses there — because the blocking types need
// timed waits, which std::atomic::wait does not offer. Elsewhere it falls back
// to std::atomic::wait and, for timed waits, short sleeps.
//
// Memory ordering: these helpers only sleep and wake. Every waiter re-reads
// its atomic word after waking, and the happens-before edge is the release
// store (or RMW) to that word paired with the waiter's acquire load.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <type_traits>

#if defined(__linux__)
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <ctime>
#endif

namespace conpat::detail {

// (Not named cpu_relax: Boost.Fiber defines that as a macro.)
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

using Clock = std::chrono::steady_clock;

// A deadline on the steady clock; `expired` means "behave like the try_ form".
struct Deadline {
  bool bounded = false;        // false: wait without a time limit
  Clock::time_point at{};
  // The try_ forms' deadline (time_point::min()) answers without a clock read.
  [[gnu::always_inline]] bool expired() const noexcept { return bounded && (at == Clock::time_point::min() || Clock::now() >= at); }
  const Clock::time_point* get() const noexcept { return bounded ? &at : nullptr; }
};

// Durations and deadlines at the far ends of a clock ("wait forever"
// written as time_point<steady_clock, seconds>::max(), a duration in
// picoseconds, ...) overflow when converted to the steady clock's
// nanoseconds, and chrono's comparisons convert to the finer unit first.
// So every conversion below goes through nanoseconds as a long double
// (no overflow, ample precision for the comparisons) and saturates:
// past kForever from now a wait has no limit; at or before now it is the
// try_ form.
inline constexpr long double kForeverNs = 100.0L * 365 * 24 * 3600 * 1e9;  // a century

template <class Rep, class Period>
constexpr long double to_ns(std::chrono::duration<Rep, Period> d) noexcept {
  return std::chrono::duration<long double, std::nano>(d).count();
}

// A relative timeout.
template <class Rep, class Period>
Deadline deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
  const long double ns = to_ns(timeout);
  if (!(ns > 0)) return {true, Clock::time_point::min()};  // zero, negative (or NaN): the try_ form
  if (ns > kForeverNs) return {};
  // In range: a whole number of nanoseconds, rounded up (never early).
  const auto d = Clock::duration(static_cast<Clock::rep>(ns) + (ns > static_cast<long double>(static_cast<Clock::rep>(ns)) ? 1 : 0));
  return {true, Clock::now() + d};
}

// An absolute deadline on any clock, carried over to the steady clock.
template <class C, class D>
Deadline deadline_at(std::chrono::time_point<C, D> when) noexcept {
  const auto now = C::now();
  // Subtract as long double nanoseconds: when - now (or a comparison of
  // the two) would convert `when` to the finer unit and overflow at the
  // clock's ends.
  const long double left = to_ns(when.time_since_epoch()) - to_ns(now.time_since_epoch());
  return deadline_after(std::chrono::duration<long double, std::nano>(left));
}

// Tuning of the spin-then-park wait. The defaults fit a machine where a
// futex wake costs 60–80 µs: spinning for a few microseconds catches a
// running peer, yielding catches a peer that needs our core.
struct SpinPolicy {
  static constexpr int kSpinIterations = 4096;   // pause loop, ~100 µs at 24 ns per pause
  static constexpr int kYieldIterations = 64;    // sched_yield calls before parking
};

// Blocks while *word == expected, until woken or `deadline` passes.
// Returns false only when the deadline passed. Spurious returns are allowed:
// callers loop on their own condition.
inline bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const Clock::time_point* deadline = nullptr) noexcept {
#if defined(__linux__)
  timespec ts{};
  timespec* tsp = nullptr;
  if (deadline != nullptr) {
    auto now = Clock::now();
    if (now >= *deadline) return false;  // before subtracting: a deadline may be time_point::min()
    auto left = *deadline - now;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
                    expected, tsp, nullptr, 0);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;
#else
  if (deadline == nullptr) {
    word.wait(expected, std::memory_order_acquire);
    return true;
  }
  while (word.load(std::memory_order_acquire) == expected) {
    if (Clock::now() >= *deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
#endif
}

inline void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
#else
  if (count == 1) word.notify_one(); else word.notify_all();
#endif
}

// Whether this process may run on more than one CPU. With one CPU the peer
// a spinner waits for cannot run until the spinner gives the CPU up, so
// spinning only burns the time slice (a one-CPU pingpong spent ~200 µs per
// round trip in pause loops); like Go's runtime (active spinning only when
// ncpu > 1) the waits then go straight to yielding.
//
// Read once, from the affinity mask the program starts with (as Go's
// schedinit counts its CPUs), not from whichever thread asks first: a
// thread pinned to one CPU (benchmarks pin producer and consumer apart)
// still has peers running on the others, and if it asked first the whole
// process never spun. Where this runs at static initialisation, before
// main; a call made earlier than that, from another static initialiser,
// counts the CPUs itself.
inline bool count_multi_cpu() noexcept {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set) > 1;
#endif
  return std::thread::hardware_concurrency() != 1;
}
// 0: not read yet; 1: one CPU; 2: more.
inline std::atomic<int> multi_cpu_state{0};
inline const bool multi_cpu_at_start = [] {
  const bool multi = count_multi_cpu();
  multi_cpu_state.store(multi ? 2 : 1, std::memory_order_relaxed);
  return multi;
}();
inline bool multi_cpu() noexcept {
  const int s = multi_cpu_state.load(std::memory_order_relaxed);
  return s != 0 ? s == 2 : count_multi_cpu();
}

// Spins (on a machine with more than one CPU), then yields, until `ready()`
// holds, the budget is spent or the deadline (nullptr: none) passes.
// Returns true if `ready()` became true.
template <class Pred>
inline bool spin_until(Pred&& ready, const Clock::time_point* deadline = nullptr,
                       int spin_iterations = SpinPolicy::kSpinIterations) noexcept {
  const int spins = multi_cpu() ? spin_iterations : 0;
  for (int i = 0; i < spins; ++i) {
    if (ready()) return true;
    if (deadline != nullptr && (i & 63) == 63 && Clock::now() >= *deadline) return false;
    spin_pause();
  }
  for (int i = 0; i < SpinPolicy::kYieldIterations; ++i) {
    if (ready()) return true;
    if (deadline != nullptr && Clock::now() >= *deadline) return false;
    std::this_thread::yield();
  }
  return ready();
}

// One step of a short wait for another thread that is inside a few
// instructions' worth of work: pause, then yield.
inline void backoff(int step) noexcept {
  if (step < 8 && multi_cpu()) {
    for (int i = 0; i < (1 << step); ++i) spin_pause();
  } else {
    std::this_thread::yield();
  }
}

// Sets `bit` in `word` unless `unless` is set there; true if it did (the
// Parkers' begin_leaving).
inline bool set_unless(std::atomic<std::uint32_t>& word, std::uint32_t bit, std::uint32_t unless) noexcept {
  std::uint32_t s = word.load(std::memory_order_acquire);
  while ((s & unless) == 0) {
    if (word.compare_exchange_weak(s, s | bit, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
  }
  return false;
}

// A one-shot wake-up slot for a single waiting thread.
//
// States are bits: kParked (the waiter is, or is about to be, asleep in the
// kernel), kDone (a peer completed the waiter's operation), kInterrupted
// (a timeout source or stop callback asks the waiter to give up) and
// kLeaving (the waiter gave up and is withdrawing: begin_leaving) and
// kClaimed (a peer has committed to complete the waiter: claim). Before it
// sleeps the waiter sets kParked (fetch_or) and then sleeps only while the
// word still holds the value it read after that, so a signal that arrives
// first changes the word and is never lost; a signaller wakes the kernel
// only when it saw kParked, so the common case costs no system call.
//
// Memory ordering: signal() is a release RMW and the waiter's reads are
// acquire, so everything the peer wrote before signal() (the value handed
// over, the result status) is visible to the waiter once it sees kDone.
// Spins: the pause iterations before it yields and parks (the default
// SpinPolicy's ~100 µs suits one-shot waits such as a WaitGroup's; a channel
// operation that already spun before announcing itself spins less).
template <int Spins = SpinPolicy::kSpinIterations>
class BasicParker {
 public:
  static constexpr std::uint32_t kParked = 1;
  static constexpr std::uint32_t kDone = 2;
  static constexpr std::uint32_t kInterrupted = 4;
  static constexpr std::uint32_t kLeaving = 8;
  static constexpr std::uint32_t kClaimed = 16;

  BasicParker() = default;
  BasicParker(const BasicParker&) = delete;             // non-copyable and non-movable
  BasicParker& operator=(const BasicParker&) = delete;

  // kDone waits while the waiter is leaving (see begin_leaving); the
  // signal is the signaller's last touch of the waiter.
  void signal(std::uint32_t bit) noexcept {
    std::uint32_t old = 0;  // the usual state of a waiter: spinning, no bit set
    for (int i = 0;;) {
      if (bit == kDone && (old & kLeaving) != 0) {
        backoff(i++);
        old = state_.load(std::memory_order_relaxed);
      } else if (state_.compare_exchange_weak(old, old | bit, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        break;
      }
    }
    if ((old & kParked) != 0) futex_wake(state_, 1);
  }

  // A waiter that gave up (timeout, interrupt) and must still touch the
  // shared structure it waits in, to withdraw, first calls begin_leaving:
  // false if kDone is already set (nothing to withdraw from), else a kDone
  // signaller now waits until end_leaving. So a peer whose completion of
  // this waiter races the withdrawal cannot return, and let its side free
  // the structure, while the waiter still touches it. (A select uses it
  // too, around enrolling a case on a channel where another of its cases
  // may already have been completed: conpat/select.hpp.)
  // It is false as well once a peer claimed the waiter (then kDone follows).
  bool begin_leaving() noexcept { return set_unless(state_, kLeaving, kDone | kClaimed); }
  void end_leaving() noexcept { state_.fetch_and(~kLeaving, std::memory_order_acq_rel); }

  // A peer that will complete the waiter only after it touched the shared
  // structure again (and let a third party see the completion) first claims
  // it: false if the waiter is leaving (or done), else the waiter can no
  // longer begin_leaving and waits for the peer's kDone, touching nothing
  // but this Parker. (The array flavour's refill: detail/array_flavor.hpp.)
  bool claim() noexcept { return set_unless(state_, kClaimed, kLeaving | kDone); }

  std::uint32_t state() const noexcept { return state_.load(std::memory_order_acquire); }

  // Waits until any of `bits` is set or the deadline passes (nullptr: none).
  // Returns the state seen last; it contains none of `bits` only on timeout.
  std::uint32_t wait(std::uint32_t bits, const Clock::time_point* deadline = nullptr) noexcept {
    std::uint32_t s = 0;
    if (spin_until([&] { return ((s = state()) & bits) != 0; }, deadline, Spins)) return s;
    if (deadline != nullptr && Clock::now() >= *deadline) return s;
    s = state();
    if ((s & bits) != 0) return s;
    if ((s & kParked) == 0) {
      state_.fetch_or(kParked, std::memory_order_acq_rel);
    }
    for (;;) {
      s = state();
      if ((s & bits) != 0) return s;
      if (!futex_wait(state_, s, deadline)) {
        return state();
      }
    }
  }

 private:
  std::atomic<std::uint32_t> state_{0};
};

using Parker = BasicParker<>;

// A small lock for short critical sections: test-and-test-and-set with a
// bounded spin, then a futex sleep (Drepper's three-state mutex), so a holder
// preempted on an oversubscribed machine does not make the others burn CPU.
// Satisfies Lockable, so it works with std::lock_guard / std::unique_lock.
class SpinMutex {
 public:
  SpinMutex() = default;
  SpinMutex(const SpinMutex&) = delete;       // non-copyable and non-movable
  SpinMutex& operator=(const SpinMutex&) = delete;

  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock() noexcept {
    if (!try_lock()) lock_contended();
  }

  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(state_, 1);
  }

  // Whether some thread holds the lock now (a snapshot).
  bool locked() const noexcept { return state_.load(std::memory_order_acquire) != 0; }

 private:
  // Out of line: the uncontended lock is one CAS, inlined where it is taken.
  [[gnu::noinline]] void lock_contended() noexcept {
    const int spins = multi_cpu() ? 128 : 0;  // one CPU: the holder cannot run while we spin
    for (int i = 0; i < spins; ++i) {
      if (state_.load(std::memory_order_relaxed) == 0 && try_lock()) return;
      spin_pause();
    }
    for (int i = 0; i < 4; ++i) {
      std::this_thread::yield();
      if (state_.load(std::memory_order_relaxed) == 0 && try_lock()) return;
    }
    // 2 = locked with possible sleepers.
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      futex_wait(state_, 2);
    }
  }

  std::atomic<std::uint32_t> state_{0};  // 0 free, 1 locked, 2 locked and contended
};

}  // namespace conpat::detail

namespace conpat {

// The waiting policy of conpat::Channel: how a blocked operation waits.
// ThreadWait parks the OS thread (spin, yield, then a futex); FiberWait
// (conpat/fiber_wait.hpp) suspends the running Boost.Fiber instead, so the
// thread runs other fibers meanwhile. A policy provides:
//   Parker          a one-shot wake-up slot with kDone and kInterrupted bits,
//                   signal(bit), state(), wait(bits, deadline) and
//                   begin_leaving()/end_leaving() and claim() as
//                   detail::BasicParker;
//   relax(step)     one step of the short backoff between retries of a
//                   lock-free operation (step counts from 0);
//   spin_until(ready, deadline)  wait briefly for ready() without parking
//                   (true once it held), as detail::spin_until;
//   kRefillMaxCapacity  the largest capacity at which a receiver completes
//                   a parked sender's send (detail/array_flavor.hpp refill).
struct ThreadWait {
  // Spins ~6 µs after announcing itself (a rendezvous waits here for its
  // peer; 1.5 µs sent pingpong cap 0 to the futex now and then), not the
  // ~100 µs of SpinPolicy: a blocked buffered operation spun before it
  // announced itself.
  using Parker = detail::BasicParker<256>;
  // The spin before a channel operation parks: ~6 µs of pause (24 ns each
  // on the reference machine) covers a running peer's operation many times
  // over; longer spins cost more than they save once threads outnumber
  // CPUs, where the peer may be waiting for this very CPU.
  static constexpr int kSpinIterations = 256;
  // Every capacity. Measured on a 2-vCPU VM, refilling at capacities 16 and
  // 64 made no difference against refilling at capacity 1 only (paired
  // runs, benches/README.md); a refilled sender that is still spinning in
  // its Parker sees its kDone without a system call.
  static constexpr std::size_t kRefillMaxCapacity = SIZE_MAX;
  static void relax(int step) noexcept {
    if (step < 6 && detail::multi_cpu()) {
      for (int i = 0; i < (1 << step); ++i) detail::spin_pause();
    } else {
      std::this_thread::yield();
    }
  }
  // Adaptive when given a budget (the channel keeps one per side): a spin
  // that did not see ready() halves the next spin's length (down to 8
  // pauses), one that did doubles it (up to kSpinIterations). With more
  // threads than CPUs the peer is often descheduled, no spin succeeds, and
  // the waiters go on to yield (letting it run) at once.
  template <class Pred>
  static bool spin_until(Pred&& ready, const detail::Clock::time_point* deadline,
                         std::atomic<int>* budget = nullptr) noexcept {
    if (budget == nullptr) return detail::spin_until(ready, deadline, kSpinIterations);
    const int spins = detail::multi_cpu() ? budget->load(std::memory_order_relaxed) : 0;
    for (int i = 0; i < spins; ++i) {
      if (ready()) {
        if (spins < kSpinIterations) budget->store(std::min(kSpinIterations, 2 * spins), std::memory_order_relaxed);
        return true;
      }
      if (deadline != nullptr && (i & 63) == 63 && detail::Clock::now() >= *deadline) return false;
      detail::spin_pause();
    }
    if (detail::multi_cpu() && spins > kMinSpins) budget->store(std::max(kMinSpins, spins / 2), std::memory_order_relaxed);
    return detail::spin_until(ready, deadline, 0);  // the yields
  }
  static constexpr int kMinSpins = 8;
};

}  // namespace conpat
