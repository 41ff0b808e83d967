// conpat/fiber_wait.hpp — conpat::FiberWait: the waiting policy that makes
// conpat::Channel suspend the running Boost.Fiber instead of the OS thread.
//
//   conpat::Channel<int, conpat::FiberWait> ch(16);
//
// A blocked send or recv suspends its fiber at once (no spin: see
// spin_until); the thread runs other fibers meanwhile, as a goroutine parks
// in Go's runtime (gopark) rather than its thread. The
// channel's algorithm is the same as with ThreadWait. It works between
// fibers of one thread, fibers on different threads (conpat::FiberPool in
// fiber_pool.hpp, or Boost's shared_work or work_stealing), and plain
// threads (which block in their main fiber). On a FiberPool a woken fiber
// runs next on its waker's thread (detail::FiberHandoff below).
//
// Memory ordering: as detail::Parker. A signal is a release RMW of the
// state word, or, once the waiter has announced that it sleeps (kParked),
// the same RMW made while holding the Parker's spin lock; the waiter reads
// the state with acquire, and a suspended waiter returns only after the
// signaller, done with the Parker, schedules it.
#pragma once

#include <boost/fiber/detail/spinlock.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>
#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "conpat/channel.hpp"
#include "conpat/detail/park.hpp"

namespace conpat {

namespace detail {

// Where a fiber that blocked in a FiberWait operation runs once it is
// signalled. On a thread of a conpat::FiberPool (fiber_pool.hpp) an untimed
// wait detaches its fiber from the thread while it is suspended. A pool
// fiber that signals it readies it on its own thread (in that thread's
// "run next" slot if it is free, else that thread's queue), as Go
// readies a goroutine on the waker's P: a producer and a consumer that
// hand values back and forth end up on one thread, whichever threads they
// started on. Any other signaller (a plain thread, or a pool thread's main
// context, which may go on to block outside the scheduler) hands it to the
// pool (to_pool: the signalling pool thread's queue, where idle threads
// steal it, or the shared queue). Elsewhere (Boost's own algorithms, plain
// threads) a fiber stays on its thread, as Boost.Fiber keeps it.
struct FiberHandoff {
  using Lock = boost::fibers::detail::spinlock_lock;

  // This thread runs FiberPool's scheduling algorithm; its scheduler.
  static inline thread_local boost::fibers::scheduler* pool_scheduler = nullptr;
  // pool_scheduler of the thread that runs the caller now. A call the
  // compiler cannot look into: a fiber that blocked may resume on another
  // thread, and a thread-local's address computed before would be the old
  // thread's.
  [[gnu::noipa]] static boost::fibers::scheduler* here() noexcept { return pool_scheduler; }
  // Queues a ready, detached fiber where any pool thread may take it (set
  // by FiberPool before any fiber can be detached).
  static inline std::atomic<void (*)(boost::fibers::context*) noexcept> to_pool{nullptr};

  // Suspends the running fiber `active`; lk (the Parker's lock, held) is
  // released once the fiber is off its stack, and is not held on return.
  static void suspend(boost::fibers::context* active, Lock& lk) noexcept {
    boost::fibers::scheduler* s = here();
    if (s == nullptr || active->is_context(boost::fibers::type::pinned_context)) {
      active->suspend(lk);
      return;
    }
    // Safe while it still runs: Boost's algorithms detach a context only
    // when it is in no queue, and a running one is in none; nothing on
    // the way to the next context reads the running one's scheduler
    // (FiberPool's pick_next attaches through here()).
    s->detach_worker_context(active);
    // Boost releases the lock on the next context, on this thread, with
    // unique_lock::unlock(): the mutex first, then the lock object's own
    // "owns" flag. Once the mutex is free a signaller may resume this fiber
    // on its thread, so that late store must not land in this fiber's
    // frame: Boost gets a lock object of this thread's instead.
    boost::fibers::detail::spinlock* m = lk.release();
    Lock& handed = parking_lock();
    handed = Lock(*m, std::adopt_lock);
    s->suspend(handed);
    lk = Lock(*m, std::defer_lock);
  }

