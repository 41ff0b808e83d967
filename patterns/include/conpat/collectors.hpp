// conpat/collectors.hpp — ways for N workers to hand results back to one
// waiter: Go's "WaitGroup plus shared variables", done several ways.
//
// Every collector has the same shape, so one harness and one typed test
// drive them all:
//
//   explicit C(std::size_t workers);            // workers are numbered 0..workers-1
//   void add(std::size_t worker, std::uint64_t v);   // called only by that worker's thread
//   void finish(std::size_t worker);            // the worker's last call (merges, flushes)
//   std::uint64_t total();                      // after every finish() happened-before (e.g. a WaitGroup)
//   static constexpr const char* kName;
//
// Index, one line each:
//   MutexVector            mutex + vector::push_back of every value
//   Slots<Layout>          one pre-sized slot per worker, packed (vector<T>) or padded (vector<Padded<T>>)
//   AtomicAdd              one std::atomic, fetch_add
//   AtomicCas              one std::atomic, compare_exchange loop
//   LockedSum<Lock>        one plain sum under a lock: std::mutex (MutexSum) or a spinlock (SpinlockSum)
//   Sharded<Layout, S>     S atomic shards (worker % S), packed or padded
//   ThreadLocalMerge       a plain local sum per worker, merged under a mutex in finish()
//   TbbCombinable          tbb::combinable<uint64_t>
//   TbbEnumerableTls       tbb::enumerable_thread_specific<uint64_t>
//   ChannelCollector       every value sent through a conpat::Channel to a summing thread
//
// Memory ordering: total() is exact only once every worker's finish()
// happens-before it; the collectors synchronise their own state (atomics,
// mutexes), and the waiting mechanism (WaitGroup, join) provides that edge.
#pragma once

#include <oneapi/tbb/combinable.h>
#include <oneapi/tbb/enumerable_thread_specific.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/padding.hpp"

namespace conpat {

class MutexVector {
 public:
  static constexpr const char* kName = "mutex_vector";
  explicit MutexVector(std::size_t workers) { values_.reserve(workers); }
  void add(std::size_t, std::uint64_t v) {
    std::lock_guard lk(mu_);
    values_.push_back(v);
  }
  void finish(std::size_t) {}
  std::uint64_t total() {
    std::lock_guard lk(mu_);
    return std::accumulate(values_.begin(), values_.end(), std::uint64_t{0});
  }

 private:
  std::mutex mu_;
  std::vector<std::uint64_t> values_;  // guarded by mu_
};

// One slot per worker; only worker i writes slot i (no synchronisation needed
// until total()). Packed slots share cache lines, so neighbours' writes make
// the line bounce (false sharing); padded slots do not.
template <class Layout>
class Slots {
 public:
  static constexpr const char* kName = Layout::kAlign == 0 ? "slots_packed" : "slots_padded";
  using Cell = typename Layout::template Cell<std::uint64_t>;
  explicit Slots(std::size_t workers) : slots_(workers) {}
  void add(std::size_t worker, std::uint64_t v) { slots_[worker].value += v; }
  void finish(std::size_t) {}
  std::uint64_t total() {
    std::uint64_t sum = 0;
    for (const auto& s : slots_) sum += s.value;
    return sum;
  }
  static constexpr std::size_t kStride = sizeof(Cell);

 private:
  std::vector<Cell> slots_;
};

class AtomicAdd {
 public:
  static constexpr const char* kName = "atomic_add";
  explicit AtomicAdd(std::size_t) {}
  void add(std::size_t, std::uint64_t v) { sum_.fetch_add(v, std::memory_order_relaxed); }
  void finish(std::size_t) {}
  std::uint64_t total() { return sum_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> sum_{0};
};

class AtomicCas {
 public:
  static constexpr const char* kName = "atomic_cas";
  explicit AtomicCas(std::size_t) {}
  void add(std::size_t, std::uint64_t v) {
    std::uint64_t cur = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {}
  }
  void finish(std::size_t) {}
  std::uint64_t total() { return sum_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> sum_{0};
};

// A test-and-test-and-set spinlock that never parks: the seed's "lock" at
// its cheapest, and its worst case when the holder is preempted.
class Spinlock {
 public:
  void lock() noexcept {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) detail::spin_pause();
    }
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

template <class Lock, const char* Name>
class LockedSum {
 public:
  static constexpr const char* kName = Name;
  explicit LockedSum(std::size_t) {}
  void add(std::size_t, std::uint64_t v) {
    std::lock_guard lk(lock_);
    sum_ += v;
  }
  void finish(std::size_t) {}
  std::uint64_t total() {
    std::lock_guard lk(lock_);
    return sum_;
  }

