// conpat::Channel under load: capacities {0, 1, 16, 1024} crossed with
// producers x consumers {1x1, 4x4, 8x2}; every item exactly once, in order
// per producer (see channel_stress.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "channel_stress.hpp"
#include "conpat/channel.hpp"

namespace conpat::test {
namespace {

using StressParam = std::tuple<std::size_t, std::tuple<int, int>>;  // capacity, (producers, consumers)

class ChannelStress : public ::testing::TestWithParam<StressParam> {};

TEST_P(ChannelStress, EveryItemArrivesExactlyOnceInProducerOrder) {
  auto [cap, pc] = GetParam();
  auto [producers, consumers] = pc;
  run_stress<Channel<std::uint64_t>>(cap, producers, consumers, kStressItems);
}

std::string StressName(const ::testing::TestParamInfo<StressParam>& info) {
  const auto& pc = std::get<1>(info.param);
  return "cap" + std::to_string(std::get<0>(info.param)) + "_" + std::to_string(std::get<0>(pc)) + "x" +
         std::to_string(std::get<1>(pc));
}

INSTANTIATE_TEST_SUITE_P(
    Grid, ChannelStress,
    ::testing::Combine(::testing::Values<std::size_t>(0, 1, 16, 1024),
                       ::testing::Values(std::make_tuple(1, 1), std::make_tuple(4, 4), std::make_tuple(8, 2))),
    StressName);

}  // namespace
}  // namespace conpat::test
