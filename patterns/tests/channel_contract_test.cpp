// Promises of conpat/channel.hpp at the edges that stress runs do not
// reach: a completed send is visible to a later try_recv (and a freed slot
// to a later try_send) while another operation is stalled half-way; a
// blocked operation waiting for such a stalled peer sleeps instead of
// spinning; close() happens-before a send that returns closed; deadlines
// at the far ends of a clock mean "no limit".
//
// Which preset shows each failure before its fix is noted per test.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <fstream>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/wait_group.hpp"

namespace conpat::test {
namespace {

using namespace std::chrono_literals;

// A value whose move stalls on the thread that armed it: the move that
// stalls is the one inside the channel (into the slot for a send, out of
// it for a recv), so the operation is caught between its claim and its
// publish. stalled() says a move is stalled now; release() lets it go.
struct Stall {
  int v = 0;
  static inline thread_local bool armed = false;
  static inline std::atomic<bool> in_move{false};
  static inline std::atomic<bool> go{false};

  Stall() = default;
  explicit Stall(int x) : v(x) {}
  Stall(Stall&& o) noexcept : v(o.v) { maybe_stall(); }
  Stall& operator=(Stall&& o) noexcept {
    v = o.v;
    maybe_stall();
    return *this;
  }
  static void maybe_stall() noexcept {
    if (!armed) return;
    armed = false;
    in_move.store(true);
    while (!go.load()) std::this_thread::yield();
    in_move.store(false);
  }
  static void reset() {
    in_move = false;
    go = false;
  }
  static void wait_until_stalled() {
    while (!in_move.load()) std::this_thread::yield();
  }
};

// Whether a thread sleeps (state S or D in /proc: parked in the kernel)
// rather than runs or waits to run (R: spinning, yielding). Sampled rather
// than timed, so a loaded machine (where a spinner gets little CPU) does
// not hide a spinner.
char thread_state(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');  // the name may hold spaces
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

// Waits (up to 2 s: its spin and yield rounds come first, slow under a
// sanitizer on a busy machine) until `tid` is first seen asleep, then
// samples it every 2 ms for `span`: the share of samples asleep.
double asleep_share(pid_t tid, std::chrono::milliseconds span) {
  for (auto until = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < until;) {
    const char st = thread_state(tid);
    if (st == 'S' || st == 'D') break;
    std::this_thread::sleep_for(1ms);
  }
  int asleep = 0, samples = 0;
  for (auto until = std::chrono::steady_clock::now() + span; std::chrono::steady_clock::now() < until; ++samples) {
    const char st = thread_state(tid);
    if (st == 'S' || st == 'D') ++asleep;
    std::this_thread::sleep_for(2ms);
  }
  return samples == 0 ? 0.0 : static_cast<double>(asleep) / samples;
}

// Runs `op` (a blocking operation that waits for a peer stalled in a Stall
// move) on its own thread, samples how much of the wait it spends asleep,
// then releases the stalled peer and collects the result.
struct StalledWait {
  ChanStatus status = ChanStatus::would_block;
  bool returned_while_stalled = false;
  double asleep = 0;
};
template <class Op>
StalledWait wait_on_stalled_peer(Op op) {
  StalledWait w;
  std::atomic<bool> returned{false};
  std::atomic<pid_t> tid{0};
  std::thread waiter([&] {
    tid = gettid();
    w.status = op();
    returned = true;
  });
  while (tid.load() == 0) std::this_thread::yield();
  w.asleep = asleep_share(tid.load(), 100ms);
  w.returned_while_stalled = returned.load();
  Stall::go = true;
  waiter.join();
  return w;
}

// crossbeam-channel's tests/array.rs `linearizable`: every thread sends and
// then try_recv()s, which must succeed — its own send completed, so the
// channel holds at least one value. Before the fix: failed in release
// (in the first repetition) and under TSan.
TEST(ChannelContract, TryRecvAfterACompletedSendSucceeds) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kCount = 2000, kRepetitions = 10;
#else
  constexpr int kCount = 25000, kRepetitions = 20;
#endif
  constexpr int kThreads = 4;
  for (int rep = 0; rep < kRepetitions; ++rep) {
    Channel<int> ch(kThreads);
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < kCount; ++i) {
          ASSERT_EQ(ch.send(0), ChanStatus::ok);
          int v = -1;
          if (ch.try_recv(v) != ChanStatus::ok) failures.fetch_add(1);
        }
      });
    }
    for (auto& t : ts) t.join();
    ASSERT_EQ(failures.load(), 0) << "repetition " << rep << ": try_recv after a completed send answered would_block";
    ASSERT_EQ(ch.size(), 0u);
  }
}

