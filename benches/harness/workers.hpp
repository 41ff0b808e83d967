// benches/harness/workers.hpp — persistent worker threads for benchmarks:
// started before the timed loop, parked at a gate between rounds, so thread
// creation is never measured (WorkerPool, RoundGate, RoundEnd); and
// WorkerThread, for the benchmarks whose subject is starting a thread per
// worker inside the timed loop (channel.fan_in).
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/wait_group.hpp"
#include "harness.hpp"
#include "pinning.hpp"

namespace conpat::bench {

// Opens rounds for threads parked on it (spin, then futex).
class RoundGate {
 public:
  void open() {
    gen_.fetch_add(1, std::memory_order_acq_rel);
    detail::futex_wake(gen_, INT_MAX);
  }
  // Waits until a round newer than `seen` opens; returns its number. With
  // `spin` false it parks at once: where threads outnumber CPUs, a worker
  // that finished its share and spins takes the CPU from the workers still
  // busy with theirs (channel.mpmc 8x8 spent 73 % of its time here).
  std::uint32_t wait(std::uint32_t seen, bool spin = true) {
    if (spin) detail::spin_until([&] { return gen_.load(std::memory_order_acquire) != seen; });
    while (gen_.load(std::memory_order_acquire) == seen) detail::futex_wait(gen_, seen);
    return gen_.load(std::memory_order_acquire);
  }

 private:
  std::atomic<std::uint32_t> gen_{0};
};

// Counts finished rounds for a coordinator that sleeps while the workers
// run: it parks on a futex at once, without the spin of WaitGroup::wait
// (on an oversubscribed machine a spinning coordinator takes CPU time from
// the very workers it waits for, as much as 13 % of it in channel.mpmc 2x2).
class RoundEnd {
 public:
  void done() {
    ended_.fetch_add(1, std::memory_order_acq_rel);
    detail::futex_wake(ended_, INT_MAX);
  }
  // Waits until `round` rounds have ended; false if `timeout` passed first.
  bool wait_for(std::uint32_t round, std::chrono::milliseconds timeout) {
    const auto deadline = detail::Clock::now() + timeout;
    for (;;) {
      const std::uint32_t seen = ended_.load(std::memory_order_acquire);
      if (seen >= round) return true;
      if (!detail::futex_wait(ended_, seen, &deadline)) return ended_.load(std::memory_order_acquire) >= round;
    }
  }

 private:
  std::atomic<std::uint32_t> ended_{0};
};

// Fiber runner: waits on the benchmark's thread for a round's end on
// `done` (fiber-aware, so the thread runs pool fibers meanwhile), kicking
// the watchdog; false if the watchdog fired or the channel closed.
inline bool await_fiber_round(Channel<int, FiberWait>& done, Watchdog& wd) {
  int token = 0;
  for (;;) {
    ChanStatus s = done.recv_for(token, std::chrono::milliseconds(100));
    if (s == ChanStatus::ok) break;
    if (s != ChanStatus::timeout || wd.fired()) return false;
  }
  wd.kick();
  return true;
}

// Waits for a WaitGroup, giving up when the watchdog's time passes.
inline bool wait_or_watchdog(WaitGroup& wg, double seconds) {
  return wg.wait_for(std::chrono::duration<double>(seconds));
}

// An OS thread with a 2 MiB stack, the default of Rust's std::thread, for
// the benchmarks that start a thread per worker inside the timed loop
// (channel.fan_in on the thread runner), so that conpat's rows and the Rust
// peers' pay the same for a thread. std::thread takes the process default
// (ulimit -s: 8 MiB on Debian), and glibc keeps only 40 MiB of freed stacks
// for reuse: 16 threads of 8 MiB overflow that cache, and each new thread
// maps and faults a fresh stack (on the 2-vCPU VM, 160-200 µs to create and
// join a thread of 16, against 47-56 µs with 2 MiB: benches/README.md).
class WorkerThread {
 public:
  static constexpr std::size_t kStackBytes = std::size_t{2} << 20;

