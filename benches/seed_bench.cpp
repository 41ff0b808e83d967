// benches/seed_bench.cpp — the seed article's own experiments, with its
// setups as far as a 2-core machine allows (benches/go/main.go runs the same
// ones in Go; benches/README.md says how each follows the article).
//
//   seed.buffered_fan_in  open-loop requests, each a producer (thread or fiber) that "calls a
//                         service" and sends its result to one consumer through a channel of
//                         capacity 0..1024; latency from each request's scheduled start; the
//                         article's setups and one whose consumer stalls
//   seed.closed_fan_in    closed-loop workers (the next request when the send returns) and
//                         the stalling consumer: where a buffer can change throughput
//   seed.atomic_mutex     an atomic add vs a mutex-guarded add on one shared counter, 1, 2, 4 ..
//                         N (the CPUs), 2N writers
//   seed.paced_writes     N and 2N writers paced at 1e2..1e7 writes/s each: time per write, per strategy
//   seed.false_sharing    Counter{Hits, Misses}, packed vs padded, min(16, cores), N and 2N writers
//
// The seed's correctness claims (loop-variable capture, recover across
// goroutines) are checks recorded in the results file (harness/checks.cpp).
#include <boost/fiber/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/collectors.hpp"
#include "conpat/fiber_pool.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/padding.hpp"
#include "conpat/wait_group.hpp"
#include "counters.hpp"
#include "harness/harness.hpp"
#include "harness/workers.hpp"

namespace conpat::bench {
namespace {

// ---- seed.buffered_fan_in, seed.closed_fan_in ------------------------------

// The article's section 2.2: 10 K requests at a typical 5 K QPS with bursts,
// each producer calls fetchFromService (P99 80 ms) and sends its Result; one
// consumer handles ~12.5 K results/s (80 µs each). scripts/seed_model.py is
// the same experiment with an ideal channel: what the setup alone decides.
struct FanInSetup {
  std::size_t cap = 1024;
  int requests = 10000;    // in all, the burst included
  int burst = 2000;        // requests scheduled at one instant, half-way through
  double qps = 5000;       // the steady arrival rate of the others
  int workers = 0;         // closed loop (seed.closed_fan_in): this many producers, each
                           // starting its next request when its send has returned
  double service_p50_ms = 20;
  double service_p99_ms = 80;
  double consume_us = 80;  // the consumer's busy time per result
  double stall_every_ms = 0, stall_ms = 0;  // the consumer takes no result in [k every, k every + stall)

  int steady() const { return requests - burst; }
  // Scheduled start of request i, ns after the run's start: steady arrivals
  // at `qps`, the burst's all at the midpoint of the steady ones.
  std::int64_t offset_ns(int i) const {
    const int half = steady() / 2;
    const int k = i < half ? i : i < half + burst ? half : i - burst;
    return static_cast<std::int64_t>(static_cast<double>(k) * 1e9 / qps);
  }
};

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The simulated service call's latency for request `id`: log-logistic with
// the given median and 99th percentile (its quantile function is closed
// form, so Go draws the same latency for the same id).
std::int64_t service_ns(std::uint64_t id, double p50_ms, double p99_ms) {
  double u = static_cast<double>(splitmix64(id) >> 11) * 0x1.0p-53;
  u = std::clamp(u, 1e-9, 1 - 1e-9);
  const double beta = std::log(99.0) / std::log(p99_ms / p50_ms);
  return static_cast<std::int64_t>(p50_ms * 1e6 * std::pow(u / (1 - u), 1 / beta));
}

void busy_for_ns(std::int64_t ns) {
  const std::int64_t until = now_ns() + ns;
  while (now_ns() < until) detail::spin_pause();
}

double percentile_ms(std::vector<std::int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(idx, v.size() - 1)]) / 1e6;
}

