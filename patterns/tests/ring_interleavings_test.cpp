// Interleavings that stress loops reach rarely, forced every time with test
// hooks (CONPAT_TEST_HOOKS is defined for this executable only), in the
// rings, in the unbuffered Channel and in select, and the lifetime rule
// every channel keeps: a consumer that saw "closed and drained" may destroy
// the channel while close() is still returning, and either side of a
// hand-off may destroy it once its own operation returned.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/select.hpp"
#include "conpat/spsc_ring.hpp"
#include "channel_conformance.hpp"
#include "ring_types.hpp"
#include "destroy_after.hpp"
#include "wait_policy_skip.hpp"
#include "zero_of.hpp"

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


// ---- the unbuffered Channel: the hand-off cell and its queues ----

// Starts `op` on a new thread and returns once that thread is waiting in
// the channel (past its unlock, about to spin or park): arrival order
// without sleeps.
template <class Op>
std::jthread start_waiting(Op op) {
  std::atomic<bool> waiting{false};
  std::jthread t([&waiting, op]() mutable {
    hook::arm("zero.waiting", [&waiting] { waiting.store(true, std::memory_order_release); });
    op();
  });
  while (!waiting.load(std::memory_order_acquire)) std::this_thread::yield();
  return t;
}

// The first waiter waits in the cell, later ones in the queue behind it.
// A waiter that arrives after the cell's waiter was served must queue
// behind the older queued one, not take the now empty cell.
TEST(ZeroFlavorOrder, ReceiversAreServedInArrivalOrderAcrossCellAndQueue) {
  Channel<int> ch(0);
  std::vector<int> got(3, -1);
  auto receiver = [&](int i) { return start_waiting([&ch, &got, i] { got[i] = ch.recv().value_or(-2); }); };
  std::jthread r0 = receiver(0);  // the cell
  std::jthread r1 = receiver(1);  // the queue
  ASSERT_EQ(ch.send(10), ChanStatus::ok);
  r0.join();
  std::jthread r2 = receiver(2);  // the cell is empty, but r1 is older
  ASSERT_EQ(ch.send(11), ChanStatus::ok);
  ASSERT_EQ(ch.send(12), ChanStatus::ok);
  r1.join();
  r2.join();
  EXPECT_EQ(got, (std::vector<int>{10, 11, 12}));
}

TEST(ZeroFlavorOrder, SendersAreServedInArrivalOrderAcrossCellAndQueue) {
  Channel<int> ch(0);
  auto sender = [&](int v) { return start_waiting([&ch, v] { EXPECT_EQ(ch.send(v), ChanStatus::ok); }); };
  std::jthread s0 = sender(10);
  std::jthread s1 = sender(11);
  EXPECT_EQ(ch.recv(), std::optional<int>(10));
  s0.join();
  std::jthread s2 = sender(12);
  EXPECT_EQ(ch.recv(), std::optional<int>(11));
  EXPECT_EQ(ch.recv(), std::optional<int>(12));
}

// A cell waiter that times out leaves the queue's head next in line; a
// timed-out sender's value is not delivered.
TEST(ZeroFlavorOrder, ACellWaiterThatTimesOutLeavesTheQueuedOneNext) {
  using namespace std::chrono_literals;
  Channel<int> ch(0);
  ChanStatus first = ChanStatus::ok;
  std::jthread r0 = start_waiting([&] {
    int v = 0;
    first = ch.recv_for(v, 200ms);
  });
  std::optional<int> second;
  std::jthread r1 = start_waiting([&] { second = ch.recv(); });
  r0.join();
  EXPECT_EQ(first, ChanStatus::timeout);
  ASSERT_EQ(ch.send(7), ChanStatus::ok);
  r1.join();
  EXPECT_EQ(second, std::optional<int>(7));
  std::jthread s0 = start_waiting([&] { EXPECT_EQ(ch.send_for(1, 200ms), ChanStatus::timeout); });
  std::jthread s1 = start_waiting([&] { EXPECT_EQ(ch.send(2), ChanStatus::ok); });
  s0.join();
  EXPECT_EQ(ch.recv(), std::optional<int>(2));
}

