// conpat::select (conpat/select.hpp) with ThreadWait: Go's select semantics
// over both channel flavours. Ported tests name their source: Go's
// runtime/chan_test.go and test/chan/select*.go, and crossbeam-channel's
// tests/select.rs. None of them measures time as a pass criterion; the
// timeouts they use only bound how long a select may block.
#include "conpat/select.hpp"
#include "select_print.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>


namespace conpat::test {
namespace {

using namespace std::chrono_literals;
using Chan = Channel<int>;
using U64Chan = Channel<std::uint64_t>;

// Iteration counts: full in release, smaller under the sanitizers (which
// slow every atomic operation down by an order of magnitude).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 10;
#else
constexpr int kScale = 1;
#endif

class SelectCap : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Capacities, SelectCap, ::testing::Values(0, 1, 4),
                         [](const auto& info) { return "cap" + std::to_string(info.param); });

// crossbeam select.rs `smoke`: a ready receive completes, the other case does not.
TEST_P(SelectCap, SmokeReceive) {
  Chan a(GetParam()), b(GetParam());
  std::jthread s([&] { ASSERT_EQ(a.send(1), ChanStatus::ok); });
  int x = 0, y = 0;
  EXPECT_EQ(select(recv_case(a, x), recv_case(b, y)), (SelectResult{0, ChanStatus::ok}));
  EXPECT_EQ(x, 1);
  EXPECT_EQ(y, 0);
  s.join();
  std::jthread s2([&] { ASSERT_EQ(b.send(2), ChanStatus::ok); });
  EXPECT_EQ(select(recv_case(a, x), recv_case(b, y)), (SelectResult{1, ChanStatus::ok}));
  EXPECT_EQ(y, 2);
}

// A send case delivers its value to exactly the channel it names.
TEST_P(SelectCap, SmokeSend) {
  Chan a(GetParam()), b(GetParam());
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_EQ(a.send(0), ChanStatus::ok);  // a is full
  int got = 0;
  std::jthread r([&] { ASSERT_EQ(b.recv(got), ChanStatus::ok); });
  EXPECT_EQ(select(send_case(a, 1), send_case(b, 2)), (SelectResult{1, ChanStatus::ok}));
  r.join();
  EXPECT_EQ(got, 2);
  int x = 0;
  std::size_t n = 0;
  for (; a.try_recv(x) == ChanStatus::ok; ++n) EXPECT_EQ(x, 0);  // the other case sent nothing
  EXPECT_EQ(n, GetParam());
}

// crossbeam `disconnected`, Go select3.go "selects on closed channels never
// block": a receive on a closed channel is ready and reports closed; a send
// on a closed channel completes with closed (Go panics).
TEST_P(SelectCap, ClosedChannelsAreReady) {
  Chan a(GetParam()), b(GetParam());
  a.close();
  int x = 0;
  EXPECT_EQ(select(recv_case(a, x), recv_case(b, x)), (SelectResult{0, ChanStatus::closed}));
  EXPECT_EQ(try_select(recv_case(b, x), recv_case(a, x)), (SelectResult{1, ChanStatus::closed}));
  EXPECT_EQ(select(send_case(a, 1), recv_case(b, x)), (SelectResult{0, ChanStatus::closed}));
  EXPECT_EQ(select_for(10ms, send_case(a, 1)), (SelectResult{0, ChanStatus::closed}));
}

// crossbeam `disconnected` (second half): closing a channel wakes a blocked select.
TEST_P(SelectCap, CloseWakesBlockedSelect) {
  Chan a(GetParam()), b(GetParam());
  std::jthread closer([&] {
    std::this_thread::sleep_for(20ms);
    b.close();
  });
  int x = 0;
  EXPECT_EQ(select(recv_case(a, x), recv_case(b, x)), (SelectResult{1, ChanStatus::closed}));
}

// A blocked send case is woken by close and reports closed; nothing was delivered.
TEST_P(SelectCap, CloseWakesBlockedSendCase) {
  Chan a(GetParam());
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_EQ(a.send(0), ChanStatus::ok);  // full
  std::jthread closer([&] {
    std::this_thread::sleep_for(20ms);
    a.close();
  });
  int x = 0;
  Chan never(GetParam());
  EXPECT_EQ(select(send_case(a, 7), recv_case(never, x)), (SelectResult{0, ChanStatus::closed}));
  int n = 0;
  while (a.try_recv(x) == ChanStatus::ok) {
    EXPECT_EQ(x, 0);
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(GetParam()));
}

// Buffered values are received before closed is reported (as recv does).
TEST(Select, ClosedBufferedChannelDrainsFirst) {
  Chan a(2);
  ASSERT_EQ(a.send(5), ChanStatus::ok);
  a.close();
  int x = 0;
  EXPECT_EQ(select(recv_case(a, x)), (SelectResult{0, ChanStatus::ok}));
  EXPECT_EQ(x, 5);
  EXPECT_EQ(select(recv_case(a, x)), (SelectResult{0, ChanStatus::closed}));
}

// crossbeam `default`, Go select3.go (non-blocking cases): try_select is Go's `default:`.
TEST_P(SelectCap, DefaultCase) {
  Chan a(GetParam()), b(GetParam());
  int x = 0;
  EXPECT_EQ(try_select(recv_case(a, x), recv_case(b, x)), (SelectResult{-1, ChanStatus::would_block}));
  if (GetParam() > 0) {
    EXPECT_EQ(try_select(send_case(a, 3)), (SelectResult{0, ChanStatus::ok}));  // room: never blocks
    EXPECT_EQ(try_select(recv_case(b, x), recv_case(a, x)), (SelectResult{1, ChanStatus::ok}));
    EXPECT_EQ(x, 3);
  } else {
    EXPECT_EQ(try_select(send_case(a, 3)), (SelectResult{-1, ChanStatus::would_block}));  // no receiver
    // With a receiver parked, an unbuffered send case is ready.
    int got = 0;
    std::jthread r([&] { ASSERT_EQ(a.recv(got), ChanStatus::ok); });
    SelectResult res;
    do {
      res = try_select(send_case(a, 4));
      if (res.index < 0) std::this_thread::sleep_for(1ms);
    } while (res.index < 0);
    EXPECT_EQ(res, (SelectResult{0, ChanStatus::ok}));
    r.join();
    EXPECT_EQ(got, 4);
  }
}

// crossbeam `timeout`, Go select3.go (blocking cases): a select with nothing
// ready times out, and a deadline form works on another clock.
TEST_P(SelectCap, Timeout) {
  Chan a(GetParam()), b(GetParam());
  int x = 0;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(select_for(30ms, recv_case(a, x), recv_case(b, x)), (SelectResult{-1, ChanStatus::timeout}));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);  // never early
  EXPECT_EQ(select_until(std::chrono::system_clock::now() + 5ms, recv_case(a, x)),
            (SelectResult{-1, ChanStatus::timeout}));
  EXPECT_EQ(select_for(0ms, recv_case(a, x)), (SelectResult{-1, ChanStatus::timeout}));
  EXPECT_EQ(select_for(-5ms, recv_case(a, x)), (SelectResult{-1, ChanStatus::timeout}));
  // A ready case wins over a zero timeout.
  if (GetParam() > 0) {
    ASSERT_EQ(b.send(9), ChanStatus::ok);
    EXPECT_EQ(select_for(0ms, recv_case(a, x), recv_case(b, x)), (SelectResult{1, ChanStatus::ok}));
    EXPECT_EQ(x, 9);
  }
  // A send that becomes possible before the timeout completes.
  std::jthread r([&] {
    std::this_thread::sleep_for(10ms);
    int got = 0;
    ASSERT_EQ(a.recv(got), ChanStatus::ok);
    EXPECT_EQ(got, 11);
  });
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_EQ(a.send(11), ChanStatus::ok);  // full
  EXPECT_EQ(select_for(10s, send_case(a, 11)), (SelectResult{0, ChanStatus::ok}));
}

