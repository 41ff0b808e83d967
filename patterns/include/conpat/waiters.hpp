// conpat/waiters.hpp — ways to wait for N workers, behind one small shape so
// one harness drives them all:
//
//   void arm(std::ptrdiff_t n);  // before a round, no worker running: expect n done() calls
//   void done();                 // by each worker, once per round
//   void wait();                 // by the waiter: returns after the n-th done()
//   static constexpr const char* kName;
//
// Index, one line each:
//   WaitGroupWaiter   conpat::WaitGroup: atomic counter, spin, then futex park
//   CondVarWaiter     std::mutex + std::condition_variable + a count
//   LatchWaiter       std::latch (the count is known when the round starts)
//   SpinWaiter        an atomic counter and a pure busy-wait: no yield, no park
//   FiberWaitGroup    Boost.Fiber mutex + condition_variable: parks fibers, not threads
// tbb::task_group::wait is the sixth way; it owns its tasks, so the benches
// drive it directly.
//
// Memory ordering: for every waiter here, what a worker wrote before done()
// is visible to the thread that returns from wait() (release/acquire through
// the counter, or the mutex).
#pragma once

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/mutex.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <latch>
#include <mutex>
#include <optional>

#include "conpat/detail/park.hpp"
#include "conpat/wait_group.hpp"

namespace conpat {

class WaitGroupWaiter {
 public:
  static constexpr const char* kName = "waitgroup";
  void arm(std::ptrdiff_t n) { wg_.add(n); }
  void done() { wg_.done(); }
  void wait() { wg_.wait(); }

 private:
  WaitGroup wg_;
};

// A count under a mutex, and a condition variable for the waiter; the mutex
// and condition variable types choose threads (std::) or fibers (boost::fibers).
template <class Mutex, class CondVar, const char* Name>
class BasicCondVarWaiter {
 public:
  static constexpr const char* kName = Name;
  void arm(std::ptrdiff_t n) {
    std::lock_guard lk(mu_);
    count_ += n;
  }
  void done() {
    std::lock_guard lk(mu_);  // notify under the lock: the waiter may destroy us once it sees 0
    if (--count_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [this] { return count_ == 0; });
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::ptrdiff_t count_ = 0;  // guarded by mu_
};

inline constexpr char kCondVarWaiterName[] = "condvar";
using CondVarWaiter = BasicCondVarWaiter<std::mutex, std::condition_variable, kCondVarWaiterName>;

class LatchWaiter {
 public:
  static constexpr const char* kName = "latch";
  void arm(std::ptrdiff_t n) { latch_.emplace(n); }  // a latch cannot be reset: make a new one
  void done() { latch_->count_down(); }
  void wait() { latch_->wait(); }

 private:
  std::optional<std::latch> latch_;
};

class SpinWaiter {
 public:
  static constexpr const char* kName = "spin";
  void arm(std::ptrdiff_t n) { count_.fetch_add(n, std::memory_order_relaxed); }
  void done() { count_.fetch_sub(1, std::memory_order_release); }
  void wait() {
    while (count_.load(std::memory_order_acquire) != 0) detail::spin_pause();
  }

 private:
  std::atomic<std::ptrdiff_t> count_{0};
};

// Go's WaitGroup for fibers: waiting suspends the fiber, and the thread runs
// other fibers meanwhile.
inline constexpr char kFiberWaitGroupName[] = "fiber_waitgroup";
using FiberWaitGroup =
    BasicCondVarWaiter<boost::fibers::mutex, boost::fibers::condition_variable, kFiberWaitGroupName>;

}  // namespace conpat
