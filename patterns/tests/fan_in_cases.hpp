// fan_in (conpat/fan_in.hpp): one typed suite over the waiting policies.
// Included by fan_in_test.cpp (ThreadWait: forwarder threads, run under
// TSan) and fan_in_fiber_test.cpp (FiberWait: forwarder fibers on the test's
// thread, left out of the TSan run).
//
// Producers are OS threads in both. With FiberWait the forwarders run on
// the test's thread, so the test blocks there only in fiber-aware waits
// (channel operations) while producers still need them.
//
// No test asserts a duration; every wait is bounded by generous deadlines,
// and a forwarder left blocked would hang the end's destructor (ctest's
// timeout turns that into a failure).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <stop_token>
#include <thread>
#include <vector>

#include "conpat/chan_ends.hpp"
#include "conpat/fan_in.hpp"

namespace conpat {
inline void PrintTo(ChanStatus s, std::ostream* os) { *os << to_string(s); }
}  // namespace conpat

namespace conpat::test {

using namespace std::chrono_literals;

template <class Wait>
class FanIn : public ::testing::Test {};
TYPED_TEST_SUITE_P(FanIn);

// An item: input << 32 | sequence number within the input.
inline std::uint64_t item(std::uint64_t input, std::uint64_t seq) { return input << 32 | seq; }

// Runs `f` when the scope ends, also when an ASSERT_* returns early: a
// test whose producer threads are still joinable then stops and joins them
// and fails cleanly, instead of ending the run in std::terminate.
template <class F>
struct OnExit {
  F f;
  ~OnExit() { f(); }
};
template <class F>
OnExit(F) -> OnExit<F>;

// Receives from `merged` until closed; checks FIFO per input and that each
// input's values 0..per_input-1 arrived exactly once.
template <class Rx>
void expect_all_exactly_once_in_order(Rx merged, std::size_t inputs, std::uint64_t per_input) {
  std::vector<std::uint64_t> next(inputs, 0);
  std::uint64_t v = 0, total = 0;
  while (merged.recv(v) == ChanStatus::ok) {
    const std::uint64_t in = v >> 32, seq = v & 0xffffffffu;
    ASSERT_LT(in, inputs) << "a value no input sent";
    ASSERT_EQ(seq, next[in]) << "input " << in << ": out of order, lost or duplicated";
    ++next[in];
    ++total;
  }
  for (std::size_t i = 0; i < inputs; ++i) EXPECT_EQ(next[i], per_input) << "input " << i;
  EXPECT_EQ(total, inputs * per_input);
}

TYPED_TEST_P(FanIn, EveryValueOnceInEachInputsOrderThenClosed) {
  using W = TypeParam;
  constexpr std::size_t kInputs = 8;
  constexpr std::uint64_t kPer = 2000;
  std::deque<Channel<std::uint64_t, W>> ins;
  std::vector<RecvEnd<std::uint64_t, W>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(i % 2 == 0 ? 0 : 4));
  auto merged = fan_in(std::stop_token{}, ends, 8);
  std::vector<std::thread> producers;
  for (std::size_t i = 0; i < kInputs; ++i) {
    producers.emplace_back([&, i] {
      SendEnd<std::uint64_t, W> tx = ins[i];
      for (std::uint64_t s = 0; s < kPer; ++s) ASSERT_EQ(tx.send(item(i, s)), ChanStatus::ok);
      tx.close();
    });
  }
  expect_all_exactly_once_in_order(merged, kInputs, kPer);
  for (auto& p : producers) p.join();
}

TYPED_TEST_P(FanIn, VariadicOverloadTakesChannelsAndEndsAndIsUnbuffered) {
  using W = TypeParam;
  Channel<std::uint64_t, W> a(4), b(4), c(0);
  RecvEnd<std::uint64_t, W> b_end = b;
  auto merged = fan_in(std::stop_token{}, a, b_end, c);
  EXPECT_EQ(merged.capacity(), 0u) << "Go's FanIn makes an unbuffered channel";
  std::thread producer([&] {
    for (std::uint64_t s = 0; s < 100; ++s) {
      ASSERT_EQ(a.send(item(0, s)), ChanStatus::ok);
      ASSERT_EQ(b.send(item(1, s)), ChanStatus::ok);
      ASSERT_EQ(c.send(item(2, s)), ChanStatus::ok);
    }
    a.close(), b.close(), c.close();
  });
  expect_all_exactly_once_in_order(merged, 3, 100);
  producer.join();
}