// Waits until `t` (ns, now_ns's clock): sleeps while it is more than 2 ms
// away, then yields until it. Go's side (benches/go/seed.go, sleepUntilNs)
// waits the same way: its runtime's timers are about 1 ms coarse (a Go
// generator that slept whenever ahead started requests 3-7 ms late), so the
// threshold is Go's, and near a deadline a generator or paced writer keeps
// its CPU in both languages.
constexpr std::int64_t kSleepAboveNs = 2'000'000;
template <Runner R>
void wait_until_ns(std::int64_t t) {
  for (std::int64_t now = now_ns(); now < t; now = now_ns()) {
    if (t - now > kSleepAboveNs) {
      const auto d = std::chrono::nanoseconds(t - now - kSleepAboveNs * 3 / 4);
      if constexpr (R == Runner::fiber) {
        boost::this_fiber::sleep_for(d);
      } else {
        std::this_thread::sleep_for(d);
      }
    } else if constexpr (R == Runner::fiber) {
      boost::this_fiber::yield();
    } else {
      std::this_thread::yield();
    }
  }
}

template <Runner R>
void sleep_ns(std::int64_t ns) {
  if constexpr (R == Runner::fiber) {
    boost::this_fiber::sleep_for(std::chrono::nanoseconds(ns));
  } else {
    std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  }
}

