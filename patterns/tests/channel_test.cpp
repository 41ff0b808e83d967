// conpat::Channel: the conformance suite, plus what only the Go-semantics
// channel offers (size(), optional recv(), range-for, deadlines on any clock).
#include "conpat/channel.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channel_conformance.hpp"

namespace conpat::test {
namespace {

INSTANTIATE_TYPED_TEST_SUITE_P(Channel, ChannelConformance, ::testing::Types<Impl<Channel>>);

TEST(Channel, SizeCountsBufferedValuesAndIsZeroWhenUnbuffered) {
  Channel<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3u);
  EXPECT_EQ(ch.size(), 0u);
  ch.send(1);
  ch.send(2);
  EXPECT_EQ(ch.size(), 2u);
  Channel<int> unbuffered;
  EXPECT_EQ(unbuffered.capacity(), 0u);
  std::jthread sender([&] { unbuffered.send(1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(unbuffered.size(), 0u) << "a parked sender's value is not buffered";
  EXPECT_EQ(unbuffered.recv(), std::optional<int>(1));
}

TEST(Channel, OptionalRecvReturnsNulloptOnceClosedAndDrained) {
  Channel<std::string> ch(2);
  ch.send("a");
  ch.close();
  EXPECT_EQ(ch.recv(), std::optional<std::string>("a"));
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.recv(), std::nullopt);
}

TEST(Channel, RangeForReceivesEverythingUntilClosed) {
  Channel<int> ch(4);
  std::jthread producer([&] {
    for (int i = 1; i <= 100; ++i) ch.send(i);
    ch.close();
  });
  std::vector<int> got;
  for (int v : ch) got.push_back(v);
  std::vector<int> want(100);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(got, want);
}

TEST(Channel, RangeForOverClosedEmptyChannelRunsZeroTimes) {
  Channel<int> ch(1);
  ch.close();
  int iterations = 0;
  for ([[maybe_unused]] int v : ch) ++iterations;
  EXPECT_EQ(iterations, 0);
}

TEST(Channel, DeadlinesWorkOnAnyClock) {
  Channel<int> ch(1);
  int v = 0;
  EXPECT_EQ(ch.recv_until(v, std::chrono::system_clock::now() + std::chrono::milliseconds(2)),
            ChanStatus::timeout);
  EXPECT_EQ(ch.recv_until(v, std::chrono::steady_clock::now() - std::chrono::seconds(1)),
            ChanStatus::timeout);
  EXPECT_EQ(ch.send_until(5, std::chrono::system_clock::now() - std::chrono::seconds(1)), ChanStatus::ok);
  EXPECT_EQ(ch.send_until(6, std::chrono::steady_clock::now() + std::chrono::milliseconds(2)),
            ChanStatus::timeout);
  EXPECT_EQ(ch.recv_until(v, std::chrono::steady_clock::now() + std::chrono::seconds(5)), ChanStatus::ok);
  EXPECT_EQ(v, 5);
}

TEST(Channel, HugeTimeoutMeansNoLimitRatherThanOverflow) {
  Channel<int> ch(1);
  ch.send(1);
  int v = 0;
  EXPECT_EQ(ch.recv_for(v, std::chrono::nanoseconds::max()), ChanStatus::ok);
  EXPECT_EQ(ch.send_for(2, std::chrono::hours::max()), ChanStatus::ok);
}

TEST(Channel, TimedRecvGetsValueSentWhileWaiting) {
  Channel<int> ch(0);
  std::jthread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ch.send(77);
  });
  int v = 0;
  EXPECT_EQ(ch.recv_for(v, std::chrono::seconds(20)), ChanStatus::ok);
  EXPECT_EQ(v, 77);
}

TEST(Channel, ValuesLeftInBufferAreDestroyed) {
  auto token = std::make_shared<int>(0);
  {
    Channel<std::shared_ptr<int>> ch(4);
    ch.send(token);
    ch.send(token);
    EXPECT_EQ(token.use_count(), 3);
  }
  EXPECT_EQ(token.use_count(), 1);
}

}  // namespace
}  // namespace conpat::test