// The stop_token form: cancelled when stop is requested while blocked, or already requested.
TEST_P(SelectCap, Stop) {
  Chan a(GetParam());
  int x = 0;
  std::stop_source src;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    src.request_stop();
  });
  EXPECT_EQ(select(src.get_token(), recv_case(a, x)), (SelectResult{-1, ChanStatus::cancelled}));
  EXPECT_EQ(select(src.get_token(), recv_case(a, x), send_case(a, 1)).status,
            GetParam() > 0 ? ChanStatus::ok : ChanStatus::cancelled);  // room: the send is ready
  std::stop_source never;
  if (GetParam() > 0) {
    // A ready case completes even with a stop token that is never requested.
    EXPECT_EQ(select(never.get_token(), recv_case(a, x)), (SelectResult{0, ChanStatus::ok}));
    EXPECT_EQ(x, 1);
  }
  // A timeout and a stop token together: whichever comes first.
  std::stop_source both;
  EXPECT_EQ(select_for(5ms, both.get_token(), recv_case(a, x)), (SelectResult{-1, ChanStatus::timeout}));
  both.request_stop();
  EXPECT_EQ(select_until(std::chrono::steady_clock::now() + 10s, both.get_token(), recv_case(a, x)),
            (SelectResult{-1, ChanStatus::cancelled}));
}