// One run of either experiment is one iteration (bench.py repeats it). The
// time reported is from the run's start to the last result handled. Counted
// the same way in Go: a producer is live from its (actual) start to its send's
// return, blocked from a failed try_send to the send's return; latency runs
// from each request's scheduled start (open loop) or its start (closed loop)
// to the consumer's handling of its result (e2e) or to the return of its
// send (handoff: when the producer is free).
template <Runner R>
void fan_in(benchmark::State& state, const std::string& name, const FanInSetup& s) {
  using Wait = std::conditional_t<R == Runner::fiber, FiberWait, ThreadWait>;
  const auto n = static_cast<std::size_t>(s.requests);
  const bool closed = s.workers > 0;
  std::optional<FiberPool> pool;
  if constexpr (R == Runner::fiber) pool.emplace(static_cast<int>(hardware_threads()));
  for (auto _ : state) {
    Channel<std::uint64_t, Wait> ch(s.cap);
    Peak live, blocked;  // producers in flight; producers waiting in send
    std::vector<std::int64_t> latency(n, -1), handoff(n, 0), send_wait(n, 0), started(n, 0);
    std::vector<std::uint8_t> seen(n, 0);
    std::vector<std::int64_t> late(n, 0);  // how late each producer started (open loop)
    std::uint64_t received = 0, duplicates = 0;
    std::int64_t last_done = 0;
    Watchdog wd(options().watchdog_seconds, [&ch] { ch.close(); });
    WaitGroup producers;
    std::string spawn_error;
    const std::int64_t every = static_cast<std::int64_t>(s.stall_every_ms * 1e6);
    const std::int64_t stall = static_cast<std::int64_t>(s.stall_ms * 1e6);

    const std::int64_t t0 = now_ns() + (closed ? 20'000'000 : 2'000'000);  // time to set up
    auto consumer = [&] {
      std::uint64_t id = 0;
      for (std::size_t k = 0; k < n; ++k) {
        if (every > 0 && stall > 0) {  // inside a stall window: wait for its end
          const std::int64_t now = now_ns() - t0, end = now / every * every + stall;
          if (now >= 0 && now < end) sleep_ns<R>(end - now);
        }
        if (ch.recv(id) != ChanStatus::ok) break;
        busy_for_ns(static_cast<std::int64_t>(s.consume_us * 1e3));
        last_done = now_ns();
        if (id >= n || seen[id]++ != 0) {
          ++duplicates;
          continue;
        }
        latency[id] = last_done - started[id];
        ++received;
        wd.kick();
        // Boost.Fiber never preempts: a busy consumer fiber would keep the
        // generator (and the producers) off its thread for a whole backlog.
        // Every consumer (threads, fibers, Go) yields after each result.
        if constexpr (R == Runner::fiber) {
          boost::this_fiber::yield();
        } else {
          std::this_thread::yield();
        }
      }
    };
    // Sleeps request id's service latency, then sends it; false once closed.
    auto request = [&](std::uint64_t id) {
      sleep_ns<R>(service_ns(id, s.service_p50_ms, s.service_p99_ms));
      const std::int64_t a = now_ns();
      ChanStatus st = ch.try_send(id);
      if (st == ChanStatus::would_block) {
        blocked.enter();
        st = ch.send(id);
        blocked.leave();
      }
      const std::int64_t b = now_ns();
      send_wait[id] = b - a;
      handoff[id] = b - started[id];
      return st == ChanStatus::ok;
    };
    auto producer = [&](std::uint64_t id) {  // open loop: one request
      late[id] = now_ns() - started[id];
      request(id);
      live.leave();
      producers.done();
    };
    auto worker = [&](std::uint64_t w) {  // closed loop: requests w, w + workers, ...
      wait_until_ns<R>(t0);
      for (std::uint64_t id = w; id < n; id += static_cast<std::uint64_t>(s.workers)) {
        started[id] = now_ns();
        if (!request(id)) break;
      }
      live.leave();
      producers.done();
    };
    // The open-loop generator: request i starts at its scheduled time, or as
    // soon after as the generator gets there (the latency counts the delay).
    auto generate = [&] {
      for (std::size_t i = 0; i < n && !wd.fired(); ++i) {
        started[i] = t0 + s.offset_ns(static_cast<int>(i));
        wait_until_ns<R>(started[i]);
        producers.add(1);
        live.enter();
        if constexpr (R == Runner::fiber) {
          pool->spawn([&producer, i] { producer(i); });
        } else {
          try {
            std::thread(producer, i).detach();
          } catch (const std::system_error& e) {
            spawn_error = "could not start thread " + std::to_string(i) + ": " + e.what();
            live.leave();
            producers.done();
            ch.close();
            break;
          }
        }
      }
    };
    std::vector<std::thread> workers;
    if (closed) {
      for (int w = 0; w < s.workers; ++w) {
        producers.add(1);
        live.enter();
        if constexpr (R == Runner::fiber) {
          pool->spawn([&worker, w] { worker(static_cast<std::uint64_t>(w)); });
        } else {
          try {
            workers.emplace_back(worker, static_cast<std::uint64_t>(w));
          } catch (const std::system_error& e) {
            spawn_error = "could not start worker " + std::to_string(w) + ": " + e.what();
            live.leave();
            producers.done();
            ch.close();
            break;
          }
        }
      }
    }
    if constexpr (R == Runner::fiber) {
      pool->spawn(consumer);
      if (!closed) generate();
      pool->join();  // the consumer and every producer
    } else {
      std::thread c(consumer);
      if (!closed) generate();
      producers.wait();
      c.join();
      for (auto& t : workers) t.join();
    }
    if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
    if (!spawn_error.empty()) return state.SkipWithError(spawn_error.c_str());
    if (received != n || duplicates != 0) {
      return state.SkipWithError(("wrong result: " + std::to_string(received) + " of " + std::to_string(n) +
                                  " requests answered, " + std::to_string(duplicates) + " duplicated").c_str());
    }
    const double secs = static_cast<double>(last_done - t0) / 1e9;
    state.SetIterationTime(secs);
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
    state.counters["throughput_rps"] = static_cast<double>(n) / secs;
    state.counters["e2e_p50_ms"] = percentile_ms(latency, 0.50);
    state.counters["e2e_p95_ms"] = percentile_ms(latency, 0.95);
    state.counters["e2e_p99_ms"] = percentile_ms(latency, 0.99);
    state.counters["e2e_max_ms"] = percentile_ms(latency, 1.0);
    state.counters["handoff_p95_ms"] = percentile_ms(handoff, 0.95);
    state.counters["send_wait_p95_ms"] = percentile_ms(send_wait, 0.95);
    double wait_sum = 0;
    for (auto w : send_wait) wait_sum += static_cast<double>(w);
    state.counters["send_wait_mean_us"] = wait_sum / static_cast<double>(n) / 1e3;
    if (!closed) {
      state.counters["start_late_p99_ms"] = percentile_ms(late, 0.99);
      // The generator's rate over the one asked for: the schedule's span
      // over the span it took to start every request (below 1: it fell behind).
      std::int64_t last_start = 0;
      for (std::size_t i = 0; i < n; ++i) last_start = std::max(last_start, started[i] + late[i] - t0);
      const double span = static_cast<double>(s.offset_ns(s.requests - 1));
      if (span > 0) state.counters["rate_reached"] = std::min(1.0, span / static_cast<double>(std::max<std::int64_t>(last_start, 1)));
    }
    state.counters["peak_live_producers"] = live.peak.load();
    state.counters["peak_blocked_producers"] = blocked.peak.load();
    state.counters["requests"] = static_cast<double>(n);
    // Threads: every live producer is one (plus generator and consumer).
    state.counters["threads_used"] = R == Runner::fiber ? pool->threads() : live.peak.load() + 2;
  }
}

