// conpat/fiber_pool.hpp — a pool of OS threads that runs Boost.Fiber
// fibers the way Go's runtime runs goroutines on GOMAXPROCS threads: each
// thread has its own queue of ready fibers, and a thread that runs out of
// work steals half of another's once that queue has waited 20 µs without
// being drained, so a fiber that becomes ready may run on any of them.
// conpat's `Channel<T, FiberWait>` (fiber_wait.hpp) is made for it; the
// benchmarks' `runner:fiber` is this pool.
//
//   conpat::FiberPool pool(4);                 // 4 OS threads, this one included
//   conpat::Channel<int, conpat::FiberWait> ch(16);
//   pool.spawn([&] { for (int i = 0; i < 100; ++i) ch.send(i); ch.close(); });
//   pool.spawn([&] { int v; while (ch.recv(v) == conpat::ChanStatus::ok) use(v); });
//   pool.join();                               // runs pool fibers meanwhile
//
// The constructing thread is one of the pool's threads: fibers spawned
// from it go to its run-next slot (the first) and its queue (the rest,
// which the other threads steal), and while its main fiber waits
// (fiber-aware: join(), or a FiberWait operation) it runs them too. It
// installs the pool's scheduling algorithm on itself the first time it
// constructs a pool, and keeps it afterwards (Boost.Fiber's algorithm is
// per thread and cannot be taken back); it sleeps when it has nothing to
// run, looking at the queues at least every millisecond.
//
// The helper threads never sleep while the pool lives (an idle one polls
// the queues, as Go's idle Ps spin before they sleep), so a ready fiber
// queued on a busy thread starts elsewhere within about 20 µs
// (PoolAlgorithm::kStealAfter); they stop when the pool is destroyed (and not before the
// thread that woke them is done with their schedulers).
//
// A fiber that blocks in an untimed FiberWait operation and is woken by a
// fiber of the pool runs next on the waker's thread (fiber_wait.hpp,
// detail::FiberHandoff), as Go readies a goroutine on the waker's P: a
// producer and a consumer that hand values back and forth end up on one
// thread, and neither waits for a cross-thread wake-up. It waits there
// until the waker blocks or yields (idle threads do not steal it; Go's idle
// Ps do, after a few microseconds): a fiber that busy-waits, without yielding,
// for the effect of a fiber it just woke holds it up for good. If the
// waker's "run next" slot is taken, the woken fiber goes to the waker's
// queue; if the waker is a pool thread's main context (which may go on to
// block outside the scheduler), to that thread's queue, where idle threads
// steal it; if it is a thread outside the pool, to a queue shared by the
// pool's threads. A timed wait keeps its thread (its timer lives in that
// thread's scheduler).
//
// Contract:
// - Fibers run on any thread of the pool and may move between threads when
//   they block and are readied again: no thread_local state across a
//   blocking call, as with goroutines (std::this_thread::get_id() too:
//   glibc declares pthread_self() const, and the compiler may reuse a value
//   read before the call).
// - The queues are one set per process: pools that are alive at the same
//   time serve (and steal) each other's fibers. Create one pool (one OS
//   thread per CPU, as GOMAXPROCS) and spawn everything on it.
// - Destroy the pool on the thread that created it; the destructor waits
//   for every fiber spawned on it.
// - Each fiber runs on a 64 KiB stack (detail::StackPool::kStackBytes)
//   with no guard page: a fiber that needs deep recursion or large local
//   arrays belongs on a thread. Stacks of finished fibers are kept for the
//   process's next fibers (detail::StackPool), as Go keeps them: the
//   process holds as many as it ever had fibers alive at once.
#pragma once

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/scheduler.hpp>
#include <boost/fiber/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "conpat/channel.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/padding.hpp"

