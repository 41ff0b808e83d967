// conpat::WaitGroup: counter rules, waking, timeouts, reuse.
#include "conpat/wait_group.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <limits>
#include <memory>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "destroy_after.hpp"

namespace conpat::test {
namespace {

using namespace std::chrono_literals;

TEST(WaitGroup, WaitOnZeroCounterReturnsAtOnce) {
  WaitGroup wg;
  wg.wait();
  EXPECT_TRUE(wg.wait_for(0ms));
}

TEST(WaitGroup, NegativeCounterThrowsAndLeavesCounterUnchanged) {
  WaitGroup wg;
  EXPECT_THROW(wg.done(), std::logic_error);
  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  wg.done();
  EXPECT_FALSE(wg.wait_for(1ms)) << "the failed add(-3) must not have changed the counter";
  wg.done();
  EXPECT_TRUE(wg.wait_for(0ms));
}

TEST(WaitGroup, WaitForTimesOutWhileWorkIsOutstanding) {
  WaitGroup wg;
  wg.add();
  EXPECT_FALSE(wg.wait_for(5ms));
  EXPECT_FALSE(wg.wait_for(-1ms));
  wg.done();
  EXPECT_TRUE(wg.wait_for(5s));
}

TEST(WaitGroup, WaitSeesEveryWorkersWrites) {
  constexpr int kWorkers = 16;
  WaitGroup wg;
  std::vector<int> results(kWorkers, 0);  // plain ints: WaitGroup provides the ordering
  std::vector<std::jthread> workers;
  wg.add(kWorkers);
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = i * i;
      wg.done();
    });
  }
  wg.wait();
  for (int i = 0; i < kWorkers; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], i * i);
}

TEST(WaitGroup, ParkedWaitersAllWake) {
  WaitGroup wg;
  wg.add();
  std::atomic<int> woke{0};
  std::vector<std::jthread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      wg.wait();
      woke.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(50ms);  // long enough for the waiters to park
  EXPECT_EQ(woke.load(), 0);
  wg.done();
  waiters.clear();
  EXPECT_EQ(woke.load(), 4);
}

TEST(WaitGroup, WaitForReturnsTrueWhenWorkFinishesInTime) {
  WaitGroup wg;
  wg.add();
  std::jthread worker([&] {
    std::this_thread::sleep_for(5ms);
    wg.done();
  });
  EXPECT_TRUE(wg.wait_for(20s));
}

TEST(WaitGroup, ReusableAfterReachingZero) {
  WaitGroup wg;
  for (int round = 0; round < 100; ++round) {
    std::atomic<int> finished{0};
    wg.add(3);
    std::vector<std::jthread> ws;
    for (int i = 0; i < 3; ++i) {
      ws.emplace_back([&] {
        finished.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    ASSERT_EQ(finished.load(), 3) << "round " << round;
  }
}

TEST(WaitGroup, ContendedAddAndDoneBalance) {
  WaitGroup wg;
  constexpr int kThreads = 8, kOps = 20000;
  std::vector<std::jthread> ts;
  wg.add(1);  // keeps the counter above zero during the churn
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < kOps; ++i) {
        wg.add(1);
        wg.done();
      }
    });
  }
  ts.clear();
  EXPECT_FALSE(wg.wait_for(0ms));
  wg.done();
  EXPECT_TRUE(wg.wait_for(0ms));
}

// Go's idiom: the waiter returns and the WaitGroup goes out of scope while
// the last done() may still be returning. done() must not touch the object
// after the update that lets wait() see zero.
TEST(WaitGroup, WaiterMayDestroyItAsSoonAsWaitReturns) {
  destroy_right_after<WaitGroup>(
      kLifetimeRounds,
      [] {
        auto wg = std::make_unique<WaitGroup>();
        wg->add(1);
        return wg;
      },
      [](WaitGroup& wg) { wg.done(); }, [](WaitGroup& wg) { wg.wait(); });
}

TEST(WaitGroup, CounterOverflowThrowsAndLeavesCounterUnchanged) {
  WaitGroup wg;
  constexpr auto kHuge = std::numeric_limits<std::ptrdiff_t>::max();
  EXPECT_THROW({
    wg.add(kHuge);
    wg.add(kHuge);
  }, std::logic_error);
  EXPECT_TRUE(wg.wait_for(0ms)) << "a refused add must not change the counter";
  wg.add(WaitGroup::kMaxCount);
  EXPECT_THROW(wg.add(1), std::logic_error);
  wg.add(-WaitGroup::kMaxCount);
  EXPECT_TRUE(wg.wait_for(0ms));
}

}  // namespace
}  // namespace conpat::test