// ---- seed.atomic_mutex -------------------------------------------------------

constexpr std::uint64_t kAddsPerRound = 1 << 14;

struct AtomicCounter {
  static constexpr const char* kName = "atomic_add";
  alignas(kCacheLine) std::atomic<std::uint64_t> v{0};
  void add() { v.fetch_add(1); }
  std::uint64_t total() const { return v.load(); }
};
template <class Mutex>
struct MutexCounter {
  static constexpr const char* kName = "mutex";
  alignas(kCacheLine) Mutex m;
  std::uint64_t v = 0;
  void add() {
    std::lock_guard lk(m);
    ++v;
  }
  std::uint64_t total() const { return v; }
};

// `writers` threads or fibers add 1 to one shared counter kAddsPerRound
// times a round. ns_per_op: wall time x CPUs in use / adds, i.e. the time
// one add keeps a CPU busy (a writer's own time per add when writers <= CPUs).
template <class C, Runner R>
void atomic_mutex(benchmark::State& state, const std::string& name, int writers) {
  std::optional<WorkerPool> threads;
  std::optional<FiberPool> fibers;
  if constexpr (R == Runner::fiber) {
    fibers.emplace(static_cast<int>(hardware_threads()));
  } else {
    threads.emplace(writers, name);
  }
  C c;
  auto body = [&c] {
    for (std::uint64_t i = 0; i < kAddsPerRound; ++i) c.add();
  };
  double secs = 0;
  for (auto _ : state) {
    const auto t = Clock::now();
    if constexpr (R == Runner::fiber) {
      for (int w = 0; w < writers; ++w) fibers->spawn(body);
      fibers->join();
    } else {
      threads->round([&](int) { body(); });
      if (threads->failed()) return state.SkipWithError(threads->error().c_str());
    }
    secs += std::chrono::duration<double>(Clock::now() - t).count();
  }
  const std::uint64_t want = static_cast<std::uint64_t>(state.iterations()) * kAddsPerRound * static_cast<std::uint64_t>(writers);
  if (!check_transfer(state, want, want, c.total(), c.total())) return;
  const int cpus = std::min(writers, R == Runner::fiber ? fibers->threads() : static_cast<int>(hardware_threads()));
  state.SetItemsProcessed(static_cast<std::int64_t>(want));
  state.counters["ns_per_op"] = secs * 1e9 * cpus / static_cast<double>(want);
  state.counters["cpus_used"] = cpus;
  state.counters["threads_used"] = R == Runner::fiber ? fibers->threads() : writers;
}

// ---- seed.paced_writes -------------------------------------------------------