  // Readies a suspended fiber (signal()).
  static void ready(boost::fibers::context* ctx) noexcept {
    if (ctx->get_scheduler() != nullptr) {
      boost::fibers::context::active()->schedule(ctx);  // Boost's way: on its own thread
      return;
    }
    boost::fibers::scheduler* s = here();
    if (s != nullptr && !boost::fibers::context::active()->is_context(boost::fibers::type::pinned_context)) {
      s->attach_worker_context(ctx);  // this pool thread's from now on
      s->schedule(ctx);
    } else {
      to_pool.load(std::memory_order_acquire)(ctx);
    }
  }

 private:
  [[gnu::noipa]] static Lock& parking_lock() noexcept {
    static thread_local Lock lock;
    return lock;
  }
};

}  // namespace detail

struct FiberWait {
  // Suspension goes through Boost.Fiber's own context API, as Boost's
  // buffered_channel does: the waiter links itself under a spin lock and
  // suspends with context::suspend(lock) / wait_until(deadline, lock), the
  // signaller schedules it. A timed waiter and a signaller agree through the
  // context's twstatus word (Boost's protocol: the signaller's CAS from this
  // Parker's address to -1 wins against the timer). A mutex and condition
  // variable pair cost about twice as much per hand-off.
  class Parker {
   public:
    static constexpr std::uint32_t kParked = 1;
    static constexpr std::uint32_t kDone = 2;
    static constexpr std::uint32_t kInterrupted = 4;
    static constexpr std::uint32_t kLeaving = 8;
    static constexpr std::uint32_t kClaimed = 16;

    Parker() = default;
    Parker(const Parker&) = delete;  // non-copyable and non-movable
    Parker& operator=(const Parker&) = delete;

    // kDone waits while the waiter is leaving, as detail::BasicParker's.
    void signal(std::uint32_t bit) noexcept {
      std::uint32_t s = state_.load(std::memory_order_acquire);
      for (int i = 0;;) {
        if (bit == kDone && (s & kLeaving) != 0) {  // the waiter, on another thread, withdraws (or a select enrols)
          relax(i++);
          s = state_.load(std::memory_order_acquire);
        } else if ((s & kParked) != 0) {
          break;
        } else if (state_.compare_exchange_weak(s, s | bit, std::memory_order_acq_rel, std::memory_order_acquire)) {
          return;  // not suspended: the bit is all it needs
        }
      }
      boost::fibers::context* to_wake = nullptr;
      {
        boost::fibers::detail::spinlock_lock lk{splk_};
        // kParked is sticky: the waiter may be awake and withdrawing, so
        // the bit goes in by CAS, never over kLeaving.
        for (;;) {
          if (bit == kDone && (s & kLeaving) != 0) {
            lk.unlock();
            for (int i = 0; (s & kLeaving) != 0; s = state_.load(std::memory_order_acquire)) relax(i++);
            lk.lock();
          } else if (state_.compare_exchange_weak(s, s | bit, std::memory_order_acq_rel, std::memory_order_acquire)) {
            break;
          }
        }
        if (waiter_ != nullptr) {
          to_wake = waiter_;
          waiter_ = nullptr;
          // 0: an untimed wait, no timer to race (the waiter writes twstatus
          // under splk_, so a load suffices). This Parker: a timed one,
          // decided by CAS. Anything else (-2): its timer fired first and
          // resumes it.
          std::intptr_t tw = to_wake->twstatus.load(std::memory_order_acquire);
          if (tw != 0 && (tw != reinterpret_cast<std::intptr_t>(this) ||
                          !to_wake->twstatus.compare_exchange_strong(tw, static_cast<std::intptr_t>(-1),
                                                                     std::memory_order_acq_rel))) {
            to_wake = nullptr;
          }
        }
      }
      // Only the context is touched now: a suspended waiter cannot return
      // (and end this Parker) before it is scheduled, and one awake already
      // takes splk_ once before it returns (settle).
      if (to_wake != nullptr) detail::FiberHandoff::ready(to_wake);
    }

    std::uint32_t state() const noexcept { return state_.load(std::memory_order_acquire); }

