// conpat/err_group.hpp — conpat::ErrGroup: Go's golang.org/x/sync/errgroup
// with a context. Runs tasks on their own threads, carries the first
// exception back to wait(), and cancels the others through a std::stop_token.
//
// An exception that escapes a plain std::thread calls std::terminate — C++'s
// panic that no recover can catch because it happened on another goroutine.
// ErrGroup catches it on the task's thread and rethrows it from wait().
//
// States: running tasks, an optional limit on how many run at once, the
// first exception (sticky once set), and a stop source. Stop is requested on
// the first exception and whenever wait() returns. A task's thread is joined
// by the next go()/try_go() after it finished (so a long-lived group does not
// keep stacks of finished tasks), or by wait() or the destructor.
//
// Rules: wait() may be called from several threads at once; each returns
// only when every task has finished. A task must not wait for its own group
// (it would wait for itself): wait() called from one of the group's tasks
// throws std::logic_error, which, escaping the task, becomes the group's
// error. A task must not destroy its own group: the destructor detects it
// and calls std::terminate rather than free the group under a running task.
//
// Memory ordering: everything a task did happens-before wait() returns (its
// end is published under mu_), and the first exception is published under mu_.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
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
  // wait() collected is dropped. Precondition: not called from one of the
  // group's own tasks (checked: std::terminate with a message).
  ~ErrGroup() {
    if (current_group_ == this) {
      std::fputs("conpat::ErrGroup: destroyed by one of its own tasks\n", stderr);
      std::terminate();
    }
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
    changed_.notify_all();
  }

  // Starts f() — or f(stop_token) if f accepts one — on a new thread,
  // blocking first while the limit is reached. f may throw.
  template <class F>
  void go(F&& f) {
    std::unique_lock lk(mu_);
    changed_.wait(lk, [this] { return limit_ < 0 || active_ < limit_; });
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

  // Waits until every task started so far (and any they start meanwhile)
  // has finished, requests stop, then rethrows the first exception any task
  // threw. The exception is sticky: every later wait() rethrows it too.
  // Throws std::logic_error if called from one of the group's own tasks.
  void wait() {
    if (current_group_ == this) {
      throw std::logic_error("conpat::ErrGroup::wait called from one of its own tasks (it would wait for itself)");
    }
    join_all();
    std::unique_lock lk(mu_);
    // Another wait() may still be joining threads it took: their tasks have
    // finished once active_ is zero, which is what this wait promises.
    changed_.wait(lk, [this] { return active_ == 0; });
    stop_.request_stop();
    if (first_error_) std::rethrow_exception(first_error_);
  }

  // Requested on the first exception and when wait() returns.
  std::stop_token stop_token() const { return stop_.get_token(); }

 private:
  template <class F>
  void start_locked(F&& f) {  // requires mu_ held
    reap_locked();
    const std::uint64_t id = next_id_++;
    auto slot = threads_.emplace(id, std::thread{}).first;
    try {
      slot->second = std::thread([this, id, fn = std::decay_t<F>(std::forward<F>(f))]() mutable {
        current_group_ = this;
        try {
          auto task = std::move(fn);  // destroyed before the task counts as finished
          if constexpr (std::is_invocable_v<std::decay_t<F>&, std::stop_token>) {
            std::invoke(task, stop_.get_token());
          } else {
            std::invoke(task);
          }
        } catch (...) {
          record(std::current_exception());
        }
        std::lock_guard lk(mu_);
        --active_;
        finished_.push_back(id);
        changed_.notify_all();
      });
    } catch (...) {
      threads_.erase(slot);  // the thread did not start
      throw;
    }
    ++active_;  // under mu_, so the task cannot decrement it first
  }

  // Joins the threads of finished tasks. Requires mu_ held; a finished task
  // no longer needs mu_, so joining here cannot deadlock.
  void reap_locked() noexcept {
    for (std::uint64_t id : finished_) {
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;  // already taken by join_all
      it->second.join();
      threads_.erase(it);
    }
    finished_.clear();
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
      std::map<std::uint64_t, std::thread> batch;
      {
        std::lock_guard lk(mu_);
        batch.swap(threads_);
        finished_.clear();  // their threads are in batch, joined below
      }
      if (batch.empty()) return;
      for (auto& [id, t] : batch) t.join();
    }
  }

  static inline thread_local const ErrGroup* current_group_ = nullptr;  // the group whose task runs here

  std::mutex mu_;
  std::condition_variable changed_;               // signalled when active_ drops or the limit changes
  std::map<std::uint64_t, std::thread> threads_;  // guarded by mu_; started, not yet joined
  std::vector<std::uint64_t> finished_;           // guarded by mu_; tasks done, threads not yet joined
  std::uint64_t next_id_ = 0;                     // guarded by mu_
  int active_ = 0;                                // guarded by mu_; tasks still running
  int limit_ = -1;                                // guarded by mu_
  std::exception_ptr first_error_;                // guarded by mu_
  std::stop_source stop_;
};

}  // namespace conpat