// The mirror: every thread receives and then try_send()s into the room its
// own receive made. Before the fix: failed in release (fourth
// repetition) and under TSan.
TEST(ChannelContract, TrySendAfterACompletedRecvSucceeds) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kCount = 2000, kRepetitions = 10;
#else
  constexpr int kCount = 25000, kRepetitions = 20;
#endif
  constexpr int kThreads = 4;
  Channel<int> ch(kThreads);
  for (int rep = 0; rep < kRepetitions; ++rep) {
    Channel<int> ch(kThreads);
    for (int i = 0; i < kThreads; ++i) ASSERT_EQ(ch.try_send(i), ChanStatus::ok);
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < kCount; ++i) {
          int v = -1;
          ASSERT_EQ(ch.recv(v), ChanStatus::ok);
          if (ch.try_send(v) != ChanStatus::ok) failures.fetch_add(1);
        }
      });
    }
    for (auto& t : ts) t.join();
    ASSERT_EQ(failures.load(), 0) << "repetition " << rep << ": try_send after a completed recv answered would_block";
    ASSERT_EQ(ch.size(), static_cast<std::size_t>(kThreads));
  }
}

// A sender stalled inside its move (claimed, not published) and a later
// send that completed: try_recv and recv_for wait for the stalled sender
// and return its value first (FIFO), and the waiting thread sleeps.
// Before the fix (release, asan, tsan): the receiver was asleep in 0 % of
// the samples (it looped try, spin, re-check at full speed).
TEST(ChannelContract, RecvWaitsForAStalledSenderWithoutSpinning) {
  Stall::reset();
  Channel<Stall> ch(4);
  std::thread stalled([&] {
    Stall::armed = true;
    EXPECT_EQ(ch.send(Stall{1}), ChanStatus::ok);
  });
  Stall::wait_until_stalled();
  ASSERT_EQ(ch.send(Stall{2}), ChanStatus::ok);  // completes: slot 1
  EXPECT_EQ(ch.size(), 2u);

  Stall out;
  const StalledWait w = wait_on_stalled_peer([&] { return ch.recv_for(out, 2s); });
  stalled.join();
  EXPECT_FALSE(w.returned_while_stalled) << "recv_for returned while the only earlier send was still stalled";
  EXPECT_EQ(w.status, ChanStatus::ok);
  EXPECT_EQ(out.v, 1) << "FIFO: the stalled sender claimed the first slot";
  EXPECT_GT(w.asleep, 0.8) << "the waiting receiver was asleep in only " << w.asleep * 100 << " % of the samples";
  Stall v;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(v.v, 2);
}

// try_recv itself waits for the stalled sender (it is inside its
// operation): it must not answer would_block while a completed send is
// buffered behind it. Before the fix (every preset): would_block at once.
TEST(ChannelContract, TryRecvDoesNotReportEmptyWhileACompletedSendIsBuffered) {
  Stall::reset();
  Channel<Stall> ch(4);
  std::thread stalled([&] {
    Stall::armed = true;
    EXPECT_EQ(ch.send(Stall{1}), ChanStatus::ok);
  });
  Stall::wait_until_stalled();
  ASSERT_EQ(ch.send(Stall{2}), ChanStatus::ok);
  std::thread releaser([] {
    std::this_thread::sleep_for(30ms);
    Stall::go = true;
  });
  Stall v;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(v.v, 1);
  releaser.join();
  stalled.join();
}

// The send side: a receiver stalled while moving the value out of slot 0,
// then this thread receives slot 1's value: the channel holds nothing, so
// try_send and send_for succeed (waiting for the stalled receiver), and a
// blocked send_for sleeps meanwhile. Before the fix (every preset): the
// sender was asleep in 0 % of the samples.
TEST(ChannelContract, SendWaitsForAStalledReceiverWithoutSpinning) {
  Stall::reset();
  Channel<Stall> ch(2);
  ASSERT_EQ(ch.send(Stall{1}), ChanStatus::ok);
  ASSERT_EQ(ch.send(Stall{2}), ChanStatus::ok);
  Stall first;
  std::thread stalled([&] {
    Stall::armed = true;
    EXPECT_EQ(ch.recv(first), ChanStatus::ok);
  });
  Stall::wait_until_stalled();
  Stall second;
  ASSERT_EQ(ch.recv(second), ChanStatus::ok);
  EXPECT_EQ(second.v, 2);
  EXPECT_EQ(ch.size(), 0u);

  const StalledWait w = wait_on_stalled_peer([&] { return ch.send_for(Stall{3}, 2s); });
  stalled.join();
  EXPECT_FALSE(w.returned_while_stalled) << "the slot send_for needs is still being read by the stalled receiver";
  EXPECT_EQ(w.status, ChanStatus::ok);
  EXPECT_EQ(first.v, 1);
  EXPECT_GT(w.asleep, 0.8) << "the waiting sender was asleep in only " << w.asleep * 100 << " % of the samples";
  EXPECT_EQ(ch.try_send(Stall{4}), ChanStatus::ok) << "one value buffered in a channel of capacity 2";
}

