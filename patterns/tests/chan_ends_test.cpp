// SendEnd / RecvEnd (conpat/chan_ends.hpp): each end compiles only its own
// side's operations (Go's `chan<- T` and `<-chan T`), converts implicitly
// from a Channel, is cheap to copy, and forwards every operation unchanged.
#include "conpat/chan_ends.hpp"
#include "conpat/fiber_wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <vector>

namespace conpat {
inline void PrintTo(ChanStatus s, std::ostream* os) { *os << to_string(s); }
}  // namespace conpat

namespace conpat::test {
namespace {

using namespace std::chrono_literals;

// What an end lets a caller write.
template <class E>
concept CanSend = requires(const E& e, typename E::value_type v, std::stop_token st) {
  e.send(std::move(v));
  e.send(std::move(v), st);
  e.try_send(std::move(v));
  e.send_for(std::move(v), 1ms);
  e.send_until(std::move(v), std::chrono::steady_clock::now());
};
template <class E>
concept CanSendAny = requires(const E& e, typename E::value_type v) { e.send(std::move(v)); } ||
                     requires(const E& e, typename E::value_type v) { e.try_send(std::move(v)); } ||
                     requires(const E& e, typename E::value_type v) { e.send_for(std::move(v), 1ms); };
template <class E>
concept CanRecv = requires(const E& e, typename E::value_type& out, std::stop_token st) {
  e.recv(out);
  e.recv(out, st);
  e.try_recv(out);
  e.recv_for(out, 1ms);
  e.recv_until(out, std::chrono::steady_clock::now());
  e.recv();
  e.begin();
};
template <class E>
concept CanRecvAny = requires(const E& e, typename E::value_type& out) { e.recv(out); } ||
                     requires(const E& e) { e.recv(); } ||
                     requires(const E& e, typename E::value_type& out) { e.try_recv(out); } ||
                     requires(const E& e, typename E::value_type& out) { e.recv_for(out, 1ms); } ||
                     requires(const E& e) { e.begin(); };
template <class E>
concept CanClose = requires(const E& e) { e.close(); };

template <class Wait>
constexpr bool directions_hold() {
  using Tx = SendEnd<int, Wait>;
  using Rx = RecvEnd<int, Wait>;
  using Ch = Channel<int, Wait>;
  static_assert(CanSend<Tx> && CanClose<Tx>, "a send end sends and closes");
  static_assert(!CanRecvAny<Tx>, "receiving from a send end must not compile");
  static_assert(CanRecv<Rx>, "a receive end receives");
  static_assert(!CanSendAny<Rx>, "sending on a receive end must not compile");
  static_assert(!CanClose<Rx>, "closing belongs to the sending side, as in Go");
  static_assert(std::is_convertible_v<Ch&, Tx> && std::is_convertible_v<Ch&, Rx>,
                "a Channel converts implicitly to either end, as Go's chan T does");
  static_assert(!std::is_convertible_v<Tx, Rx> && !std::is_convertible_v<Rx, Tx>,
                "one end never converts to the other");
  static_assert(!std::is_constructible_v<Tx, Ch&&> && !std::is_constructible_v<Rx, Ch&&>,
                "an end of a temporary channel would dangle");
  static_assert(!std::is_convertible_v<const Ch&, Tx> && !std::is_convertible_v<const Ch&, Rx>,
                "an end needs a mutable channel");
  static_assert(std::is_nothrow_copy_constructible_v<Tx> && std::is_nothrow_copy_constructible_v<Rx>);
  static_assert(sizeof(Tx) <= 3 * sizeof(void*) && sizeof(Rx) <= 3 * sizeof(void*),
                "an end is a pointer and an (empty unless owning) shared owner");
  return true;
}
static_assert(directions_hold<ThreadWait>());
static_assert(directions_hold<FiberWait>());

// A function that takes a send end accepts a Channel (the implicit conversion).
int produce(SendEnd<int> tx, int n) {
  int sent = 0;
  for (int i = 0; i < n; ++i) sent += tx.send(i) == ChanStatus::ok;
  tx.close();
  return sent;
}
long long consume(RecvEnd<int> rx) {
  long long sum = 0;
  for (int v : rx) sum += v;
  return sum;
}

TEST(ChanEnds, ProducerAndConsumerThroughEndsSeeEveryValueInOrder) {
  Channel<int> ch(4);
  int sent = 0;
  std::thread producer([&] { sent = produce(ch, 1000); });
  std::vector<int> got;
  RecvEnd<int> rx = ch;
  for (int v : rx) got.push_back(v);
  producer.join();
  ASSERT_EQ(sent, 1000);
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(ChanEnds, CloseThroughSendEndIsSeenByReceiveEnd) {
  Channel<int> ch(2);
  SendEnd<int> tx = send_end(ch);
  RecvEnd<int> rx = recv_end(ch);
  ASSERT_EQ(tx.try_send(7), ChanStatus::ok);
  EXPECT_TRUE(tx.close());
  EXPECT_FALSE(tx.close()) << "a second close reports that it was already closed";
  EXPECT_TRUE(rx.is_closed());
  int v = 0;
  EXPECT_EQ(rx.recv(v), ChanStatus::ok);
  EXPECT_EQ(v, 7);
  EXPECT_EQ(rx.recv(v), ChanStatus::closed);
  EXPECT_EQ(tx.send(1), ChanStatus::closed);
}

TEST(ChanEnds, TimedTryAndCancellableFormsForwardTheChannelsStatuses) {
  Channel<int> ch(1);
  SendEnd<int> tx = ch;
  RecvEnd<int> rx = ch;
  int v = 0;
  EXPECT_EQ(rx.try_recv(v), ChanStatus::would_block);
  EXPECT_EQ(rx.recv_for(v, 1ms), ChanStatus::timeout);
  EXPECT_EQ(rx.recv_until(v, std::chrono::steady_clock::now() + 1ms), ChanStatus::timeout);
  EXPECT_EQ(tx.send_for(1, 1ms), ChanStatus::ok);
  EXPECT_EQ(tx.try_send(2), ChanStatus::would_block);
  EXPECT_EQ(tx.send_until(2, std::chrono::steady_clock::now() + 1ms), ChanStatus::timeout);
  EXPECT_EQ(tx.size(), 1u);
  EXPECT_EQ(rx.capacity(), 1u);
  std::stop_source src;
  src.request_stop();
  EXPECT_EQ(tx.send(3, src.get_token()), ChanStatus::cancelled);
  auto got = rx.recv();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, 1);
  EXPECT_EQ(rx.recv(v, src.get_token()), ChanStatus::cancelled);
}

TEST(ChanEnds, CopiesReferToTheSameChannelAndDefaultEndsToNone) {
  Channel<int> a(1), b(1);
  SendEnd<int> none;
  EXPECT_FALSE(none.valid());
  SendEnd<int> ta = a, tb = b, copy = ta;
  EXPECT_TRUE(copy.valid());
  EXPECT_TRUE(copy == ta);
  EXPECT_FALSE(ta == tb);
  ASSERT_EQ(copy.try_send(5), ChanStatus::ok);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.size(), 0u);
}

TEST(ChanEnds, MoveOnlyValuesPassThroughEnds) {
  Channel<std::unique_ptr<int>> ch(1);
  SendEnd<std::unique_ptr<int>> tx = ch;
  RecvEnd<std::unique_ptr<int>> rx = ch;
  ASSERT_EQ(tx.send(std::make_unique<int>(42)), ChanStatus::ok);
  std::unique_ptr<int> out;
  ASSERT_EQ(rx.recv(out), ChanStatus::ok);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(*out, 42);
}

TEST(ChanEnds, UnbufferedHandOffThroughEnds) {
  Channel<int> ch(0);
  long long sum = 0;
  std::thread consumer([&] { sum = consume(ch); });
  EXPECT_EQ(produce(ch, 100), 100);
  consumer.join();
  EXPECT_EQ(sum, 99 * 100 / 2);
}

}  // namespace
}  // namespace conpat::test
