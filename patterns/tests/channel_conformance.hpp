// The channel conformance suite: one typed suite over every implementation
// of conpat::BlockingChannel. Each test checks one semantic rule of
// DESIGN.md; a rule an implementation does not claim (channel_traits,
// TimedChannel, CancellableChannel) is skipped for it, never weakened.
//
// Included by channel_test.cpp (implementations TSan can follow) and by
// fiber_channel_test.cpp (Boost.Fiber, left out of the TSan run).
//
// No test asserts a duration: sleeps only give a broken implementation the
// chance to misbehave, and every wait is bounded by generous deadlines.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include "conpat/blocking_channel.hpp"

namespace conpat {
inline void PrintTo(ChanStatus s, std::ostream* os) { *os << to_string(s); }
}  // namespace conpat

namespace conpat::test {

using namespace std::chrono_literals;

// Names an implementation as a template over the element type.
template <template <class> class Chan>
struct Impl {
  template <class T>
  using type = Chan<T>;
};

template <class I>
class ChannelConformance : public ::testing::Test {
 protected:
  template <class T>
  using Ch = typename I::template type<T>;
  using IntCh = Ch<int>;
  using Traits = channel_traits<IntCh>;
  static constexpr bool kTimed = TimedChannel<IntCh>;
  static constexpr bool kCancellable = CancellableChannel<IntCh>;
};
TYPED_TEST_SUITE_P(ChannelConformance);

// Polls `pred` until it holds or 20 s pass; a hang becomes a failure.
template <class Pred>
bool eventually(Pred pred) {
  auto until = std::chrono::steady_clock::now() + 20s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

TYPED_TEST_P(ChannelConformance, SingleSenderOrderIsFifo) {
  typename TestFixture::IntCh ch(16);
  std::size_t cap = TestFixture::Traits::usable_capacity(16);
  for (int round = 0; round < 3; ++round) {  // wraps the ring several times
    for (int i = 0; i < static_cast<int>(cap); ++i) ASSERT_EQ(ch.send(i), ChanStatus::ok);
    for (int i = 0; i < static_cast<int>(cap); ++i) {
      int v = -1;
      ASSERT_EQ(ch.recv(v), ChanStatus::ok);
      EXPECT_EQ(v, i);
    }
  }
}

TYPED_TEST_P(ChannelConformance, EachSendersOrderHoldsUnderConcurrency) {
  if (!TestFixture::Traits::multi_producer) GTEST_SKIP() << "single-producer implementation";
  constexpr int kSenders = 4, kPerSender = 20000;
  typename TestFixture::IntCh ch(8);
  std::vector<std::jthread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&ch, s] {
      for (int i = 0; i < kPerSender; ++i) ASSERT_EQ(ch.send(s * kPerSender + i), ChanStatus::ok);
    });
  }
  std::vector<int> last(kSenders, -1);
  for (int n = 0; n < kSenders * kPerSender; ++n) {
    int v = -1;
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    int s = v / kPerSender, i = v % kPerSender;
    ASSERT_EQ(i, last[s] + 1) << "sender " << s << " out of order";
    last[s] = i;
  }
}

TYPED_TEST_P(ChannelConformance, TrySendOnFullBufferWouldBlock) {
  typename TestFixture::IntCh ch(4);
  std::size_t cap = TestFixture::Traits::usable_capacity(4);
  for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(ch.try_send(1), ChanStatus::ok);
  EXPECT_EQ(ch.try_send(2), ChanStatus::would_block);
  int v = 0;
  ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(ch.try_send(3), ChanStatus::ok);
}

TYPED_TEST_P(ChannelConformance, TryRecvOnEmptyWouldBlock) {
  typename TestFixture::IntCh ch(4);
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block);
}

