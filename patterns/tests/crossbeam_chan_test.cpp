// crossbeam-channel's tests of its bounded flavours (crossbeam-channel
// 0.5.6), ported to conpat::Channel: tests/array.rs (bounded(n), n > 0:
// conpat's array flavour) in the CrossbeamArray suite and tests/zero.rs
// (bounded(0): the unbuffered channel) in CrossbeamZero. Each test names
// the crossbeam test it ports and says what differs.
//
// Mapping: bounded(n) -> Channel<T, Wait>(n); send, try_send, send_timeout
// -> send, try_send, send_for; recv, try_recv, recv_timeout -> recv,
// try_recv, recv_for; Full and Empty -> would_block, Timeout -> timeout,
// Disconnected -> closed (crossbeam's errors hand the unsent value back;
// conpat's send takes it by value). Dropping every sender or the receiver
// -> close(): in conpat either side may close; a closed channel refuses
// sends and lets receivers drain what is buffered (Go's semantics, where a
// dropped crossbeam receiver discards the buffer). len, capacity ->
// size(), capacity(); is_empty, is_full -> size() == 0, size() ==
// capacity(). `()` -> Unit; iter() -> `for (T v : ch)`; try_iter() ->
// try_recv until it fails; select! -> conpat::select; scope threads ->
// std::jthread.
//
// Timing: crossbeam orders its threads with sleeps of 0.5 to 1.5 s. Here a
// handshake (Steps) orders them, and a sleep (kWiden) only makes it likely
// that a peer is already blocked when the operation that releases it
// comes; either way the outcome asserted is the same. A timeout meant to
// expire is kShort; one meant not to is kLong, which only bounds how long
// a broken channel can block. No test measures time.
//
// Hangs: crossbeam's blocking send and recv stay the untimed send and
// recv. Every test runs under a Watchdog: a test still running after 30 s
// (120 s under the sanitizers) fails, and its channels are closed, which
// wakes every blocked operation with closed (the process aborts if that
// does not end the test). Tests that make a channel per round use the
// timed forms with kLong instead.
//
// Each test runs with ThreadWait and with FiberWait (FiberWait channels
// used from plain threads, which block in their main fiber). FiberWait is
// skipped under ThreadSanitizer, as every fiber test is: TSan cannot follow
// Boost.Context's stack switches. The long loops run a tenth of their
// iterations under the sanitizers.
//
// Not ported:
//   array.rs and zero.rs `recv_in_send`: Rust's select! evaluates a send
//     case's message only once the case is chosen, inside the select, and
//     the test checks that this expression may itself use the channel;
//     conpat's send_case takes its value before the select starts.
//   array.rs `panic_on_drop`, its second half (a message whose destructor
//     panics): conpat requires nothrow destructors (ChannelValue). The
//     first half is PanicOnDrop below.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/select.hpp"
#include "select_print.hpp"
#include "wait_policy_skip.hpp"

namespace conpat::test {
namespace {

using namespace std::chrono_literals;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 10;  // sanitizers slow every atomic operation down
constexpr auto kWatchdogLimit = 120s;
#else
constexpr int kScale = 1;
constexpr auto kWatchdogLimit = 30s;
#endif

constexpr auto kShort = 20ms;  // a timeout that is meant to expire
constexpr auto kLong = 10s;    // a bound on an operation that is meant to complete
constexpr auto kWiden = 20ms;  // lets a peer block first (the outcome does not depend on it)

// Rust's `()`.
using Unit = std::monostate;

// Orders the threads of a test where crossbeam sleeps: reach(n) marks step
// n done, wait(n) waits for it (false if it did not come within kLong).
class Steps {
 public:
  void reach(int n) {
    {
      std::lock_guard lk(mu_);
      step_ = n;
    }
    cv_.notify_all();
  }
  [[nodiscard]] bool wait(int n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kLong, [&] { return step_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int step_ = 0;
};

// Repeats a try_ operation while it answers would_block, for at most kLong.
template <class Op>
ChanStatus until_ready(Op op) {
  const auto give_up = std::chrono::steady_clock::now() + kLong;
  ChanStatus s = op();
  while (s == ChanStatus::would_block && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100us);
    s = op();
  }
  return s;
}

// Fails the test if it is still running after kWatchdogLimit and calls
// `close_all` (which closes the test's channels, so every blocked
// operation returns closed and the test's threads finish); aborts the
// process if the test is still running 10 s later. Declare it after the
// channels and before the threads: it must outlive the joins.
class Watchdog {
 public:
  explicit Watchdog(std::function<void()> close_all = {})
      : name_(::testing::UnitTest::GetInstance()->current_test_info()->name()),
        thread_([this, f = std::move(close_all)](std::stop_token st) { run(st, f); }) {}

 private:
  void run(std::stop_token st, const std::function<void()>& close_all) {
    std::unique_lock lk(mu_);
    if (cv_.wait_for(lk, st, kWatchdogLimit, [] { return false; }) || st.stop_requested()) return;
    ADD_FAILURE() << name_ << " still running after " << kWatchdogLimit.count() << " s: closing its channels";
    if (close_all) close_all();
    if (cv_.wait_for(lk, st, 10s, [] { return false; }) || st.stop_requested()) return;
    std::fprintf(stderr, "%s still running after closing its channels: aborting\n", name_.c_str());
    std::abort();
  }

