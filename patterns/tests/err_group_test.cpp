// conpat::ErrGroup: first error sticky, stop on error, limit, joins.
#include "conpat/err_group.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <fstream>
#include <latch>
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

TEST(ErrGroup, EveryConcurrentWaitReturnsOnlyAfterTheTasksFinish) {
  ErrGroup g;
  std::latch release(1);
  std::atomic<bool> finished{false};
  g.go([&] {
    release.wait();
    finished.store(true);
  });
  std::atomic<bool> first_saw{false}, second_saw{false};
  std::thread first([&] {
    g.wait();
    first_saw.store(finished.load());
  });
  std::this_thread::sleep_for(20ms);  // lets the first wait() take the threads to join
  std::thread second([&] {
    g.wait();
    second_saw.store(finished.load());
  });
  std::this_thread::sleep_for(20ms);
  release.count_down();
  first.join();
  second.join();
  EXPECT_TRUE(first_saw.load());
  EXPECT_TRUE(second_saw.load()) << "a wait() must not return while a task is still running";
}

TEST(ErrGroup, WaitFromOwnTaskThrowsInsteadOfWaitingForItself) {
  ErrGroup g;
  g.go([&] { g.wait(); });
  EXPECT_THROW(g.wait(), std::logic_error);
}

TEST(ErrGroupDeathTest, DestroyedByOwnTaskTerminatesWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* g = new ErrGroup;
        g->go([g] { delete g; });
        std::this_thread::sleep_for(10s);  // the task's delete ends the process first
      },
      "destroyed by one of its own tasks");
}

// Mappings of this process: each unjoined thread keeps its stack mapped.
std::size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

TEST(ErrGroup, LongLivedGroupJoinsFinishedTasksWithoutWait) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer maps memory of its own for every thread, so the mapping count says nothing "
                  "here; the release and ASan runs check it";
#endif
  ErrGroup g;
  auto run_one = [&] {
    std::latch ran(1);
    g.go([&] { ran.count_down(); });
    ran.wait();
  };
  for (int i = 0; i < 4; ++i) run_one();  // warm the thread-stack cache
  const std::size_t before = mapping_count();
  for (int i = 0; i < 200; ++i) run_one();
  const std::size_t after = mapping_count();
  EXPECT_LT(after, before + 20) << "finished tasks' threads must not pile up until wait()";
  g.wait();
}

}  // namespace
}  // namespace conpat::test
