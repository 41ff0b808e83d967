// conpat::FiberPool (conpat/fiber_pool.hpp, the benchmarks' runner:fiber)
// and FiberWait under scheduling pressure: timers and wake-ups from other
// threads are served however busy a thread is, yielding fibers do not
// starve the others, a sleeping pool thread takes work queued on a busy
// one, the scheduler's "other fibers ready" leaves out its
// dispatcher, a blocked fiber waiting for a peer stalled mid-operation lets
// the thread's other fibers run, a pool made on any thread spreads its
// fibers over its threads, pools come and go, a woken fiber runs on its
// waker's thread, a fiber woken from outside the pool runs (also while
// run-next is always full), and fibers
// queued on a busy thread are stolen by an idle one.
//
// TSan cannot follow Boost.Context's stack switches (no fiber annotations
// in Debian's Boost), so this suite is labelled no_tsan, as
// fiber_channel_test is. Before the fixes (release preset): see each test.
#include <gtest/gtest.h>

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "conpat/fiber_pool.hpp"
#include "conpat/fiber_wait.hpp"
#include "zero_of.hpp"

namespace conpat::test {
namespace {

using namespace std::chrono_literals;
using conpat::FiberPool;
using Clock = std::chrono::steady_clock;

// Two fibers that ping-pong on `pool` until `stop` is set or `for_at_most`
// has passed (so a test whose other fiber never runs fails rather than
// hangs), counting the exchanges; `on_end` runs in the pinger as it stops.
struct PingPong {
  Channel<int, FiberWait> ping{0}, pong{0};
  std::atomic<bool> stop{false};
  std::atomic<long> exchanges{0};

