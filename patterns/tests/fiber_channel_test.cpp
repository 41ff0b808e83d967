// conpat::FiberChannel (Boost.Fiber): the conformance suite across threads,
// capacity rounding, and channels between fibers of one thread.
//
// Left out of the ThreadSanitizer run (label no_tsan): TSan cannot follow
// Boost.Fiber's context switches (it sees one thread's stack change under
// it) and reports false races or crashes. The release run covers it.
#include "conpat/fiber_channel.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/waiters.hpp"

#include <gtest/gtest.h>

#include <boost/fiber/all.hpp>

#include <numeric>
#include <vector>

#include "channel_conformance.hpp"
#include "channel_stress.hpp"

namespace conpat::test {
namespace {

INSTANTIATE_TYPED_TEST_SUITE_P(Fiber, ChannelConformance, ::testing::Types<Impl<FiberChannel>>);
// conpat::Channel with the fiber waiting policy: the same contract.
INSTANTIATE_TYPED_TEST_SUITE_P(FiberWait, ChannelConformance, ::testing::Types<Impl<FiberWaitChannel>>);

TEST(FiberChannel, CapacityRoundsToPowerOfTwoAndHoldsOneLess) {
  EXPECT_EQ(FiberChannel<int>(1).capacity(), 1u);
  EXPECT_EQ(FiberChannel<int>(16).capacity(), 15u);
  EXPECT_EQ(FiberChannel<int>(17).capacity(), 31u);
  EXPECT_EQ(FiberChannel<int>(0).capacity(), 0u);
  FiberChannel<int> ch(16);
  for (int i = 0; i < 15; ++i) ASSERT_EQ(ch.try_send(i), ChanStatus::ok);
  EXPECT_EQ(ch.try_send(15), ChanStatus::would_block) << "a power-of-two channel holds n - 1";
}

TEST(FiberChannel, FibersOnOneThreadHandOffThroughUnbufferedChannel) {
  FiberChannel<int> ch(0);
  std::vector<int> got;
  boost::fibers::fiber producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(ch.send(i), ChanStatus::ok);
    ch.close();
  });
  boost::fibers::fiber consumer([&] {
    int v = 0;
    while (ch.recv(v) == ChanStatus::ok) got.push_back(v);
  });
  producer.join();
  consumer.join();
  std::vector<int> want(1000);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(got, want);
}

TEST(FiberChannel, TenThousandFibersFanInToOneCollector) {
  constexpr int kFibers = 10000;
  FiberChannel<std::uint64_t> ch(64);
  std::vector<boost::fibers::fiber> workers;
  workers.reserve(kFibers);
  for (int i = 0; i < kFibers; ++i) {
    workers.emplace_back([&ch, i] { ch.send(static_cast<std::uint64_t>(i)); });
  }
  std::uint64_t sum = 0, count = 0, v = 0;
  for (int i = 0; i < kFibers; ++i) {
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    sum += v;
    ++count;
  }
  for (auto& f : workers) f.join();
  EXPECT_EQ(count, static_cast<std::uint64_t>(kFibers));
  EXPECT_EQ(sum, static_cast<std::uint64_t>(kFibers) * (kFibers - 1) / 2);
}

TEST(FiberChannel, StressAcrossThreads) {
  run_stress<FiberChannel<std::uint64_t>>(16, 4, 4, kStressItems / 4);
  run_stress<FiberChannel<std::uint64_t>>(0, 2, 2, kStressItems / 20);
}

TEST(FiberWaitGroup, WaitsForEveryFiberOnOneThread) {
  FiberWaitGroup wg;
  constexpr int kFibers = 1000;
  std::vector<int> results(kFibers, 0);
  wg.arm(kFibers);
  std::vector<boost::fibers::fiber> fs;
  for (int i = 0; i < kFibers; ++i) {
    fs.emplace_back([&, i] {
      boost::this_fiber::yield();
      results[static_cast<std::size_t>(i)] = i + 1;
      wg.done();
    });
  }
  wg.wait();
  for (int i = 0; i < kFibers; ++i) ASSERT_EQ(results[static_cast<std::size_t>(i)], i + 1);
  for (auto& f : fs) f.join();
}

TEST(FiberWaitGroup, WorksAcrossThreads) {
  FiberWaitGroup wg;
  wg.arm(4);
  std::vector<std::jthread> ts;
  std::atomic<int> n{0};
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      n.fetch_add(1);
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(n.load(), 4);
}

// Channel<T, FiberWait>: a blocked operation suspends its fiber, so two
// fibers on one thread (which a blocked OS thread would deadlock) hand every
// value across, buffered and unbuffered.
TEST(FiberWaitChannel, FibersOnOneThreadHandOffEveryValueInOrder) {
  for (std::size_t cap : {0, 1, 16}) {
    FiberWaitChannel<int> ch(cap);
    std::vector<int> got;
    boost::fibers::fiber producer([&] {
      for (int i = 0; i < 5000; ++i) ASSERT_EQ(ch.send(i), ChanStatus::ok);
      ch.close();
    });
    boost::fibers::fiber consumer([&] {
      for (int v : ch) got.push_back(v);
    });
    producer.join();
    consumer.join();
    std::vector<int> want(5000);
    std::iota(want.begin(), want.end(), 0);
    EXPECT_EQ(got, want) << "capacity " << cap;
  }
}

TEST(FiberWaitChannel, TenThousandFibersFanInToOneCollector) {
  constexpr int kFibers = 10000;
  FiberWaitChannel<std::uint64_t> ch(64);
  std::vector<boost::fibers::fiber> workers;
  workers.reserve(kFibers);
  for (int i = 0; i < kFibers; ++i) {
    workers.emplace_back([&ch, i] { ch.send(static_cast<std::uint64_t>(i)); });
  }
  std::uint64_t sum = 0, v = 0;
  for (int i = 0; i < kFibers; ++i) {
    ASSERT_EQ(ch.recv(v), ChanStatus::ok);
    sum += v;
  }
  for (auto& f : workers) f.join();
  EXPECT_EQ(sum, static_cast<std::uint64_t>(kFibers) * (kFibers - 1) / 2);
}

TEST(FiberWaitChannel, TimedRecvOnOneThreadTimesOutWhileOtherFibersRun) {
  FiberWaitChannel<int> ch(1);
  int ticks = 0;
  boost::fibers::fiber ticker([&] {
    for (int i = 0; i < 100; ++i) {
      ++ticks;
      boost::this_fiber::yield();
    }
  });
  int v = 0;
  EXPECT_EQ(ch.recv_for(v, std::chrono::milliseconds(20)), ChanStatus::timeout);
  ticker.join();
  EXPECT_EQ(ticks, 100) << "the waiting fiber let the other fiber of its thread run";
}

TEST(FiberWaitChannel, StressAcrossThreads) {
  run_stress<FiberWaitChannel<std::uint64_t>>(16, 4, 4, kStressItems / 4);
  run_stress<FiberWaitChannel<std::uint64_t>>(1, 2, 2, kStressItems / 20);
  run_stress<FiberWaitChannel<std::uint64_t>>(0, 2, 2, kStressItems / 20);
}

}  // namespace
}  // namespace conpat::test