TYPED_TEST_P(FanIn, StaysOpenWhileAnyInputIsOpenAndClosesAfterTheLastDrains) {
  using W = TypeParam;
  Channel<std::uint64_t, W> a(4), b(4);
  ASSERT_EQ(a.try_send(item(0, 0)), ChanStatus::ok);
  ASSERT_EQ(a.try_send(item(0, 1)), ChanStatus::ok);
  a.close();  // closed but not drained: its values still come
  auto merged = fan_in(std::stop_token{}, a, b);
  std::uint64_t v = 0;
  ASSERT_EQ(merged.recv_for(v, 10s), ChanStatus::ok);
  EXPECT_EQ(v, item(0, 0));
  ASSERT_EQ(merged.recv_for(v, 10s), ChanStatus::ok);
  EXPECT_EQ(v, item(0, 1));
  EXPECT_EQ(merged.recv_for(v, 20ms), ChanStatus::timeout) << "b is still open: the merge must stay open";
  EXPECT_FALSE(merged.is_closed());
  ASSERT_EQ(b.try_send(item(1, 0)), ChanStatus::ok);
  b.close();
  ASSERT_EQ(merged.recv_for(v, 10s), ChanStatus::ok);
  EXPECT_EQ(v, item(1, 0));
  EXPECT_EQ(merged.recv_for(v, 10s), ChanStatus::closed);
  EXPECT_TRUE(a.is_closed() && b.is_closed());
}

TYPED_TEST_P(FanIn, EmptyRangeGivesAClosedChannel) {
  using W = TypeParam;
  std::vector<RecvEnd<int, W>> none;
  auto merged = fan_in(std::stop_token{}, none);
  int v = 0;
  EXPECT_EQ(merged.recv(v), ChanStatus::closed);
}

TYPED_TEST_P(FanIn, StopClosesTheMergeAndNothingIsDeliveredAfter) {
  using W = TypeParam;
  constexpr std::size_t kInputs = 4;
  std::deque<Channel<std::uint64_t, W>> ins;
  std::vector<RecvEnd<std::uint64_t, W>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(8));
  std::stop_source stop, producers_stop;
  auto merged = fan_in(stop.get_token(), ends, 16);
  std::vector<std::thread> producers;
  for (std::size_t i = 0; i < kInputs; ++i) {
    producers.emplace_back([&, i] {  // endless, until their own stop
      for (std::uint64_t s = 0;; ++s) {
        if (ins[i].send(item(i, s), producers_stop.get_token()) != ChanStatus::ok) break;
      }
    });
  }
  OnExit cleanup{[&] {  // also on an early return
    stop.request_stop();
    producers_stop.request_stop();
    for (auto& p : producers) p.join();
  }};
  std::vector<std::uint64_t> next(kInputs, 0);
  std::uint64_t v = 0;
  for (int k = 0; k < 1000; ++k) {
    ASSERT_EQ(merged.recv_for(v, 10s), ChanStatus::ok);
    const std::uint64_t in = v >> 32, seq = v & 0xffffffffu;
    ASSERT_LT(in, kInputs);
    ASSERT_GE(seq, next[in]) << "out of order or duplicated";
    next[in] = seq + 1;
  }
  stop.request_stop();
  EXPECT_TRUE(merged.is_closed());
  EXPECT_EQ(merged.size(), 0u) << "what the merge buffered at stop is dropped";
  EXPECT_EQ(merged.try_recv(v), ChanStatus::closed) << "nothing is delivered after stop";
  EXPECT_EQ(merged.recv_for(v, 10s), ChanStatus::closed);
  for (auto& in : ins) EXPECT_FALSE(in.is_closed()) << "fan_in never closes its inputs";
}

TYPED_TEST_P(FanIn, StopWakesForwardersBlockedInSendAndInRecv) {
  using W = TypeParam;
  Channel<std::uint64_t, W> full(2), empty(2);
  ASSERT_EQ(full.try_send(1), ChanStatus::ok);
  ASSERT_EQ(full.try_send(2), ChanStatus::ok);
  std::stop_source stop;
  {
    // Unbuffered merge nobody receives from: full's forwarder blocks in
    // send, empty's in recv. Stop must end both; the end's destructor joins.
    auto merged = fan_in(stop.get_token(), full, empty);
    std::uint64_t v = 0;
    EXPECT_EQ(merged.recv_for(v, 10s), ChanStatus::ok) << "one value handed over";
    stop.request_stop();
    EXPECT_EQ(merged.try_recv(v), ChanStatus::closed);
  }
  std::uint64_t v = 0;
  EXPECT_EQ(empty.try_send(9), ChanStatus::ok) << "the input is still open and usable";
  EXPECT_EQ(empty.try_recv(v), ChanStatus::ok) << "no forwarder is left receiving from it";
  EXPECT_EQ(v, 9u);
}