  std::string name_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::jthread thread_;  // last: started once the members above exist
};

// Rust's DropCounter: a value that records its destruction. In C++ a value
// moves into and out of the channel, so only the object that holds it
// (not a moved-from one) counts, and the ledger records per value how
// often it was destroyed: once is right. A second destruction of one
// object, or one of an object never constructed, counts as bad.
struct DropLedger {
  explicit DropLedger(std::size_t n) : destroyed(n) {}
  std::vector<std::atomic<int>> destroyed;  // by value id
  std::atomic<std::size_t> total{0};
};
std::atomic<int> g_bad_objects{0};

class DropCounter {
 public:
  DropCounter() = default;
  DropCounter(DropLedger* ledger, std::size_t id) : ledger_(ledger), id_(id), state_(kHolds) {}
  DropCounter(DropCounter&& o) noexcept : ledger_(o.ledger_), id_(o.id_), state_(o.take()) {}
  DropCounter& operator=(DropCounter&& o) noexcept {
    if (this != &o) {
      drop();
      ledger_ = o.ledger_;
      id_ = o.id_;
      state_ = o.take();
    }
    return *this;
  }
  ~DropCounter() {
    drop();
    *static_cast<volatile std::uint32_t*>(&state_) = kDead;  // volatile: the store must survive
  }

 private:
  static constexpr std::uint32_t kHolds = 0x600dc0de, kEmpty = 0xe3e3e3e3, kDead = 0xdeadbeef;
  std::uint32_t take() noexcept {
    const std::uint32_t s = state_;
    if (s != kHolds && s != kEmpty) g_bad_objects.fetch_add(1);
    state_ = kEmpty;
    return s == kHolds ? kHolds : kEmpty;
  }
  void drop() noexcept {
    const std::uint32_t s = *static_cast<volatile std::uint32_t*>(&state_);
    if (s == kHolds) {
      ledger_->destroyed[id_].fetch_add(1);
      ledger_->total.fetch_add(1);
    } else if (s != kEmpty) {
      g_bad_objects.fetch_add(1);
    }
    state_ = kEmpty;
  }

  DropLedger* ledger_ = nullptr;
  std::size_t id_ = 0;
  std::uint32_t state_ = kEmpty;
};

template <class Wait>
class CrossbeamArray : public WaitPolicyTest<Wait> {};
template <class Wait>
class CrossbeamZero : public WaitPolicyTest<Wait> {};

struct WaitName {
  template <class W>
  static std::string GetName(int) {
    return std::is_same_v<W, ThreadWait> ? "ThreadWait" : "FiberWait";
  }
};
using WaitPolicies = ::testing::Types<ThreadWait, FiberWait>;
TYPED_TEST_SUITE(CrossbeamArray, WaitPolicies, WaitName);
TYPED_TEST_SUITE(CrossbeamZero, WaitPolicies, WaitName);

// ---------------------------------------------------------------------------
// Bodies shared by array.rs and zero.rs, where the two tests differ only in
// the capacity, a count or one operation.

// `try_recv`: empty; then 7; then closed once the sender is gone. On a
// buffered channel (array.rs) the sender's send completes at once and it
// closes right after, before the receiver takes 7: the value outlives the
// close. On an unbuffered one (zero.rs) 7 comes from the sender blocked in
// send: the receiver retries try_recv until the sender is there, where
// crossbeam sleeps.
template <class Wait>
void try_recv_body(std::size_t cap) {
  Channel<int, Wait> ch(cap);
  Steps steps;
  Watchdog dog([&] { ch.close(); });
  std::jthread receiver([&] {
    int v = -1;
    EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block);
    steps.reach(1);
    if (cap > 0) {
      ASSERT_TRUE(steps.wait(2));
      ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
      EXPECT_EQ(v, 7);
    } else {
      ASSERT_EQ(until_ready([&] { return ch.try_recv(v); }), ChanStatus::ok);
      EXPECT_EQ(v, 7);
      ASSERT_TRUE(steps.wait(2));
    }
    EXPECT_EQ(ch.try_recv(v), ChanStatus::closed);
  });
  std::jthread sender([&] {
    ASSERT_TRUE(steps.wait(1));
    ASSERT_EQ(ch.send(7), ChanStatus::ok);
    ch.close();
    steps.reach(2);
  });
}

// `recv`: a receiver blocked on an empty channel gets 7, then 8 and 9
// (buffered by then, or handed over by a blocked sender), then closed.
template <class Wait>
void recv_body(std::size_t cap) {
  Channel<int, Wait> ch(cap);
  Watchdog dog([&] { ch.close(); });
  std::jthread receiver([&] {
    int v = -1;
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 7);
    std::this_thread::sleep_for(kWiden);
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 8);
    std::this_thread::sleep_for(kWiden);
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 9);
    EXPECT_EQ(ch.recv(v), ChanStatus::closed);
    EXPECT_EQ(ch.recv(), std::nullopt);
  });
  std::jthread sender([&] {
    std::this_thread::sleep_for(kWiden);
    ASSERT_EQ(ch.send(7), ChanStatus::ok);
    ASSERT_EQ(ch.send(8), ChanStatus::ok);
    ASSERT_EQ(ch.send(9), ChanStatus::ok);
    ch.close();  // the sender is dropped
  });
}

// `recv_timeout`: a timed receive on an empty channel times out; the next
// one, blocked when 7 is sent, gets it; the one after that sees the
// channel closed.
template <class Wait>
void recv_timeout_body(std::size_t cap) {
  Channel<int, Wait> ch(cap);
  Steps steps;
  Watchdog dog([&] { ch.close(); });
  std::jthread receiver([&] {
    int v = -1;
    EXPECT_EQ(ch.recv_for(v, kShort), ChanStatus::timeout);
    steps.reach(1);
    ASSERT_EQ(ch.recv_for(v, kLong), ChanStatus::ok);
    EXPECT_EQ(v, 7);
    EXPECT_EQ(ch.recv_for(v, kLong), ChanStatus::closed);
  });
  std::jthread sender([&] {
    ASSERT_TRUE(steps.wait(1));
    std::this_thread::sleep_for(kWiden);
    ASSERT_EQ(ch.send(7), ChanStatus::ok);
    ch.close();
  });
}

