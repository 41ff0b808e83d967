// conpat::ErrGroup: first error sticky, stop on error, limit, joins.
#include "conpat/err_group.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "conpat/wait_group.hpp"

namespace conpat::test {
namespace {

using namespace std::chrono_literals;

TEST(ErrGroup, WaitReturnsNormallyWhenNoTaskThrows) {
  ErrGroup g;
  std::atomic<int> ran{0};
  for (int i = 0; i < 8; ++i) g.go([&] { ran.fetch_add(1); });
  EXPECT_NO_THROW(g.wait());
  EXPECT_EQ(ran.load(), 8);
  EXPECT_TRUE(g.stop_token().stop_requested()) << "stop is requested when wait() returns";
}

TEST(ErrGroup, FirstExceptionIsRethrownAndSticky) {
  ErrGroup g;
  conpat::WaitGroup first_thrown;
  first_thrown.add();
  g.go([&] {
    first_thrown.done();
    throw std::runtime_error("first");
  });
  first_thrown.wait();
  // Wait until the first task has been recorded before the second throws.
  while (!g.stop_token().stop_requested()) std::this_thread::yield();
  g.go([] { throw std::runtime_error("second"); });
  for (int round = 0; round < 3; ++round) {
    try {
      g.wait();
      FAIL() << "wait() must rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "first") << "round " << round;
    }
  }
}

TEST(ErrGroup, StopIsRequestedOnFirstExceptionAndReachesOtherTasks) {
  ErrGroup g;
  std::atomic<bool> saw_stop{false};
  g.go([&](std::stop_token st) {
    while (!st.stop_requested()) std::this_thread::sleep_for(100us);
    saw_stop.store(true);
  });
  g.go([] { throw std::logic_error("boom"); });
  EXPECT_THROW(g.wait(), std::logic_error);
  EXPECT_TRUE(saw_stop.load());
}

TEST(ErrGroup, LimitIsHonoured) {
  ErrGroup g;
  g.set_limit(2);
  std::atomic<int> running{0}, peak{0}, ran{0};
  for (int i = 0; i < 12; ++i) {
    g.go([&] {
      int now = running.fetch_add(1) + 1;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {}
      std::this_thread::sleep_for(2ms);
      running.fetch_sub(1);
      ran.fetch_add(1);
    });
  }
  g.wait();
  EXPECT_EQ(ran.load(), 12);
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST(ErrGroup, TryGoRefusesAtTheLimitWithoutStartingTheTask) {
  ErrGroup g;
  g.set_limit(1);
  WaitGroup release;
  release.add();
  std::atomic<int> started{0};
  ASSERT_TRUE(g.try_go([&] {
    started.fetch_add(1);
    release.wait();
  }));
  EXPECT_FALSE(g.try_go([&] { started.fetch_add(1); }));
  release.done();
  g.wait();
  EXPECT_EQ(started.load(), 1);
  ErrGroup unlimited;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(unlimited.try_go([] {}));
  unlimited.wait();
}

TEST(ErrGroup, DestructorRequestsStopAndJoinsEveryTask) {
  std::atomic<int> finished{0};
  std::stop_token token;
  {
    ErrGroup g;
    token = g.stop_token();
    for (int i = 0; i < 4; ++i) {
      g.go([&](std::stop_token st) {
        while (!st.stop_requested()) std::this_thread::sleep_for(100us);
        finished.fetch_add(1);
      });
    }
  }  // must not hang (stop is requested) and must not leave tasks running
  EXPECT_EQ(finished.load(), 4);
  EXPECT_TRUE(token.stop_requested());
}

TEST(ErrGroup, DestructorSwallowsUncollectedException) {
  EXPECT_NO_THROW({
    ErrGroup g;
    g.go([] { throw std::runtime_error("never collected"); });
  });
}

TEST(ErrGroup, NonStdExceptionIsCarriedToo) {
  ErrGroup g;
  g.go([] { throw 42; });
  try {
    g.wait();
    FAIL() << "wait() must rethrow";
  } catch (int v) {
    EXPECT_EQ(v, 42);
  }
}

}  // namespace
}  // namespace conpat::test
