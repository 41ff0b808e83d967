// conpat::select (conpat/select.hpp) with FiberWait: the same engine, the
// fiber Parker. Selects run in Boost.Fiber fibers, on one thread and across
// threads (each thread's main fiber takes part too).
//
// Left out of the ThreadSanitizer run (label no_tsan): TSan cannot follow
// Boost.Fiber's context switches (see fiber_channel_test.cpp).
#include "conpat/fiber_wait.hpp"
#include "conpat/select.hpp"
#include "select_print.hpp"

#include <boost/fiber/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stop_token>
#include <thread>
#include <vector>


namespace conpat::test {
namespace {

using namespace std::chrono_literals;
using FChan = Channel<std::uint64_t, FiberWait>;

class SelectFiberCap : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Capacities, SelectFiberCap, ::testing::Values(0, 1, 4),
                         [](const auto& info) { return "cap" + std::to_string(info.param); });

// Two producer fibers on their own channels, one selecting consumer fiber,
// all on this thread: every value once, closed reported at the end.
TEST_P(SelectFiberCap, ReceiveFromTwoProducersOnOneThread) {
  constexpr std::uint64_t kN = 2000;
  FChan a(GetParam()), b(GetParam());
  std::uint64_t sum = 0, count = 0;
  boost::fibers::fiber pa([&] {
    for (std::uint64_t i = 1; i <= kN; ++i) ASSERT_EQ(a.send(i), ChanStatus::ok);
    a.close();
  });
  boost::fibers::fiber pb([&] {
    for (std::uint64_t i = 1; i <= kN; ++i) ASSERT_EQ(b.send(i * 1000), ChanStatus::ok);
    b.close();
  });
  boost::fibers::fiber consumer([&] {
    std::uint64_t x = 0, y = 0;
    bool a_open = true, b_open = true;
    while (a_open && b_open) {
      SelectResult r = select(recv_case(a, x), recv_case(b, y));
      if (r.status == ChanStatus::closed) {
        (r.index == 0 ? a_open : b_open) = false;
        continue;
      }
      ASSERT_EQ(r.status, ChanStatus::ok);
      sum += r.index == 0 ? x : y;
      ++count;
    }
    FChan& rest = a_open ? a : b;
    while (rest.recv(x) == ChanStatus::ok) {
      sum += x;
      ++count;
    }
  });
  pa.join();
  pb.join();
  consumer.join();
  EXPECT_EQ(count, 2 * kN);
  EXPECT_EQ(sum, kN * (kN + 1) / 2 * 1001);
}

// Timeout, stop and the default case from a fiber.
TEST_P(SelectFiberCap, TimeoutStopDefault) {
  FChan a(GetParam());
  boost::fibers::fiber f([&] {
    std::uint64_t x = 0;
    EXPECT_EQ(select_for(10ms, recv_case(a, x)), (SelectResult{-1, ChanStatus::timeout}));
    EXPECT_EQ(try_select(recv_case(a, x)), (SelectResult{-1, ChanStatus::would_block}));
    std::stop_source src;
    boost::fibers::fiber stopper([&] {
      boost::this_fiber::sleep_for(5ms);
      src.request_stop();
    });
    EXPECT_EQ(select(src.get_token(), recv_case(a, x)), (SelectResult{-1, ChanStatus::cancelled}));
    stopper.join();
    a.close();
    EXPECT_EQ(select(recv_case(a, x)), (SelectResult{0, ChanStatus::closed}));
    EXPECT_EQ(select(send_case(a, 1)), (SelectResult{0, ChanStatus::closed}));
  });
  f.join();
}

// Go TestSelfSelect with fibers on one thread: an unbuffered select never
// pairs with itself.
TEST_P(SelectFiberCap, SelfSelect) {
  FChan c(GetParam() == 0 ? 0 : 10);
  int self = 0;
  std::vector<boost::fibers::fiber> fs;
  for (std::uint64_t p = 0; p < 2; ++p) {
    fs.emplace_back([&, p] {
      for (int i = 0; i < 1000; ++i) {
        std::uint64_t v = 99;
        SelectResult r = select(send_case(c, p), recv_case(c, v));
        ASSERT_EQ(r.status, ChanStatus::ok);
        if (r.index == 1 && v == p && c.capacity() == 0) ++self;
      }
    });
  }
  for (auto& f : fs) f.join();
  EXPECT_EQ(self, 0);
}

// Across threads: two threads, each with two fibers selecting sends over
// two channels and one fiber selecting receives; every value exactly once.
TEST_P(SelectFiberCap, BothSidesAcrossThreads) {
  constexpr std::uint64_t kN = 3000;
  constexpr int kThreads = 2, kProducersPerThread = 2;
  FChan a(GetParam()), b(GetParam());
  std::vector<std::atomic<int>> seen(kThreads * kProducersPerThread * kN);
  std::atomic<int> producers_left{kThreads * kProducersPerThread};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<boost::fibers::fiber> fs;
      for (int p = 0; p < kProducersPerThread; ++p) {
        fs.emplace_back([&, id = t * kProducersPerThread + p] {
          for (std::uint64_t i = 0; i < kN; ++i) {
            const std::uint64_t v = id * kN + i;
            ASSERT_EQ(select(send_case(a, v), send_case(b, v)).status, ChanStatus::ok);
          }
          if (producers_left.fetch_sub(1) == 1) {
            a.close();
            b.close();
          }
        });
      }
      fs.emplace_back([&] {
        std::uint64_t x = 0, y = 0;
        for (;;) {
          SelectResult r = select(recv_case(a, x), recv_case(b, y));
          if (r.status == ChanStatus::closed) {
            FChan& other = r.index == 0 ? b : a;
            while (other.recv(x) == ChanStatus::ok) seen[x].fetch_add(1);
            break;
          }
          ASSERT_EQ(r.status, ChanStatus::ok);
          seen[r.index == 0 ? x : y].fetch_add(1);
        }
      });
      for (auto& f : fs) f.join();
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "value " << i;
}

}  // namespace
}  // namespace conpat::test