// `send`: a sender sends 7, 8, 9 and on up to `last`, a sleep apart; the
// receiver comes late and receives 7, 8 and 9 in order, so the sender
// blocks until it comes (on a full channel, or with no receiver).
template <class Wait>
void send_body(Channel<int, Wait>& ch, int last) {
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] {
    for (int v = 7; v <= last; ++v) {
      if (v > 7) std::this_thread::sleep_for(kWiden);
      ASSERT_EQ(ch.send(v), ChanStatus::ok);
    }
  });
  std::jthread receiver([&] {
    std::this_thread::sleep_for(kWiden * 3 / 2);
    for (int want : {7, 8, 9}) {
      int v = -1;
      ASSERT_EQ(ch.recv(v), ChanStatus::ok);
      EXPECT_EQ(v, want);
    }
  });
}

// `len`, its part with two threads: size() is 0 before and after a sender
// passes `count` values to a receiver (which gets them in order), and at
// most `max_size` after every send and receive.
template <class Wait>
void len_under_traffic(Channel<int, Wait>& ch, int count, std::size_t max_size) {
  EXPECT_EQ(ch.size(), 0u);
  {
    Watchdog dog([&] { ch.close(); });
    std::jthread receiver([&] {
      for (int i = 0; i < count; ++i) {
        int v = -1;
        ASSERT_EQ(ch.recv(v), ChanStatus::ok);
        ASSERT_EQ(v, i);
        ASSERT_LE(ch.size(), max_size);
      }
    });
    std::jthread sender([&] {
      for (int i = 0; i < count; ++i) {
        ASSERT_EQ(ch.send(i), ChanStatus::ok);
        ASSERT_LE(ch.size(), max_size);
      }
    });
  }
  EXPECT_EQ(ch.size(), 0u);
}

// `disconnect_wakes_receiver`: close() wakes a receiver blocked on an empty
// channel, which returns closed (crossbeam drops the sender).
template <class Wait>
void close_wakes_receiver_body(std::size_t cap) {
  Channel<Unit, Wait> ch(cap);
  Watchdog dog([&] { ch.close(); });
  std::jthread receiver([&] {
    Unit u;
    EXPECT_EQ(ch.recv(u), ChanStatus::closed);
  });
  std::jthread closer([&] {
    std::this_thread::sleep_for(kWiden);
    ch.close();
  });
}

// `spsc`: values in FIFO order, then closed. 50,000 of them (crossbeam:
// 100,000), to keep the suite within about 10 s.
template <class Wait>
void spsc_body(std::size_t cap) {
  const int count = 50000 / kScale;
  Channel<int, Wait> ch(cap);
  Watchdog dog([&] { ch.close(); });
  std::jthread receiver([&] {
    for (int i = 0; i < count; ++i) {
      int v = -1;
      ASSERT_EQ(ch.recv(v), ChanStatus::ok);
      ASSERT_EQ(v, i);
    }
    int v = -1;
    EXPECT_EQ(ch.recv(v), ChanStatus::closed);
  });
  std::jthread sender([&] {
    for (int i = 0; i < count; ++i) ASSERT_EQ(ch.send(i), ChanStatus::ok);
    ch.close();
  });
}

// `mpmc`: four senders send 0..25,000 each, four receivers receive 25,000
// each; every value arrives four times.
template <class Wait>
void mpmc_body(std::size_t cap) {
  const int count = 25000 / kScale;
  constexpr int kThreads = 4;
  Channel<int, Wait> ch(cap);
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(count));
  Watchdog dog([&] { ch.close(); });
  {
    std::vector<std::jthread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < count; ++i) {
          int n = -1;
          ASSERT_EQ(ch.recv(n), ChanStatus::ok);
          ASSERT_TRUE(n >= 0 && n < count) << n;
          seen[static_cast<std::size_t>(n)].fetch_add(1);
        }
      });
    }
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < count; ++i) ASSERT_EQ(ch.send(i), ChanStatus::ok);
      });
    }
  }
  for (int i = 0; i < count; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)].load(), kThreads) << "value " << i;
}

// `stress_oneshot`: rounds of a fresh channel, one thread receiving and one
// sending a single value. A channel per round: the timed forms. 2,000
// rounds (crossbeam: 10,000): each starts two threads.
template <class Wait>
void stress_oneshot_body(std::size_t cap) {
  const int count = 2000 / kScale;
  Watchdog dog;
  for (int round = 0; round < count; ++round) {
    Channel<int, Wait> ch(cap);
    int got = -1;
    std::jthread receiver([&] { EXPECT_EQ(ch.recv_for(got, kLong), ChanStatus::ok); });
    std::jthread sender([&] { EXPECT_EQ(ch.send_for(0, kLong), ChanStatus::ok); });
    receiver.join();
    sender.join();
    ASSERT_EQ(got, 0) << "round " << round;
  }
}

// How the thread of `stress_iter` offers its request.
enum class Offer {
  send,      // array.rs: send, which must succeed
  try_send,  // zero.rs: try_send, which may answer would_block (the test body is not always waiting)
};