// close() happens-before a send that returns closed: what the closer wrote
// before close() is visible to that sender, with no other synchronisation.
// Before the fix: "data race" under TSan (the sender read the closed bit
// with relaxed loads).
TEST(ChannelContract, CloseHappensBeforeASendThatReturnsClosed) {
  constexpr int kRounds = 20;  // TSan reports the race in any round
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t cap : {std::size_t{1}, std::size_t{8}}) {
      Channel<int> ch(cap);
      int written_before_close = 0;  // a plain int: only close() orders it
      std::thread closer([&] {
        written_before_close = round + 1;
        ch.close();
      });
      ChanStatus s = ChanStatus::ok;
      while ((s = ch.try_send(1)) != ChanStatus::closed) {
        ASSERT_TRUE(s == ChanStatus::ok || s == ChanStatus::would_block);
        std::this_thread::yield();  // let the closer run on a busy machine
      }
      EXPECT_EQ(written_before_close, round + 1);
      closer.join();
    }
  }
}

// A deadline at the far end of a clock is "wait forever", however coarse
// the clock's unit. Before the fix: timeout at once (every preset), and
// "signed integer overflow" in chrono.h under UBSan (asan preset).
template <class Deadline>
void expect_recv_waits_for_value(Deadline deadline) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
    Channel<int> ch(cap);
    std::thread sender([&] {
      std::this_thread::sleep_for(20ms);
      ch.send_for(7, 2s);  // bounded: a receiver that gave up must not hang the test
    });
    int v = 0;
    EXPECT_EQ(ch.recv_until(v, deadline), ChanStatus::ok) << "capacity " << cap;
    EXPECT_EQ(v, 7);
    sender.join();
  }
}

TEST(ChannelContract, DeadlineAtTheEndOfACoarseSteadyClockWaitsForever) {
  expect_recv_waits_for_value(std::chrono::time_point<std::chrono::steady_clock, std::chrono::seconds>::max());
}

TEST(ChannelContract, DeadlineAtTheEndOfTheSystemClockWaitsForever) {
  expect_recv_waits_for_value(std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>::max());
  expect_recv_waits_for_value(std::chrono::system_clock::time_point::max());
}

TEST(ChannelContract, SendUntilTheEndOfTimeWaitsForRoom) {
  Channel<int> ch(1);
  ASSERT_EQ(ch.send(1), ChanStatus::ok);
  std::thread receiver([&] {
    std::this_thread::sleep_for(20ms);
    int v = 0;
    ch.recv(v);
  });
  EXPECT_EQ(ch.send_until(2, std::chrono::time_point<std::chrono::steady_clock, std::chrono::hours>::max()),
            ChanStatus::ok);
  receiver.join();
}

TEST(ChannelContract, HugeAndTinyTimeoutsSaturate) {
  Channel<int> ch(1);
  int v = 0;
  // A past deadline far below the clock's range: the try_ form.
  EXPECT_EQ(ch.recv_until(v, std::chrono::time_point<std::chrono::steady_clock, std::chrono::hours>::min()),
            ChanStatus::timeout);
  EXPECT_EQ(ch.recv_for(v, std::chrono::duration<long long, std::pico>::min()), ChanStatus::timeout);
  ASSERT_EQ(ch.send(3), ChanStatus::ok);
  // A timeout beyond the clock's range is no limit: a ready channel answers at once.
  EXPECT_EQ(ch.recv_for(v, std::chrono::duration<long long, std::pico>::max()), ChanStatus::ok);
  EXPECT_EQ(ch.recv_for(v, std::chrono::seconds::min()), ChanStatus::timeout);
  WaitGroup wg;
  EXPECT_TRUE(wg.wait_for(std::chrono::hours::max()));
}

// WaitGroup::add beyond the counter's range is an overflow, not a
// "negative counter", and leaves the counter as it was. Before the fix:
// "negative counter" (release), signed overflow under UBSan (asan preset).
TEST(ChannelContract, WaitGroupAddOfPtrdiffMaxIsAnOverflow) {
  WaitGroup wg;
  wg.add(1);
  try {
    wg.add(PTRDIFF_MAX);
    ADD_FAILURE() << "add(PTRDIFF_MAX) did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
  try {
    wg.add(PTRDIFF_MIN);
    ADD_FAILURE() << "add(PTRDIFF_MIN) did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(wg.wait_for(0ms)) << "the counter is still 1";
  wg.done();
  EXPECT_TRUE(wg.wait_for(0ms));
}

}  // namespace
}  // namespace conpat::test