// Cancellation and close() reach a waiter in the cell and one in the queue.
TEST(ZeroFlavorOrder, StopAndCloseReachTheCellsWaiterAndTheQueuedOne) {
  Channel<int> ch(0);
  std::stop_source in_cell, queued;
  ChanStatus cell_status = ChanStatus::ok, queued_status = ChanStatus::ok;
  std::jthread r0 = start_waiting([&] {
    int v = 0;
    cell_status = ch.recv(v, in_cell.get_token());
  });
  std::jthread r1 = start_waiting([&] {
    int v = 0;
    queued_status = ch.recv(v, queued.get_token());
  });
  queued.request_stop();
  r1.join();
  EXPECT_EQ(queued_status, ChanStatus::cancelled);
  in_cell.request_stop();
  r0.join();
  EXPECT_EQ(cell_status, ChanStatus::cancelled);
  std::jthread s0 = start_waiting([&] { EXPECT_EQ(ch.send(1), ChanStatus::closed); });
  std::jthread s1 = start_waiting([&] { EXPECT_EQ(ch.send(2), ChanStatus::closed); });
  EXPECT_TRUE(ch.close());
  s0.join();
  s1.join();
  EXPECT_EQ(ch.recv(), std::nullopt) << "a closed sender's value is not delivered";
}

// The peer of the waiter in these tests: sends it 5, or receives its 6.
// Timed, so that a peer too slow to reach the waiter within the window
// fails the test instead of hanging it.
template <class Ch>
void serve_the_waiter(Ch& ch, bool waiter_receives) {
  using namespace std::chrono_literals;
  if (waiter_receives) {
    EXPECT_EQ(ch.send_for(5, 20s), ChanStatus::ok);
  } else {
    int v = 0;
    EXPECT_EQ(ch.recv_for(v, 20s), ChanStatus::ok);
    EXPECT_EQ(v, 6);
  }
}

// A waiter times out and, before it withdraws, a peer completes it, returns
// and destroys the channel (channel.hpp allows that: the peer's own
// operation returned). The withdrawal must not touch the freed channel:
// the peer's completion waits until the waiter has left. Without that,
// ASan reports a heap-use-after-free here and TSan a race with the delete.
// Where::queue: the waiter is queued behind an occupant of the cell, which
// the waiter's own thread serves from the hook before the peer comes.
// Returns false if the waiter's deadline passed before it even waited (a
// preempted test thread): the window was not reached, the caller retries.
enum class Where { cell, queue };
template <class Ch>
bool peer_completes_a_withdrawing_waiter_once(bool waiter_receives, Where where) {
  using namespace std::chrono_literals;
  auto ch = std::make_unique<Ch>(0);
  Ch& c = *ch;
  std::jthread occupant;
  if (where == Where::queue) {
    occupant = start_waiting([&c, waiter_receives] {
      if (waiter_receives) {
        EXPECT_EQ(c.recv(), std::optional<int>(99));
      } else {
        EXPECT_EQ(c.send(99), ChanStatus::ok);
      }
    });
  }
  std::jthread peer;
  std::atomic<bool> peer_done{false};
  hook::arm("zero.withdraw", [&] {
    if (where == Where::queue) {  // empty the cell; the waiter stays queued
      if (waiter_receives) {
        EXPECT_EQ(c.send(99), ChanStatus::ok);
      } else {
        EXPECT_EQ(c.recv(), std::optional<int>(99));
      }
      occupant.join();
    }
    peer = std::jthread([&peer_done, waiter_receives, owned = std::move(ch)]() mutable {
      serve_the_waiter(*owned, waiter_receives);
      owned.reset();  // the peer's operation returned: it may destroy the channel
      peer_done.store(true, std::memory_order_release);
    });
    // Give the peer every chance to complete the waiter and free the channel now.
    for (int i = 0; i < 200 && !peer_done.load(std::memory_order_acquire); ++i) std::this_thread::sleep_for(1ms);
  });
  ChanStatus st;
  int v = 0;
  if (waiter_receives) {
    st = c.recv_for(v, 20ms);
  } else {
    st = c.send_for(6, 20ms);
  }
  if (!peer.joinable()) {  // the hook did not fire: timed out before waiting
    hook::arm("zero.withdraw", nullptr);
    if (occupant.joinable()) {  // still in the cell: serve it as the hook would have
      if (waiter_receives) {
        EXPECT_EQ(c.send(99), ChanStatus::ok);
      } else {
        EXPECT_EQ(c.recv(), std::optional<int>(99));
      }
    }
    return false;
  }
  peer.join();
  EXPECT_TRUE(peer_done.load());
  EXPECT_EQ(st, ChanStatus::ok) << "the peer completed the waiter before it withdrew";
  if (waiter_receives) {
    EXPECT_EQ(v, 5);
  }
  return true;
}