namespace conpat {

namespace detail {

// Fiber stacks from a free list, shared by every thread of the pool:
// Boost's default allocator mallocs 128 KiB per fiber, which glibc serves
// with mmap and munmap, and the page faults of a fresh stack cost more than
// the fiber's whole life (fan_in spent ~7 µs per worker). Boost's
// pooled_fixedsize_stack is not thread-safe, and a fiber may end on another
// thread than the one it started on. Each allocator copy holds the list, so
// a context the scheduler releases late still has it.
//
// The list is one per process and outlives the pools, as Go keeps the
// stacks of finished goroutines for the next ones: a stack's first use
// faults in the pages a fiber touches (three or more: Boost.Fiber's spin
// lock alone puts a 5 KiB frame on it), which on a virtual machine costs
// tens of microseconds per fiber, so a pool that starts 10,000 fibers paid
// about half a second the first time and, with a list per pool, in every
// new pool again. The price: the process keeps as many stacks as it ever
// had fibers alive at once (64 KiB of address space each, the touched
// pages resident).
class StackPool {
 public:
  static constexpr std::size_t kStackBytes = 64 * 1024;
  struct List {
    std::mutex mu;
    std::vector<void*> free;
    ~List() {
      for (void* p : free) std::free(p);
    }
  };
  static std::shared_ptr<List> process_list() {
    static const std::shared_ptr<List> list = std::make_shared<List>();
    return list;
  }
  boost::context::stack_context allocate() {
    void* p = nullptr;
    {
      std::lock_guard lk(list_->mu);
      if (!list_->free.empty()) {
        p = list_->free.back();
        list_->free.pop_back();
      }
    }
    if (p == nullptr && (p = std::malloc(kStackBytes)) == nullptr) throw std::bad_alloc();
    boost::context::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<char*>(p) + kStackBytes;
    return sc;
  }
  void deallocate(boost::context::stack_context& sc) noexcept {
    void* p = static_cast<char*>(sc.sp) - sc.size;
#if defined(__SANITIZE_ADDRESS__)
    // A fiber's last frames never return: the switch away from a finished
    // fiber leaves AddressSanitizer's scope markers on its stack, and the
    // next fiber to get this stack would trip over them
    // (stack-use-after-scope in Boost.Context's fiber_record). A stack goes
    // back on the list as clean as a fresh malloc.
    ASAN_UNPOISON_MEMORY_REGION(p, sc.size);
#endif
    std::lock_guard lk(list_->mu);
    list_->free.push_back(p);
  }

 private:
  std::shared_ptr<List> list_ = process_list();
};

// One pool thread's queue of ready fibers: its owner pushes at the back
// and pops at the front, idle threads steal from the front. The fibers in
// it are detached (from every thread's scheduler), so any thread may take
// them. Idle threads poll `nonempty`, which the owner writes only when the
// queue turns empty or non-empty: polling a word the owner writes on every
// push would cost it a cache miss per push.
struct RunQueue {
  static constexpr std::size_t kStealMax = 128;  // Go: half of a P's 256-slot queue at most
  alignas(kCacheLine) detail::SpinMutex mu;
  std::deque<boost::fibers::context*> q;  // guarded by mu
  std::atomic<bool> owned{false};         // a pool thread's (claim() below)
  alignas(kCacheLine) std::atomic<bool> nonempty{false};  // !q.empty(), readable without mu
  // How many times the queue turned non-empty (written with `nonempty`, by
  // whoever holds mu): a thief that sees the same count twice knows the
  // queue was not drained in between.
  std::atomic<std::uint32_t> turns{0};