 private:
  Lock lock_;
  std::uint64_t sum_ = 0;  // guarded by lock_
};
inline constexpr char kMutexSumName[] = "mutex";
inline constexpr char kSpinlockSumName[] = "spinlock";
using MutexSum = LockedSum<std::mutex, kMutexSumName>;
using SpinlockSum = LockedSum<Spinlock, kSpinlockSumName>;

template <class Layout, std::size_t Shards = 16>
class Sharded {
 public:
  static constexpr const char* kName = Layout::kAlign == 0 ? "sharded_packed" : "sharded_padded";
  explicit Sharded(std::size_t) {}
  void add(std::size_t worker, std::uint64_t v) {
    shards_[worker % Shards].value.fetch_add(v, std::memory_order_relaxed);
  }
  void finish(std::size_t) {}
  std::uint64_t total() {
    std::uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  typename Layout::template Cell<std::atomic<std::uint64_t>> shards_[Shards];
};

// Each worker sums into its own padded accumulator and merges once.
class ThreadLocalMerge {
 public:
  static constexpr const char* kName = "thread_local_merge";
  explicit ThreadLocalMerge(std::size_t workers) : local_(workers) {}
  void add(std::size_t worker, std::uint64_t v) { local_[worker].value += v; }
  void finish(std::size_t worker) {
    std::lock_guard lk(mu_);
    sum_ += local_[worker].value;
  }
  std::uint64_t total() {
    std::lock_guard lk(mu_);
    return sum_;
  }

 private:
  std::vector<Padded<std::uint64_t>> local_;  // local_[i]: worker i only
  std::mutex mu_;
  std::uint64_t sum_ = 0;  // guarded by mu_
};

class TbbCombinable {
 public:
  static constexpr const char* kName = "tbb_combinable";
  explicit TbbCombinable(std::size_t) {}
  void add(std::size_t, std::uint64_t v) { c_.local() += v; }
  void finish(std::size_t) {}
  std::uint64_t total() {
    return c_.combine([](std::uint64_t a, std::uint64_t b) { return a + b; });
  }

 private:
  tbb::combinable<std::uint64_t> c_{[] { return std::uint64_t{0}; }};
};

class TbbEnumerableTls {
 public:
  static constexpr const char* kName = "tbb_ets";
  explicit TbbEnumerableTls(std::size_t) {}
  void add(std::size_t, std::uint64_t v) { ets_.local() += v; }
  void finish(std::size_t) {}
  std::uint64_t total() {
    std::uint64_t sum = 0;
    for (std::uint64_t v : ets_) sum += v;
    return sum;
  }

 private:
  tbb::enumerable_thread_specific<std::uint64_t> ets_{std::uint64_t{0}};
};

// Go's first pattern, for comparison: every value goes through a channel to
// one receiving thread that sums them.
class ChannelCollector {
 public:
  static constexpr const char* kName = "channel";
  explicit ChannelCollector(std::size_t, std::size_t capacity = 1024)
      : ch_(capacity), receiver_([this] {
          for (std::uint64_t v : ch_) sum_ += v;
        }) {}
  ~ChannelCollector() { stop(); }
  void add(std::size_t, std::uint64_t v) { ch_.send(v); }
  void finish(std::size_t) {}
  std::uint64_t total() {
    stop();
    return sum_;  // written by receiver_, which stop() joined
  }

 private:
  void stop() {
    ch_.close();
    if (receiver_.joinable()) receiver_.join();
  }
  Channel<std::uint64_t> ch_;
  std::uint64_t sum_ = 0;
  std::thread receiver_;
};

static_assert(Slots<layout::Padded>::kStride == kCacheLine,
              "padded slots must be a cache line apart to prevent false sharing");
static_assert(Slots<layout::Packed>::kStride == sizeof(std::uint64_t), "packed slots must be adjacent");

}  // namespace conpat
