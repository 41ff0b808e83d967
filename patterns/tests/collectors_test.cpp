// Every collector and every way of waiting, under contention: 8 threads and
// 10^6 updates must give the exact total, every round must complete, and
// ThreadSanitizer must stay clean. Layout (padded slots a cache line apart)
// is checked by static_assert in collectors.hpp and below, not by timing.
#include "conpat/collectors.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "conpat/padding.hpp"
#include "conpat/waiters.hpp"

namespace conpat::test {
namespace {

constexpr int kThreads = 8;
constexpr std::uint64_t kUpdates = 1'000'000;

template <class C>
class Collectors : public ::testing::Test {};
using CollectorTypes =
    ::testing::Types<MutexVector, Slots<layout::Packed>, Slots<layout::Padded>, AtomicAdd, AtomicCas, MutexSum, SpinlockSum,
                     Sharded<layout::Packed>, Sharded<layout::Padded>, ThreadLocalMerge, TbbCombinable,
                     TbbEnumerableTls, ChannelCollector>;
TYPED_TEST_SUITE(Collectors, CollectorTypes);

TYPED_TEST(Collectors, ContendedUpdatesGiveTheExactTotal) {
  TypeParam c(kThreads);
  const std::uint64_t per = kUpdates / kThreads;
  {
    std::vector<std::jthread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&c, t, per] {
        auto w = static_cast<std::size_t>(t);
        for (std::uint64_t i = 0; i < per; ++i) c.add(w, (static_cast<std::uint64_t>(t) << 32) + i);
        c.finish(w);
      });
    }
  }  // joined: every finish() happens-before total()
  std::uint64_t want = 0;
  for (int t = 0; t < kThreads; ++t) want += per * (static_cast<std::uint64_t>(t) << 32) + per * (per - 1) / 2;
  EXPECT_EQ(c.total(), want);
}

TYPED_TEST(Collectors, NoUpdatesGiveZero) {
  TypeParam c(3);
  for (std::size_t w = 0; w < 3; ++w) c.finish(w);
  EXPECT_EQ(c.total(), 0u);
}

template <class W>
class Waiters : public ::testing::Test {};
using WaiterTypes = ::testing::Types<WaitGroupWaiter, CondVarWaiter, LatchWaiter, SpinWaiter>;
TYPED_TEST_SUITE(Waiters, WaiterTypes);

TYPED_TEST(Waiters, EveryRoundCompletesAndSeesEveryWorkersResult) {
  TypeParam waiter;
  constexpr int kRounds = 200;
  std::vector<std::uint64_t> results(kThreads);  // plain: the waiter orders them
  for (int round = 1; round <= kRounds; ++round) {
    waiter.arm(kThreads);
    std::vector<std::jthread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        results[static_cast<std::size_t>(t)] = static_cast<std::uint64_t>(round * 100 + t);
        waiter.done();
      });
    }
    waiter.wait();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(results[static_cast<std::size_t>(t)], static_cast<std::uint64_t>(round * 100 + t)) << round;
    }
  }
}

TYPED_TEST(Waiters, CollectsUnderContention) {
  TypeParam waiter;
  AtomicAdd sum(kThreads);
  waiter.arm(kThreads);
  std::vector<std::jthread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < kUpdates / kThreads; ++i) sum.add(static_cast<std::size_t>(t), 1);
      waiter.done();
    });
  }
  waiter.wait();
  EXPECT_EQ(sum.total(), kUpdates);
}

static_assert(sizeof(Padded<std::uint64_t>) == kCacheLine);
static_assert(sizeof(layout::Padded128::Cell<std::uint64_t>) == 2 * kCacheLine);

}  // namespace
}  // namespace conpat::test
