// benches/collect_bench.cpp — result collection: WaitGroup plus shared
// variables, the seed's second pattern, and its performance claims.
//
//   collect.false_sharing  the seed's Counter{hits, misses}: packed vs padded (64 B, 128 B), interleaved
//   collect.stride         per-thread counters 8..256 bytes apart: where false sharing stops
//   collect.writer_freq    W units of local work between writes, per strategy (atomic, CAS, mutex, ...)
//   collect.gather         N workers each deliver one result: every collector x every way of waiting
//   waitgroup.wake         last done() -> wait() returns, per way of waiting
//   waitgroup.contended    add(1)/done() pairs from several threads
//
// Worker threads start before the timed loop and wait at a gate between
// rounds; every benchmark checks its exact total and its completion count.
#include <boost/fiber/all.hpp>
#include <cstddef>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "conpat/collectors.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/padding.hpp"
#include "conpat/wait_group.hpp"
#include "conpat/waiters.hpp"
#include "counters.hpp"
#include "harness/harness.hpp"
#include "harness/workers.hpp"

namespace conpat::bench {
namespace {

using counters::false_sharing;
using counters::kOpsPerRound;


// ---- collect.stride --------------------------------------------------------

// Two threads' counters `stride` bytes apart in one cache-line-aligned block.
void stride(benchmark::State& state, const std::string& name, std::size_t stride_bytes, int threads) {
  WorkerPool pool(threads, name);
  const std::size_t bytes = stride_bytes * static_cast<std::size_t>(threads) + 2 * kCacheLine;
  auto* block = static_cast<unsigned char*>(::operator new(bytes, std::align_val_t{2 * kCacheLine}));
  std::vector<std::atomic<std::uint64_t>*> slot(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    slot[static_cast<std::size_t>(t)] = new (block + stride_bytes * static_cast<std::size_t>(t)) std::atomic<std::uint64_t>(0);
  }
  for (auto _ : state) {
    pool.round([&](int t) {
      auto* c = slot[static_cast<std::size_t>(t)];
      for (std::uint64_t i = 0; i < kOpsPerRound; ++i) c->fetch_add(1, std::memory_order_relaxed);
    });
    if (pool.failed()) break;
  }
  std::uint64_t bad = 0;
  for (auto* c : slot) bad += c->load() != static_cast<std::uint64_t>(state.iterations()) * kOpsPerRound;
  ::operator delete(block, std::align_val_t{2 * kCacheLine});
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  if (bad != 0) return state.SkipWithError("wrong result: a counter lost increments");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kOpsPerRound) * threads);
  state.counters["ns_per_op"] = benchmark::Counter(static_cast<double>(kOpsPerRound) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
  state.counters["threads_used"] = threads;
  state.counters["hardware_destructive_interference_size"] = static_cast<double>(kCacheLine);
}

// ---- collect.writer_freq ---------------------------------------------------

template <class C>
void writer_freq(benchmark::State& state, const std::string& name, int work, int threads) {
  // Fewer writes per round when each carries more work: rounds stay ~1-10 ms.
  const std::uint64_t writes = work >= 1000 ? 256 : work >= 100 ? 2048 : 16384;
  WorkerPool pool(threads, name);
  std::uint64_t total = 0;
  for (auto _ : state) {
    C c(static_cast<std::size_t>(threads));
    pool.round([&](int t) {
      auto w = static_cast<std::size_t>(t);
      for (std::uint64_t i = 0; i < writes; ++i) {
        local_work(work);
        c.add(w, 1);
      }
      c.finish(w);
    });
    if (pool.failed()) break;
    total += c.total();
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  const std::uint64_t want = static_cast<std::uint64_t>(state.iterations()) * writes * static_cast<std::uint64_t>(threads);
  if (!check_transfer(state, want, want, total, total)) return;
  state.SetItemsProcessed(static_cast<std::int64_t>(want));
  // Per writer: wall time of a round / writes in it.
  state.counters["ns_per_write"] = benchmark::Counter(static_cast<double>(writes) * 1e-9,
                                                      benchmark::Counter::kIsIterationInvariantRate |
                                                          benchmark::Counter::kInvert);
  state.counters["writes_per_s_per_writer"] =
      benchmark::Counter(static_cast<double>(writes), benchmark::Counter::kIsIterationInvariantRate);
  // The work's own cost, measured in bursts of `work` units as called here (local_work_ns).
  state.counters["work_ns"] = local_work_ns(work);
  state.counters["unit_ns"] = work > 0 ? local_work_ns(work) / work : 0.0;
  state.counters["threads_used"] = threads;
}

// ---- collect.gather --------------------------------------------------------

// N persistent workers each deliver one result; the waiter collects.
template <class C, class W>
void gather_threads(benchmark::State& state, const std::string& name, int workers) {
  WorkerPool pool(workers, name, /*waits_itself=*/true);
  W waiter;
  std::uint64_t bad = 0;
  const auto n = static_cast<std::uint64_t>(workers);
  for (auto _ : state) {
    C c(n);
    waiter.arm(workers);
    pool.start([&](int t) {
      c.add(static_cast<std::size_t>(t), 3 * static_cast<std::uint64_t>(t) + 1);
      c.finish(static_cast<std::size_t>(t));
      waiter.done();
    });
    waiter.wait();
    bad += c.total() != 3 * n * (n - 1) / 2 + n;
    if (!pool.finish()) break;
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  if (bad != 0) return state.SkipWithError("wrong result: a gathered total was wrong");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = workers + 1;
}

// Tasks on TBB's pool; tbb::task_group::wait is the way of waiting.
template <class C>
void gather_tbb(benchmark::State& state, const std::string&, int workers) {
  const auto n = static_cast<std::uint64_t>(workers);
  std::uint64_t bad = 0;
  for (auto _ : state) {
    C c(n);
    tbb::task_group tg;
    for (int t = 0; t < workers; ++t) {
      tg.run([&c, t] {
        c.add(static_cast<std::size_t>(t), 3 * static_cast<std::uint64_t>(t) + 1);
        c.finish(static_cast<std::size_t>(t));
      });
    }
    tg.wait();
    bad += c.total() != 3 * n * (n - 1) / 2 + n;
  }
  if (bad != 0) return state.SkipWithError("wrong result: a gathered total was wrong");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = hardware_threads();  // TBB's arena; the waiting thread works in it
}

// Fibers on the benchmark thread; FiberWaitGroup parks the waiting fiber.
template <class C>
void gather_fibers(benchmark::State& state, const std::string&, int workers) {
  const auto n = static_cast<std::uint64_t>(workers);
  std::uint64_t bad = 0;
  for (auto _ : state) {
    C c(n);
    FiberWaitGroup wg;
    wg.arm(workers);
    std::vector<boost::fibers::fiber> fs;
    fs.reserve(n);
    for (int t = 0; t < workers; ++t) {
      fs.emplace_back([&c, &wg, t] {
        c.add(static_cast<std::size_t>(t), 3 * static_cast<std::uint64_t>(t) + 1);
        c.finish(static_cast<std::size_t>(t));
        wg.done();
      });
    }
    wg.wait();
    for (auto& f : fs) f.join();
    bad += c.total() != 3 * n * (n - 1) / 2 + n;
  }
  if (bad != 0) return state.SkipWithError("wrong result: a gathered total was wrong");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = 1;
}

// Go's first pattern as the comparison: each worker sends its result, the
// waiter receives N values (receiving is the waiting).
void gather_channel(benchmark::State& state, const std::string& name, int workers) {
  WorkerPool pool(workers, name, /*waits_itself=*/true);
  const auto n = static_cast<std::uint64_t>(workers);
  Channel<std::uint64_t> ch(n);
  std::uint64_t bad = 0;
  for (auto _ : state) {
    pool.start([&](int t) { ch.send(3 * static_cast<std::uint64_t>(t) + 1); });
    std::uint64_t sum = 0, v = 0;
    for (std::uint64_t i = 0; i < n && ch.recv(v) == ChanStatus::ok; ++i) sum += v;
    bad += sum != 3 * n * (n - 1) / 2 + n;
    if (!pool.finish()) break;
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  if (bad != 0) return state.SkipWithError("wrong result: a gathered total was wrong");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = workers + 1;
}

// ---- waitgroup.wake / waitgroup.contended ----------------------------------

template <class W>
void wake(benchmark::State& state, const std::string& name, int workers) {
  WorkerPool pool(workers, name, /*waits_itself=*/true);
  W waiter;
  std::vector<std::int64_t> done_at(static_cast<std::size_t>(workers));
  std::vector<std::int64_t> round_of(static_cast<std::size_t>(workers), -1);  // written before done()
  Latency lat;
  std::int64_t round = 0;
  for (auto _ : state) {
    waiter.arm(workers);
    pool.start([&, round](int t) {
      done_at[static_cast<std::size_t>(t)] = now_ns();
      round_of[static_cast<std::size_t>(t)] = round;
      waiter.done();
    });
    waiter.wait();
    std::int64_t woke = now_ns();
    // Every done() of this round must have happened before wait() returned.
    if (std::any_of(round_of.begin(), round_of.end(), [&](std::int64_t r) { return r != round; })) {
      pool.finish();
      return state.SkipWithError("wrong result: wait() returned before every worker's done()");
    }
    ++round;
    std::int64_t last = *std::max_element(done_at.begin(), done_at.end());
    lat.record(woke - last);
    if (!pool.finish()) break;
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  if (lat.count() != static_cast<std::size_t>(state.iterations())) {
    return state.SkipWithError("wrong result: a round did not complete");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = workers + 1;
  lat.report(state);
}

// tbb::task_group::wait, the sixth way: the group owns its tasks, so each
// round runs `workers` tasks on TBB's arena (spawning them is part of the
// round, unlike the other ways' persistent threads) and wait() returns
// after the last one; the latency is from the last task's end to wait()'s
// return, as for the others.
void wake_task_group(benchmark::State& state, const std::string& name, int workers) {
  const int arena_threads = std::max(2, tbb::this_task_arena::max_concurrency());
  tbb::task_arena arena(arena_threads);
  std::vector<std::int64_t> done_at(static_cast<std::size_t>(workers));
  std::vector<std::int64_t> round_of(static_cast<std::size_t>(workers), -1);
  Latency lat;
  std::int64_t round = 0;
  for (auto _ : state) {
    tbb::task_group tg;
    arena.execute([&] {
      for (int t = 0; t < workers; ++t) {
        tg.run([&, t, round] {
          done_at[static_cast<std::size_t>(t)] = now_ns();
          round_of[static_cast<std::size_t>(t)] = round;
        });
      }
      tg.wait();
    });
    const std::int64_t woke = now_ns();
    if (std::any_of(round_of.begin(), round_of.end(), [&](std::int64_t r) { return r != round; })) {
      return state.SkipWithError("wrong result: wait() returned before every task ended");
    }
    ++round;
    lat.record(woke - *std::max_element(done_at.begin(), done_at.end()));
  }
  (void)name;
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = arena_threads;
  lat.report(state);
}

void contended(benchmark::State& state, const std::string& name, int threads) {
  constexpr std::uint64_t kPairs = 1 << 14;
  WorkerPool pool(threads, name);
  WaitGroup wg;
  for (auto _ : state) {
    pool.round([&](int) {
      for (std::uint64_t i = 0; i < kPairs; ++i) {
        wg.add(1);
        wg.done();
      }
    });
    if (pool.failed()) break;
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  if (!wg.wait_for(std::chrono::seconds(0))) return state.SkipWithError("wrong result: counter not back at zero");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kPairs) * threads);
  state.counters["threads_used"] = threads;
}

// ---- registration ----------------------------------------------------------

template <class... T>
struct List {};
template <class T>
struct Tag {
  using type = T;
};
template <class... T, class F>
void each(List<T...>, F&& f) {
  (f(Tag<T>{}), ...);
}

using Collectors = List<MutexVector, Slots<layout::Packed>, Slots<layout::Padded>, AtomicAdd, AtomicCas, MutexSum,
                        SpinlockSum, Sharded<layout::Packed>, Sharded<layout::Padded>, ThreadLocalMerge,
                        TbbCombinable, TbbEnumerableTls>;
using Waiters = List<WaitGroupWaiter, CondVarWaiter, LatchWaiter, SpinWaiter, FiberWaitGroup>;
// The strategies the seed's decision tree chooses between, after the
// baseline: a writer's own padded slot, which shares nothing, so its cost per
// write is the local work plus the loop (the overhead of the others is their
// cost minus this one's, measured in the same run).
using WriteStrategies = List<Slots<layout::Padded>, AtomicAdd, AtomicCas, MutexSum, SpinlockSum, Sharded<layout::Padded>, ThreadLocalMerge>;

void register_collect(const Options& opt) {
  const bool quick = opt.profile == Profile::quick;
  const int hw = sweep_cpus();

  for (int threads : cpu_counts(hw, quick)) {
    register_benchmark(Name("collect.false_sharing", "counter").add("align", 64).add("threads", threads),
        [threads](benchmark::State& st, const std::string& n) { false_sharing<64>(st, n, threads); });
    register_benchmark(Name("collect.false_sharing", "counter").add("align", 128).add("threads", threads),
        [threads](benchmark::State& st, const std::string& n) { false_sharing<128>(st, n, threads); });
  }

  const int pair = std::max(2, hw);
  for (std::size_t s : quick ? std::vector<std::size_t>{8, 64} : std::vector<std::size_t>{8, 16, 32, 64, 128, 256}) {
    register_benchmark(Name("collect.stride", "atomic_add").add("stride", static_cast<long long>(s)).add("threads", pair),
        [s, pair](benchmark::State& st, const std::string& n) { stride(st, n, s, pair); });
  }

  const std::vector<int> works = quick ? std::vector<int>{0, 1000} : std::vector<int>{0, 10, 100, 1000, 10000};
  each(WriteStrategies{}, [&](auto tag) {
    using C = typename decltype(tag)::type;
    for (int w : works) {
      register_benchmark(Name("collect.writer_freq", C::kName).add("work", w).add("writers", pair),
          [w, pair](benchmark::State& st, const std::string& n) { writer_freq<C>(st, n, w, pair); });
    }
  });

  // collect.gather: not the full collectors x waiters product. Waking the
  // waiter costs a futex wake (~100 us here) and swamps differences of a few
  // ns between collectors, so each axis is swept with the other held fixed:
  // every collector under WaitGroup, and every way of waiting with the
  // padded slots (benches/README.md).
  const std::vector<int> ns = quick ? std::vector<int>{2, 64} : std::vector<int>{8, 64};
  for (int n : ns) {
    each(Collectors{}, [&](auto ctag) {
      using C = typename decltype(ctag)::type;
      register_benchmark(Name("collect.gather", C::kName).add("wait", WaitGroupWaiter::kName).add("workers", n),
          [n](benchmark::State& st, const std::string& nm) { gather_threads<C, WaitGroupWaiter>(st, nm, n); });
    });
    using Fixed = Slots<layout::Padded>;
    each(Waiters{}, [&](auto wtag) {
      using W = typename decltype(wtag)::type;
      if constexpr (!std::is_same_v<W, WaitGroupWaiter>) {
        register_benchmark(Name("collect.gather", Fixed::kName).add("wait", W::kName).add("workers", n),
            [n](benchmark::State& st, const std::string& nm) { gather_threads<Fixed, W>(st, nm, n); });
      }
    });
    register_benchmark(Name("collect.gather", Fixed::kName).add("wait", "tbb_task_group").add("workers", n),
        [n](benchmark::State& st, const std::string& nm) { gather_tbb<Fixed>(st, nm, n); });
    register_benchmark(Name("collect.gather", Fixed::kName).add("wait", FiberWaitGroup::kName).add("workers", n),
        [n](benchmark::State& st, const std::string& nm) { gather_fibers<Fixed>(st, nm, n); });
    register_benchmark(Name("collect.gather", "channel").add("wait", "recv").add("workers", n),
        [n](benchmark::State& st, const std::string& nm) { gather_channel(st, nm, n); });
  }

  for (int n : quick ? std::vector<int>{1, 8} : std::vector<int>{1, 2, 8, 64}) {
    each(Waiters{}, [&](auto wtag) {
      using W = typename decltype(wtag)::type;
      register_benchmark(Name("waitgroup.wake", W::kName).add("workers", n),
          [n](benchmark::State& st, const std::string& nm) { wake<W>(st, nm, n); });
    });
    register_benchmark(Name("waitgroup.wake", "tbb_task_group").add("workers", n),
        [n](benchmark::State& st, const std::string& nm) { wake_task_group(st, nm, n); });
  }
  for (int t : quick ? std::vector<int>{std::max(2, hw)} : cpu_counts(hw, false)) {
    register_benchmark(Name("waitgroup.contended", WaitGroupWaiter::kName).add("threads", t),
        [t](benchmark::State& st, const std::string& nm) { contended(st, nm, t); });
  }
}
CONPAT_BENCH_FAMILY(register_collect);

}  // namespace
}  // namespace conpat::bench
