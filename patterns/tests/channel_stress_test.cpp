// conpat::Channel under load: capacities {0, 1, 16, 1024} crossed with
// producers x consumers {1x1, 4x4, 8x2}; every item exactly once, in order
// per producer (see channel_stress.hpp). Then races at the edges of the
// protocol, each checked by its invariant: a value is received exactly once
// if its send returned ok, and never otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

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


// Rounds per race test; ThreadSanitizer runs each round far slower.
#if defined(__SANITIZE_THREAD__)
constexpr int kRaceRounds = 150;
#else
constexpr int kRaceRounds = 1500;
#endif

// Outcome bookkeeping for one round: which values were sent with ok and
// which were received, checked to be the same set with no duplicates.
struct Ledger {
  std::mutex mu;
  std::vector<int> sent_ok, received;
  void sent(int v) {
    std::lock_guard lk(mu);
    sent_ok.push_back(v);
  }
  void got(int v) {
    std::lock_guard lk(mu);
    received.push_back(v);
  }
  void check(const std::string& where) {
    std::sort(sent_ok.begin(), sent_ok.end());
    std::sort(received.begin(), received.end());
    ASSERT_EQ(std::adjacent_find(received.begin(), received.end()), received.end()) << where << ": a value received twice";
    ASSERT_EQ(received, sent_ok) << where << ": received values differ from the sends that returned ok";
  }
};

// A few hundred ns to a few µs of busy waiting, different per round, so
// the racing operations meet at different points of each other's protocol.
void jitter(int round, int salt) {
  const int spins = ((round * 7919 + salt * 104729) % 97) * 16;
  for (int i = 0; i < spins; ++i) detail::spin_pause();
}

// Close while three senders are in a burst and one receiver drains.
TEST(ChannelRaces, CloseDuringABurstOfSendsKeepsExactlyTheOkSends) {
  for (std::size_t cap : {0, 1, 16}) {
    for (int round = 0; round < kRaceRounds / 10; ++round) {
      Channel<int> ch(cap);
      Ledger ledger;
      std::vector<std::jthread> threads;
      for (int p = 0; p < 3; ++p) {
        threads.emplace_back([&, p] {
          for (int i = 0; i < 200; ++i) {
            const int v = p * 1000 + i;
            const ChanStatus s = ch.send(v);
            if (s == ChanStatus::ok) {
              ledger.sent(v);
            } else {
              ASSERT_EQ(s, ChanStatus::closed);
              ASSERT_EQ(ch.send(v + 500), ChanStatus::closed) << "a send after close succeeded";
              return;
            }
          }
        });
      }
      threads.emplace_back([&] {
        for (int v : ch) ledger.got(v);
      });
      threads.emplace_back([&] {
        jitter(round, 1);
        ch.close();
      });
      threads.clear();  // joins
      ledger.check("capacity " + std::to_string(cap) + ", round " + std::to_string(round));
    }
  }
}

// Timed sends and timed receives whose deadlines fall around the moment of
// a hand-off: whoever gives up must not have delivered (sender) or taken
// (receiver) the value.
TEST(ChannelRaces, TimeoutAtTheMomentOfHandOffNeverLosesOrDuplicates) {
  for (std::size_t cap : {0, 1}) {
    for (int round = 0; round < kRaceRounds; ++round) {
      Channel<int> ch(cap);
      Ledger ledger;
      const auto timeout = std::chrono::microseconds(round % 40);
      {
        std::jthread sender([&] {
          for (int i = 0; i < 4; ++i) {
            jitter(round, i);
            const ChanStatus s = ch.send_for(i, timeout);
            if (s == ChanStatus::ok) ledger.sent(i);
            else ASSERT_EQ(s, ChanStatus::timeout);
          }
        });
        std::jthread receiver([&] {
          for (int i = 0; i < 4; ++i) {
            jitter(round, i + 7);
            int v = -1;
            const ChanStatus s = ch.recv_for(v, timeout);
            if (s == ChanStatus::ok) ledger.got(v);
            else ASSERT_EQ(s, ChanStatus::timeout);
          }
        });
      }
      int v = -1;
      while (ch.try_recv(v) == ChanStatus::ok) ledger.got(v);  // buffered leftovers were delivered too
      ledger.check("capacity " + std::to_string(cap) + ", round " + std::to_string(round));
    }
  }
}

// A sender parked on a full (or unbuffered) channel is cancelled while a
// receiver takes its value (unbuffered) or frees the slot it waits for:
// ok means the value arrives, cancelled means it never does.
TEST(ChannelRaces, CancellingAParkedSenderWhileAReceiverTakesItsValue) {
  for (std::size_t cap : {0, 1}) {
    for (int round = 0; round < kRaceRounds; ++round) {
      Channel<int> ch(cap);
      Ledger ledger;
      if (cap == 1) {
        ASSERT_EQ(ch.send(-1), ChanStatus::ok);  // full: the next send parks
        ledger.sent(-1);
      }
      std::stop_source stop;
      {
        std::jthread sender([&] {
          const ChanStatus s = ch.send(round, stop.get_token());
          if (s == ChanStatus::ok) ledger.sent(round);
          else ASSERT_EQ(s, ChanStatus::cancelled);
        });
        std::jthread canceller([&] {
          jitter(round, 3);
          stop.request_stop();
        });
        std::jthread receiver([&] {
          jitter(round, 5);
          int v = 0;
          if (ch.recv_for(v, std::chrono::milliseconds(2)) == ChanStatus::ok) ledger.got(v);
        });
      }
      ch.close();
      int v = 0;
      while (ch.recv(v) == ChanStatus::ok) ledger.got(v);
      ledger.check("capacity " + std::to_string(cap) + ", round " + std::to_string(round));
    }
  }
}

}  // namespace
}  // namespace conpat::test