template <class Ch>
void peer_completes_a_withdrawing_waiter(bool waiter_receives, Where where) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (peer_completes_a_withdrawing_waiter_once<Ch>(waiter_receives, where)) return;
  }
  FAIL() << "the waiter never reached its withdrawal in 20 attempts";
}

template <class Ch>
class ZeroFlavorLifetime : public WaitPolicyTest<typename Ch::wait_policy> {};
using WaitPolicies = ::testing::Types<Channel<int>, Channel<int, FiberWait>>;
TYPED_TEST_SUITE(ZeroFlavorLifetime, WaitPolicies);

TYPED_TEST(ZeroFlavorLifetime, PeerCompletingAWithdrawingReceiverInTheCellMayDestroyTheChannel) {
  peer_completes_a_withdrawing_waiter<TypeParam>(true, Where::cell);
}
TYPED_TEST(ZeroFlavorLifetime, PeerCompletingAWithdrawingSenderInTheCellMayDestroyTheChannel) {
  peer_completes_a_withdrawing_waiter<TypeParam>(false, Where::cell);
}
TYPED_TEST(ZeroFlavorLifetime, PeerCompletingAWithdrawingQueuedReceiverMayDestroyTheChannel) {
  peer_completes_a_withdrawing_waiter<TypeParam>(true, Where::queue);
}
TYPED_TEST(ZeroFlavorLifetime, PeerCompletingAWithdrawingQueuedSenderMayDestroyTheChannel) {
  peer_completes_a_withdrawing_waiter<TypeParam>(false, Where::queue);
}

// ---- select: the peer of an unbuffered case may destroy its channel ----

// When the peer comes (the hook, on the select's thread): once every case is
// enrolled and the select is about to sleep; right after its first case
// enrolled (the select enrols the rest after the peer has left); or while
// the select enrols its second case on x, marked leaving (the peer claims
// the first and waits in its signal until that enrolment is over).
enum class PeerAt { sleeping, first_enrolled, second_enrolling };