  void push(boost::fibers::context* const* ctx, std::size_t n) noexcept {
    std::lock_guard lk(mu);
    q.insert(q.end(), ctx, ctx + n);
    if (!nonempty.load(std::memory_order_relaxed)) {
      turns.store(turns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      nonempty.store(true, std::memory_order_seq_cst);
    }
  }
  boost::fibers::context* pop() noexcept {
    if (!nonempty.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lk(mu);
    if (q.empty()) return nullptr;
    boost::fibers::context* ctx = q.front();
    q.pop_front();
    if (q.empty()) nonempty.store(false, std::memory_order_relaxed);
    return ctx;
  }
  // Moves up to half (at least one, at most kStealMax) to out; returns how many.
  std::size_t steal(boost::fibers::context** out) noexcept {
    if (!nonempty.load(std::memory_order_acquire)) return 0;
    std::lock_guard lk(mu);
    const std::size_t n = std::min(kStealMax, (q.size() + 1) / 2);
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = q.front();
      q.pop_front();
    }
    if (q.empty()) nonempty.store(false, std::memory_order_relaxed);
    return n;
  }
};

// The pool's scheduling algorithm, Go's scheduler in Boost.Fiber's
// algorithm interface: each pool thread has its own queue of ready fibers
// (a RunQueue, Go's P-local run queue) and a "run next" slot, and a thread
// that runs out of work steals half of another's queue. So a thread that
// readies or spawns many fibers keeps them in its own queue, under a lock
// that stays in its own cache, and an idle thread takes them in batches,
// one lock transfer per batch: with one queue shared by every thread (as
// Boost's shared_work), each fiber cost a transfer of the queue's lock
// between the CPUs (fan_in with 10,000 fibers spent a fifth of its time in
// that lock). Fibers readied from outside the pool go to one shared queue,
// as Go's global run queue.
//
// Picking, per thread: runnext first (Go's: the fiber this thread just
// readied, so a ping-pong pair stays on one thread), then the thread's
// queue, then the shared queue, then a steal, then the thread's own pinned
// contexts (its main fiber and Boost's dispatcher). Three rules keep that
// from starving anyone, as Go's scheduler does with its time slice, its
// global-queue check every 61 picks and its timer checks on every pass:
// runnext is taken at most kMaxRunnextStreak times in a row (then its
// fiber goes to the back of the thread's queue), every kSharedEvery-th pick
// looks at the shared queue first, and every kPinnedEvery-th pick takes a
// pinned context first if one is ready — the dispatcher, which moves
// fibers whose timers expired and fibers readied by other threads into the
// ready queues. So a timed wait fires within its deadline plus tens of
// microseconds however busy the thread, and two fibers yielding to each
// other let the others run.
//
// Idle threads poll atomic flags and lengths rather than taking locks
// (shared_work's idle threads lock and unlock a std::mutex in a loop, and
// the busy threads then queue for it in the kernel). A thread created with
// `suspend` sleeps when idle after a short poll (on a condition variable),
// and is woken by notify() when one of its own pinned fibers becomes
// ready, or after kIdleNap to look at the queues; one without never sleeps
// while the pool lives.
class PoolAlgorithm : public boost::fibers::algo::algorithm {
 public:
  // Every 127th pick a pinned context first: timers fire within ~127
  // context switches (tens of microseconds) of their deadline, at a cost of
  // one dispatcher pass per 127 switches.
  static constexpr unsigned kPinnedEvery = 127;
  // Every 61st pick the shared queue before anything else (Go's number).
  static constexpr unsigned kSharedEvery = 61;
  // Runnext at most this many picks in a row (about 10 ms of ping-pong,
  // Go's time slice, which a runnext goroutine inherits): a pair that hands
  // work back and forth keeps its thread that long before the others get a turn.
  static constexpr unsigned kMaxRunnextStreak = 1u << 16;
  // Pool threads with a queue of their own at once; more share the shared queue.
  static constexpr std::size_t kMaxQueues = 256;

  static constexpr std::chrono::milliseconds kIdleNap{1};
  // An idle thread steals from a queue only once it has seen it non-empty,
  // without being drained, for this long. Fibers that run for a few
  // microseconds each are done by their own thread before a thief would
  // have fetched them (each stolen fiber's channel traffic then crosses
  // CPUs), and fibers that wait longer are taken 20 µs late, a small part
  // of any run that long. (Measured paired: benches/README.md, fan_in 16
  // workers 73 % faster; one sender feeding several receivers up to 42 %
  // slower.)
  static constexpr std::chrono::microseconds kStealAfter{20};

  explicit PoolAlgorithm(bool suspend) : suspend_(suspend), own_(claim()) { my_queue() = own_; }

  ~PoolAlgorithm() override {
    FiberHandoff::pool_scheduler = nullptr;  // this thread's scheduler ends with it
    my_queue() = nullptr;
    if (own_ == nullptr) return;
    // A thread that ends hands what is left in its queue to the others.
    while (boost::fibers::context* ctx = own_->pop()) push_shared_detached(ctx);
    own_->owned.store(false, std::memory_order_release);
  }