TYPED_TEST_P(ChannelConformance, UnbufferedTrySendFailsWithoutWaitingReceiver) {
  if (!TestFixture::Traits::exact_unbuffered_try) GTEST_SKIP() << "no exact try forms at capacity 0";
  typename TestFixture::IntCh ch(0);
  EXPECT_EQ(ch.try_send(1), ChanStatus::would_block);
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block) << "the failed try_send must not have delivered";
}

TYPED_TEST_P(ChannelConformance, UnbufferedTrySendSucceedsWhenReceiverWaits) {
  if (!TestFixture::Traits::exact_unbuffered_try) GTEST_SKIP() << "no exact try forms at capacity 0";
  typename TestFixture::IntCh ch(0);
  int got = -1;
  std::jthread receiver([&] { ASSERT_EQ(ch.recv(got), ChanStatus::ok); });
  ASSERT_TRUE(eventually([&] { return ch.try_send(42) == ChanStatus::ok; }));
  receiver.join();
  EXPECT_EQ(got, 42);
}

TYPED_TEST_P(ChannelConformance, UnbufferedTryRecvSucceedsOnlyWhenSenderWaits) {
  if (!TestFixture::Traits::exact_unbuffered_try) GTEST_SKIP() << "no exact try forms at capacity 0";
  typename TestFixture::IntCh ch(0);
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block);
  std::jthread sender([&] { ASSERT_EQ(ch.send(7), ChanStatus::ok); });
  ASSERT_TRUE(eventually([&] { return ch.try_recv(v) == ChanStatus::ok; }));
  EXPECT_EQ(v, 7);
}

TYPED_TEST_P(ChannelConformance, UnbufferedSendCompletesOnlyAfterReceiverTakesValue) {
  if (!TestFixture::Traits::unbuffered) GTEST_SKIP() << "no unbuffered mode";
  typename TestFixture::IntCh ch(0);
  std::atomic<bool> returned{false};
  std::jthread sender([&] {
    EXPECT_EQ(ch.send(5), ChanStatus::ok);
    returned.store(true);
  });
  // However long we wait, with no receiver the send must not complete.
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(returned.load()) << "unbuffered send returned before any receiver";
  int v = 0;
  ASSERT_EQ(ch.recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 5);
  sender.join();
  EXPECT_TRUE(returned.load());
}

TYPED_TEST_P(ChannelConformance, RecvAfterCloseDrainsBufferThenReportsClosed) {
  typename TestFixture::IntCh ch(4);
  ASSERT_EQ(ch.send(1), ChanStatus::ok);
  ASSERT_EQ(ch.send(2), ChanStatus::ok);
  EXPECT_TRUE(ch.close());
  EXPECT_TRUE(ch.is_closed());
  int v = 0;
  ASSERT_EQ(ch.recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 1);
  ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 2);
  EXPECT_EQ(ch.recv(v), ChanStatus::closed);
  EXPECT_EQ(ch.try_recv(v), ChanStatus::closed);
}

TYPED_TEST_P(ChannelConformance, SecondCloseReturnsFalse) {
  typename TestFixture::IntCh ch(1);
  EXPECT_TRUE(ch.close());
  EXPECT_FALSE(ch.close());
  EXPECT_TRUE(ch.is_closed());
}

TYPED_TEST_P(ChannelConformance, SendOnClosedChannelReportsClosedAndDeliversNothing) {
  typename TestFixture::IntCh ch(2);
  ch.close();
  EXPECT_EQ(ch.send(1), ChanStatus::closed);
  EXPECT_EQ(ch.try_send(1), ChanStatus::closed);
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), ChanStatus::closed);
}

