// benches/harness/probe.cpp — see probe.hpp.
#include "probe.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "conpat/detail/park.hpp"
#include "conpat/padding.hpp"

namespace conpat::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Two CPUs this process may run on, or {-1, -1}.
std::pair<int, int> two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {-1, -1};
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus.size() == 2 ? std::pair{cpus[0], cpus[1]} : std::pair{-1, -1};
}

bool pin(std::thread& t, int cpu) {
  if (cpu < 0) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(t.native_handle(), sizeof(set), &set) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Runs `rounds` round trips of `ping` (on thread a) against `pong` (on thread
// b), `batches` times; returns ns per round trip for each batch.
template <class Ping, class Pong>
std::vector<double> round_trips(int batches, int rounds, std::pair<int, int> cpus, bool& pinned, Ping ping, Pong pong) {
  std::vector<double> out;
  for (int b = 0; b < batches; ++b) {
    std::atomic<bool> go{false};
    std::thread responder([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int i = 0; i < rounds; ++i) pong(i);
    });
    std::thread initiator([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      auto t0 = Clock::now();
      for (int i = 0; i < rounds; ++i) ping(i);
      out.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / rounds);
    });
    pinned = pin(initiator, cpus.first) && pin(responder, cpus.second);
    go.store(true, std::memory_order_release);
    initiator.join();
    responder.join();
  }
  return out;
}

// Core to core: one cache line, each side waits for the other's value;
// `batches` batches of `rounds` round trips, ns per round trip each.
std::vector<double> c2c_batches(int batches, int rounds, std::pair<int, int> cpus, bool& pinned) {
  alignas(kCacheLine) std::atomic<std::uint64_t> line{0};
  return round_trips(
      batches, rounds, cpus, pinned,
      [&](int i) {
        const auto v = static_cast<std::uint64_t>(2 * i);
        line.store(v + 1, std::memory_order_release);
        while (line.load(std::memory_order_acquire) != v + 2) detail::spin_pause();
      },
      [&](int i) {
        const auto v = static_cast<std::uint64_t>(2 * i);
        while (line.load(std::memory_order_acquire) != v + 1) detail::spin_pause();
        line.store(v + 2, std::memory_order_release);
      });
}

}  // namespace

double sample_c2c_ns() {
  static const auto cpus = two_cpus();
  if (cpus.first < 0) return 0;
  bool pinned = false;
  auto b = c2c_batches(3, 500, cpus, pinned);
  return pinned ? median(b) : 0;
}

nlohmann::json probe_machine() {
  const auto cpus = two_cpus();
  bool pinned = false;
  // With one CPU there is no core-to-core round trip: the two spinners
  // would only take turns at time-slice length.
  std::vector<double> c2c;
  if (cpus.first >= 0) c2c = c2c_batches(7, 20000, cpus, pinned);

  // Futex: each side sleeps in the kernel until the other wakes it.
  alignas(kCacheLine) std::atomic<std::uint32_t> word{0};
  auto wait_for = [&](std::uint32_t want) {
    for (std::uint32_t v; (v = word.load(std::memory_order_acquire)) != want;) detail::futex_wait(word, v);
  };
  auto set_and_wake = [&](std::uint32_t v) {
    word.store(v, std::memory_order_release);
    detail::futex_wake(word, 1);
  };
  auto futex = round_trips(
      7, 300, cpus, pinned,
      [&](int i) {
        const auto v = static_cast<std::uint32_t>(2 * i);
        set_and_wake(v + 1);
        wait_for(v + 2);
      },
      [&](int i) {
        const auto v = static_cast<std::uint32_t>(2 * i);
        wait_for(v + 1);
        set_and_wake(v + 2);
      });

  nlohmann::json cpu_pair = cpus.first < 0 ? nlohmann::json(nullptr) : nlohmann::json({cpus.first, cpus.second});
  return {{"c2c_round_trip_ns", c2c.empty() ? nlohmann::json(nullptr) : nlohmann::json(median(c2c))}, {"c2c_batches", c2c},
          {"futex_round_trip_ns", median(futex)}, {"futex_batches", futex},
          {"cpus", cpu_pair}, {"pinned", pinned}};
}

}  // namespace conpat::bench