// `stress_iter`: a request channel and a response channel, each of
// capacity `cap`. A thread drains the responses (try_iter) and offers a
// request, until it has counted `count` responses; then it goes away
// (closes both: its ends are dropped). The test body answers every request
// (iter) with a response and stops when the responses are refused or the
// requests are closed and drained.
template <class Wait>
void stress_iter_body(std::size_t cap, int count, Offer offer) {
  Channel<Unit, Wait> request(cap);
  Channel<int, Wait> response(cap);
  std::atomic<bool> counted_all{false};
  Watchdog dog([&] {
    request.close();
    response.close();
  });
  std::jthread t([&] {
    int n = 0;
    for (;;) {
      int x = 0;
      while (response.try_recv(x) == ChanStatus::ok) {
        n += x;
        if (n == count) {
          counted_all = true;
          request.close();
          response.close();
          return;
        }
      }
      if (offer == Offer::send) {
        ASSERT_EQ(request.send(Unit{}), ChanStatus::ok);
      } else {
        ASSERT_NE(request.try_send(Unit{}), ChanStatus::closed);
      }
    }
  });
  for ([[maybe_unused]] Unit u : request) {
    if (response.send(1) != ChanStatus::ok) break;
  }
  t.join();
  EXPECT_TRUE(counted_all);
}

// `stress_timeout_two_threads`: a sender and a receiver both retry timed
// operations until they succeed, each sleeping before every other value,
// so that timeouts keep expiring while the peer sleeps. Every value
// arrives once, in order, and a failed attempt answers timeout. Crossbeam
// sleeps 50 ms with 10 ms timeouts; 5 ms and 1 ms here.
template <class Wait>
void stress_timeout_two_threads_body(std::size_t cap) {
  constexpr int kCount = 100;
  Channel<int, Wait> ch(cap);
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] {
    for (int i = 0; i < kCount; ++i) {
      if (i % 2 == 0) std::this_thread::sleep_for(5ms);
      for (;;) {
        const ChanStatus s = ch.send_for(i, 1ms);
        if (s == ChanStatus::ok) break;
        ASSERT_EQ(s, ChanStatus::timeout);
      }
    }
  });
  std::jthread receiver([&] {
    for (int i = 0; i < kCount; ++i) {
      if (i % 2 == 0) std::this_thread::sleep_for(5ms);
      for (;;) {
        int x = -1;
        const ChanStatus s = ch.recv_for(x, 1ms);
        if (s == ChanStatus::ok) {
          ASSERT_EQ(x, i);
          break;
        }
        ASSERT_EQ(s, ChanStatus::timeout);
      }
    }
  });
}

// `drops`: 100 runs of a random number of values passed from one thread
// to another, then (array.rs only) up to 49 more left in the buffer. After
// the threads, exactly the received values were destroyed; after the
// channel is destroyed, every value was, each once. Below 1,000 values a
// run (crossbeam: below 10,000): a FiberWait hand-off between plain
// threads costs several microseconds.
template <class Wait>
void drops_body(std::size_t cap, int max_additional) {
  const int runs = 100 / kScale;
  constexpr int kSteps = 1000;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  g_bad_objects = 0;
  Watchdog dog;
  for (int run = 0; run < runs; ++run) {
    const auto steps = static_cast<std::size_t>(std::uniform_int_distribution<int>(0, kSteps - 1)(rng));
    const auto additional = static_cast<std::size_t>(std::uniform_int_distribution<int>(0, max_additional)(rng));
    DropLedger ledger(steps + additional);
    {
      Channel<DropCounter, Wait> ch(cap);
      {
        std::jthread receiver([&] {
          for (std::size_t i = 0; i < steps; ++i) {
            DropCounter v;
            ASSERT_EQ(ch.recv_for(v, kLong), ChanStatus::ok);
          }
        });
        std::jthread sender([&] {
          for (std::size_t i = 0; i < steps; ++i) ASSERT_EQ(ch.send_for(DropCounter(&ledger, i), kLong), ChanStatus::ok);
        });
      }
      for (std::size_t i = 0; i < additional; ++i) {
        ASSERT_EQ(ch.try_send(DropCounter(&ledger, steps + i)), ChanStatus::ok);
      }
      ASSERT_EQ(ledger.total.load(), steps) << "run " << run;
    }
    ASSERT_EQ(ledger.total.load(), steps + additional) << "run " << run;
    for (std::size_t i = 0; i < ledger.destroyed.size(); ++i) {
      ASSERT_EQ(ledger.destroyed[i].load(), 1) << "run " << run << ", value " << i;
    }
  }
  EXPECT_EQ(g_bad_objects.load(), 0) << "an object destroyed twice, or never constructed";
}

// `fairness` and `fairness_duplicates`, one side: `count` selects over N
// cases (`select_once` runs one) each succeed, and each case is chosen at
// least half its share (count / N) of the time. `side` names the side in
// a failure message.
template <int N, class SelectOnce>
void expect_fair_choices(int count, SelectOnce select_once, const char* side) {
  int hits[N] = {};
  for (int i = 0; i < count; ++i) {
    const SelectResult r = select_once();
    ASSERT_EQ(r.status, ChanStatus::ok);
    ++hits[r.index];
  }
  for (int h : hits) EXPECT_GE(h, count / N / 2) << side;
}