// crossbeam `unblocks`: a blocked select completes once a peer arrives, for
// a receive and for a send.
TEST_P(SelectCap, Unblocks) {
  Chan a(GetParam()), b(GetParam());
  std::jthread s([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_EQ(b.send(42), ChanStatus::ok);
  });
  int x = 0, y = 0;
  EXPECT_EQ(select(recv_case(a, x), recv_case(b, y)), (SelectResult{1, ChanStatus::ok}));
  EXPECT_EQ(y, 42);
  s.join();
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_EQ(a.send(0), ChanStatus::ok);  // full
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_EQ(b.send(0), ChanStatus::ok);
  std::jthread r([&] {
    std::this_thread::sleep_for(20ms);
    int got = -1;
    ASSERT_EQ(a.recv(got), ChanStatus::ok);
  });
  EXPECT_EQ(select(send_case(a, 1), send_case(b, 2)), (SelectResult{0, ChanStatus::ok}));
}

// crossbeam `both_ready`: two ready cases, two selects: each completes once.
TEST_P(SelectCap, BothReady) {
  Chan a(GetParam()), b(GetParam());
  std::jthread s([&] {
    ASSERT_EQ(a.send(1), ChanStatus::ok);
    ASSERT_EQ(b.send(2), ChanStatus::ok);
  });
  int x = 0;
  int seen[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    SelectResult r = select(recv_case(a, x), recv_case(b, x));
    ASSERT_EQ(r.status, ChanStatus::ok);
    EXPECT_EQ(x, r.index + 1);
    ++seen[r.index];
  }
  EXPECT_EQ(seen[0], 1);
  EXPECT_EQ(seen[1], 1);
}

// Ends from chan_ends.hpp are cases too.
TEST_P(SelectCap, EndsAsCases) {
  Chan a(GetParam()), b(GetParam());
  SendEnd<int> tx = a;
  RecvEnd<int> rx = a;
  RecvEnd<int> rb = b;
  std::jthread s([&] { ASSERT_EQ(select(send_case(tx, 5)), (SelectResult{0, ChanStatus::ok})); });
  int x = 0;
  EXPECT_EQ(select(recv_case(rb, x), recv_case(rx, x)), (SelectResult{1, ChanStatus::ok}));
  EXPECT_EQ(x, 5);
}

// Values that only move: a send case moves its value in, a receive case out.
TEST_P(SelectCap, MoveOnlyValues) {
  Channel<std::unique_ptr<int>> a(GetParam());
  std::jthread s([&] { ASSERT_EQ(select(send_case(a, std::make_unique<int>(3))).status, ChanStatus::ok); });
  std::unique_ptr<int> p;
  EXPECT_EQ(select(recv_case(a, p)), (SelectResult{0, ChanStatus::ok}));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 3);
}

