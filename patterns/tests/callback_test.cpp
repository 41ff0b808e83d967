// The seed's third pattern and its traps, each shown and then fixed:
//  - an exception escaping a std::thread ends the process (a death test);
//    the same exception through ErrGroup, a future, packaged_task or a
//    Chain reaches the waiter;
//  - a loop variable captured by reference is read after the loop moved on
//    (deterministic: a barrier orders every read after the loop, so there is
//    no data race and the test runs under TSan too); capture by value fixes it;
//  - errors as values (error_code, Expected) and the chain that carries the
//    first failure to its end.
#include "conpat/callback.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "conpat/err_group.hpp"
#include "conpat/result.hpp"

namespace conpat::test {
namespace {

TEST(UncaughtOnAnotherThreadDeathTest, ExceptionEscapingPlainThreadTerminatesTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        try {
          std::thread t([] { throw std::runtime_error("escaped"); });
          t.join();
        } catch (...) {
          // Unreachable: the exception never crosses to this thread.
        }
      },
      "");
}

TEST(ExceptionTransport, ErrGroupCarriesItToWait) {
  ErrGroup g;
  g.go([] { throw std::runtime_error("escaped"); });
  EXPECT_THROW(g.wait(), std::runtime_error);
}

TEST(ExceptionTransport, FutureCarriesItToGet) {
  auto f = std::async(std::launch::async, []() -> int { throw std::runtime_error("escaped"); });
  EXPECT_THROW(f.get(), std::runtime_error);
}

TEST(ExceptionTransport, PackagedTaskAndPromiseCarryIt) {
  std::packaged_task<int()> task([]() -> int { throw std::out_of_range("escaped"); });
  auto f = task.get_future();
  std::thread(std::move(task)).join();
  EXPECT_THROW(f.get(), std::out_of_range);

  std::promise<int> p;
  auto pf = p.get_future();
  std::thread([&p] {
    try {
      throw std::logic_error("escaped");
    } catch (...) {
      p.set_exception(std::current_exception());
    }
  }).join();
  EXPECT_THROW(pf.get(), std::logic_error);
}

TEST(Chain, PassesValuesThroughEverySteps) {
  auto f = chain([] { return 2; }).then([](int x) { return x * 10; }).then([](int x) { return std::to_string(x); }).launch();
  EXPECT_EQ(f.get(), "20");
}

TEST(Chain, FirstExceptionSkipsLaterStepsAndReachesTheHandler) {
  std::atomic<int> later_steps{0};
  std::string seen;
  auto done = chain([] { return 1; })
                  .then([](int) -> int { throw std::runtime_error("step 2 failed"); })
                  .then([&](int x) {
                    later_steps.fetch_add(1);
                    return x;
                  })
                  .launch([&](Outcome<int> r) {
                    ASSERT_FALSE(r.has_value());
                    try {
                      std::rethrow_exception(r.error());
                    } catch (const std::runtime_error& e) {
                      seen = e.what();
                    }
                  });
  done.get();
  EXPECT_EQ(seen, "step 2 failed");
  EXPECT_EQ(later_steps.load(), 0);
}

TEST(Chain, ErrorCodeStepStopsTheChainAsSystemError) {
  auto f = chain([] { return 5; })
               .then([](int) -> Result<int> { return Unexpected<std::error_code>(std::make_error_code(std::errc::timed_out)); })
               .then([](int x) { return x + 1; })
               .launch();
  try {
    f.get();
    FAIL() << "get() must rethrow";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::make_error_code(std::errc::timed_out));
  }
}

TEST(Chain, RunsOnTheCallingThreadToo) {
  Outcome<int> r = chain([] { return 3; }).then([](int x) -> Result<int> { return x + 1; }).run();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 4);
}

TEST(LoopCapture, ByReferenceEveryThreadSeesTheLoopsLastValue) {
  constexpr int kThreads = 4;
  std::vector<int> seen(kThreads, -1);
  std::barrier sync(kThreads + 1);
  {
    std::vector<std::jthread> ts;
    int i = 0;  // one variable for the whole loop, as Go's loop variable before Go 1.22
    for (i = 0; i < kThreads; ++i) {
      ts.emplace_back([&i, &seen, &sync, slot = i] {
        sync.arrive_and_wait();  // read only after the loop has finished
        seen[static_cast<std::size_t>(slot)] = i;
      });
    }
    sync.arrive_and_wait();
  }
  for (int v : seen) EXPECT_EQ(v, kThreads) << "captured by reference: every thread sees the final value";
}

TEST(LoopCapture, ByValueEveryThreadSeesItsOwnIteration) {
  constexpr int kThreads = 4;
  std::vector<int> seen(kThreads, -1);
  std::barrier sync(kThreads + 1);
  {
    std::vector<std::jthread> ts;
    int i = 0;
    for (i = 0; i < kThreads; ++i) {
      ts.emplace_back([i, &seen, &sync] {
        sync.arrive_and_wait();
        seen[static_cast<std::size_t>(i)] = i;
      });
    }
    sync.arrive_and_wait();
  }
  for (int k = 0; k < kThreads; ++k) EXPECT_EQ(seen[static_cast<std::size_t>(k)], k);
}

TEST(Expected, HoldsValueOrError) {
  Result<int> ok = 7;
  Result<int> bad = Unexpected<std::error_code>(std::make_error_code(std::errc::invalid_argument));
  EXPECT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 7);
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error(), std::errc::invalid_argument);
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_THROW((void)bad.value(), BadExpectedAccess<std::error_code>);
  auto doubled = ok.transform([](int x) { return x * 2; });
  EXPECT_EQ(*doubled, 14);
  auto chained = bad.and_then([](int x) -> Result<int> { return x; });
  EXPECT_EQ(chained.error(), std::errc::invalid_argument);
}

TEST(Holders, FunctionRefCallbackAndErrorFirstCallTheirTarget) {
  int calls = 0;
  auto add = [&calls](int x) { return calls += x; };
  FunctionRef<int(int)> ref = add;
  EXPECT_EQ(ref(2), 2);
  auto cb = make_callback<int(int)>(add);
  EXPECT_EQ((*cb)(3), 5);
  std::error_code got_ec;
  int got = 0;
  ErrorFirst<int> ef = [&](std::error_code ec, int v) {
    got_ec = ec;
    got = v;
  };
  ef(std::make_error_code(std::errc::io_error), 9);
  EXPECT_EQ(got_ec, std::errc::io_error);
  EXPECT_EQ(got, 9);
}

TEST(Outcome, CaptureTurnsAThrowIntoAValue) {
  Outcome<int> r = capture([]() -> int { throw std::runtime_error("x"); });
  ASSERT_FALSE(r.has_value());
  EXPECT_THROW(get_or_rethrow(std::move(r)), std::runtime_error);
  EXPECT_EQ(get_or_rethrow(capture([] { return 4; })), 4);
}

}  // namespace
}  // namespace conpat::test