// `channel_through_channel`: a thread sends, 1,000 times, a new channel
// over the current one and then sends on the new one; the other receives
// each and receives on it next. Box<dyn Any> and its downcast ->
// std::shared_ptr<void> and a static_pointer_cast (the sender keeps a
// share of the new channel and sends one). A channel per round: timed forms.
template <class Wait>
void channel_through_channel_body(std::size_t cap) {
  constexpr int kCount = 1000;
  using Chan = Channel<std::shared_ptr<void>, Wait>;
  auto first = std::make_shared<Chan>(cap);
  Watchdog dog;
  std::jthread sender([&, s = first]() mutable {
    for (int i = 0; i < kCount; ++i) {
      auto next = std::make_shared<Chan>(cap);
      ASSERT_EQ(s->send_for(std::shared_ptr<void>(next), kLong), ChanStatus::ok) << "round " << i;
      s = std::move(next);
    }
  });
  std::jthread receiver([&, r = first]() mutable {
    for (int i = 0; i < kCount; ++i) {
      std::shared_ptr<void> got;
      ASSERT_EQ(r->recv_for(got, kLong), ChanStatus::ok) << "round " << i;
      ASSERT_NE(got, nullptr);
      r = std::static_pointer_cast<Chan>(std::move(got));
    }
  });
  first.reset();
}

// ===========================================================================
// tests/array.rs

// array.rs `smoke`.
TYPED_TEST(CrossbeamArray, Smoke) {
  Channel<int, TypeParam> ch(1);
  int v = -1;
  ASSERT_EQ(ch.send(7), ChanStatus::ok);
  EXPECT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 7);
  ASSERT_EQ(ch.send(8), ChanStatus::ok);
  EXPECT_EQ(ch.recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 8);
  EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block);
  EXPECT_EQ(ch.recv_for(v, kShort), ChanStatus::timeout);
}

// array.rs `capacity` (one channel object stands for both ends).
TYPED_TEST(CrossbeamArray, Capacity) {
  for (std::size_t i = 1; i < 10; ++i) {
    Channel<Unit, TypeParam> ch(i);
    EXPECT_EQ(ch.capacity(), i);
  }
}

// array.rs `len_empty_full`.
TYPED_TEST(CrossbeamArray, LenEmptyFull) {
  Channel<Unit, TypeParam> ch(2);
  auto expect = [&](std::size_t len, bool empty, bool full) {
    EXPECT_EQ(ch.size(), len);
    EXPECT_EQ(ch.size() == 0, empty);
    EXPECT_EQ(ch.size() == ch.capacity(), full);
  };
  expect(0, true, false);
  ASSERT_EQ(ch.send(Unit{}), ChanStatus::ok);
  expect(1, false, false);
  ASSERT_EQ(ch.send(Unit{}), ChanStatus::ok);
  expect(2, false, true);
  ASSERT_TRUE(ch.recv().has_value());
  expect(1, false, false);
}

// array.rs `try_recv` (capacity 100: 7 is buffered, and outlives the close
// that follows its send).
TYPED_TEST(CrossbeamArray, TryRecv) { try_recv_body<TypeParam>(100); }

// array.rs `recv`.
TYPED_TEST(CrossbeamArray, Recv) { recv_body<TypeParam>(100); }

// array.rs `recv_timeout`.
TYPED_TEST(CrossbeamArray, RecvTimeout) { recv_timeout_body<TypeParam>(100); }

// array.rs `try_send`: into a channel of capacity 1, 1 goes in and 2 finds
// it full; once the receiver took 1 (and found the channel empty), 3 goes
// in (to the receiver blocked in recv, or the buffer); once the receiver
// is gone (closed), 4 is refused.
TYPED_TEST(CrossbeamArray, TrySend) {
  Channel<int, TypeParam> ch(1);
  Steps steps;
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] {
    EXPECT_EQ(ch.try_send(1), ChanStatus::ok);
    EXPECT_EQ(ch.try_send(2), ChanStatus::would_block);
    steps.reach(1);
    ASSERT_TRUE(steps.wait(2));
    std::this_thread::sleep_for(kWiden);
    EXPECT_EQ(ch.try_send(3), ChanStatus::ok);
    ASSERT_TRUE(steps.wait(3));
    EXPECT_EQ(ch.try_send(4), ChanStatus::closed);
  });
  std::jthread receiver([&] {
    ASSERT_TRUE(steps.wait(1));
    int v = -1;
    ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 1);
    EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block);
    steps.reach(2);
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 3);
    ch.close();  // the receiver is dropped
    steps.reach(3);
  });
}

// array.rs `send`: with capacity 1 and a receiver that starts late, the
// sender blocks on a full channel; 7, 8 and 9 arrive in order, and 10 goes
// into the buffer the receiver emptied. Added: 10 is what the channel holds
// at the end (crossbeam drops it with the channel).
TYPED_TEST(CrossbeamArray, Send) {
  Channel<int, TypeParam> ch(1);
  send_body(ch, 10);
  int v = -1;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 10);
  EXPECT_EQ(ch.size(), 0u);
}

// array.rs `send_timeout`: capacity 2: 1 and 2 go in, 3 times out on the
// full channel; once the receiver took 1, 4 goes in; the receiver gets 2
// and 4 (3 was never delivered) and goes away (close), and 5 is refused.
TYPED_TEST(CrossbeamArray, SendTimeout) {
  Channel<int, TypeParam> ch(2);
  Steps steps;
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] {
    EXPECT_EQ(ch.send_for(1, kLong), ChanStatus::ok);
    EXPECT_EQ(ch.send_for(2, kLong), ChanStatus::ok);
    EXPECT_EQ(ch.send_for(3, kShort), ChanStatus::timeout);
    steps.reach(1);
    ASSERT_TRUE(steps.wait(2));
    EXPECT_EQ(ch.send_for(4, kLong), ChanStatus::ok);
    steps.reach(3);
    ASSERT_TRUE(steps.wait(4));
    EXPECT_EQ(ch.send(5), ChanStatus::closed);
  });
  std::jthread receiver([&] {
    ASSERT_TRUE(steps.wait(1));
    int v = -1;
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 1);
    steps.reach(2);
    ASSERT_TRUE(steps.wait(3));
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 2);
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 4);
    ch.close();  // the receiver is dropped
    steps.reach(4);
  });
}