    // As detail::BasicParker's.
    bool begin_leaving() noexcept {
      if (detail::set_unless(state_, kLeaving, kDone | kClaimed)) return true;
      settle(state());
      return false;
    }
    void end_leaving() noexcept { state_.fetch_and(~kLeaving, std::memory_order_acq_rel); }
    bool claim() noexcept { return detail::set_unless(state_, kClaimed, kLeaving | kDone); }

    // Waits until any of `bits` is set or the deadline passes (nullptr: none).
    // Returns the state seen last; it contains none of `bits` only on timeout.
    std::uint32_t wait(std::uint32_t bits, const detail::Clock::time_point* deadline = nullptr) noexcept {
      std::uint32_t s = 0;
      if (spin_until([&] { return ((s = state()) & bits) != 0; }, deadline)) return settle(s);
      boost::fibers::context* active = boost::fibers::context::active();
      boost::fibers::detail::spinlock_lock lk{splk_};
      for (;;) {
        s = state_.fetch_or(kParked, std::memory_order_acq_rel) | kParked;
        if ((s & bits) != 0) return s;
        waiter_ = active;
        if (deadline == nullptr) {
          active->twstatus.store(0, std::memory_order_release);
          detail::FiberHandoff::suspend(active, lk);  // unlocks; returns once scheduled
          // Only signal() schedules it, after setting its bit and leaving
          // splk_: no need to take the lock again to read the bit.
          s = state_.load(std::memory_order_acquire);
          if ((s & bits) != 0) return s;
        } else {
          active->twstatus.store(reinterpret_cast<std::intptr_t>(this), std::memory_order_release);
          if (!active->wait_until(*deadline, lk)) {  // timed out (wait_until unlocked)
            lk.lock();
            if (waiter_ == active) waiter_ = nullptr;
            return state_.load(std::memory_order_acquire);
          }
        }
        lk.lock();
      }
    }

   private:
    // A waiter that saw a bit without splk_ while kParked is set (sticky:
    // it parked before, and may have been woken by a timer) waits out a
    // signaller still inside its locked section, which reads waiter_ and
    // releases splk_ after setting the bit: the waiter's return may end
    // this Parker.
    std::uint32_t settle(std::uint32_t s) noexcept {
      if ((s & kParked) != 0) boost::fibers::detail::spinlock_lock lk{splk_};
      return s;
    }

    std::atomic<std::uint32_t> state_{0};
    boost::fibers::detail::spinlock splk_;
    boost::fibers::context* waiter_ = nullptr;  // guarded by splk_
  };

  // Up to 16 (detail/array_flavor.hpp, refill): beyond, a refilled fiber
  // is resumed only to find the array full again, once per value.
  static constexpr std::size_t kRefillMaxCapacity = 16;

  static void relax(int step) noexcept {
    if (step < 4 && detail::multi_cpu()) {
      for (int i = 0; i < (1 << step); ++i) detail::spin_pause();
    } else {
      boost::this_fiber::yield();
    }
  }

  // No spin: a blocked fiber looks once more and suspends, as a goroutine
  // parks at once in Go. A spin while the scheduler has no other fiber
  // ready (256 pauses, about 6 us) was measured against none, paired and
  // interleaved on the 2-CPU reference machine (abtest, 40 pairs, the fiber
  // rows of channel.spsc, mpmc, pingpong, fan_in and select_rx): it made
  // mpmc at capacities 0 and 1 38-66 % slower and mpmc 4 consumers x 1
  // producer at 1024 24 % slower, select_rx 17-32 % faster, and the other
  // 22 rows no change. Spinning holds up the fibers that are ready (the
  // peer may be one of them), and a yield loop costs two trips through the
  // ready queue per yield for every blocked fiber (with 1000 fibers blocked
  // in fan_in, the queue's lock took 40 % of the time).
  template <class Pred>
  static bool spin_until(Pred&& ready, const detail::Clock::time_point* /*deadline*/,
                         std::atomic<int>* /*budget: unused*/ = nullptr) noexcept {
    return ready();
  }
};

template <class T>
using FiberWaitChannel = Channel<T, FiberWait>;

}  // namespace conpat