// Go runtime/chan_test.go TestSelfSelect: two threads each select on sending
// and receiving on one channel; an unbuffered select must never pair with itself.
TEST_P(SelectCap, SelfSelect) {
  Chan c(GetParam() == 0 ? 0 : 10);
  std::atomic<int> self_receives{0};
  std::vector<std::jthread> ts;
  for (int p = 0; p < 2; ++p) {
    ts.emplace_back([&, p] {
      for (int i = 0; i < 1000 / kScale; ++i) {
        int v = -1;
        SelectResult r = (p == 0) ? select(send_case(c, p), recv_case(c, v)) : select(recv_case(c, v), send_case(c, p));
        ASSERT_EQ(r.status, ChanStatus::ok);
        const bool received = (p == 0) ? r.index == 1 : r.index == 0;
        if (received && v == p && c.capacity() == 0) self_receives.fetch_add(1);
      }
    });
  }
  ts.clear();
  EXPECT_EQ(self_receives.load(), 0);
}

// Go TestSelectDuplicateChannel: a select with two cases on one channel is
// satisfied through a third; its dead entries on the first channel must
// not take a value sent there later.
TEST(Select, DuplicateChannel) {
  Chan c(0), d(0), e(0);
  std::thread t1([&] {
    int x = 0;
    SelectResult r = select(recv_case(c, x), recv_case(c, x), recv_case(d, x));
    EXPECT_EQ(r, (SelectResult{2, ChanStatus::ok}));
    EXPECT_EQ(x, 7);
    ASSERT_EQ(e.send(9), ChanStatus::ok);
  });
  std::this_thread::sleep_for(5ms);  // let the select block (not needed for correctness)
  int got_c = 0;
  std::thread t2([&] { ASSERT_EQ(c.recv(got_c), ChanStatus::ok); });
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(d.send(7), ChanStatus::ok);
  int v = 0;
  EXPECT_EQ(e.recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 9);
  EXPECT_EQ(c.send(8), ChanStatus::ok);
  t1.join();
  t2.join();
  EXPECT_EQ(got_c, 8);
}

// Go TestSelectFairness (and crossbeam `fairness1`): with two cases always
// ready, each is chosen in a fair share of 10,000 selects. Bounds (30 %..70 %)
// are many standard deviations (0.5 %) wide: they do not flake.
TEST(Select, FairnessReceive) {
  constexpr int kTrials = 10000;
  Chan a(kTrials), b(kTrials);
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_EQ(a.send(0), ChanStatus::ok);
    ASSERT_EQ(b.send(1), ChanStatus::ok);
  }
  int count[2] = {0, 0};
  int x = 0;
  for (int i = 0; i < kTrials; ++i) {
    SelectResult r = select(recv_case(a, x), recv_case(b, x));
    ASSERT_EQ(r.status, ChanStatus::ok);
    ASSERT_EQ(x, r.index);
    ++count[r.index];
  }
  EXPECT_GE(count[0], kTrials * 3 / 10);
  EXPECT_GE(count[1], kTrials * 3 / 10);
}

// crossbeam `fairness2` (send cases, closed receive cases): every ready case gets a fair share.
TEST(Select, FairnessSendAndClosed) {
  constexpr int kTrials = 10000;
  Chan a(kTrials), b(kTrials), closed(1);
  closed.close();
  int count[3] = {0, 0, 0};
  int x = 0;
  for (int i = 0; i < kTrials; ++i) {
    SelectResult r = try_select(send_case(a, 0), send_case(b, 1), recv_case(closed, x));
    ASSERT_GE(r.index, 0);
    ++count[r.index];
  }
  for (int c : count) EXPECT_GE(c, kTrials * 2 / 10);  // expected a third each
  EXPECT_EQ(a.size(), static_cast<std::size_t>(count[0]));
  EXPECT_EQ(b.size(), static_cast<std::size_t>(count[1]));
}

