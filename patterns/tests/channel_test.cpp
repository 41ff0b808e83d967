// The conformance suite over every channel implementation TSan can follow,
// plus what only the Go-semantics Channel offers (size(), optional recv(),
// range-for, deadlines on any clock). Boost.Fiber: fiber_channel_test.cpp.
#include "conpat/channel.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/spsc_ring.hpp"
#include "conpat/tbb_channel.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channel_conformance.hpp"
#include "ring_types.hpp"

namespace conpat::test {
namespace {

using Implementations = ::testing::Types<Impl<Channel>, Impl<SpscPacked>, Impl<SpscPadded>, Impl<MpmcPacked>,
                                         Impl<MpmcPadded>, Impl<TbbChannel>>;
INSTANTIATE_TYPED_TEST_SUITE_P(All, ChannelConformance, Implementations);

TEST(Rings, MpmcCapacityRoundsUpToPowerOfTwo) {
  MpmcRing<int> ring(5);
  EXPECT_EQ(ring.capacity(), 8u);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(ring.try_send(i), ChanStatus::ok);
  EXPECT_EQ(ring.try_send(8), ChanStatus::would_block);
}

TEST(Rings, SpscCapacityIsExact) {
  SpscRing<int> ring(5);
  EXPECT_EQ(ring.capacity(), 5u);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(ring.try_send(i), ChanStatus::ok);
  EXPECT_EQ(ring.try_send(5), ChanStatus::would_block);
  EXPECT_EQ(ring.size(), 5u);
}

TEST(Rings, ZeroCapacityIsRejectedWhereThereIsNoUnbufferedMode) {
  EXPECT_THROW(SpscRing<int>(0), std::invalid_argument);
  EXPECT_THROW(MpmcRing<int>(0), std::invalid_argument);
  EXPECT_THROW(TbbChannel<int>(0), std::invalid_argument);
}

TEST(Rings, MpmcValuesSentBeforeCloseAreDrainedThenClosed) {
  MpmcRing<int> ring(4);
  ring.send(1);
  ring.send(2);
  ring.close();
  EXPECT_EQ(ring.send(3), ChanStatus::closed);
  int v = 0;
  EXPECT_EQ(ring.recv(v), ChanStatus::ok);
  EXPECT_EQ(ring.recv(v), ChanStatus::ok);
  EXPECT_EQ(ring.recv(v), ChanStatus::closed);
}

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

// A value aligned beyond a cache line: each construction checks its address.
struct alignas(256) OverAligned {
  static inline std::atomic<int> misaligned{0};
  std::uint64_t v = 0;
  OverAligned() = default;
  explicit OverAligned(std::uint64_t x) : v(x) { check(); }
  OverAligned(OverAligned&& o) noexcept : v(o.v) { check(); }
  OverAligned& operator=(OverAligned&& o) noexcept {
    v = o.v;
    check();
    return *this;
  }
  void check() const {
    if (reinterpret_cast<std::uintptr_t>(this) % alignof(OverAligned) != 0) misaligned.fetch_add(1);
  }
};

template <class Ring>
void over_aligned_values_stay_aligned() {
  OverAligned::misaligned = 0;
  std::vector<std::unique_ptr<Ring>> rings;  // several: one allocation may be aligned by luck
  for (int r = 0; r < 8; ++r) rings.push_back(std::make_unique<Ring>(3));
  for (auto& ring : rings) {
    for (std::uint64_t i = 0; i < 7; ++i) {  // wraps the ring
      ASSERT_EQ(ring->send(OverAligned(i)), ChanStatus::ok);
      OverAligned out;
      ASSERT_EQ(ring->recv(out), ChanStatus::ok);
      EXPECT_EQ(out.v, i);
    }
  }
  EXPECT_EQ(OverAligned::misaligned.load(), 0) << "values constructed in the ring at misaligned addresses";
}

TEST(Rings, OverAlignedValuesAreStoredAlignedInSpscRing) {
  over_aligned_values_stay_aligned<SpscRing<OverAligned, layout::Packed>>();
  over_aligned_values_stay_aligned<SpscRing<OverAligned, layout::Padded>>();
}

TEST(Rings, OverAlignedValuesAreStoredAlignedInMpmcRing) {
  over_aligned_values_stay_aligned<MpmcRing<OverAligned, layout::Packed>>();
  over_aligned_values_stay_aligned<MpmcRing<OverAligned, layout::Padded>>();
}

TEST(Channel, DeadlineAtTheMinimumOfAnyClockIsAlreadyPast) {
  Channel<int> ch(1);
  auto answer = std::async(std::launch::async, [&] {
    int v = 0;
    return ch.recv_until(v, std::chrono::system_clock::time_point::min());
  });
  if (answer.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ch.close();  // frees the stuck receiver so the test ends
    FAIL() << "recv_until(system_clock min) blocked instead of answering timeout";
  }
  EXPECT_EQ(answer.get(), ChanStatus::timeout);
  EXPECT_EQ(ch.send_until(1, std::chrono::system_clock::time_point::min()), ChanStatus::ok)
      << "a past deadline still sends into free buffer space";
}


// Whether the waits spin is a property of the process, read when it starts:
// a thread pinned to one CPU that is the first to ask still spins when the
// process has other CPUs (its peers run there). ctest runs each test in a
// process of its own, so here this thread is the first to ask; before the
// fix the answer came from its own one-CPU mask (and on a machine with
// more than one CPU no wait in the process ever spun).
TEST(SpinPolicy, MultiCpuIsTheProcessesNotThePinnedFirstCallers) {
  cpu_set_t all;
  CPU_ZERO(&all);
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  const bool expected = CPU_COUNT(&all) > 1;
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  bool seen = !expected;
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
    seen = detail::multi_cpu();
  });
  pinned.join();
  EXPECT_EQ(seen, expected) << "CPUs allowed at start: " << CPU_COUNT(&all);
}

}  // namespace
}  // namespace conpat::test