// A peer completes a select's unbuffered case on `x` and, with `destroy`,
// destroys `x` as soon as its own operation returned, before the select
// has woken (channel.hpp allows that). The select must not touch `x` again
// and must leave no entry behind on any channel. `on_x`: how many of the
// select's cases are on x (the others, if any, on `y`, which nobody serves).
// Before the fix, ASan+UBSan: heap-use-after-free in SpinMutex::lock from
// the select's withdrawal (PeerAt::sleeping) and from its enrolment of the
// next case on x (PeerAt::first_enrolled).
template <class Ch>
void peer_completes_a_select_case(bool select_receives, int on_x, bool with_y, PeerAt at, bool destroy) {
  using namespace std::chrono_literals;
  auto x = std::make_unique<Ch>(0);
  Ch& cx = *x;
  Ch y(0);
  std::jthread peer;
  std::atomic<bool> peer_done{false};
  auto start_peer = [&] {
    peer = std::jthread([&peer_done, &x, select_receives, destroy] {
      serve_the_waiter(*x, select_receives);
      if (destroy) x.reset();  // the peer's operation returned: it may destroy the channel
      peer_done.store(true, std::memory_order_release);
    });
  };
  if (at == PeerAt::second_enrolling) {
    hook::arm("select.enrolled", [&] {
      hook::arm("select.guarded", [&] {  // the next case on x, about to enrol
        start_peer();
        // Until the peer has claimed the first case (and unlinked it); its
        // signal then waits for the enrolment, so it cannot finish here.
        for (int i = 0; i < 20000 && detail::ZeroProbe::waiters(zero_of(cx)) != 0; ++i) {
          std::this_thread::sleep_for(1ms);
        }
        EXPECT_EQ(detail::ZeroProbe::waiters(zero_of(cx)), 0u) << "the peer never claimed the first case";
      });
    });
  } else {
    hook::arm(at == PeerAt::sleeping ? "select.sleeping" : "select.enrolled", [&] {
      start_peer();
      while (!peer_done.load(std::memory_order_acquire)) std::this_thread::sleep_for(1ms);
    });
  }
  int got[3] = {0, 0, 0};
  SelectResult r;
  if (select_receives) {
    if (on_x == 1) {
      r = select(recv_case(cx, got[0]), recv_case(y, got[2]));
    } else if (with_y) {
      r = select(recv_case(cx, got[0]), recv_case(cx, got[1]), recv_case(y, got[2]));
    } else {
      r = select(recv_case(cx, got[0]), recv_case(cx, got[1]));
    }
  } else {
    if (on_x == 1) {
      r = select(send_case(cx, 6), send_case(y, 7));
    } else if (with_y) {
      r = select(send_case(cx, 6), send_case(cx, 6), send_case(y, 7));
    } else {
      r = select(send_case(cx, 6), send_case(cx, 6));
    }
  }
  ASSERT_TRUE(peer.joinable()) << "the hook did not fire: the select never enrolled";
  peer.join();
  ASSERT_EQ(r.status, ChanStatus::ok);
  ASSERT_GE(r.index, 0);
  ASSERT_LT(r.index, on_x) << "the peer served x";
  if (select_receives) {
    EXPECT_EQ(got[r.index], 5);
  }
  EXPECT_EQ(detail::ZeroProbe::waiters(zero_of(y)), 0u);
  if (!destroy) {
    EXPECT_EQ(detail::ZeroProbe::waiters(zero_of(cx)), 0u) << "an entry of the finished select is still linked";
    EXPECT_EQ(cx.try_send(1), ChanStatus::would_block);
  }
}

template <class Ch>
class SelectLifetime : public ZeroFlavorLifetime<Ch> {};
TYPED_TEST_SUITE(SelectLifetime, WaitPolicies);

TYPED_TEST(SelectLifetime, PeerOfAReceiveCaseMayDestroyTheChannelBeforeTheSelectWakes) {
  peer_completes_a_select_case<TypeParam>(true, 1, true, PeerAt::sleeping, true);
}
TYPED_TEST(SelectLifetime, PeerOfASendCaseMayDestroyTheChannelBeforeTheSelectWakes) {
  peer_completes_a_select_case<TypeParam>(false, 1, true, PeerAt::sleeping, true);
}
TYPED_TEST(SelectLifetime, PeerOfOneOfTwoCasesOnAChannelMayDestroyItBeforeTheSelectWakes) {
  peer_completes_a_select_case<TypeParam>(true, 2, true, PeerAt::sleeping, true);
  peer_completes_a_select_case<TypeParam>(false, 2, true, PeerAt::sleeping, true);
}
TYPED_TEST(SelectLifetime, PeerOfOneOfTwoCasesOnAChannelMayDestroyItBeforeTheOtherEnrols) {
  peer_completes_a_select_case<TypeParam>(true, 2, false, PeerAt::first_enrolled, true);
  peer_completes_a_select_case<TypeParam>(false, 2, false, PeerAt::first_enrolled, true);
}
TYPED_TEST(SelectLifetime, PeerOfOneOfTwoCasesOnAChannelWaitsWhileTheOtherEnrols) {
  peer_completes_a_select_case<TypeParam>(true, 2, false, PeerAt::second_enrolling, true);
  peer_completes_a_select_case<TypeParam>(false, 2, false, PeerAt::second_enrolling, true);
}
// The peer completing one case on a channel unlinks the select's other
// entries there (the select no longer withdraws from that channel), and a
// select whose round was decided there meanwhile links no new one.
TYPED_TEST(SelectLifetime, NoEntryOfTheSelectStaysOnTheChannelItsPeerServed) {
  for (PeerAt at : {PeerAt::sleeping, PeerAt::first_enrolled, PeerAt::second_enrolling}) {
    peer_completes_a_select_case<TypeParam>(true, 2, at == PeerAt::sleeping, at, false);
    peer_completes_a_select_case<TypeParam>(false, 2, at == PeerAt::sleeping, at, false);
  }
}

