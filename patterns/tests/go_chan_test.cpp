// Go's runtime/chan_test.go, ported to conpat::Channel: TestChan (every
// capacity from 0 to 199: blocking on an empty or full channel, the
// non-blocking forms, close, FIFO order, many senders and receivers, len
// and cap), TestMultiConsumer, TestNonblockSelectRace (and its close
// variant), TestPseudoRandomSend and TestChanSendInterface. The select
// tests of the same file are in select_test.cpp.
//
// Each test runs twice: with ThreadWait, where a goroutine is an OS thread,
// and with FiberWait, where it is a fiber on a two-thread conpat::FiberPool
// and the test body is the pool's main fiber (as Go's test body is a
// goroutine itself). Go's `time.Sleep(time.Millisecond)` only gives a
// goroutine the chance to do something it must not do; no test measures
// time.
//
// Where the port checks more than Go's test does, the comment says so.
//
// FiberWait is skipped under ThreadSanitizer, as every fiber test is: TSan
// cannot follow Boost.Context's stack switches.
#include <gtest/gtest.h>

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/fiber_pool.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/select.hpp"
#include "wait_policy_skip.hpp"

namespace conpat::test {
namespace {

using namespace std::chrono_literals;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 10;  // sanitizers slow every atomic operation down
#else
constexpr int kScale = 1;
#endif

// `go f()` for the wait policy under test, and what the test body waits
// with. join() waits for every goroutine started so far.
template <class Wait>
struct Go;

template <>
struct Go<ThreadWait> {
  template <class F>
  void operator()(F&& f) {
    threads_.emplace_back(std::forward<F>(f));
  }
  void join() { threads_.clear(); }  // jthread joins
  static void sleep(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }
  static void gosched() { std::this_thread::yield(); }

 private:
  std::vector<std::jthread> threads_;
};

template <>
struct Go<FiberWait> {
  template <class F>
  void operator()(F&& f) {
    pool_.spawn(std::forward<F>(f));
  }
  void join() { pool_.join(); }
  static void sleep(std::chrono::milliseconds d) { boost::this_fiber::sleep_for(d); }
  static void gosched() { boost::this_fiber::yield(); }

