// Interleavings that stress loops reach rarely, forced every time with test
// hooks (CONPAT_TEST_HOOKS is defined for this executable only), and the
// lifetime rule every channel keeps: a consumer that saw "closed and
// drained" may destroy the channel while close() is still returning.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/spsc_ring.hpp"
#include "channel_conformance.hpp"
#include "ring_types.hpp"
#include "destroy_after.hpp"

#if !defined(CONPAT_TEST_HOOKS)
#error "ring_interleavings_test needs CONPAT_TEST_HOOKS (set in patterns/tests/CMakeLists.txt)"
#endif

namespace conpat::test {
namespace {

namespace hook = detail::test_hook;

// Impl comes from the conformance header; its suite is instantiated elsewhere.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ChannelConformance);
using detail::RingProbe;

// pop_ready reads the dequeue position, then that slot's sequence. If
// another consumer takes the position in between, and the ring is then
// closed and drained, a stale answer "not ready" parks the caller on a
// doorbell that nothing will ring again: an untimed recv never returns.
TEST(MpmcRingReady, PopReadyIsNotFooledByAConsumerTakingThePositionBetweenItsLoads) {
  MpmcRing<int> ring(2);
  hook::arm("mpmc.pop_ready", [&] {
    ASSERT_EQ(ring.try_send(1), ChanStatus::ok);
    int v = 0;
    ASSERT_EQ(ring.try_recv(v), ChanStatus::ok);  // another consumer takes the position
    ASSERT_TRUE(ring.close());
  });
  EXPECT_TRUE(RingProbe::pop_ready(ring)) << "closed and drained: a consumer parked now would never wake";
  int v = 0;
  EXPECT_EQ(ring.recv(v), ChanStatus::closed);
}

TEST(MpmcRingReady, PushReadyIsNotFooledByAProducerTakingThePositionBetweenItsLoads) {
  MpmcRing<int> ring(2);
  hook::arm("mpmc.push_ready", [&] { ASSERT_EQ(ring.try_send(1), ChanStatus::ok); });
  EXPECT_TRUE(RingProbe::push_ready(ring)) << "one slot is still free";
  EXPECT_EQ(ring.try_send(2), ChanStatus::ok);
}

// A close from the consumer (or any thread) lands after the producer passed
// its closed check: the value it then publishes must still reach the
// consumer, which may not report closed before it has it.
template <class Layout>
void close_between_check_and_publish() {
  SpscRing<int, Layout> ring(4);
  std::thread closer;
  ChanStatus seen_during_close = ChanStatus::ok;
  hook::arm("spsc.push_after_closed_check", [&] {
    closer = std::thread([&] { ring.close(); });
    while (!ring.is_closed()) std::this_thread::yield();
    int v = 0;
    seen_during_close = ring.try_recv(v);  // the consumer looks while the push is in flight
  });
  const ChanStatus sent = ring.send(42);
  closer.join();
  ASSERT_EQ(sent, ChanStatus::ok) << "the push passed the closed check before close()";
  EXPECT_NE(seen_during_close, ChanStatus::closed) << "closed reported while an ok send was in flight";
  int v = 0;
  EXPECT_EQ(ring.recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 42);
  EXPECT_EQ(ring.recv(v), ChanStatus::closed);
}

TEST(SpscRingClose, CloseDuringAPushLosesNothingPacked) { close_between_check_and_publish<layout::Packed>(); }
TEST(SpscRingClose, CloseDuringAPushLosesNothingPadded) { close_between_check_and_publish<layout::Padded>(); }

// Without hooks: the consumer or a third thread closes at an arbitrary
// moment; every value whose send returned ok must be received.
enum class Closer { producer, consumer, third };

void close_race_rounds(Closer who) {
  constexpr int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    SpscRing<std::uint64_t> ring(8);
    std::atomic<std::uint64_t> sent_ok{0}, sent_sum{0};
    std::atomic<bool> go{false};
    const int close_after = (round * 37) % 200;  // items the consumer receives before it may close
    std::thread producer([&] {
      while (!go.load()) std::this_thread::yield();
      for (std::uint64_t i = 1;; ++i) {
        if (ring.send(i) != ChanStatus::ok) break;
        sent_ok.fetch_add(1, std::memory_order_relaxed);
        sent_sum.fetch_add(i, std::memory_order_relaxed);
        if (who == Closer::producer && i == static_cast<std::uint64_t>(close_after) + 1) ring.close();
      }
    });
    std::thread third;
    if (who == Closer::third) {
      third = std::thread([&] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < close_after * 10; ++i) detail::spin_pause();
        ring.close();
      });
    }
    go.store(true);
    std::uint64_t got = 0, got_sum = 0, v = 0;
    for (;;) {
      if (who == Closer::consumer && got == static_cast<std::uint64_t>(close_after)) ring.close();
      if (ring.recv(v) != ChanStatus::ok) break;
      ++got;
      got_sum += v;
    }
    producer.join();
    if (third.joinable()) third.join();
    ASSERT_EQ(got, sent_ok.load()) << "round " << round << ": a value whose send returned ok was lost";
    ASSERT_EQ(got_sum, sent_sum.load()) << "round " << round;
  }
}

TEST(SpscRingClose, ProducerCloseKeepsEveryOkSend) { close_race_rounds(Closer::producer); }
TEST(SpscRingClose, ConsumerCloseKeepsEveryOkSend) { close_race_rounds(Closer::consumer); }
TEST(SpscRingClose, ThirdThreadCloseKeepsEveryOkSend) { close_race_rounds(Closer::third); }

// Destroy-after-close over every conpat channel: the consumer sees closed
// and deletes the channel while the closing thread may still be in close().
template <class I>
class DestroyAfterClose : public ::testing::Test {};
using ClosableImpls = ::testing::Types<Impl<Channel>, Impl<SpscPacked>, Impl<SpscPadded>, Impl<MpmcPacked>,
                                       Impl<MpmcPadded>>;
TYPED_TEST_SUITE(DestroyAfterClose, ClosableImpls);

TYPED_TEST(DestroyAfterClose, ConsumerMayDestroyTheChannelAsSoonAsRecvSaysClosed) {
  using Ch = typename TypeParam::template type<int>;
  std::atomic<int> received{0};
  destroy_right_after<Ch>(
      kLifetimeRounds / 10, [] { return std::make_unique<Ch>(1); },
      [](Ch& ch) {
        ch.send(7);
        ch.close();
      },
      [&](Ch& ch) {
        int v = 0;
        while (ch.recv(v) == ChanStatus::ok) received.fetch_add(v == 7 ? 1 : 1000);
      });
  EXPECT_EQ(received.load(), kLifetimeRounds / 10) << "each round's one value, received once";
}

}  // namespace
}  // namespace conpat::test