// Go TestNonblockRecvRace: a buffered value that is there before the
// channel is closed makes a concurrent try_select ready (ok or closed),
// never would_block.
TEST(Select, NonblockRecvRace) {
  const int n = 1000 / kScale;
  for (int i = 0; i < n; ++i) {
    Chan c(1);
    ASSERT_EQ(c.send(1), ChanStatus::ok);
    SelectResult r;
    std::jthread t([&] {
      int x = 0;
      r = try_select(recv_case(c, x));
    });
    c.close();
    int x = 0;
    (void)c.recv(x);
    t.join();
    ASSERT_EQ(r.index, 0) << "iteration " << i;
  }
}

// crossbeam `linearizable_default` / `linearizable_timeout`: a send that
// returned is seen by a later try_select (and a zero-timeout select) on another thread.
TEST(Select, LinearizableDefaultAndTimeout) {
  const int n = 2000 / kScale;
  Chan c(1), go(1), done(1);
  std::jthread t([&] {
    int tok = 0;
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(go.recv(tok), ChanStatus::ok);
      int x = 0;
      SelectResult r = (i % 2 == 0) ? try_select(recv_case(c, x)) : select_for(0ms, recv_case(c, x));
      EXPECT_EQ(r, (SelectResult{0, ChanStatus::ok})) << "iteration " << i;
      ASSERT_EQ(done.send(0), ChanStatus::ok);
    }
  });
  int tok = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(c.send(i), ChanStatus::ok);
    ASSERT_EQ(go.send(0), ChanStatus::ok);
    ASSERT_EQ(done.recv(tok), ChanStatus::ok);
  }
}

// crossbeam `matching` (zero capacity) / `matching_with_leftover`: threads
// that each select a send and a receive on one unbuffered channel pair up
// with each other, never with themselves.
TEST(Select, Matching) {
  constexpr int kThreads = 8;
  Chan c(0);
  std::atomic<int> sent{0}, received{0};
  std::vector<std::jthread> ts;
  for (int i = 0; i < kThreads; ++i) {
    ts.emplace_back([&, i] {
      int v = -1;
      SelectResult r = select(recv_case(c, v), send_case(c, i));
      ASSERT_EQ(r.status, ChanStatus::ok);
      if (r.index == 0) {
        EXPECT_NE(v, i);
        received.fetch_add(1);
      } else {
        sent.fetch_add(1);
      }
    });
  }
  ts.clear();
  EXPECT_EQ(sent.load(), kThreads / 2);
  EXPECT_EQ(received.load(), kThreads / 2);
  // matching_with_leftover: one more with nobody to pair with times out.
  int v = 0;
  EXPECT_EQ(select_for(10ms, recv_case(c, v), send_case(c, 99)), (SelectResult{-1, ChanStatus::timeout}));
}

// Values carry their sender and sequence number; `got` counts every one.
std::uint64_t tag(std::uint64_t who, std::uint64_t seq) { return (who << 32) | seq; }

struct Tally {
  std::mutex mu;
  std::vector<int> seen;  // per value: times received
  explicit Tally(std::size_t n) : seen(n, 0) {}
  void add(const std::vector<std::uint64_t>& vals, std::uint64_t per) {
    std::lock_guard lk(mu);
    for (std::uint64_t v : vals) ++seen[(v >> 32) * per + (v & 0xffffffff)];
  }
};