 private:
  FiberPool pool_{2};
};

template <class Wait>
class GoChan : public WaitPolicyTest<Wait> {
 protected:
  using Chan = Channel<int, Wait>;
  template <class T>
  using ChanOf = Channel<T, Wait>;
};

using WaitPolicies = ::testing::Types<ThreadWait, FiberWait>;
TYPED_TEST_SUITE(GoChan, WaitPolicies);

// TestChan, for chanCap in [0, 200) (20 under the sanitizers: each case
// waits 3 ms on purpose).
TYPED_TEST(GoChan, TestChan) {
  using Chan = typename TestFixture::Chan;
  using BoolChan = typename TestFixture::template ChanOf<bool>;
  using MapChan = typename TestFixture::template ChanOf<std::map<int, int>>;
  Go<TypeParam> go;
  const int n = 200 / kScale;
  for (int cap = 0; cap < n; ++cap) {
    SCOPED_TRACE("chan[" + std::to_string(cap) + "]");
    const auto ucap = static_cast<std::size_t>(cap);
    {
      // Ensure that receive from empty chan blocks.
      Chan c(ucap);
      std::atomic<bool> recv1{false}, recv2{false};
      go([&] {
        (void)c.recv();
        recv1 = true;
      });
      go([&] {
        int v = 0;
        (void)c.recv(v);
        recv2 = true;
      });
      Go<TypeParam>::sleep(1ms);
      ASSERT_FALSE(recv1 || recv2) << "receive from empty chan";
      // Ensure that non-blocking receive does not block.
      int v = 0;
      ASSERT_EQ(c.try_recv(v), ChanStatus::would_block) << "receive from empty chan";
      ASSERT_EQ(try_select(recv_case(c, v)), (SelectResult{-1, ChanStatus::would_block}));
      ASSERT_EQ(c.send(0), ChanStatus::ok);
      ASSERT_EQ(c.send(0), ChanStatus::ok);
      go.join();
      EXPECT_TRUE(recv1 && recv2);  // added: both receivers got a value
    }
    {
      // Ensure that send to full chan blocks.
      Chan c(ucap);
      for (int i = 0; i < cap; ++i) ASSERT_EQ(c.send(i), ChanStatus::ok);
      std::atomic<bool> sent{false};
      go([&] {
        EXPECT_EQ(c.send(cap), ChanStatus::ok);
        sent = true;
      });
      Go<TypeParam>::sleep(1ms);
      ASSERT_FALSE(sent) << "send to full chan";
      // Ensure that non-blocking send does not block.
      ASSERT_EQ(c.try_send(-1), ChanStatus::would_block) << "send to full chan";
      ASSERT_EQ(try_select(send_case(c, -1)), (SelectResult{-1, ChanStatus::would_block}));
      int v = -2;
      ASSERT_EQ(c.recv(v), ChanStatus::ok);
      EXPECT_EQ(v, 0);
      // Added: once the blocked send has completed, the channel holds the
      // rest of the buffer and then the sender's value, in that order (the
      // receive above made room for it; on a buffered channel the receive
      // moves the parked sender's value into that room itself).
      go.join();
      ASSERT_TRUE(sent);
      EXPECT_EQ(c.size(), ucap);
      for (int i = 1; i <= cap; ++i) {
        ASSERT_EQ(c.try_recv(v), ChanStatus::ok);
        ASSERT_EQ(v, i);
      }
      EXPECT_EQ(c.try_recv(v), ChanStatus::would_block);
    }
    {
      // Ensure that we receive 0 from closed chan (here: closed, after the
      // buffered values).
      Chan c(ucap);
      for (int i = 0; i < cap; ++i) ASSERT_EQ(c.send(i), ChanStatus::ok);
      c.close();
      for (int i = 0; i < cap; ++i) {
        int v = -1;
        ASSERT_EQ(c.recv(v), ChanStatus::ok);
        ASSERT_EQ(v, i);
      }
      int v = -1;
      EXPECT_EQ(c.recv(v), ChanStatus::closed);
      EXPECT_EQ(c.recv(), std::nullopt);
    }
    {
      // Ensure that close unblocks receive.
      Chan c(ucap);
      BoolChan done(0);
      go([&] {
        int v = 0;
        EXPECT_EQ(done.send(c.recv(v) == ChanStatus::closed), ChanStatus::ok);
      });
      Go<TypeParam>::sleep(1ms);
      c.close();
      bool ok = false;
      ASSERT_EQ(done.recv(ok), ChanStatus::ok);
      EXPECT_TRUE(ok) << "received non zero from closed chan";
      go.join();
    }
    {
      // Send 100 integers, ensure that we receive them non-corrupted in FIFO
      // order (twice: Go's two receive forms are one here, so the second
      // round uses the optional-returning recv()).
      Chan c(ucap);
      go([&] {
        for (int i = 0; i < 100; ++i) ASSERT_EQ(c.send(i), ChanStatus::ok);
      });
      for (int i = 0; i < 100; ++i) {
        int v = -1;
        ASSERT_EQ(c.recv(v), ChanStatus::ok);
        ASSERT_EQ(v, i);
      }
      go.join();
      go([&] {
        for (int i = 0; i < 100; ++i) ASSERT_EQ(c.send(i), ChanStatus::ok);
      });
      for (int i = 0; i < 100; ++i) {
        std::optional<int> v = c.recv();
        ASSERT_TRUE(v.has_value()) << "receive failed, expected " << i;
        ASSERT_EQ(*v, i);
      }
      go.join();

      // Send 1000 integers in 4 goroutines, ensure that we receive what we
      // send.
      constexpr int kP = 4, kL = 1000;
      for (int p = 0; p < kP; ++p) {
        go([&] {
          for (int i = 0; i < kL; ++i) ASSERT_EQ(c.send(i), ChanStatus::ok);
        });
      }
      MapChan done(0);
      for (int p = 0; p < kP; ++p) {
        go([&] {
          std::map<int, int> recv;
          for (int i = 0; i < kL; ++i) {
            int v = -1;
            ASSERT_EQ(c.recv(v), ChanStatus::ok);
            ++recv[v];
          }
          ASSERT_EQ(done.send(std::move(recv)), ChanStatus::ok);
        });
      }
      std::map<int, int> recv;
      for (int p = 0; p < kP; ++p) {
        std::optional<std::map<int, int>> part = done.recv();
        ASSERT_TRUE(part.has_value());
        for (auto [k, v] : *part) recv[k] += v;
      }
      go.join();
      ASSERT_EQ(recv.size(), static_cast<std::size_t>(kL));
      for (auto [k, v] : recv) ASSERT_EQ(v, kP) << "value " << k;
    }
    {
      // Test len/cap.
      Chan c(ucap);
      EXPECT_EQ(c.size(), 0u);
      EXPECT_EQ(c.capacity(), ucap);
      for (int i = 0; i < cap; ++i) ASSERT_EQ(c.send(i), ChanStatus::ok);
      EXPECT_EQ(c.size(), ucap);
      EXPECT_EQ(c.capacity(), ucap);
    }
  }
}

// How TestNonblockSelectRace and TestNonblockSelectRace2 make c2 ready.
enum class ReadyC2 { send_one, close };  // c2 <- 1, or close(c2)

// The rounds of TestNonblockSelectRace and TestNonblockSelectRace2: one
// goroutine makes c1 ready, starts a second that selects non-blockingly over
// c1 and c2 (c2 of capacity `c2_cap`), makes c2 ready (`ready_c2`) and then
// takes c1's value if it can. From the second goroutine's start on, one of
// the two is always ready, so its select must never take the default case:
// `is_ready` says whether its result counts as a ready case. Go runs
// 100,000 rounds; a round here starts a thread (or a fiber), so 10,000
// (1,000 under the sanitizers).
template <class Wait>
void nonblock_select_race(std::size_t c2_cap, ReadyC2 ready_c2, bool (*is_ready)(const SelectResult&)) {
  Go<Wait> go;
  Channel<bool, Wait> done(1);
  const int n = 10000 / kScale;
  for (int i = 0; i < n; ++i) {
    Channel<int, Wait> c1(1), c2(c2_cap);
    ASSERT_EQ(c1.send(1), ChanStatus::ok);
    go([&] {
      int a = 0, b = 0;
      const SelectResult r = try_select(recv_case(c1, a), recv_case(c2, b));
      EXPECT_EQ(done.send(is_ready(r)), ChanStatus::ok);
    });
    if (ready_c2 == ReadyC2::send_one) {
      ASSERT_EQ(c2.send(1), ChanStatus::ok);
    } else {
      c2.close();
    }
    int v = 0;
    (void)c1.try_recv(v);
    bool ok = false;
    ASSERT_EQ(done.recv(ok), ChanStatus::ok);
    go.join();
    ASSERT_TRUE(ok) << "no chan is ready, round " << i;
  }
}

// TestNonblockSelectRace: c2 buffered (capacity 1) and made ready by
// c2 <- 1; the select must receive a value.
TYPED_TEST(GoChan, TestNonblockSelectRace) {
  nonblock_select_race<TypeParam>(1, ReadyC2::send_one,
                                  [](const SelectResult& r) { return r.index >= 0 && r.status == ChanStatus::ok; });
}

// TestNonblockSelectRace2: the same, with close(c2) for c2 <- 1 (c2
// unbuffered): a receive on a closed channel is ready, so any case chosen
// counts.
TYPED_TEST(GoChan, TestNonblockSelectRace2) {
  nonblock_select_race<TypeParam>(0, ReadyC2::close, [](const SelectResult& r) { return r.index >= 0; });
}

// TestChanSendInterface: non-blocking send cases on a full channel, one and
// two of them, take the default case (Go's test only checks that they
// compile and do not block; here the default is asserted).
TYPED_TEST(GoChan, TestChanSendInterface) {
  struct Mt {};
  typename TestFixture::template ChanOf<const Mt*> c(1);
  const Mt m{};
  const Mt other{};
  ASSERT_EQ(c.send(&m), ChanStatus::ok);
  EXPECT_EQ(try_select(send_case(c, &m)), (SelectResult{-1, ChanStatus::would_block}));
  EXPECT_EQ(try_select(send_case(c, &m), send_case(c, &other)), (SelectResult{-1, ChanStatus::would_block}));
  const Mt* got = nullptr;
  ASSERT_EQ(c.try_recv(got), ChanStatus::ok);
  EXPECT_EQ(got, &m);
}

// TestPseudoRandomSend: a select with two send cases on one channel, one
// sending 1 and one 0, picks among them pseudo-randomly: of 100 values, more
// than 10 of each.
TYPED_TEST(GoChan, TestPseudoRandomSend) {
  using Chan = typename TestFixture::Chan;
  constexpr int kN = 100;
  Go<TypeParam> go;
  for (std::size_t cap : {std::size_t{0}, std::size_t{kN}}) {
    Chan c(cap);
    std::vector<int> l(kN, -1);
    go([&] {
      for (int i = 0; i < kN; ++i) {
        Go<TypeParam>::gosched();
        ASSERT_EQ(c.recv(l[static_cast<std::size_t>(i)]), ChanStatus::ok);
      }
    });
    for (int i = 0; i < kN; ++i) {
      const SelectResult r = select(send_case(c, 1), send_case(c, 0));
      ASSERT_EQ(r.status, ChanStatus::ok);
    }
    go.join();
    int n0 = 0, n1 = 0;
    for (int v : l) {
      ASSERT_TRUE(v == 0 || v == 1) << v;
      n0 += (v + 1) % 2;
      n1 += v;
    }
    EXPECT_GT(n0, kN / 10) << "want pseudorandom, got " << n0 << " zeros and " << n1 << " ones (cap " << cap << ")";
    EXPECT_GT(n1, kN / 10) << "want pseudorandom, got " << n0 << " zeros and " << n1 << " ones (cap " << cap << ")";
  }
}

// TestMultiConsumer: 23 workers range over a work channel (some yield when
// they see "their" value, to mess with its FIFO-ish order) and pass every
// value to a result channel; a feeder sends 271,828 values (a tenth under
// the sanitizers), closes the work channel, waits for the workers and
// closes the results. Every value arrives once: the count and the sum
// match.
TYPED_TEST(GoChan, TestMultiConsumer) {
  using Chan = typename TestFixture::Chan;
  constexpr int kWork = 23;
  const int niter = 271828 / kScale;
  static constexpr int kPn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  constexpr int kPnLen = static_cast<int>(std::size(kPn));

  Chan q(kWork * 3), r(kWork * 3);
  Go<TypeParam> go;
  std::atomic<int> workers_left{kWork};
  for (int w = 0; w < kWork; ++w) {
    go([&, w] {
      for (int v : q) {
        if (kPn[w % kPnLen] == v) Go<TypeParam>::gosched();
        ASSERT_EQ(r.send(v), ChanStatus::ok);
      }
      // The last worker out closes the results: Go's feeder does it after
      // wg.Wait().
      if (workers_left.fetch_sub(1, std::memory_order_acq_rel) == 1) r.close();
    });
  }
  std::int64_t expect = 0;
  go([&] {
    for (int i = 0; i < niter; ++i) {
      const int v = kPn[i % kPnLen];
      expect += v;
      ASSERT_EQ(q.send(v), ChanStatus::ok);
    }
    q.close();  // no more work
  });
  std::int64_t n = 0, s = 0;
  for (int v : r) {
    ++n;
    s += v;
  }
  go.join();
  EXPECT_EQ(n, niter);
  EXPECT_EQ(s, expect);
}

}  // namespace
}  // namespace conpat::test
