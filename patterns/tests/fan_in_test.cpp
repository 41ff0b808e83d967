// fan_in with ThreadWait: forwarder threads (the typed suite in fan_in_cases.hpp).
#include "fan_in_cases.hpp"

namespace conpat::test {
namespace {

INSTANTIATE_TYPED_TEST_SUITE_P(FanInThreads, FanIn, ::testing::Types<ThreadWait>);

// Four threads send `per` values on every input (each thread a quarter of
// the inputs, interleaved) and close them; the merge must deliver each
// input's values once and in order.
void send_from_four_threads_and_check(std::deque<Channel<std::uint64_t>>& ins, std::size_t merged_capacity,
                                      std::uint64_t per) {
  std::vector<RecvEnd<std::uint64_t>> ends(ins.begin(), ins.end());
  auto merged = fan_in(std::stop_token{}, ends, merged_capacity);
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (std::uint64_t s = 0; s < per; ++s) {
        for (std::size_t i = t; i < ins.size(); i += 4) ASSERT_EQ(ins[i].send(item(i, s)), ChanStatus::ok);
      }
      for (std::size_t i = t; i < ins.size(); i += 4) ins[i].close();
    });
  }
  expect_all_exactly_once_in_order(merged, ins.size(), per);
  for (auto& p : producers) p.join();
}

TEST(FanInThreads, SixtyFourInputsEveryValueOnce) {
  std::deque<Channel<std::uint64_t>> ins;
  for (std::size_t i = 0; i < 64; ++i) ins.emplace_back(16);
  send_from_four_threads_and_check(ins, 64, 500);
}

// More buffered inputs than one forwarder takes (64, fan_in.hpp), mixed
// with unbuffered ones: three forwarders of buffered inputs and one per
// unbuffered input.
TEST(FanInThreads, MoreInputsThanOneForwarderTakesEveryValueOnce) {
  std::deque<Channel<std::uint64_t>> ins;
  for (std::size_t i = 0; i < 160; ++i) ins.emplace_back(i % 10 == 0 ? 0 : 1 + i % 3);
  send_from_four_threads_and_check(ins, 4, 100);
}

}  // namespace
}  // namespace conpat::test
