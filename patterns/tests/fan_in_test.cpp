// fan_in with ThreadWait: forwarder threads (the typed suite in fan_in_cases.hpp).
#include "fan_in_cases.hpp"

namespace conpat::test {
namespace {

INSTANTIATE_TYPED_TEST_SUITE_P(FanInThreads, FanIn, ::testing::Types<ThreadWait>);

TEST(FanInThreads, SixtyFourInputsEveryValueOnce) {
  constexpr std::size_t kInputs = 64;
  constexpr std::uint64_t kPer = 500;
  std::deque<Channel<std::uint64_t>> ins;
  std::vector<RecvEnd<std::uint64_t>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(16));
  auto merged = fan_in(std::stop_token{}, ends, 64);
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < 4; ++t) {  // 4 threads, 16 inputs each, interleaved
    producers.emplace_back([&, t] {
      for (std::uint64_t s = 0; s < kPer; ++s) {
        for (std::size_t i = t; i < kInputs; i += 4) ASSERT_EQ(ins[i].send(item(i, s)), ChanStatus::ok);
      }
      for (std::size_t i = t; i < kInputs; i += 4) ins[i].close();
    });
  }
  expect_all_exactly_once_in_order(merged, kInputs, kPer);
  for (auto& p : producers) p.join();
}

// More buffered inputs than one forwarder takes (64, fan_in.hpp), mixed
// with unbuffered ones: three forwarders of buffered inputs and one per
// unbuffered input, each input's values once and in order.
TEST(FanInThreads, MoreInputsThanOneForwarderTakesEveryValueOnce) {
  constexpr std::size_t kInputs = 160;
  constexpr std::uint64_t kPer = 100;
  std::deque<Channel<std::uint64_t>> ins;
  std::vector<RecvEnd<std::uint64_t>> ends;
  for (std::size_t i = 0; i < kInputs; ++i) ends.emplace_back(ins.emplace_back(i % 10 == 0 ? 0 : 1 + i % 3));
  auto merged = fan_in(std::stop_token{}, ends, 4);
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < 4; ++t) {  // 4 threads, 40 inputs each, interleaved
    producers.emplace_back([&, t] {
      for (std::uint64_t s = 0; s < kPer; ++s) {
        for (std::size_t i = t; i < kInputs; i += 4) ASSERT_EQ(ins[i].send(item(i, s)), ChanStatus::ok);
      }
      for (std::size_t i = t; i < kInputs; i += 4) ins[i].close();
    });
  }
  expect_all_exactly_once_in_order(merged, kInputs, kPer);
  for (auto& p : producers) p.join();
}

}  // namespace
}  // namespace conpat::test