// ---- the buffered Channel: a receiver refills the slot it emptied ----

template <class Ch>
class ArrayRefill : public ZeroFlavorLifetime<Ch> {};
TYPED_TEST_SUITE(ArrayRefill, WaitPolicies);

// A sender parked on a full channel (capacity 1); from the moment it is
// about to sleep, its own thread, in the hook, plays the receiver: the recv
// that empties the slot puts the parked sender's value into it before it
// returns, so the value is there at once and the sender wakes with its
// send done. Without the refill the slot is left empty until the sender
// has woken and retried, which on this one thread is after the hook.
TYPED_TEST(ArrayRefill, ARecvThatEmptiesAFullChannelTakesTheParkedSendersValueIntoIt) {
  TypeParam ch(1);
  ASSERT_EQ(ch.send(1), ChanStatus::ok);
  bool fired = false;
  hook::arm("array.sleeping", [&] {
    fired = true;
    EXPECT_EQ(ch.recv(), std::optional<int>(1));
    EXPECT_EQ(ch.size(), 1u) << "the parked sender's value was not put into the emptied slot";
    int v = 0;
    EXPECT_EQ(ch.try_recv(v), ChanStatus::ok);
    EXPECT_EQ(v, 2);
  });
  EXPECT_EQ(ch.send(2), ChanStatus::ok);
  EXPECT_TRUE(fired) << "the sender did not park";
  EXPECT_EQ(ch.size(), 0u);
}

// A timed sender whose deadline passed is still linked when a receiver
// refills from it; that receiver's peer takes the value and destroys the
// channel (its own recv returned, as channel.hpp allows). The sender, now
// claimed, must not touch the channel to withdraw, and its send returned
// ok: the value was delivered. Without the claim, ASan reports a
// heap-use-after-free in the withdrawal (the waker's lock).
TYPED_TEST(ArrayRefill, ARefilledTimedSenderThatTimedOutLeavesTheDestroyedChannelAlone) {
  using namespace std::chrono_literals;
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 20) << "the sender never timed out while parked";
    auto ch = std::make_unique<TypeParam>(1);
    ASSERT_EQ(ch->send(1), ChanStatus::ok);
    TypeParam& c = *ch;
    bool fired = false;
    hook::arm("array.gave_up", [&] {
      fired = true;
      EXPECT_EQ(c.recv(), std::optional<int>(1));  // refills from the timed-out sender
      int v = 0;
      ASSERT_EQ(c.try_recv(v), ChanStatus::ok) << "the parked sender's value was not put into the emptied slot";
      EXPECT_EQ(v, 2);
      ch.reset();
    });
    const ChanStatus st = c.send_for(2, 1ms);
    if (!fired) {  // the deadline passed before the sender parked: try again
      hook::arm("array.gave_up", nullptr);
      ASSERT_EQ(st, ChanStatus::timeout);
      continue;
    }
    EXPECT_EQ(ch, nullptr);
    EXPECT_EQ(st, ChanStatus::ok) << "its value was delivered";
    return;
  }
}

// close() between the receiver's claim of the parked sender and its claim
// of the slot for it: the slot is freed as usual, the sender retries and
// gets closed, and its value is not delivered (nothing after close).
TYPED_TEST(ArrayRefill, CloseBeforeTheRefillClaimsTheSlotFreesItAndTheSenderGetsClosed) {
  TypeParam ch(1);
  ASSERT_EQ(ch.send(1), ChanStatus::ok);
  std::atomic<bool> sleeping{false};
  std::jthread sender([&] {
    hook::arm("array.sleeping", [&] { sleeping.store(true, std::memory_order_release); });
    EXPECT_EQ(ch.send(2), ChanStatus::closed);
  });
  while (!sleeping.load(std::memory_order_acquire)) std::this_thread::yield();
  bool fired = false;
  hook::arm("array.refill", [&] {
    fired = true;
    EXPECT_TRUE(ch.close());
  });
  EXPECT_EQ(ch.recv(), std::optional<int>(1));
  EXPECT_TRUE(fired) << "the receiver did not refill from the parked sender";
  sender.join();
  EXPECT_EQ(ch.recv(), std::nullopt) << "closed and drained: the parked sender's value must not be there";
}

}  // namespace
}  // namespace conpat::test