  PoolAlgorithm(const PoolAlgorithm&) = delete;
  PoolAlgorithm& operator=(const PoolAlgorithm&) = delete;

  void awakened(boost::fibers::context* ctx) noexcept override {
    if (ctx->is_context(boost::fibers::type::pinned_context)) {
      ctx->ready_link(local_);  // a thread's main and dispatcher fibers stay on it
      return;
    }
    if (next_ == nullptr) {  // Go's runnext: what this thread just readied runs here next
      next_ = ctx;
      return;
    }
    ctx->detach();
    push_own(ctx);
  }

  boost::fibers::context* pick_next() noexcept override {
    ++picks_;
    if (picks_ % kPinnedEvery == 0 && !local_.empty()) return pop_local();
    // Every kSharedEvery-th pick the shared queue before anything else,
    // run-next included (Go's schedtick % 61): a fiber readied from outside
    // the pool waits that many picks at most, whatever keeps the thread busy.
    if (picks_ % kSharedEvery == 0) {
      if (boost::fibers::context* ctx = pop_shared()) return attach_here(ctx);
    }
    if (next_ != nullptr) {
      boost::fibers::context* ctx = next_;
      next_ = nullptr;
      if (++streak_ <= kMaxRunnextStreak) return ctx;
      ctx->detach();
      push_own(ctx);  // its turn is over: behind the others
    }
    streak_ = 0;
    boost::fibers::context* ctx = own_ != nullptr ? own_->pop() : nullptr;
    if (ctx == nullptr) ctx = pop_shared();
    if (ctx == nullptr) ctx = steal();
    if (ctx != nullptr) return attach_here(ctx);
    if (!local_.empty()) return pop_local();
    return nullptr;
  }

  // Whether a fiber other than this thread's dispatcher is ready for this
  // thread (its own, or in the shared queue; not other threads'): the
  // dispatcher is queued whenever a fiber runs, so counting it would make
  // every running fiber see "others ready" (FiberWait's spin relies on this).
  bool has_ready_fibers() const noexcept override {
    if (next_ != nullptr || shared().size.load(std::memory_order_acquire) > 0) return true;
    if (own_ != nullptr && own_->nonempty.load(std::memory_order_acquire)) return true;
    for (const auto& ctx : local_) {
      if (!ctx.is_context(boost::fibers::type::dispatcher_context)) return true;
    }
    return false;
  }

  void suspend_until(std::chrono::steady_clock::time_point const& until) noexcept override {
    for (int i = 0; i < (suspend_ ? 2048 : 64); ++i) {  // ~50 µs when it may sleep afterwards
      if (work_elsewhere() || woken_.load(std::memory_order_acquire)) break;
      detail::spin_pause();
    }
    if (!suspend_) {
      woken_.store(false, std::memory_order_relaxed);
      return;
    }
    // Sleep at most kIdleNap at a time, even with work seen in another
    // thread's queue: fibers that wait in the queues while every other
    // thread is busy get this thread within that time. (Taking them at
    // once spreads fibers that hand work to each other across threads, and
    // a cross-thread wake-up in Boost.Fiber costs several times a local
    // one: fiber spsc at capacity 0 and 1 ran 4-6x slower when this thread
    // was woken for every fiber queued; returning to steal as soon as the
    // poll saw work made channel.merge, mpmc 4 x 1 at capacities 0 and 1
    // and select_rx on fibers 1.5-6x slower, abtest 5892b78 vs 0ac5bae.)
    std::unique_lock lk(mu_);
    const auto nap = std::chrono::steady_clock::now() + kIdleNap;
    cv_.wait_until(lk, until < nap ? until : nap, [this] { return woken_.load(std::memory_order_relaxed); });
    woken_.store(false, std::memory_order_relaxed);
  }

  void notify() noexcept override {
    if (!suspend_) {  // never sleeps: the flag ends its poll
      woken_.store(true, std::memory_order_release);
      return;
    }
    std::lock_guard lk(mu_);
    woken_.store(true, std::memory_order_release);
    cv_.notify_all();
  }