TYPED_TEST_P(FanIn, StopRequestedBeforehandGivesAClosedMerge) {
  using W = TypeParam;
  Channel<int, W> a(4);
  ASSERT_EQ(a.try_send(1), ChanStatus::ok);
  std::stop_source stop;
  stop.request_stop();
  auto merged = fan_in(stop.get_token(), a);
  int v = 0;
  EXPECT_EQ(merged.try_recv(v), ChanStatus::closed);
}

TYPED_TEST_P(FanIn, DroppingTheMergedEndStopsAndJoinsForwarders) {
  using W = TypeParam;
  Channel<int, W> a(4), b(0);
  ASSERT_EQ(a.try_send(1), ChanStatus::ok);
  {
    auto merged = fan_in(std::stop_token{}, a, b);
    auto copy = merged;  // the state lives while any copy does
    merged = RecvEnd<int, W>{};
    int v = 0;
    ASSERT_EQ(copy.recv_for(v, 10s), ChanStatus::ok);
    EXPECT_EQ(v, 1);
  }  // forwarders blocked in recv on a and b: the last copy's destructor stops and joins them
  EXPECT_FALSE(a.is_closed());
  EXPECT_FALSE(b.is_closed());
  EXPECT_EQ(a.try_send(2), ChanStatus::ok);
  int v = 0;
  EXPECT_EQ(a.try_recv(v), ChanStatus::ok) << "no forwarder is left receiving from a";
}

TYPED_TEST_P(FanIn, MergesOfMergesKeepTheirStateAlive) {
  using W = TypeParam;
  std::deque<Channel<std::uint64_t, W>> ins;
  for (int i = 0; i < 4; ++i) ins.emplace_back(2);
  RecvEnd<std::uint64_t, W> merged;
  {
    auto left = fan_in(std::stop_token{}, ins[0], ins[1]);
    auto right = fan_in(std::stop_token{}, ins[2], ins[3]);
    merged = fan_in(std::stop_token{}, left, right);  // left and right go out of scope here
  }
  std::thread producer([&] {
    for (std::uint64_t s = 0; s < 200; ++s) {
      for (std::uint64_t i = 0; i < 4; ++i) ASSERT_EQ(ins[i].send(item(i, s)), ChanStatus::ok);
    }
    for (auto& in : ins) in.close();
  });
  expect_all_exactly_once_in_order(merged, 4, 200);
  producer.join();
}

TYPED_TEST_P(FanIn, MoveOnlyValuesAreMovedThrough) {
  using W = TypeParam;
  Channel<std::unique_ptr<int>, W> a(4), b(4);
  ASSERT_EQ(a.try_send(std::make_unique<int>(1)), ChanStatus::ok);
  ASSERT_EQ(b.try_send(std::make_unique<int>(2)), ChanStatus::ok);
  a.close(), b.close();
  auto merged = fan_in(std::stop_token{}, a, b);
  int sum = 0, count = 0;
  std::unique_ptr<int> p;
  while (merged.recv(p) == ChanStatus::ok) {
    ASSERT_NE(p, nullptr);
    sum += *p, ++count;
  }
  EXPECT_EQ(count, 2);
  EXPECT_EQ(sum, 3);
}