// Each writer writes at `rate` per second for `seconds` (at least 20
// writes), on a fixed schedule (a late write is made at once, not skipped).
// Every write is timed on its own: write_ns is the mean, the two clock reads
// included — the same in every strategy, so the overhead of one over
// slots_padded (shares nothing) at the same rate is the difference.
template <class C>
void paced_writes(benchmark::State& state, const std::string& name, int writers, double rate, double seconds) {
  const auto writes = static_cast<std::uint64_t>(std::max(20.0, rate * seconds));
  const double period = 1e9 / rate;
  WorkerPool pool(writers, name);
  for (auto _ : state) {
    C c(static_cast<std::size_t>(writers));
    std::vector<Padded<std::int64_t>> write_ns(static_cast<std::size_t>(writers)), took(write_ns.size());
    const std::int64_t t0 = now_ns() + 1'000'000;
    pool.round([&](int t) {
      const auto w = static_cast<std::size_t>(t);
      std::int64_t sum = 0;
      for (std::uint64_t i = 0; i < writes; ++i) {
        wait_until_ns<Runner::thread>(t0 + static_cast<std::int64_t>(static_cast<double>(i) * period));
        const std::int64_t a = now_ns();
        c.add(w, 1);
        sum += now_ns() - a;
      }
      c.finish(w);
      write_ns[w].value = sum;
      took[w].value = now_ns() - t0;
    });
    if (pool.failed()) return state.SkipWithError(pool.error().c_str());
    const std::uint64_t want = writes * static_cast<std::uint64_t>(writers);
    if (!check_transfer(state, want, want, c.total(), c.total())) return;
    std::int64_t sum = 0, longest = 0;
    for (std::size_t w = 0; w < write_ns.size(); ++w) {
      sum += write_ns[w].value;
      longest = std::max(longest, took[w].value);
    }
    state.SetIterationTime(static_cast<double>(longest) / 1e9);
    state.SetItemsProcessed(static_cast<std::int64_t>(want));
    state.counters["write_ns"] = static_cast<double>(sum) / static_cast<double>(want);
    // writes - 1 periods from the first scheduled write to the last write
    const double per_s = static_cast<double>(writes - 1) * 1e9 / static_cast<double>(longest);
    state.counters["writes_per_s_per_writer"] = per_s;
    state.counters["rate_reached"] = per_s / rate;
    state.counters["threads_used"] = writers;
  }
}

// ---- registration --------------------------------------------------------------

template <class... T>
struct List {};
template <class... T, class F>
void each(List<T...>, F&& f) {
  (f(static_cast<T*>(nullptr)), ...);
}