// array.rs `send_after_disconnect`: after close, send, try_send and a
// timed send are refused. Crossbeam drops the receiver, and its buffer with
// it; conpat's close keeps the buffered values for receivers, so the port
// adds that 1, 2 and 3 still drain, and then closed.
TYPED_TEST(CrossbeamArray, SendAfterClose) {
  Channel<int, TypeParam> ch(100);
  ASSERT_EQ(ch.send(1), ChanStatus::ok);
  ASSERT_EQ(ch.send(2), ChanStatus::ok);
  ASSERT_EQ(ch.send(3), ChanStatus::ok);
  ch.close();
  EXPECT_EQ(ch.send(4), ChanStatus::closed);
  EXPECT_EQ(ch.try_send(5), ChanStatus::closed);
  EXPECT_EQ(ch.send_for(6, 500ms), ChanStatus::closed);
  int v = -1;
  for (int want : {1, 2, 3}) {
    ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
    EXPECT_EQ(v, want);
  }
  EXPECT_EQ(ch.try_recv(v), ChanStatus::closed);
}

// array.rs `recv_after_disconnect`: values sent before close drain in
// order, then closed.
TYPED_TEST(CrossbeamArray, RecvAfterClose) {
  Channel<int, TypeParam> ch(100);
  ASSERT_EQ(ch.send(1), ChanStatus::ok);
  ASSERT_EQ(ch.send(2), ChanStatus::ok);
  ASSERT_EQ(ch.send(3), ChanStatus::ok);
  ch.close();
  for (int want : {1, 2, 3}) {
    int v = -1;
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, want);
  }
  int v = -1;
  EXPECT_EQ(ch.recv(v), ChanStatus::closed);
}

// array.rs `len`: size() follows sends and receives exactly on one thread
// (capacity 1,000), and never exceeds the capacity while a sender and a
// receiver pass 25,000 values (in order).
TYPED_TEST(CrossbeamArray, Len) {
  constexpr std::size_t kCap = 1000;
  const int count = 25000 / kScale;
  Channel<int, TypeParam> ch(kCap);
  EXPECT_EQ(ch.size(), 0u);
  for (std::size_t round = 0; round < kCap / 10; ++round) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(ch.send(i), ChanStatus::ok);
      ASSERT_EQ(ch.size(), static_cast<std::size_t>(i + 1));
    }
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(ch.recv().has_value());
      ASSERT_EQ(ch.size(), static_cast<std::size_t>(50 - i - 1));
    }
  }
  EXPECT_EQ(ch.size(), 0u);
  for (std::size_t i = 0; i < kCap; ++i) {
    ASSERT_EQ(ch.send(static_cast<int>(i)), ChanStatus::ok);
    ASSERT_EQ(ch.size(), i + 1);
  }
  for (std::size_t i = 0; i < kCap; ++i) ASSERT_TRUE(ch.recv().has_value());
  len_under_traffic(ch, count, kCap);
}

// array.rs `disconnect_wakes_sender`: a sender blocked on a full channel is
// woken by close (crossbeam drops the receiver) and returns closed. Added:
// its value was not delivered; the one sent before still drains.
TYPED_TEST(CrossbeamArray, CloseWakesSender) {
  Channel<int, TypeParam> ch(1);
  Watchdog dog([&] { ch.close(); });
  {
    std::jthread sender([&] {
      EXPECT_EQ(ch.send(1), ChanStatus::ok);
      EXPECT_EQ(ch.send(2), ChanStatus::closed);
    });
    std::jthread closer([&] {
      std::this_thread::sleep_for(kWiden);
      ch.close();
    });
  }
  int v = -1;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(ch.try_recv(v), ChanStatus::closed);
}

// array.rs `disconnect_wakes_receiver`.
TYPED_TEST(CrossbeamArray, CloseWakesReceiver) { close_wakes_receiver_body<TypeParam>(1); }

// array.rs `spsc` (capacity 3).
TYPED_TEST(CrossbeamArray, Spsc) { spsc_body<TypeParam>(3); }

// array.rs `mpmc` (capacity 3).
TYPED_TEST(CrossbeamArray, Mpmc) { mpmc_body<TypeParam>(3); }

// array.rs `stress_oneshot` (capacity 1).
TYPED_TEST(CrossbeamArray, StressOneshot) { stress_oneshot_body<TypeParam>(1); }

// array.rs `stress_iter` (capacity 1; the thread sends its requests; 50,000
// responses, crossbeam: 100,000).
TYPED_TEST(CrossbeamArray, StressIter) { stress_iter_body<TypeParam>(1, 50000 / kScale, Offer::send); }

// array.rs `stress_timeout_two_threads` (capacity 2).
TYPED_TEST(CrossbeamArray, StressTimeoutTwoThreads) { stress_timeout_two_threads_body<TypeParam>(2); }

// array.rs `drops` (capacity 50, up to 49 values left in the buffer).
TYPED_TEST(CrossbeamArray, Drops) { drops_body<TypeParam>(50, 49); }