  // FiberHandoff::to_pool: a ready, detached fiber readied by a pool
  // thread's main context (to that thread's queue, where idle threads
  // steal it if the thread goes on to block outside the scheduler) or by
  // a thread outside the pool (to the shared queue).
  static void push_detached(boost::fibers::context* ctx) noexcept {
    if (RunQueue* q = my_queue()) {
      q->push(&ctx, 1);
    } else {
      push_shared_detached(ctx);
    }
  }

  // On this thread, once: the algorithm, and FiberWait's hand-off to it.
  static void install(bool suspend) {
    boost::fibers::use_scheduling_algorithm<PoolAlgorithm>(suspend);
    FiberHandoff::to_pool.store(&push_detached, std::memory_order_release);
    FiberHandoff::pool_scheduler = boost::fibers::context::active()->get_scheduler();
  }

 private:
  struct Shared {
    detail::SpinMutex mu;
    std::deque<boost::fibers::context*> q;  // guarded by mu
    std::atomic<std::size_t> size{0};       // q.size(), readable without mu
  };
  static Shared& shared() noexcept {  // never destroyed, as queues(): a pool may outlive main()
    static Shared& s = *new Shared;
    return s;
  }
  // Every pool thread's RunQueue: never freed (a thief may look at one whose
  // thread has just ended), reused by later threads.
  static RunQueue* queues() noexcept {
    static RunQueue* qs = new RunQueue[kMaxQueues];
    return qs;
  }
  static std::atomic<std::size_t>& queues_used() noexcept {  // queues()[0, this) were ever claimed
    static std::atomic<std::size_t> n{0};
    return n;
  }
  static RunQueue* claim() noexcept {
    RunQueue* qs = queues();
    for (std::size_t i = 0; i < kMaxQueues; ++i) {
      bool expected = false;
      if (!qs[i].owned.load(std::memory_order_relaxed) &&
          qs[i].owned.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
        std::size_t used = queues_used().load(std::memory_order_relaxed);
        while (used < i + 1 && !queues_used().compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
        }
        return &qs[i];
      }
    }
    return nullptr;  // kMaxQueues threads already: this one uses the shared queue
  }
  // This thread's queue. A call the compiler cannot look into, as
  // FiberHandoff::here(): the caller may be a fiber that moved threads.
  [[gnu::noipa]] static RunQueue*& my_queue() noexcept {
    static thread_local RunQueue* q = nullptr;
    return q;
  }

  static boost::fibers::context* attach_here(boost::fibers::context* ctx) noexcept {
    // Not context::active()->attach(ctx): the active fiber may be one that
    // FiberWait detached on its way to suspension.
    FiberHandoff::here()->attach_worker_context(ctx);
    return ctx;
  }

  boost::fibers::context* pop_local() noexcept {
    boost::fibers::context* ctx = &local_.front();
    local_.pop_front();
    return ctx;
  }

  void push_own(boost::fibers::context* const* ctx, std::size_t n = 1) noexcept {
    if (own_ != nullptr) {
      own_->push(ctx, n);
    } else {
      for (std::size_t i = 0; i < n; ++i) push_shared_detached(ctx[i]);
    }
  }
  void push_own(boost::fibers::context* ctx) noexcept { push_own(&ctx, 1); }

  static void push_shared_detached(boost::fibers::context* ctx) noexcept {
    std::lock_guard lk(shared().mu);
    shared().q.push_back(ctx);
    shared().size.fetch_add(1, std::memory_order_seq_cst);
  }