void register_seed(const Options& opt) {
  const bool quick = opt.profile == Profile::quick;
  // Writers: 1, 2, 4, ... up to the CPUs, N = the CPUs (at least 2), 2N (cpu_counts).
  const int hw = std::max(2, sweep_cpus());
  const std::vector<int> writer_counts = cpu_counts(hw, quick);
  const std::vector<int> n_and_2n = quick ? std::vector<int>{hw} : std::vector<int>{hw, 2 * hw};

  // The article's setups (open loop, a burst half-way, 5 K and 20 K
  // requests/s); the same open loop under a consumer that stalls; and closed-
  // loop workers under that consumer (benches/README.md, seed_model.py).
  std::vector<FanInSetup> setups;
  for (double qps : {5000.0, 20000.0}) {
    FanInSetup s;
    if (quick) s.requests = 2000, s.burst = 400;
    s.qps = qps;
    setups.push_back(s);
  }
  FanInSetup stalled;
  stalled.requests = quick ? 1000 : 4000, stalled.burst = 0, stalled.qps = 2000;
  stalled.stall_every_ms = 200, stalled.stall_ms = 150;
  setups.push_back(stalled);
  FanInSetup closed = stalled;
  closed.requests = quick ? 1000 : 2000, closed.workers = 60;
  setups.push_back(closed);
  for (const FanInSetup& base : setups) {
    for (std::size_t cap : quick ? std::vector<std::size_t>{0, 1024} : std::vector<std::size_t>{0, 64, 1024}) {
      FanInSetup s = base;
      s.cap = cap;
      for (Runner r : {Runner::thread, Runner::fiber}) {
        Name n = s.workers > 0 ? Name("seed.closed_fan_in", "channel").add("runner", runner_name(r))
                                     .add("cap", static_cast<long long>(cap)).add("workers", s.workers)
                               : Name("seed.buffered_fan_in", "channel").add("runner", runner_name(r))
                                     .add("cap", static_cast<long long>(cap)).add("qps", static_cast<long long>(s.qps))
                                     .add("burst", s.burst);
        n.add("requests", s.requests).add("service_p50_ms", static_cast<long long>(s.service_p50_ms))
            .add("service_p99_ms", static_cast<long long>(s.service_p99_ms))
            .add("consume_us", static_cast<long long>(s.consume_us))
            .add("stall_every_ms", static_cast<long long>(s.stall_every_ms)).add("stall_ms", static_cast<long long>(s.stall_ms));
        if (r == Runner::thread) {
          register_manual(n, [s](benchmark::State& st, const std::string& nm) { fan_in<Runner::thread>(st, nm, s); }, 1);
        } else {
          register_manual(n, [s](benchmark::State& st, const std::string& nm) { fan_in<Runner::fiber>(st, nm, s); }, 1);
        }
      }
    }
  }

  for (int w : writer_counts) {
    auto name = [w](const char* impl, Runner r) {
      return Name("seed.atomic_mutex", impl).add("runner", runner_name(r)).add("writers", w);
    };
    register_benchmark(name(AtomicCounter::kName, Runner::thread),
        [w](benchmark::State& st, const std::string& n) { atomic_mutex<AtomicCounter, Runner::thread>(st, n, w); });
    register_benchmark(name("mutex", Runner::thread),
        [w](benchmark::State& st, const std::string& n) { atomic_mutex<MutexCounter<std::mutex>, Runner::thread>(st, n, w); });
    register_benchmark(name(AtomicCounter::kName, Runner::fiber),
        [w](benchmark::State& st, const std::string& n) { atomic_mutex<AtomicCounter, Runner::fiber>(st, n, w); });
    register_benchmark(name("mutex", Runner::fiber),
        [w](benchmark::State& st, const std::string& n) { atomic_mutex<MutexCounter<boost::fibers::mutex>, Runner::fiber>(st, n, w); });
  }

  const double seconds = quick ? 0.05 : 0.2;
  const std::vector<double> rates = quick ? std::vector<double>{1e2, 1e4, 1e6, 1e7}
                                          : std::vector<double>{1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
  each(List<Slots<layout::Padded>, AtomicAdd, MutexSum, Sharded<layout::Padded>>{}, [&](auto* tag) {
    using C = std::remove_pointer_t<decltype(tag)>;
    for (int w : n_and_2n) {
      for (double rate : rates) {
        register_manual(Name("seed.paced_writes", C::kName).add("runner", "thread").add("writers", w)
                            .add("rate", static_cast<long long>(rate)),
            [w, rate, seconds](benchmark::State& st, const std::string& n) { paced_writes<C>(st, n, w, rate, seconds); }, 1);
      }
    }
  });

  // The article's 16 cores where the machine has them (else all its cores), N and 2N.
  std::vector<int> fs_writers{std::max(2, std::min(16, sweep_physical_cores()))};
  for (int w : n_and_2n) {
    if (std::find(fs_writers.begin(), fs_writers.end(), w) == fs_writers.end()) fs_writers.push_back(w);
  }
  for (int w : fs_writers) {
    register_benchmark(Name("seed.false_sharing", "counter").add("runner", "thread").add("writers", w).add("align", 64),
        [w](benchmark::State& st, const std::string& n) { counters::false_sharing<64>(st, n, w); });
  }
}

CONPAT_BENCH_FAMILY(register_seed);

}  // namespace
}  // namespace conpat::bench
