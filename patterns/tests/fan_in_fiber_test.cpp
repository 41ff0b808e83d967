// fan_in with FiberWait: forwarder fibers (the typed suite in fan_in_cases.hpp),
// and many inputs merged on a pool of threads sharing their fibers.
//
// Left out of the ThreadSanitizer run (label no_tsan): TSan cannot follow
// Boost.Fiber's context switches (see fiber_channel_test.cpp).
#include "fan_in_cases.hpp"

#include <boost/fiber/all.hpp>

namespace conpat::test {
namespace {

INSTANTIATE_TYPED_TEST_SUITE_P(FanInFibers, FanIn, ::testing::Types<FiberWait>);

// 1000 inputs, each fed by its own fiber, all fibers (producers and
// forwarders) on this thread: every value once, in each input's order.
TEST(FanInFibers, AThousandInputsOnOneThread) {
  constexpr std::size_t kInputs = 1000;
  constexpr std::uint64_t kPer = 20;
  std::deque<Channel<std::uint64_t, FiberWait>> ins;
  std::vector<RecvEnd<std::uint64_t, FiberWait>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(i % 2));
  auto merged = fan_in(std::stop_token{}, ends, 16);
  std::vector<boost::fibers::fiber> producers;
  for (std::size_t i = 0; i < kInputs; ++i) {
    producers.emplace_back([&, i] {
      for (std::uint64_t s = 0; s < kPer; ++s) {
        if (ins[i].send(item(i, s)) != ChanStatus::ok) return;
      }
      ins[i].close();
    });
  }
  expect_all_exactly_once_in_order(merged, kInputs, kPer);
  for (auto& p : producers) p.join();
}

// Stop while a thousand forwarder fibers are blocked: all end, none is left.
TEST(FanInFibers, StopEndsAThousandBlockedForwarders) {
  constexpr std::size_t kInputs = 1000;
  std::deque<Channel<int, FiberWait>> ins;
  std::vector<RecvEnd<int, FiberWait>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(1));
  for (std::size_t i = 0; i < kInputs; i += 2) ASSERT_EQ(ins[i].try_send(static_cast<int>(i)), ChanStatus::ok);
  std::stop_source stop;
  auto merged = fan_in(stop.get_token(), ends);
  int v = 0;
  ASSERT_EQ(merged.recv(v), ChanStatus::ok);
  boost::this_fiber::sleep_for(std::chrono::milliseconds(5));  // let every forwarder block
  stop.request_stop();
  EXPECT_EQ(merged.try_recv(v), ChanStatus::closed);
  merged = RecvEnd<int, FiberWait>{};  // joins the forwarders: a blocked one would hang here
  for (auto& in : ins) EXPECT_FALSE(in.is_closed());
}

}  // namespace
}  // namespace conpat::test