  static boost::fibers::context* pop_shared() noexcept {
    if (shared().size.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard lk(shared().mu);
    if (shared().q.empty()) return nullptr;
    boost::fibers::context* ctx = shared().q.front();
    shared().q.pop_front();
    shared().size.fetch_sub(1, std::memory_order_relaxed);
    return ctx;
  }

  // Half of another thread's queue into this one's; returns the first.
  // Only from a queue that has stayed non-empty for kStealAfter: its owner
  // is not keeping up (see kStealAfter).
  boost::fibers::context* steal() noexcept {
    RunQueue* qs = queues();
    const std::size_t used = queues_used().load(std::memory_order_acquire);
    std::chrono::steady_clock::time_point now{};
    for (std::size_t k = 0; k < used; ++k) {
      const std::size_t i = (steal_from_ + k) % used;
      RunQueue& victim = qs[i];
      if (&victim == own_ || !victim.nonempty.load(std::memory_order_acquire)) continue;
      if (now == std::chrono::steady_clock::time_point{}) now = std::chrono::steady_clock::now();
      const std::uint32_t turns = victim.turns.load(std::memory_order_relaxed);
      if (turns != seen_turns_[i]) {  // non-empty since a moment we have not seen: wait
        seen_turns_[i] = turns;
        seen_at_[i] = now;
        continue;
      }
      if (now - seen_at_[i] < kStealAfter) continue;
      const std::size_t n = victim.steal(batch_);
      if (n == 0) continue;
      steal_from_ = (steal_from_ + k) % used;
      if (n > 1) push_own(batch_ + 1, n - 1);
      return batch_[0];
    }
    return nullptr;
  }

  // Whether the shared queue or another thread's queue has a fiber.
  bool work_elsewhere() const noexcept {
    if (shared().size.load(std::memory_order_acquire) > 0) return true;
    RunQueue* qs = queues();
    const std::size_t used = queues_used().load(std::memory_order_acquire);
    for (std::size_t i = 0; i < used; ++i) {
      if (&qs[i] != own_ && qs[i].nonempty.load(std::memory_order_acquire)) return true;
    }
    return false;
  }

  boost::fibers::scheduler::ready_queue_type local_;
  boost::fibers::context* next_ = nullptr;  // attached to this thread; not stealable
  unsigned picks_ = 0;
  unsigned streak_ = 0;  // runnext picks in a row
  std::size_t steal_from_ = 0;
  const bool suspend_;
  RunQueue* const own_;  // nullptr: none left (kMaxQueues)
  boost::fibers::context* batch_[RunQueue::kStealMax] = {};
  // Per queue: its `turns` when this thread last saw it turn non-empty, and when.
  std::uint32_t seen_turns_[kMaxQueues] = {};
  std::chrono::steady_clock::time_point seen_at_[kMaxQueues] = {};
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> woken_{false};
};

}  // namespace detail

class FiberPool {
 public:
  // `threads` OS threads in all, this one included (at least 1).
  explicit FiberPool(int threads) {
    // Once per thread: a thread that constructs a second pool (or one after
    // another) already runs the algorithm.
    thread_local const bool installed = [] {
      detail::PoolAlgorithm::install(true);
      return true;
    }();
    (void)installed;
    for (int i = 1; i < threads; ++i) {
      helpers_.emplace_back([this] {
        detail::PoolAlgorithm::install(false);
        int ignored = 0;
        stop_.recv(ignored);  // runs pool fibers until the pool closes stop_
        // close() woke this fiber from another thread, and Boost's
        // schedule_from_remote calls into this thread's scheduler after the
        // fiber may already run: do not end the thread (and its scheduler)
        // before close() has returned.
        while (!closed_.load(std::memory_order_acquire)) std::this_thread::yield();
      });
    }
  }

  ~FiberPool() {
    for (auto& f : fibers_) {
      if (f.joinable()) f.join();
    }
    stop_.close();
    closed_.store(true, std::memory_order_release);
    for (auto& t : helpers_) t.join();
  }

  FiberPool(const FiberPool&) = delete;  // non-copyable and non-movable
  FiberPool& operator=(const FiberPool&) = delete;

  // Starts f() as a fiber on the pool.
  template <class F>
  void spawn(F&& f) {
    fibers_.emplace_back(std::allocator_arg, stacks_, std::forward<F>(f));
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
  detail::StackPool stacks_;
  Channel<int, FiberWait> stop_{0};
  std::atomic<bool> closed_{false};  // set once stop_.close() has returned
  std::vector<std::thread> helpers_;
  std::vector<boost::fibers::fiber> fibers_;
};

}  // namespace conpat