// array.rs `linearizable`: four threads each send and then try_recv 25,000
// times on a channel of capacity 4; the try_recv always succeeds (the
// thread's own send completed, so a value is there).
TYPED_TEST(CrossbeamArray, Linearizable) {
  const int count = 25000 / kScale;
  constexpr int kThreads = 4;
  Channel<int, TypeParam> ch(kThreads);
  Watchdog dog([&] { ch.close(); });
  std::vector<std::jthread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < count; ++i) {
        ASSERT_EQ(ch.send(0), ChanStatus::ok);
        int v = -1;
        ASSERT_EQ(ch.try_recv(v), ChanStatus::ok) << "iteration " << i;
      }
    });
  }
}

// array.rs `fairness`: two full channels of capacity 10,000; 10,000 selects
// over receiving from both pick each at least a quarter of the time.
TYPED_TEST(CrossbeamArray, Fairness) {
  constexpr int kCount = 10000;
  Channel<Unit, TypeParam> a(kCount), b(kCount);
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(a.send(Unit{}), ChanStatus::ok);
    ASSERT_EQ(b.send(Unit{}), ChanStatus::ok);
  }
  Unit u;
  expect_fair_choices<2>(kCount, [&] { return select(recv_case(a, u), recv_case(b, u)); }, "receiving");
}

// array.rs `fairness_duplicates`: five receive cases on one full channel;
// each is chosen at least a tenth of the time.
TYPED_TEST(CrossbeamArray, FairnessDuplicates) {
  constexpr int kCount = 10000;
  Channel<Unit, TypeParam> ch(kCount);
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(ch.send(Unit{}), ChanStatus::ok);
  Unit u;
  auto recv_any = [&] {
    return select(recv_case(ch, u), recv_case(ch, u), recv_case(ch, u), recv_case(ch, u), recv_case(ch, u));
  };
  expect_fair_choices<5>(kCount, recv_any, "receiving");
  EXPECT_EQ(ch.size(), 0u);
}

// array.rs `channel_through_channel` (capacity 1).
TYPED_TEST(CrossbeamArray, ChannelThroughChannel) { channel_through_channel_body<TypeParam>(1); }

// array.rs `panic_on_drop`, its first half ("normal"): two values left in a
// closed channel are each destroyed once when the channel is. (The second
// half, a destructor that panics, is not ported: see the header.)
TYPED_TEST(CrossbeamArray, PanicOnDrop) {
  g_bad_objects = 0;
  DropLedger ledger(2);
  {
    Channel<DropCounter, TypeParam> ch(2);
    ASSERT_EQ(ch.send(DropCounter(&ledger, 0)), ChanStatus::ok);
    ASSERT_EQ(ch.send(DropCounter(&ledger, 1)), ChanStatus::ok);
    ch.close();  // the sender is dropped
    EXPECT_EQ(ledger.total.load(), 0u);
  }
  EXPECT_EQ(ledger.destroyed[0].load(), 1);
  EXPECT_EQ(ledger.destroyed[1].load(), 1);
  EXPECT_EQ(g_bad_objects.load(), 0);
}

// ===========================================================================
// tests/zero.rs

// zero.rs `smoke`: with nobody on the other side, try_send and try_recv
// would block.
TYPED_TEST(CrossbeamZero, Smoke) {
  Channel<int, TypeParam> ch(0);
  EXPECT_EQ(ch.try_send(7), ChanStatus::would_block);
  int v = -1;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block);
}

// zero.rs `capacity`.
TYPED_TEST(CrossbeamZero, Capacity) {
  Channel<Unit, TypeParam> ch(0);
  EXPECT_EQ(ch.capacity(), 0u);
}

// zero.rs `len_empty_full`: an unbuffered channel is always empty and full
// (size 0 == capacity 0), before and after a hand-off.
TYPED_TEST(CrossbeamZero, LenEmptyFull) {
  Channel<int, TypeParam> ch(0);
  auto expect_empty_and_full = [&] {
    EXPECT_EQ(ch.size(), 0u);
    EXPECT_TRUE(ch.size() == 0);
    EXPECT_TRUE(ch.size() == ch.capacity());
  };
  expect_empty_and_full();
  {
    Watchdog dog([&] { ch.close(); });
    std::jthread sender([&] { EXPECT_EQ(ch.send(0), ChanStatus::ok); });
    std::jthread receiver([&] { EXPECT_TRUE(ch.recv().has_value()); });
  }
  expect_empty_and_full();
}

// zero.rs `try_recv` (7 comes from the sender blocked in send; the port
// retries try_recv until the sender is there, where crossbeam sleeps).
TYPED_TEST(CrossbeamZero, TryRecv) { try_recv_body<TypeParam>(0); }

// zero.rs `recv`.
TYPED_TEST(CrossbeamZero, Recv) { recv_body<TypeParam>(0); }

// zero.rs `recv_timeout`.
TYPED_TEST(CrossbeamZero, RecvTimeout) { recv_timeout_body<TypeParam>(0); }

// zero.rs `try_send`: 7 finds no receiver; 8 goes to the receiver blocked in
// recv (the port retries try_send until it is there, where crossbeam
// sleeps); 9 is refused once the receiver is gone (closed).
TYPED_TEST(CrossbeamZero, TrySend) {
  Channel<int, TypeParam> ch(0);
  Steps steps;
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] {
    EXPECT_EQ(ch.try_send(7), ChanStatus::would_block);
    steps.reach(1);
    EXPECT_EQ(until_ready([&] { return ch.try_send(8); }), ChanStatus::ok);
    ASSERT_TRUE(steps.wait(2));
    EXPECT_EQ(ch.try_send(9), ChanStatus::closed);
  });
  std::jthread receiver([&] {
    ASSERT_TRUE(steps.wait(1));
    int v = -1;
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 8);  // not 7: a would_block try_send delivers nothing
    ch.close();       // the receiver is dropped
    steps.reach(2);
  });
}