// Go TestSelectStress: per-channel senders and receivers alongside a
// selecting sender and a selecting receiver, over four channels of
// capacities 0, 0, 2 and 3; every value arrives exactly once.
TEST(Select, Stress) {
  const std::uint64_t n = 10000 / kScale;
  std::deque<U64Chan> c;
  for (std::size_t cap : {0, 0, 2, 3}) c.emplace_back(cap);
  // Senders 0..3 plain (one channel each), sender 4 selects over all four.
  Tally tally(5 * n);
  std::vector<std::jthread> senders, receivers;
  for (int k = 0; k < 4; ++k) {
    senders.emplace_back([&, k] {
      for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(c[k].send(tag(k, i)), ChanStatus::ok);
    });
  }
  senders.emplace_back([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      SelectResult r = select(send_case(c[0], tag(4, i)), send_case(c[1], tag(4, i)), send_case(c[2], tag(4, i)),
                              send_case(c[3], tag(4, i)));
      ASSERT_EQ(r.status, ChanStatus::ok);
    }
  });
  for (int k = 0; k < 4; ++k) {
    receivers.emplace_back([&, k] {
      std::vector<std::uint64_t> got;
      std::uint64_t v = 0;
      while (c[k].recv(v) == ChanStatus::ok) got.push_back(v);
      tally.add(got, n);
    });
  }
  receivers.emplace_back([&] {  // selects until it sees a channel closed
    std::vector<std::uint64_t> got;
    std::uint64_t v[4] = {};
    for (;;) {
      SelectResult r = select(recv_case(c[0], v[0]), recv_case(c[1], v[1]), recv_case(c[2], v[2]),
                              recv_case(c[3], v[3]));
      if (r.status != ChanStatus::ok) break;
      got.push_back(v[r.index]);
    }
    tally.add(got, n);
  });
  senders.clear();
  for (auto& ch : c) ch.close();
  receivers.clear();
  for (std::size_t i = 0; i < tally.seen.size(); ++i) ASSERT_EQ(tally.seen[i], 1) << "value " << i;
}

// Go TestMultiConsumer-like, with selects on both sides: producers select
// over sending to two channels, consumers select over receiving from both;
// the sum and count of what arrives equal what was sent.
TEST_P(SelectCap, MultiConsumerBothSidesSelect) {
  const std::uint64_t n = 20000 / kScale;
  constexpr int kProducers = 3, kConsumers = 3;
  U64Chan a(GetParam()), b(GetParam());
  Tally tally(kProducers * n);
  std::vector<std::jthread> producers, consumers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (std::uint64_t i = 0; i < n; ++i) {
        ASSERT_EQ(select(send_case(a, tag(p, i)), send_case(b, tag(p, i))).status, ChanStatus::ok);
      }
    });
  }
  for (int q = 0; q < kConsumers; ++q) {
    consumers.emplace_back([&] {
      std::vector<std::uint64_t> got;
      std::uint64_t x = 0, y = 0;
      for (;;) {
        SelectResult r = select(recv_case(a, x), recv_case(b, y));
        if (r.status == ChanStatus::closed) {  // closed and drained: drain the other one, then stop
          U64Chan& other = r.index == 0 ? b : a;
          while (other.recv(x) == ChanStatus::ok) got.push_back(x);
          break;
        }
        got.push_back(r.index == 0 ? x : y);
      }
      tally.add(got, n);
    });
  }
  producers.clear();
  a.close();
  b.close();
  consumers.clear();
  for (std::size_t i = 0; i < tally.seen.size(); ++i) ASSERT_EQ(tally.seen[i], 1) << "value " << i;
}