TYPED_TEST_P(ChannelConformance, CloseWakesEveryBlockedReceiver) {
  if (!TestFixture::Traits::multi_consumer) GTEST_SKIP() << "single-consumer implementation";
  typename TestFixture::IntCh ch(4);
  constexpr int kReceivers = 4;
  std::atomic<int> closed_seen{0};
  std::vector<std::jthread> rs;
  for (int i = 0; i < kReceivers; ++i) {
    rs.emplace_back([&] {
      int v = 0;
      if (ch.recv(v) == ChanStatus::closed) closed_seen.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(20ms);  // let them block (not required for correctness)
  EXPECT_TRUE(ch.close());
  rs.clear();  // joins; a receiver that never wakes hangs here and the ctest timeout fails it
  EXPECT_EQ(closed_seen.load(), kReceivers);
}

TYPED_TEST_P(ChannelConformance, CloseWakesEveryBlockedSenderWithoutDelivering) {
  if (!TestFixture::Traits::multi_producer) GTEST_SKIP() << "single-producer implementation";
  typename TestFixture::IntCh ch(1);
  std::size_t cap = TestFixture::Traits::usable_capacity(1);
  for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(ch.send(100), ChanStatus::ok);
  constexpr int kSenders = 3;
  std::atomic<int> closed_seen{0};
  std::vector<std::jthread> ss;
  for (int i = 0; i < kSenders; ++i) {
    ss.emplace_back([&] {
      if (ch.send(1) == ChanStatus::closed) closed_seen.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(ch.close());
  ss.clear();
  EXPECT_EQ(closed_seen.load(), kSenders);
  int v = 0;
  for (std::size_t i = 0; i < cap; ++i) {
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 100) << "a value whose send reported closed was delivered";
  }
  EXPECT_EQ(ch.recv(v), ChanStatus::closed);
}

TYPED_TEST_P(ChannelConformance, UnbufferedCloseWakesBlockedSender) {
  if (!TestFixture::Traits::unbuffered) GTEST_SKIP() << "no unbuffered mode";
  typename TestFixture::IntCh ch(0);
  ChanStatus st = ChanStatus::ok;
  std::jthread sender([&] { st = ch.send(1); });
  std::this_thread::sleep_for(20ms);
  ch.close();
  sender.join();
  EXPECT_EQ(st, ChanStatus::closed);
  int v = 0;
  EXPECT_EQ(ch.recv(v), ChanStatus::closed);
}

TYPED_TEST_P(ChannelConformance, RecvTimesOutOnEmptyChannel) {
  if constexpr (!TestFixture::kTimed) {
    GTEST_SKIP() << "no timed operations";
  } else {
    typename TestFixture::IntCh ch(2);
    int v = 0;
    EXPECT_EQ(ch.recv_for(v, 5ms), ChanStatus::timeout);
    ASSERT_EQ(ch.send(3), ChanStatus::ok);
    EXPECT_EQ(ch.recv_for(v, 5s), ChanStatus::ok);
    EXPECT_EQ(v, 3);
    ch.close();
    EXPECT_EQ(ch.recv_for(v, 5ms), ChanStatus::closed) << "closed, not timeout";
  }
}

TYPED_TEST_P(ChannelConformance, SendTimesOutOnFullChannelWithoutDelivering) {
  if constexpr (!TestFixture::kTimed) {
    GTEST_SKIP() << "no timed operations";
  } else {
    std::size_t req = TestFixture::Traits::exact_unbuffered_try ? 0 : 1;
    typename TestFixture::IntCh ch(req);
    std::size_t cap = req == 0 ? 0 : TestFixture::Traits::usable_capacity(req);
    for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(ch.send(1), ChanStatus::ok);
    EXPECT_EQ(ch.send_for(2, 5ms), ChanStatus::timeout);
    int v = 0;
    for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
    EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block) << "the timed-out value was delivered";
  }
}

TYPED_TEST_P(ChannelConformance, ZeroOrNegativeTimeoutBehavesLikeTry) {
  if constexpr (!TestFixture::kTimed) {
    GTEST_SKIP() << "no timed operations";
  } else {
    typename TestFixture::IntCh ch(1);
    int v = 0;
    EXPECT_EQ(ch.recv_for(v, 0ms), ChanStatus::timeout);
    EXPECT_EQ(ch.recv_for(v, -1s), ChanStatus::timeout);
    EXPECT_EQ(ch.send_for(9, 0ms), ChanStatus::ok) << "a ready channel answers ok";
    std::size_t cap = TestFixture::Traits::usable_capacity(1);
    for (std::size_t i = 1; i < cap; ++i) ASSERT_EQ(ch.send(9), ChanStatus::ok);
    EXPECT_EQ(ch.send_for(10, -5ms), ChanStatus::timeout);
    EXPECT_EQ(ch.recv_for(v, -5ms), ChanStatus::ok);
    EXPECT_EQ(v, 9);
    for (std::size_t i = 1; i < cap; ++i) ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    ch.close();
    EXPECT_EQ(ch.recv_for(v, 0ms), ChanStatus::closed) << "a closed channel answers closed";
    EXPECT_EQ(ch.send_for(1, 0ms), ChanStatus::closed);
  }
}

TYPED_TEST_P(ChannelConformance, CancelWakesBlockedRecvWithCancelled) {
  if constexpr (!TestFixture::kCancellable) {
    GTEST_SKIP() << "no stop_token support";
  } else {
    typename TestFixture::IntCh ch(2);
    std::stop_source src;
    ChanStatus st = ChanStatus::ok;
    std::jthread receiver([&] {
      int v = 0;
      st = ch.recv(v, src.get_token());
    });
    std::this_thread::sleep_for(20ms);
    src.request_stop();
    receiver.join();
    EXPECT_EQ(st, ChanStatus::cancelled);
    ASSERT_EQ(ch.send(1), ChanStatus::ok);  // the channel still works
    int v = 0;
    EXPECT_EQ(ch.recv(v), ChanStatus::ok);
  }
}

TYPED_TEST_P(ChannelConformance, CancelWakesBlockedSendWithoutDelivering) {
  if constexpr (!TestFixture::kCancellable) {
    GTEST_SKIP() << "no stop_token support";
  } else {
    std::size_t req = TestFixture::Traits::exact_unbuffered_try ? 0 : 1;
    typename TestFixture::IntCh ch(req);
    std::size_t cap = req == 0 ? 0 : TestFixture::Traits::usable_capacity(req);
    for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(ch.send(1), ChanStatus::ok);
    std::stop_source src;
    ChanStatus st = ChanStatus::ok;
    std::jthread sender([&] { st = ch.send(2, src.get_token()); });
    std::this_thread::sleep_for(20ms);
    src.request_stop();
    sender.join();
    EXPECT_EQ(st, ChanStatus::cancelled);
    int v = 0;
    for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(ch.try_recv(v), ChanStatus::ok);
    EXPECT_EQ(ch.try_recv(v), ChanStatus::would_block) << "the cancelled value was delivered";
  }
}

TYPED_TEST_P(ChannelConformance, AlreadyStoppedTokenCancelsOnlyWhatWouldBlock) {
  if constexpr (!TestFixture::kCancellable) {
    GTEST_SKIP() << "no stop_token support";
  } else {
    typename TestFixture::IntCh ch(1);
    std::stop_source src;
    src.request_stop();
    int v = 0;
    EXPECT_EQ(ch.recv(v, src.get_token()), ChanStatus::cancelled);
    EXPECT_EQ(ch.send(4, src.get_token()), ChanStatus::ok) << "a ready send is not cancelled";
    EXPECT_EQ(ch.recv(v, src.get_token()), ChanStatus::ok);
    EXPECT_EQ(v, 4);
  }
}

TYPED_TEST_P(ChannelConformance, TimeoutAndCancelledAreDistinct) {
  if constexpr (!TestFixture::kTimed || !TestFixture::kCancellable) {
    GTEST_SKIP() << "needs both timed and cancellable operations";
  } else {
    typename TestFixture::IntCh ch(1);
    int v = 0;
    std::stop_source src;
    src.request_stop();
    ChanStatus by_time = ch.recv_for(v, 2ms);
    ChanStatus by_stop = ch.recv(v, src.get_token());
    EXPECT_EQ(by_time, ChanStatus::timeout);
    EXPECT_EQ(by_stop, ChanStatus::cancelled);
    EXPECT_NE(by_time, by_stop);
  }
}

TYPED_TEST_P(ChannelConformance, MoveOnlyValuesPassThrough) {
  using Ch = typename TestFixture::template Ch<std::unique_ptr<int>>;
  Ch ch(2);
  ASSERT_EQ(ch.send(std::make_unique<int>(11)), ChanStatus::ok);
  std::unique_ptr<int> out;
  ASSERT_EQ(ch.recv(out), ChanStatus::ok);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(*out, 11);
  if (channel_traits<Ch>::unbuffered) {
    Ch rendezvous(0);
    std::jthread sender([&] { EXPECT_EQ(rendezvous.send(std::make_unique<int>(12)), ChanStatus::ok); });
    std::unique_ptr<int> got;
    ASSERT_EQ(rendezvous.recv(got), ChanStatus::ok);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, 12);
  }
}

TYPED_TEST_P(ChannelConformance, CapacityIsReported) {
  typename TestFixture::IntCh ch(16);
  EXPECT_GE(ch.capacity(), TestFixture::Traits::usable_capacity(16));
}

// A value whose move throws. Channels refuse it at compile time: a claimed
// ring slot or a half-done hand-off cannot be undone (see ChannelValue).
struct ThrowingMove {
  ThrowingMove() = default;
  ThrowingMove(ThrowingMove&&) noexcept(false) { throw std::runtime_error("move"); }
  ThrowingMove& operator=(ThrowingMove&&) noexcept(false) { throw std::runtime_error("move"); }
};

template <template <class> class Chan, class T>
concept Carries = requires { typename Chan<T>; };

TYPED_TEST_P(ChannelConformance, ThrowingMoveIsRejectedAtCompileTime) {
  constexpr bool rejects_throwing = !Carries<TypeParam::template type, ThrowingMove>;
  constexpr bool accepts_move_only = Carries<TypeParam::template type, std::unique_ptr<int>>;
  static_assert(rejects_throwing, "a channel must not accept a type whose move can throw");
  static_assert(accepts_move_only, "a channel must accept a nothrow move-only type");
  EXPECT_TRUE(rejects_throwing && accepts_move_only);
}

REGISTER_TYPED_TEST_SUITE_P(ChannelConformance, SingleSenderOrderIsFifo,
                            EachSendersOrderHoldsUnderConcurrency, TrySendOnFullBufferWouldBlock,
                            TryRecvOnEmptyWouldBlock, UnbufferedTrySendFailsWithoutWaitingReceiver,
                            UnbufferedTrySendSucceedsWhenReceiverWaits,
                            UnbufferedTryRecvSucceedsOnlyWhenSenderWaits,
                            UnbufferedSendCompletesOnlyAfterReceiverTakesValue,
                            RecvAfterCloseDrainsBufferThenReportsClosed, SecondCloseReturnsFalse,
                            SendOnClosedChannelReportsClosedAndDeliversNothing,
                            CloseWakesEveryBlockedReceiver,
                            CloseWakesEveryBlockedSenderWithoutDelivering,
                            UnbufferedCloseWakesBlockedSender, RecvTimesOutOnEmptyChannel,
                            SendTimesOutOnFullChannelWithoutDelivering,
                            ZeroOrNegativeTimeoutBehavesLikeTry,
                            CancelWakesBlockedRecvWithCancelled,
                            CancelWakesBlockedSendWithoutDelivering,
                            AlreadyStoppedTokenCancelsOnlyWhatWouldBlock,
                            TimeoutAndCancelledAreDistinct, MoveOnlyValuesPassThrough,
                            CapacityIsReported, ThrowingMoveIsRejectedAtCompileTime);

}  // namespace conpat::test