  template <class OnEnd>
  void spawn(FiberPool& pool, Clock::duration for_at_most, OnEnd on_end) {
    const auto give_up = Clock::now() + for_at_most;
    pool.spawn([this, give_up, on_end] {
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        if ((i & 1023) == 0 && Clock::now() > give_up) break;
        if (ping.send(i) != ChanStatus::ok) break;
        int r = 0;
        if (pong.recv(r) != ChanStatus::ok) break;
        exchanges.fetch_add(1, std::memory_order_relaxed);
      }
      ping.close();
      on_end();
    });
    pool.spawn([this] {
      int v = 0;
      while (ping.recv(v) == ChanStatus::ok) pong.send(v);
    });
  }
};

// Two fibers ping-pong on the pool's only thread; a third fiber's
// recv_for(5 ms) must time out within its deadline plus a scheduling
// quantum. The bound (50 ms) is ten times the timeout: far above a
// quantum (the pool runs a thread's timers at least every 127 picks, tens of
// microseconds here), far below what the fault looked like. Before the
// fix (release): the third fiber did not even start until the ping-pong
// gave up after 3 s (the shared queue and the dispatcher came only after
// runnext, which the ping-pong always filled).
TEST(FiberPool, TimerFiresOnABusyThread) {
  FiberPool pool(1);
  Channel<int, FiberWait> idle(1);
  PingPong pp;
  auto& stop = pp.stop;
  auto& exchanges = pp.exchanges;
  // The ping-pong also ends after 3 s, so a timer that never fires on a
  // busy thread fails the test rather than hanging it.
  pp.spawn(pool, 3s, [] {});
  ChanStatus status = ChanStatus::ok;
  Clock::duration took{};
  long exchanges_before = 0;
  pool.spawn([&] {
    exchanges_before = exchanges.load();
    const auto t0 = Clock::now();
    int v = 0;
    status = idle.recv_for(v, 5ms);
    took = Clock::now() - t0;
    stop = true;
  });
  pool.join();
  EXPECT_EQ(status, ChanStatus::timeout);
  EXPECT_GE(took, 5ms);
  EXPECT_LT(took, 50ms) << "recv_for(5 ms) returned after "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_GT(exchanges.load(), exchanges_before) << "the ping-pong ran while the timer was pending";
}

// Two fibers yield in a loop on the pool's only thread; a third fiber must
// still run. Before the fix: a yielded fiber went to runnext and ran again
// at once, so the two yielders took turns forever and the third never ran
// (the yielders gave up after their budget).
TEST(FiberPool, YieldingFibersDoNotStarveTheOthers) {
  FiberPool pool(1);
  std::atomic<bool> third_ran{false};
  std::atomic<int> gave_up{0};
  constexpr long kBudget = 2'000'000;  // yields each; seconds of work if nothing else runs
  for (int i = 0; i < 2; ++i) {
    pool.spawn([&] {
      long n = 0;
      while (!third_ran.load(std::memory_order_relaxed)) {
        if (++n == kBudget) {
          gave_up.fetch_add(1);
          return;
        }
        boost::this_fiber::yield();
      }
    });
  }
  pool.spawn([&] { third_ran = true; });
  pool.join();
  EXPECT_TRUE(third_ran.load());
  EXPECT_EQ(gave_up.load(), 0) << "the yielders ran " << kBudget << " times each before the third fiber";
}

// A fiber alone on its thread sees no other fiber ready (what a spin
// before suspending would ask). Before the fix: the dispatcher, always
// queued while a fiber runs, counted as ready, so such a spin never ran.
TEST(FiberPool, ALoneFiberSeesNoOtherReadyFiber) {
  FiberPool pool(1);
  bool alone_ready = true, with_peer_ready = false;
  pool.spawn([&] {
    alone_ready = boost::fibers::has_ready_fibers();
    boost::fibers::fiber peer([] {});
    with_peer_ready = boost::fibers::has_ready_fibers();
    peer.join();
  });
  pool.join();
  EXPECT_FALSE(alone_ready);
  EXPECT_TRUE(with_peer_ready);
}

// Work queued while the benchmark thread sleeps (idle, in join()) is run
// by it: here the helper thread is busy with a fiber that does not yield
// and readies two fibers; the second lands in the helper's queue (the
// pool's shared queue before threads had queues of their own), and must
// start while the busy fiber still runs: the benchmark thread, which naps
// at most a millisecond at a time, steals it. Before the fix: the
// benchmark thread slept on until the busy fiber ended (2 s).
TEST(FiberPool, ASleepingPoolThreadIsWokenForQueuedWork) {
  FiberPool pool(2);
  const auto main_id = std::this_thread::get_id();
  std::atomic<bool> on_helper{false};
  std::atomic<bool> started{false};
  std::atomic<bool> started_while_busy{false};
  std::atomic<bool> busy_done{false};
  // Keeps the benchmark thread busy long enough for the helper to take
  // the busy fiber.
  pool.spawn([] { std::this_thread::sleep_for(20ms); });
  pool.spawn([&] {
    on_helper = std::this_thread::get_id() != main_id;
    std::this_thread::sleep_for(50ms);  // the benchmark thread is asleep by now
    boost::fibers::fiber first([] {});   // runnext of this thread
    boost::fibers::fiber second([&] {  // this thread's queue
      started_while_busy = !busy_done.load();
      started = true;
    });
    first.detach();
    second.detach();
    const auto until = Clock::now() + 2s;
    while (!started.load() && Clock::now() < until) std::this_thread::yield();  // busy, never yields the fiber
    busy_done = true;
  });
  pool.join();
  while (!started.load()) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(on_helper.load()) << "the busy fiber ran on the benchmark thread; the setup did not hold";
  EXPECT_TRUE(started_while_busy.load()) << "the queued fiber waited for the busy one to end";
}

// A value whose move yields the fiber until released: a sender fiber
// caught between its claim and its publish.
struct FiberStall {
  int v = 0;
  static inline std::atomic<bool> armed{false};
  static inline std::atomic<bool> go{false};
  FiberStall() = default;
  explicit FiberStall(int x) : v(x) {}
  FiberStall(FiberStall&& o) noexcept : v(o.v) {
    if (armed.exchange(false)) {
      while (!go.load()) boost::this_fiber::yield();
    }
  }
  FiberStall& operator=(FiberStall&& o) noexcept {
    v = o.v;
    return *this;
  }
};

// On one thread: a sender fiber stalls (yielding) inside its move, a
// receiver fiber waits for that value, and a third fiber must get to run
// to release the sender. Before the fix: the receiver looped (try, spin,
// re-check) without ever yielding its fiber, so the releaser never ran and
// recv_for gave up with timeout after its full 2 s.
TEST(FiberPool, AFiberWaitingForAStalledPeerLetsTheThreadRun) {
  FiberPool pool(1);
  Channel<FiberStall, FiberWait> ch(4);
  FiberStall::go = false;
  FiberStall::armed = true;
  ChanStatus status = ChanStatus::would_block;
  int got = 0;
  pool.spawn([&] { EXPECT_EQ(ch.send(FiberStall{1}), ChanStatus::ok); });
  pool.spawn([&] {
    FiberStall out;
    status = ch.recv_for(out, 2s);
    got = out.v;
  });
  pool.spawn([&] {
    boost::this_fiber::sleep_for(10ms);
    FiberStall::go = true;
  });
  pool.join();
  EXPECT_EQ(status, ChanStatus::ok);
  EXPECT_EQ(got, 1);
}

// A pool made on a thread other than the first one to make a pool runs its
// fibers on all its threads: one fiber holds its OS thread (it never
// yields) until a second fiber, which can then only run on the pool's other
// thread, sets a flag. Before the fix (release): the pool's scheduling
// algorithm was installed once per process, on the first thread that made
// a pool, so here both fibers stayed in the second thread's own round-robin
// queue, the second never ran, and the first gave up after 5 s.
TEST(FiberPool, APoolMadeOnAnotherThreadSpreadsItsFibers) {
  { FiberPool first(1); }  // this thread made a pool first
  std::atomic<bool> flag{false};
  bool seen = false;
  std::thread other([&] {
    FiberPool pool(2);
    pool.spawn([&] {
      const auto until = Clock::now() + 5s;
      while (!flag.load() && Clock::now() < until) std::this_thread::yield();  // holds the thread
      seen = flag.load();
    });
    pool.spawn([&] { flag = true; });
    pool.join();
  });
  other.join();
  EXPECT_TRUE(seen) << "the second fiber did not run while the first held its thread";
}

// Pools are made and destroyed per benchmark: every helper thread stops
// and is joined, with nothing touched after its scheduler is gone (run
// under ASan, the asan preset).
TEST(FiberPool, ManyPoolsComeAndGo) {
  for (int i = 0; i < 300; ++i) {
    FiberPool pool(3);
    std::atomic<int> ran{0};
    for (int f = 0; f < 4; ++f) pool.spawn([&] { ran.fetch_add(1); });
    pool.join();
    ASSERT_EQ(ran.load(), 4);
  }
}

// The thread running the caller now. std::this_thread::get_id() is
// pthread_self(), which glibc declares const: the compiler may compute it
// once per function, although a fiber can resume on another thread after
// it blocked.
[[gnu::noipa]] std::thread::id thread_now() { return std::this_thread::get_id(); }

// A fiber that blocked in a channel operation on one pool thread and is
// woken by a fiber on the other thread resumes on the waker's thread (Go
// readies a goroutine on the waker's P), so a pair that hands values back
// and forth ends up on one thread. Placement is the scheduler's choice: the
// sender first holds its thread (outside the scheduler) until the receiver
// has started, so the receiver, queued behind it, is stolen by the other
// thread; the test repeats until the receiver blocked on another thread
// than the sender runs on, five times, and counts the rounds in which it
// resumed on the sender's thread. All five should; one may not, if the receiver's
// thread was descheduled between linking and suspending for the whole 20 ms
// the sender waits (then the receiver was never suspended, and it carries
// on where it is). Before the change (release): none did.
TEST(FiberPool, AWokenFiberRunsOnItsWakersThread) {
  FiberPool pool(2);
  int rounds_apart = 0, moved = 0;
  for (int round = 0; round < 200 && rounds_apart < 5; ++round) {
    Channel<int, FiberWait> ch(0), ack(0);
    std::thread::id blocked_on, resumed_on, waker_on;
    std::atomic<bool> receiver_started{false};
    pool.spawn([&] {  // the sender
      const auto held = std::chrono::steady_clock::now();
      while (!receiver_started.load() && std::chrono::steady_clock::now() - held < 5s) {
      }
      // Until the receiver is linked into the channel, and then long enough
      // for it to be suspended too (a receiver signalled before it suspends
      // carries on where it is).
      for (int i = 0; i < 5000 && detail::ZeroProbe::waiters(zero_of(ch)) == 0; ++i) {
        boost::this_fiber::sleep_for(200us);  // a timed wait: the sender stays on its thread
      }
      boost::this_fiber::sleep_for(20ms);
      waker_on = thread_now();
      ASSERT_EQ(ch.send(1), ChanStatus::ok);
      int a = 0;
      ASSERT_EQ(ack.recv(a), ChanStatus::ok);
    });
    pool.spawn([&] {  // the receiver
      receiver_started.store(true);
      blocked_on = thread_now();
      int v = 0;
      ASSERT_EQ(ch.recv(v), ChanStatus::ok);
      resumed_on = thread_now();
      ASSERT_EQ(ack.send(1), ChanStatus::ok);
    });
    pool.join();
    if (blocked_on == waker_on) continue;  // both on one thread: nothing to see
    ++rounds_apart;
    if (resumed_on == waker_on) ++moved;
  }
  ASSERT_GE(rounds_apart, 2) << "the receiver and the sender ran on different threads in fewer than 2 of 200 rounds";
  EXPECT_GE(moved, rounds_apart - 1) << "the receiver resumed on its own thread, not the sender's, in "
                                     << rounds_apart - moved << " of " << rounds_apart << " rounds";
}

// A pool thread's main context (here, the test body) that wakes a fiber
// may go on to wait outside the scheduler: the woken fiber must not wait
// for it in its "run next" slot, which only that thread would run. The
// first fiber spawned takes that slot, so the receiver starts on the
// helper thread; the slot is empty again when the test body wakes it.
// Without the check (release): the receiver never ran.
TEST(FiberPool, AFiberWokenByAPoolThreadsMainContextRunsWhileThatThreadIsBusy) {
  FiberPool pool(2);
  Channel<int, FiberWait> ch(0);
  std::atomic<bool> ran{false};
  pool.spawn([] {});  // this thread's run-next slot
  pool.spawn([&] {
    int v = 0;
    if (ch.recv(v) == ChanStatus::ok) ran = true;
  });
  for (int i = 0; i < 5000 && detail::ZeroProbe::waiters(zero_of(ch)) == 0; ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);  // the receiver suspends
  boost::this_fiber::yield();         // the first fiber runs and ends: the slot is free
  ASSERT_EQ(ch.send_for(1, 10s), ChanStatus::ok);
  for (int i = 0; i < 10000 && !ran; ++i) std::this_thread::sleep_for(1ms);  // busy outside the scheduler
  EXPECT_TRUE(ran) << "the woken fiber did not run while the thread that woke it was busy";
  pool.join();
}

// A fiber blocked on a pool thread and woken from a thread outside the
// pool (which cannot run it) goes to the pool's shared queue and runs.
TEST(FiberPool, AFiberWokenFromOutsideThePoolRuns) {
  FiberPool pool(2);
  constexpr int kFibers = 16;
  Channel<int, FiberWait> ch(0);
  std::atomic<int> got{0};
  for (int i = 0; i < kFibers; ++i) {
    pool.spawn([&] {
      int v = 0;
      if (ch.recv(v) == ChanStatus::ok) got.fetch_add(v);
    });
  }
  std::thread outside([&] {
    for (int i = 0; i < kFibers; ++i) {
      if (ch.send_for(1, 10s) != ChanStatus::ok) {
        ADD_FAILURE() << "send " << i << " found no receiver in 10 s";
        ch.close();  // the receivers left waiting get closed: no hang
        return;
      }
    }
  });
  pool.join();  // this thread runs pool fibers meanwhile (one may be in its run-next slot)
  outside.join();
  EXPECT_EQ(got.load(), kFibers);
}

// Two fibers ping-pong on the pool's only thread, so every pick but a few
// takes the run-next slot; a fiber woken from a thread outside the pool
// waits in the shared queue and must run within a few dozen picks (the
// pool looks at the shared queue first every 61st pick, run-next
// included), counted in ping-pong exchanges, not in time. Before the fix
// (release): the shared queue was looked at only on picks that did not
// take run-next, and the woken fiber waited for the ping-pong to end.
TEST(FiberPool, AFiberWokenFromOutsideRunsWhileRunNextIsBusy) {
  FiberPool pool(1);
  Channel<int, FiberWait> wake(0);
  PingPong pp;
  long at_wake = -1, at_run = -1;
  const auto give_up = Clock::now() + 5s;
  pool.spawn([&] {  // first: it blocks before the ping-pong starts
    int v = 0;
    if (wake.recv(v) == ChanStatus::ok) at_run = pp.exchanges.load();
    pp.stop = true;
  });
  // Ends by itself after 5 s (no hang), and then closes `wake`: the
  // receiver, if it never ran, gets closed.
  pp.spawn(pool, 5s, [&wake] { wake.close(); });
  auto& exchanges = pp.exchanges;
  std::thread outside([&] {
    while (exchanges.load() < 1000 && Clock::now() < give_up) std::this_thread::yield();  // the ping-pong runs
    const long before = exchanges.load();
    if (wake.send_for(1, 5s) == ChanStatus::ok) at_wake = before;
  });
  pool.join();
  outside.join();
  ASSERT_GE(at_wake, 0) << "the outside thread's send did not complete";
  ASSERT_GE(at_run, 0) << "the woken fiber never ran";
  EXPECT_LT(at_run - at_wake, 10000) << "the woken fiber waited " << at_run - at_wake
                                     << " ping-pong exchanges in the shared queue";
}

// Fibers that a pool thread spawns go to its own queue (the first to its
// run-next slot); while that thread is busy outside the scheduler, an idle
// thread of the pool steals them and runs them. The second round's pool
// threads take over the queues of the first's, which ended with it.
// Without stealing (release): none of the 63 queued fibers ran while the
// spawning thread was busy.
TEST(FiberPool, FibersQueuedOnABusyThreadAreStolen) {
  constexpr int kFibers = 64;
  for (int round = 0; round < 2; ++round) {
    FiberPool pool(2);
    std::atomic<int> ran{0};
    for (int i = 0; i < kFibers; ++i) pool.spawn([&] { ran.fetch_add(1); });
    // Busy outside the scheduler (no fiber-aware wait) for up to 10 s.
    for (int i = 0; i < 10000 && ran.load() < kFibers - 1; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_GE(ran.load(), kFibers - 1) << "round " << round << ": only " << ran.load() << " of " << kFibers - 1
                                       << " queued fibers ran while the thread that spawned them was busy";
    pool.join();
    EXPECT_EQ(ran.load(), kFibers);
  }
}

}  // namespace
}  // namespace conpat::test