// Exactly one case takes effect when timeouts, stops and close race the
// hand-offs: senders select (with a short timeout or a stop token) over
// two channels, receivers select likewise, a stopper and then a closer
// cut everything off midway. A sender counts a value only when its select
// reported ok for it; every such value is received exactly once and no
// other value is received.
TEST_P(SelectCap, TimeoutStopCloseRaceHandOffs) {
  const std::uint64_t n = 20000 / kScale;
  constexpr int kSenders = 2, kReceivers = 2;
  U64Chan a(GetParam()), b(GetParam());
  std::stop_source stop;
  Tally sent(kSenders * n), received(kSenders * n);
  std::vector<std::jthread> senders, receivers;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      std::vector<std::uint64_t> ok;
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t v = tag(s, i);
        SelectResult r = (i % 2 == 0) ? select_for(50us, send_case(a, v), send_case(b, v))
                                      : select(stop.get_token(), send_case(b, v), send_case(a, v));
        if (r.status == ChanStatus::ok) {
          ok.push_back(v);
        } else if (r.status == ChanStatus::closed) {
          break;
        } else {
          ASSERT_EQ(r.index, -1);
          ASSERT_TRUE(r.status == ChanStatus::timeout || r.status == ChanStatus::cancelled) << to_string(r.status);
        }
      }
      sent.add(ok, n);
    });
  }
  for (int q = 0; q < kReceivers; ++q) {
    receivers.emplace_back([&, q] {
      std::vector<std::uint64_t> got;
      std::uint64_t x = 0, y = 0;
      int closed = 0;
      while (closed < 2) {
        SelectResult r = (q == 0) ? select_for(30us, recv_case(a, x), recv_case(b, y))
                                  : select(stop.get_token(), recv_case(a, x), recv_case(b, y));
        if (r.status == ChanStatus::ok) {
          got.push_back(r.index == 0 ? x : y);
        } else if (r.status == ChanStatus::closed) {
          // Drain the other channel with plain receives, then stop.
          U64Chan& other = r.index == 0 ? b : a;
          std::uint64_t z = 0;
          while (other.recv(z) == ChanStatus::ok) got.push_back(z);
          closed = 2;
        } else if (r.status == ChanStatus::cancelled) {
          // After stop, keep receiving with timeouts until both are closed.
          r = select_for(1ms, recv_case(a, x), recv_case(b, y));
          if (r.status == ChanStatus::ok) got.push_back(r.index == 0 ? x : y);
          if (r.status == ChanStatus::closed) {
            U64Chan& other = r.index == 0 ? b : a;
            std::uint64_t z = 0;
            while (other.recv(z) == ChanStatus::ok) got.push_back(z);
            closed = 2;
          }
        }
      }
      received.add(got, n);
    });
  }
  std::this_thread::sleep_for(20ms);
  stop.request_stop();
  std::this_thread::sleep_for(10ms);
  a.close();
  b.close();
  senders.clear();
  receivers.clear();
  int total = 0;
  for (std::size_t i = 0; i < sent.seen.size(); ++i) {
    ASSERT_EQ(received.seen[i], sent.seen[i]) << "value " << i;
    ASSERT_LE(sent.seen[i], 1);
    total += sent.seen[i];
  }
  EXPECT_GT(total, 0);
}

