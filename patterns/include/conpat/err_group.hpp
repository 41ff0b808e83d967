// conpat/err_group.hpp — conpat::ErrGroup: Go's golang.org/x/sync/errgroup
// with a context. Runs tasks on their own threads, carries the first
// exception back to wait(), and cancels the others through a std::stop_token.
//
// An exception that escapes a plain std::thread calls std::terminate — C++'s
// panic that no recover can catch because it happened on another goroutine.
// ErrGroup catches it on the task's thread and rethrows it from wait().
//
// States: running tasks (threads not yet joined), an optional limit on how
// many run at once, the first exception (sticky once set), and a stop source.
// Stop is requested on the first exception and whenever wait() returns.
//
// Memory ordering: everything a task did happens-before wait() returns (the
// task's thread is joined), and the first exception is published under mu_.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace conpat {

class ErrGroup {
 public:
  ErrGroup() = default;

  // Requests stop and joins every task. Never throws; an exception no
  // wait() collected is dropped.
  ~ErrGroup() {
    stop_.request_stop();
    join_all();
  }

  ErrGroup(const ErrGroup&) = delete;  // non-copyable and non-movable
  ErrGroup& operator=(const ErrGroup&) = delete;

  // At most n tasks run at once: go() blocks at the limit and try_go()
  // refuses. n < 0 removes the limit. Tasks already running are unaffected.
  void set_limit(int n) {
    std::lock_guard lk(mu_);
    limit_ = n;
    slot_free_.notify_all();
  }

  // Starts f() — or f(stop_token) if f accepts one — on a new thread,
  // blocking first while the limit is reached. f may throw.
  template <class F>
  void go(F&& f) {
    std::unique_lock lk(mu_);
    slot_free_.wait(lk, [this] { return limit_ < 0 || active_ < limit_; });
    start_locked(std::forward<F>(f));
  }

  // As go(), but returns false, without starting f, when at the limit.
  template <class F>
  bool try_go(F&& f) {
    std::unique_lock lk(mu_);
    if (limit_ >= 0 && active_ >= limit_) return false;
    start_locked(std::forward<F>(f));
    return true;
  }

  // Joins every task started so far (and any they start meanwhile), requests
  // stop, then rethrows the first exception any task threw. The exception
  // is sticky: every later wait() rethrows it too.
  void wait() {
    join_all();
    stop_.request_stop();
    std::lock_guard lk(mu_);
    if (first_error_) std::rethrow_exception(first_error_);
  }

  // Requested on the first exception and when wait() returns.
  std::stop_token stop_token() const { return stop_.get_token(); }

 private:
  template <class F>
  void start_locked(F&& f) {  // requires mu_ held
    ++active_;
    try {
      threads_.emplace_back([this, fn = std::decay_t<F>(std::forward<F>(f))]() mutable {
        try {
          if constexpr (std::is_invocable_v<std::decay_t<F>&, std::stop_token>) {
            std::invoke(fn, stop_.get_token());
          } else {
            std::invoke(fn);
          }
        } catch (...) {
          record(std::current_exception());
        }
        std::lock_guard lk(mu_);
        --active_;
        slot_free_.notify_one();
      });
    } catch (...) {
      --active_;  // the thread did not start
      throw;
    }
  }

  void record(std::exception_ptr e) {
    {
      std::lock_guard lk(mu_);
      if (first_error_) return;
      first_error_ = std::move(e);
    }
    stop_.request_stop();
  }

  void join_all() noexcept {
    for (;;) {
      std::vector<std::thread> batch;
      {
        std::lock_guard lk(mu_);
        batch.swap(threads_);
      }
      if (batch.empty()) return;
      for (auto& t : batch) t.join();
    }
  }

  std::mutex mu_;
  std::condition_variable slot_free_;  // signalled when active_ drops
  std::vector<std::thread> threads_;   // guarded by mu_; started, not yet joined
  int active_ = 0;                     // guarded by mu_; tasks still running
  int limit_ = -1;                     // guarded by mu_
  std::exception_ptr first_error_;     // guarded by mu_
  std::stop_source stop_;
};

}  // namespace conpat