// Stop racing deliveries, many times: what arrived before the stop is in
// order and unduplicated, nothing arrives after it, nothing hangs.
TYPED_TEST_P(FanIn, StopRacingDeliveriesNeverDuplicatesReordersOrHangs) {
  using W = TypeParam;
  constexpr std::size_t kInputs = 3;
  std::mt19937 rng(12345);
  for (int round = 0; round < 40; ++round) {
    std::deque<Channel<std::uint64_t, W>> ins;
    std::vector<RecvEnd<std::uint64_t, W>> ends;
    for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(round % 3 == 0 ? 0 : 4));
    std::stop_source stop, producers_stop;
    auto merged = fan_in(stop.get_token(), ends, static_cast<std::size_t>(round % 2 == 0 ? 0 : 8));
    std::vector<std::thread> producers;
    for (std::size_t i = 0; i < kInputs; ++i) {
      producers.emplace_back([&, i] {
        for (std::uint64_t s = 0; ins[i].send(item(i, s), producers_stop.get_token()) == ChanStatus::ok; ++s) {}
      });
    }
    std::thread stopper;
    OnExit cleanup{[&] {  // also on an early return
      stop.request_stop();
      if (stopper.joinable()) stopper.join();
      producers_stop.request_stop();
      for (auto& p : producers) p.join();
    }};
    const int take = 1 + static_cast<int>(rng() % 200);
    std::vector<std::uint64_t> next(kInputs, 0);
    std::uint64_t v = 0;
    int got = 0;
    ChanStatus s;
    while ((s = merged.recv_for(v, 10s)) == ChanStatus::ok) {
      const std::uint64_t in = v >> 32, seq = v & 0xffffffffu;
      ASSERT_LT(in, kInputs);
      ASSERT_GE(seq, next[in]) << "out of order or duplicated";
      next[in] = seq + 1;
      if (++got == take) stopper = std::thread([&] { stop.request_stop(); });
    }
    EXPECT_EQ(s, ChanStatus::closed) << "round " << round;
    if (stopper.joinable()) stopper.join();
    EXPECT_EQ(merged.try_recv(v), ChanStatus::closed);
  }
}


// The buffered inputs share one forwarder (fan_in.hpp): inputs that close at
// different times, some before sending anything, some while it waits in a
// select over the rest, each still delivers all its values in order.
TYPED_TEST_P(FanIn, BufferedInputsClosingAtDifferentTimesEachDeliverAll) {
  using W = TypeParam;
  constexpr std::size_t kInputs = 12;
  std::deque<Channel<std::uint64_t, W>> ins;
  std::vector<RecvEnd<std::uint64_t, W>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(1 + i % 4));
  auto count = [](std::size_t i) { return static_cast<std::uint64_t>(i % 3 == 0 ? 0 : 40 * i); };
  std::stop_source stop;
  auto merged = fan_in(stop.get_token(), ends, 2);
  std::vector<std::thread> producers;
  // On an early return: stop the merge, close the inputs (a producer blocked
  // in send returns closed), join the producers.
  OnExit cleanup{[&] {
    stop.request_stop();
    for (auto& c : ins) c.close();
    for (auto& p : producers) p.join();
  }};
  for (std::size_t i = 0; i < kInputs; ++i) {
    producers.emplace_back([&, i] {
      for (std::uint64_t s = 0; s < count(i); ++s) {
        // A failed send ends this input early (and closes it, so the merge
        // still closes): the count check below then fails.
        if (ins[i].send(item(i, s)) != ChanStatus::ok) break;
        if (s % 64 == 63) std::this_thread::sleep_for(1ms);  // let the forwarder find every input empty
      }
      ins[i].close();
    });
  }
  std::vector<std::uint64_t> next(kInputs, 0);
  std::uint64_t v = 0;
  while (merged.recv(v) == ChanStatus::ok) {
    const std::uint64_t in = v >> 32, seq = v & 0xffffffffu;
    ASSERT_LT(in, kInputs);
    ASSERT_EQ(seq, next[in]) << "input " << in << ": out of order, lost or duplicated";
    ++next[in];
  }
  for (std::size_t i = 0; i < kInputs; ++i) EXPECT_EQ(next[i], count(i)) << "input " << i;
}

// One input kept full by an endless producer does not keep another input's
// value from the merge: the shared forwarder takes a bounded burst from each.
TYPED_TEST_P(FanIn, ABusyInputDoesNotStarveTheOthers) {
  using W = TypeParam;
  Channel<std::uint64_t, W> busy(16), quiet(16);
  std::stop_source producer_stop;
  std::thread producer([&] {
    for (std::uint64_t s = 0; busy.send(item(0, s), producer_stop.get_token()) == ChanStatus::ok; ++s) {}
  });
  std::stop_source stop;
  auto merged = fan_in(stop.get_token(), busy, quiet);
  OnExit cleanup{[&] {  // also on an early return
    stop.request_stop();
    producer_stop.request_stop();
    producer.join();
  }};
  std::uint64_t v = 0;
  ASSERT_EQ(merged.recv_for(v, 10s), ChanStatus::ok);  // the busy input is flowing
  ASSERT_EQ(quiet.send(item(1, 0)), ChanStatus::ok);
  int received = 0;
  while (true) {
    ASSERT_EQ(merged.recv_for(v, 10s), ChanStatus::ok);
    ++received;
    if (v == item(1, 0)) break;
    ASSERT_LT(received, 10000) << "the quiet input's value did not come within 10,000 values of the busy one";
  }
}

