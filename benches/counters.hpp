// benches/counters.hpp — the seed's Counter{Hits, Misses}, packed and padded,
// and the benchmark that writes its two fields from different threads
// (collect.false_sharing, seed.false_sharing).
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "conpat/padding.hpp"
#include "harness/harness.hpp"
#include "harness/workers.hpp"

namespace conpat::bench::counters {

// The seed's Counter{Hits, Misses}; Align 0 packs the two fields.
template <std::size_t Align>
struct Counter {
  using L = std::conditional_t<Align == 0, layout::Packed, layout::PaddedTo<(Align == 0 ? 64 : Align)>>;
  typename L::template Cell<std::atomic<std::uint64_t>> hits, misses;
};
static_assert(sizeof(Counter<0>) == 16, "packed Counter: both fields on one line");
static_assert(offsetof(Counter<64>, misses) == 64, "padded Counter: fields a cache line apart");
static_assert(offsetof(Counter<128>, misses) == 128, "padded128 Counter: fields two lines apart");

constexpr std::uint64_t kOpsPerRound = 1 << 16;

// Thread t increments field t % 2 of counter t / 2, kOpsPerRound times a round.
template <std::size_t Align>
double run_counters(WorkerPool& pool, std::vector<Counter<Align>>& counters) {
  auto t0 = Clock::now();
  pool.round([&](int t) {
    auto& c = counters[static_cast<std::size_t>(t / 2)];
    auto& field = (t % 2 == 0) ? c.hits.value : c.misses.value;
    for (std::uint64_t i = 0; i < kOpsPerRound; ++i) field.fetch_add(1, std::memory_order_relaxed);
  });
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Both layouts in every iteration (noise hits both alike). Counters: each
// layout's time per increment and throughput per thread, their ratio
// (packed_padded_slowdown) and the throughput the packed layout loses
// (throughput_loss = 1 - padded time / packed time: the seed's "40 %").
template <std::size_t Align>
void false_sharing(benchmark::State& state, const std::string& name, int threads) {
  WorkerPool pool(threads, name);
  // Over-aligned vectors: one allocation each, padded layouts keep their alignment.
  std::vector<Counter<0>> packed(static_cast<std::size_t>((threads + 1) / 2));
  std::vector<Counter<Align>> padded(packed.size());
  double t_packed = 0, t_padded = 0;
  for (auto _ : state) {
    t_packed += run_counters<0>(pool, packed);
    t_padded += run_counters<Align>(pool, padded);
    if (pool.failed()) break;
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  const std::uint64_t want = static_cast<std::uint64_t>(state.iterations()) * kOpsPerRound;
  std::uint64_t bad = 0;
  for (int t = 0; t < threads; ++t) {
    auto& pc = packed[static_cast<std::size_t>(t / 2)];
    auto& dc = padded[static_cast<std::size_t>(t / 2)];
    bad += (t % 2 == 0 ? pc.hits.value : pc.misses.value).load() != want;
    bad += (t % 2 == 0 ? dc.hits.value : dc.misses.value).load() != want;
  }
  if (bad != 0) return state.SkipWithError("wrong result: a counter lost increments");
  const double ops_per_thread = static_cast<double>(want);
  state.SetItemsProcessed(static_cast<std::int64_t>(want) * threads * 2);
  state.counters["packed_ops_per_s_per_thread"] = ops_per_thread / t_packed;
  state.counters["padded_ops_per_s_per_thread"] = ops_per_thread / t_padded;
  state.counters["packed_ns_per_op"] = t_packed / ops_per_thread * 1e9;
  state.counters["padded_ns_per_op"] = t_padded / ops_per_thread * 1e9;
  state.counters["packed_padded_slowdown"] = t_packed / t_padded;
  state.counters["throughput_loss"] = 1.0 - t_padded / t_packed;
  state.counters["threads_used"] = threads;
}

}  // namespace conpat::bench::counters