  template <class F>
  explicit WorkerThread(F f) {
    auto body = std::make_unique<std::function<void()>>(std::move(f));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackBytes);
    const int rc = pthread_create(&id_, &attr, &run, body.get());
    pthread_attr_destroy(&attr);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_create");
    body.release();  // run() owns it now
    joinable_ = true;
  }
  WorkerThread(WorkerThread&& o) noexcept : id_(o.id_), joinable_(std::exchange(o.joinable_, false)) {}
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;
  WorkerThread& operator=(WorkerThread&&) = delete;
  ~WorkerThread() {
    if (joinable_) std::terminate();  // as std::thread: join before it goes
  }

  void join() {
    if (!joinable_) throw std::system_error(std::make_error_code(std::errc::invalid_argument), "WorkerThread::join");
    pthread_join(id_, nullptr);
    joinable_ = false;
  }

 private:
  static void* run(void* p) noexcept {
    std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(p));
    (*body)();
    return nullptr;
  }
  pthread_t id_{};
  bool joinable_ = false;
};

class WorkerPool {
 public:
  // `name` is the benchmark's, for the watchdog's message. By default the
  // calling thread is worker 0 in round(), so `workers` threads run in all
  // (a separate coordinator would oversubscribe a machine with `workers`
  // cores). With waits_itself every worker is a pool thread: the benchmark
  // calls start(), waits its own way (the subject), then calls finish().
  WorkerPool(int workers, std::string name, bool waits_itself = false)
      : name_(std::move(name)), first_(waits_itself ? 0 : 1) {
    // Worker k on allowed CPU k (pinning.hpp); the calling thread is worker 0
    // for the pool's lifetime, a waiter that waits itself is not pinned.
    if (first_ == 1) caller_pin_.emplace(0);
    threads_.reserve(static_cast<std::size_t>(workers));
    for (int t = first_; t < workers; ++t) {
      threads_.emplace_back([this, t] {
        PinScope pin(t);
        std::uint32_t seen = 0;
        for (;;) {
          seen = gate_.wait(seen);
          if (stop_.load(std::memory_order_acquire)) return;
          task_(t);
          done_.done();
        }
      });
    }
  }
  ~WorkerPool() {
    stop_.store(true, std::memory_order_release);
    gate_.open();
    for (auto& t : threads_) t.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs f(worker index) on every worker, worker 0 on the calling thread;
  // returns when all have finished.
  void round(std::function<void(int)> f) {
    start(std::move(f));
    if (first_ == 1) task_(0);
    finish();
  }
  void start(std::function<void(int)> f) {
    task_ = std::move(f);
    done_.add(static_cast<std::ptrdiff_t>(threads_.size()));
    gate_.open();
  }
  // Waits until every worker has left this round's task; false (and
  // failed()) if that took longer than the watchdog allows.
  bool finish() {
    if (failed_) return false;
    if (!wait_or_watchdog(done_, options().watchdog_seconds)) {
      failed_ = true;
      return false;
    }
    return true;
  }
  bool failed() const { return failed_; }
  std::string error() const {
    return "watchdog: " + name_ + " made no progress for " + std::to_string(options().watchdog_seconds) + " s";
  }

 private:
  std::string name_;
  int first_;  // index of the first pool thread: 1 when the caller is worker 0
  std::optional<PinScope> caller_pin_;
  std::function<void(int)> task_;  // written before gate_.open(), read by workers after it
  RoundGate gate_;
  WaitGroup done_;
  std::atomic<bool> stop_{false};
  bool failed_ = false;
  std::vector<std::thread> threads_;
};

// What the workers of a workload are (the `runner` parameter of a name).
enum class Runner { thread, fiber, tbb_task };
constexpr const char* runner_name(Runner r) {
  return r == Runner::thread ? "thread" : r == Runner::fiber ? "fiber" : "tbb_task";
}

// Tracks how many workers (or blocked producers, ...) are alive at once, and the peak.
struct Peak {
  std::atomic<int> live{0}, peak{0};
  void enter() {
    int now = live.fetch_add(1, std::memory_order_relaxed) + 1;
    int p = peak.load(std::memory_order_relaxed);
    while (now > p && !peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {}
  }
  void leave() { live.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace conpat::bench