// A forwarder waiting in a select over empty buffered inputs wakes on stop
// and leaves nothing enrolled on them.
TYPED_TEST_P(FanIn, StopWakesAForwarderSelectingOverEmptyInputs) {
  using W = TypeParam;
  Channel<int, W> a(2), b(2), c(2);
  std::stop_source stop;
  {
    auto merged = fan_in(stop.get_token(), a, b, c);
    int v = 0;
    EXPECT_EQ(merged.recv_for(v, 20ms), ChanStatus::timeout);
    stop.request_stop();
    EXPECT_EQ(merged.recv_for(v, 10s), ChanStatus::closed);
  }
  for (Channel<int, W>* ch : {&a, &b, &c}) {
    int v = 0;
    EXPECT_EQ(ch->try_send(7), ChanStatus::ok);
    EXPECT_EQ(ch->try_recv(v), ChanStatus::ok) << "no forwarder is left receiving";
    EXPECT_EQ(v, 7);
  }
}

// A value whose move waits, once, until released: its sender stalls
// between claiming a slot and publishing it, as a preempted producer does.
struct StallingValue {
  static inline std::atomic<bool> armed{false}, released{false};
  int v = 0;
  bool stall = false;
  StallingValue() = default;
  StallingValue(int value, bool stall_once) : v(value), stall(stall_once) {}
  StallingValue(StallingValue&& o) noexcept : v(o.v) {
    if (o.stall && armed.exchange(false)) {
      for (auto until = std::chrono::steady_clock::now() + 20s; !released.load() && std::chrono::steady_clock::now() < until;) {
        std::this_thread::sleep_for(1ms);
      }
    }
  }
  StallingValue& operator=(StallingValue&& o) noexcept {
    v = o.v;
    return *this;
  }
};

// A sender stalled inside its send on one input does not hold up the
// values of another input that shares its forwarder.
TYPED_TEST_P(FanIn, AStalledSenderDoesNotHoldUpTheOtherInputs) {
  using W = TypeParam;
  StallingValue::armed = true, StallingValue::released = false;
  Channel<StallingValue, W> a(4), b(4);
  std::stop_source stop;
  auto merged = fan_in(stop.get_token(), a, b);
  std::thread stalled([&] { EXPECT_EQ(a.send(StallingValue(100, true)), ChanStatus::ok); });
  while (StallingValue::armed.load()) std::this_thread::yield();  // the sender is in its move
  StallingValue got;
  for (int i = 1; i <= 3; ++i) {  // after the first, the forwarder looks at a again between b's values
    EXPECT_EQ(b.try_send(StallingValue(i, false)), ChanStatus::ok);
    const ChanStatus s = merged.recv_for(got, 10s);
    EXPECT_EQ(s, ChanStatus::ok) << "b's value " << i << " waited for a's stalled sender";
    EXPECT_EQ(got.v, i);
    if (s != ChanStatus::ok) break;
  }
  StallingValue::released = true;
  EXPECT_EQ(merged.recv_for(got, 10s), ChanStatus::ok);
  EXPECT_EQ(got.v, 100) << "the stalled value still comes once its sender finishes";
  stalled.join();
}

REGISTER_TYPED_TEST_SUITE_P(FanIn, EveryValueOnceInEachInputsOrderThenClosed,
                            VariadicOverloadTakesChannelsAndEndsAndIsUnbuffered,
                            StaysOpenWhileAnyInputIsOpenAndClosesAfterTheLastDrains, EmptyRangeGivesAClosedChannel,
                            StopClosesTheMergeAndNothingIsDeliveredAfter, StopWakesForwardersBlockedInSendAndInRecv,
                            StopRequestedBeforehandGivesAClosedMerge, DroppingTheMergedEndStopsAndJoinsForwarders,
                            MergesOfMergesKeepTheirStateAlive, MoveOnlyValuesAreMovedThrough,
                            StopRacingDeliveriesNeverDuplicatesReordersOrHangs,
                            BufferedInputsClosingAtDifferentTimesEachDeliverAll, ABusyInputDoesNotStarveTheOthers,
                            StopWakesAForwarderSelectingOverEmptyInputs, AStalledSenderDoesNotHoldUpTheOtherInputs);

}  // namespace conpat::test