// Close racing blocked selects on both sides: each blocked select returns
// (ok or closed), none hangs, and every value a send case reported sent is received once.
TEST_P(SelectCap, CloseRacesBlockedSelects) {
  const int rounds = 300 / kScale;
  for (int round = 0; round < rounds; ++round) {
    U64Chan a(GetParam()), b(GetParam());
    std::atomic<int> sent{0}, received{0};
    std::jthread s([&] {
      for (std::uint64_t i = 0;; ++i) {
        SelectResult r = select(send_case(a, i), send_case(b, i));
        if (r.status != ChanStatus::ok) break;
        sent.fetch_add(1);
      }
    });
    std::jthread r([&] {
      std::uint64_t x = 0, y = 0;
      for (;;) {
        SelectResult res = select(recv_case(a, x), recv_case(b, y));
        if (res.status != ChanStatus::ok) break;
        received.fetch_add(1);
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(round % 7 * 50));
    if (round % 2 == 0) {
      a.close();
      b.close();
    } else {
      b.close();
      a.close();
    }
    s.join();
    r.join();
    // The receiver stops at the first closed case: what is left is buffered.
    std::uint64_t z = 0;
    int left = 0;
    while (a.try_recv(z) == ChanStatus::ok) ++left;
    while (b.try_recv(z) == ChanStatus::ok) ++left;
    ASSERT_EQ(sent.load(), received.load() + left) << "round " << round;
  }
}

// crossbeam `stress_timeout_two_threads`: one thread sends with timed
// selects, the other receives with timed selects; every value arrives once, in order.
TEST_P(SelectCap, StressTimeoutTwoThreads) {
  const int n = 2000 / kScale;
  Chan a(GetParam());
  std::jthread s([&] {
    for (int i = 0; i < n; ++i) {
      if (i % 2 == 0) std::this_thread::sleep_for(50us);
      for (;;) {
        SelectResult r = select_for(100us, send_case(a, i));
        if (r.status == ChanStatus::ok) break;
        ASSERT_EQ(r.status, ChanStatus::timeout);
      }
    }
  });
  int expect = 0;
  while (expect < n) {
    if (expect % 3 == 0) std::this_thread::sleep_for(50us);
    int x = -1;
    SelectResult r = select_for(100us, recv_case(a, x));
    if (r.status == ChanStatus::ok) {
      ASSERT_EQ(x, expect);
      ++expect;
    } else {
      ASSERT_EQ(r.status, ChanStatus::timeout);
    }
  }
}

// Go test/chan/select5.go (generated: every combination of a receive or
// send case, ready or not, with or without a default), a representative
// subset: a ready case is the one chosen, whatever else the select holds;
// with nothing ready the default (try_select) or the timeout answers, and
// nothing is sent or received.
TEST(Select, Select5Combinations) {
  for (int trial = 0; trial < 50; ++trial) {
    Chan ready_rx(1), idle_rx(1), ready_tx(1), idle_tx(1);
    ASSERT_EQ(ready_rx.send(7), ChanStatus::ok);  // a value to receive
    ASSERT_EQ(idle_tx.send(0), ChanStatus::ok);   // full: a send would block
    int x = 0, y = 0;
    // One ready receive among blocked cases of both kinds.
    EXPECT_EQ(select(recv_case(idle_rx, y), send_case(idle_tx, 1), recv_case(ready_rx, x)),
              (SelectResult{2, ChanStatus::ok}));
    EXPECT_EQ(x, 7);
    // One ready send among blocked cases, with a default.
    EXPECT_EQ(try_select(send_case(idle_tx, 1), send_case(ready_tx, 5), recv_case(idle_rx, y)),
              (SelectResult{1, ChanStatus::ok}));
    ASSERT_EQ(ready_tx.try_recv(x), ChanStatus::ok);
    EXPECT_EQ(x, 5);
    // Nothing ready: default, or timeout; nothing moved.
    EXPECT_EQ(try_select(recv_case(idle_rx, y), send_case(idle_tx, 2), recv_case(ready_rx, y)),
              (SelectResult{-1, ChanStatus::would_block}));
    EXPECT_EQ(select_for(1ms, recv_case(idle_rx, y), send_case(idle_tx, 2)), (SelectResult{-1, ChanStatus::timeout}));
    EXPECT_EQ(idle_tx.size(), 1u);
    ASSERT_EQ(idle_tx.try_recv(x), ChanStatus::ok);
    EXPECT_EQ(x, 0);
    EXPECT_EQ(y, 0);
  }
  // Unbuffered: ready only with a peer waiting; the peer's case is the one chosen.
  Chan c(0), d(0);
  int got = 0;
  std::thread r([&] { EXPECT_EQ(c.recv(got), ChanStatus::ok); });
  SelectResult res;
  int x = 0;
  do {  // until the receiver is parked: before that, nothing is ready
    res = try_select(recv_case(d, x), send_case(d, 1), send_case(c, 3));
    ASSERT_TRUE(res.index == -1 || res.index == 2) << res.index;
    if (res.index < 0) std::this_thread::sleep_for(1ms);
  } while (res.index < 0);
  r.join();
  EXPECT_EQ(got, 3);
}

// Go test/chan/select.go: a select over send cases on buffered channels
// whose choices add up (each choice counted, every count consistent).
TEST(Select, GoSelectCounts) {
  Chan a(1000), b(1000);
  int counts[2] = {0, 0};
  for (int i = 0; i < 1000; ++i) {
    SelectResult r = select(send_case(a, 1), send_case(b, 2));
    ASSERT_EQ(r.status, ChanStatus::ok);
    ++counts[r.index];
  }
  EXPECT_EQ(a.size(), static_cast<std::size_t>(counts[0]));
  EXPECT_EQ(b.size(), static_cast<std::size_t>(counts[1]));
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
}

}  // namespace
}  // namespace conpat::test
