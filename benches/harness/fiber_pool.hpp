// benches/harness/fiber_pool.hpp — the `runner:fiber` of the channel
// workloads: Boost.Fiber fibers on a pool of OS threads, one per allowed
// CPU, sharing one ready queue (Boost's shared_work), which is what Go does
// with goroutines on GOMAXPROCS threads. The benchmark's own thread is one
// of the pool's threads: fibers launched from it go to the shared queue, and
// while its main fiber waits (fiber-aware), it runs them too.
//
// The helper threads never sleep while the pool lives (shared_work without
// suspension: an idle thread polls the queue, as Go's idle Ps spin before
// they sleep), so a ready fiber starts at once; they stop when the pool is
// destroyed. The benchmark thread installs shared_work once, with
// suspension, so it does not spin when it has nothing to run.
#pragma once

#include <boost/fiber/algo/shared_work.hpp>
#include <boost/fiber/all.hpp>

#include <thread>
#include <utility>
#include <vector>

#include "conpat/fiber_wait.hpp"

namespace conpat::bench {

class FiberPool {
 public:
  // `threads` OS threads in all, this one included (at least 1).
  explicit FiberPool(int threads) {
    static const bool installed = [] {
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::shared_work>(true);
      return true;
    }();
    (void)installed;
    for (int i = 1; i < threads; ++i) {
      helpers_.emplace_back([this] {
        boost::fibers::use_scheduling_algorithm<boost::fibers::algo::shared_work>(false);
        int ignored = 0;
        stop_.recv(ignored);  // runs pool fibers until the pool closes stop_
      });
    }
  }

  ~FiberPool() {
    for (auto& f : fibers_) {
      if (f.joinable()) f.join();
    }
    stop_.close();
    for (auto& t : helpers_) t.join();
  }

  FiberPool(const FiberPool&) = delete;  // non-copyable and non-movable
  FiberPool& operator=(const FiberPool&) = delete;

  // Starts f() as a fiber on the pool.
  template <class F>
  void spawn(F&& f) {
    fibers_.emplace_back(std::forward<F>(f));
  }

  // Waits (fiber-aware: this thread runs pool fibers meanwhile) for every
  // fiber spawned so far.
  void join() {
    for (auto& f : fibers_) {
      if (f.joinable()) f.join();
    }
    fibers_.clear();
  }

  int threads() const { return static_cast<int>(helpers_.size()) + 1; }

 private:
  Channel<int, FiberWait> stop_{0};
  std::vector<std::thread> helpers_;
  std::vector<boost::fibers::fiber> fibers_;
};

}  // namespace conpat::bench
