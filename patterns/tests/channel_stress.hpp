// Stress check shared by the channel stress tests: P producers and C
// consumers move N items; every item must arrive exactly once (count,
// checksum and a seen-set), and each producer's items in the order sent.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "conpat/chan_status.hpp"

namespace conpat::test {

// ThreadSanitizer slows atomics by an order of magnitude: it runs a tenth
// of the items (still a million across the stress suite).
#if defined(__SANITIZE_THREAD__)
inline constexpr std::uint64_t kStressItems = 100'000;
#else
inline constexpr std::uint64_t kStressItems = 1'000'000;
#endif

template <class Ch>
void run_stress(std::size_t capacity, int producers, int consumers, std::uint64_t total) {
  Ch ch(capacity);
  const std::uint64_t per = total / static_cast<std::uint64_t>(producers);
  const std::uint64_t sent = per * static_cast<std::uint64_t>(producers);
  std::vector<std::vector<std::uint64_t>> received(static_cast<std::size_t>(consumers));
  std::atomic<int> live_producers{producers};
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&, c] {
        auto& mine = received[static_cast<std::size_t>(c)];
        std::uint64_t v = 0;
        while (ch.recv(v) == ChanStatus::ok) mine.push_back(v);
      });
    }
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        // An item is producer * per + sequence number.
        for (std::uint64_t i = 0; i < per; ++i) {
          if (ch.send(static_cast<std::uint64_t>(p) * per + i) != ChanStatus::ok) {
            ADD_FAILURE() << "send failed before close";
            break;
          }
        }
        if (live_producers.fetch_sub(1) == 1) ch.close();
      });
    }
  }
  std::vector<std::uint8_t> seen(sent, 0);
  std::uint64_t count = 0, sum = 0;
  for (const auto& mine : received) {
    std::vector<std::int64_t> last(static_cast<std::size_t>(producers), -1);
    for (std::uint64_t v : mine) {
      ASSERT_LT(v, sent) << "an item nobody sent";
      ASSERT_EQ(seen[v], 0) << "item " << v << " received twice";
      seen[v] = 1;
      ++count;
      sum += v;
      auto p = static_cast<std::size_t>(v / per);
      auto seq = static_cast<std::int64_t>(v % per);
      ASSERT_GT(seq, last[p]) << "producer " << p << "'s order broken";
      last[p] = seq;
    }
  }
  EXPECT_EQ(count, sent) << "items lost";
  EXPECT_EQ(sum, sent * (sent - 1) / 2) << "checksum";
}

}  // namespace conpat::test