// zero.rs `send`: a sender blocked until the late receiver comes; 7, 8 and
// 9 arrive in order.
TYPED_TEST(CrossbeamZero, Send) {
  Channel<int, TypeParam> ch(0);
  send_body(ch, 9);
}

// zero.rs `send_timeout`: 7 times out with no receiver; 8 reaches the
// receiver; 9 is refused once the receiver is gone (closed), whether the
// close comes before the timed send starts or while it waits.
TYPED_TEST(CrossbeamZero, SendTimeout) {
  Channel<int, TypeParam> ch(0);
  Steps steps;
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] {
    EXPECT_EQ(ch.send_for(7, kShort), ChanStatus::timeout);
    steps.reach(1);
    EXPECT_EQ(ch.send_for(8, kLong), ChanStatus::ok);
    EXPECT_EQ(ch.send_for(9, kLong), ChanStatus::closed);
  });
  std::jthread receiver([&] {
    ASSERT_TRUE(steps.wait(1));
    std::this_thread::sleep_for(kWiden);
    int v = -1;
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 8);
    ch.close();  // the receiver is dropped
  });
}

// zero.rs `len`: size() is 0 throughout 25,000 hand-offs (in order).
TYPED_TEST(CrossbeamZero, Len) {
  Channel<int, TypeParam> ch(0);
  len_under_traffic(ch, 25000 / kScale, 0);
}

// zero.rs `disconnect_wakes_sender`: a sender blocked with no receiver is
// woken by close (crossbeam drops the receiver) and returns closed.
TYPED_TEST(CrossbeamZero, CloseWakesSender) {
  Channel<Unit, TypeParam> ch(0);
  Watchdog dog([&] { ch.close(); });
  std::jthread sender([&] { EXPECT_EQ(ch.send(Unit{}), ChanStatus::closed); });
  std::jthread closer([&] {
    std::this_thread::sleep_for(kWiden);
    ch.close();
  });
}

// zero.rs `disconnect_wakes_receiver`.
TYPED_TEST(CrossbeamZero, CloseWakesReceiver) { close_wakes_receiver_body<TypeParam>(0); }

// zero.rs `spsc`.
TYPED_TEST(CrossbeamZero, Spsc) { spsc_body<TypeParam>(0); }

// zero.rs `mpmc`.
TYPED_TEST(CrossbeamZero, Mpmc) { mpmc_body<TypeParam>(0); }

// zero.rs `stress_oneshot`. Crossbeam's zero.rs makes its channels with
// bounded(1) here, as array.rs does; the port uses capacity 0, the flavour
// the file is about (array.rs's port covers capacity 1).
TYPED_TEST(CrossbeamZero, StressOneshot) { stress_oneshot_body<TypeParam>(0); }

// zero.rs `stress_iter`: as array.rs's, with unbuffered channels, 1,000
// responses, and a thread that offers its request with try_send (ignoring
// would_block: the test body is not always waiting) rather than send.
TYPED_TEST(CrossbeamZero, StressIter) { stress_iter_body<TypeParam>(0, 1000, Offer::try_send); }

// zero.rs `stress_timeout_two_threads`.
TYPED_TEST(CrossbeamZero, StressTimeoutTwoThreads) { stress_timeout_two_threads_body<TypeParam>(0); }

// zero.rs `drops`: as array.rs's, with no values left over (an unbuffered
// channel holds none).
TYPED_TEST(CrossbeamZero, Drops) { drops_body<TypeParam>(0, 0); }

// zero.rs `fairness`: a thread selects 10,000 times over receiving from two
// unbuffered channels while the test body selects over sending to both;
// on both sides each case is chosen at least a quarter of the time.
TYPED_TEST(CrossbeamZero, Fairness) {
  const int count = 10000 / kScale;
  Channel<Unit, TypeParam> a(0), b(0);
  Watchdog dog([&] {
    a.close();
    b.close();
  });
  std::jthread receiver([&] {
    Unit u;
    expect_fair_choices<2>(count, [&] { return select(recv_case(a, u), recv_case(b, u)); }, "receiving");
  });
  expect_fair_choices<2>(count, [&] { return select(send_case(a, Unit{}), send_case(b, Unit{})); }, "sending");
}

// zero.rs `fairness_duplicates`: as `fairness`, with five cases on one
// unbuffered channel on each side; each is chosen at least a tenth of the
// time.
TYPED_TEST(CrossbeamZero, FairnessDuplicates) {
  const int count = 10000 / kScale;
  Channel<Unit, TypeParam> ch(0);
  Watchdog dog([&] { ch.close(); });
  std::jthread receiver([&] {
    Unit u;
    auto recv_any = [&] {
      return select(recv_case(ch, u), recv_case(ch, u), recv_case(ch, u), recv_case(ch, u), recv_case(ch, u));
    };
    expect_fair_choices<5>(count, recv_any, "receiving");
  });
  auto send_any = [&] {
    return select(send_case(ch, Unit{}), send_case(ch, Unit{}), send_case(ch, Unit{}), send_case(ch, Unit{}),
                  send_case(ch, Unit{}));
  };
  expect_fair_choices<5>(count, send_any, "sending");
}

// zero.rs `channel_through_channel`.
TYPED_TEST(CrossbeamZero, ChannelThroughChannel) { channel_through_channel_body<TypeParam>(0); }

}  // namespace
}  // namespace conpat::test
