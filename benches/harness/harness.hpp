// benches/harness/harness.hpp — what every conpat benchmark family shares:
// profiles and family registration, names that are data
// (`family/impl:NAME/key:value/...`), latency sampling with percentiles,
// a watchdog that turns a hang into a named error, result checks, and the
// unit of producer "local work".
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace conpat::bench {

// ---- profiles and registration -------------------------------------------

enum class Profile { quick, standard, full };  // `standard` is PROFILE=default

struct Options {
  Profile profile = Profile::standard;
  double watchdog_seconds = 30;  // a round making no progress this long fails the benchmark
  bool pin_threads = false;      // pin the harness's threads to distinct CPUs (pinning.hpp)
  int cpus = 0;                  // --conpat_cpus: size the sweeps for this many CPUs (listing only; 0: this machine)
};
const Options& options();

// The logical CPUs the sweeps reach: --conpat_cpus when listing what another
// machine would run, else hardware_threads(); and its physical cores (the same
// number under --conpat_cpus).
int sweep_cpus();
int sweep_physical_cores();
// Thread / writer counts that reach the machine: 1, 2, 4, ... up to `cpus`
// (and `cpus` itself), then 2 x cpus (oversubscribed); quick: 1 and max(2, cpus).
std::vector<int> cpu_counts(int cpus, bool quick);

// A family registers its benchmarks for the chosen profile. Families add
// themselves at static-initialisation time with CONPAT_BENCH_FAMILY.
using FamilyRegistrar = void (*)(const Options&);
int add_family(FamilyRegistrar fn);
#define CONPAT_BENCH_FAMILY(fn) \
  [[maybe_unused]] static const int conpat_family_##fn = ::conpat::bench::add_family(&fn)

// ---- names ---------------------------------------------------------------

// Builds `family/impl:NAME/key:value/...`; keys keep the order given.
class Name {
 public:
  Name(std::string family, std::string impl) : s_(std::move(family) + "/impl:" + std::move(impl)) {}
  Name& add(const std::string& key, const std::string& value) {
    s_ += "/" + key + ":" + value;
    return *this;
  }
  Name& add(const std::string& key, long long value) { return add(key, std::to_string(value)); }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// The machine-state probe taken before and after every sample (probe.hpp).
double sample_c2c_ns();

// Runs one sample of a benchmark between two state probes; the larger round
// trip becomes the sample's `state_c2c_ns` counter (bench.py marks samples
// whose value is far from the run's usual state).
template <class F>
void run_sample(benchmark::State& st, const std::string& n, const F& fn) {
  const double before = sample_c2c_ns();
  fn(st, n);
  const double after = sample_c2c_ns();
  if (before > 0 && after > 0) st.counters["state_c2c_ns"] = std::max(before, after);
}

// The iteration count --conpat_iterations fixes for the benchmark
// registered as `name`, or 0 (Google Benchmark estimates it per sample).
benchmark::IterationCount fixed_iterations(const std::string& name);

// Registers fn(state, name) under `name`, timed in wall-clock nanoseconds.
template <class F>
void register_benchmark(const Name& name, F fn) {
  std::string n = name.str();
  auto* b = benchmark::RegisterBenchmark(n.c_str(), [n, fn](benchmark::State& st) { run_sample(st, n, fn); })
                ->UseRealTime()
                ->Unit(benchmark::kNanosecond);
  if (const auto fixed = fixed_iterations(n); fixed > 0) b->Iterations(fixed);
}

// As register_benchmark, for benchmarks that time themselves with
// state.SetIterationTime (the interval measured is the subject, e.g. from
// request_stop until the last worker returned).
// `iterations` > 0 fixes the count, for benchmarks whose untimed set-up per
// iteration (letting workers park) dwarfs the interval timed.
template <class F>
void register_manual(const Name& name, F fn, benchmark::IterationCount iterations = 0) {
  std::string n = name.str();
  auto* b = benchmark::RegisterBenchmark(n.c_str(), [n, fn](benchmark::State& st) { run_sample(st, n, fn); })
                ->UseManualTime()
                ->Unit(benchmark::kNanosecond);
  if (iterations == 0) iterations = fixed_iterations(n);
  if (iterations > 0) b->Iterations(iterations);
}

// ---- payloads and local work -----------------------------------------------

// The item moved through channels: its id, padded to Bytes.
template <std::size_t Bytes>
struct Payload {
  static_assert(Bytes >= sizeof(std::uint64_t) && Bytes % sizeof(std::uint64_t) == 0);
  std::uint64_t id = 0;
  std::uint64_t pad[Bytes / sizeof(std::uint64_t) - 1]{};
};
template <>
struct Payload<8> {
  std::uint64_t id = 0;
};

// One unit of producer work, as Go's benchmarkChanProdCons: foo *= 2; foo /= 2.
inline void local_work(int units) {
  std::uint64_t foo = 1;
  for (int i = 0; i < units; ++i) {
    foo *= 2;
    benchmark::DoNotOptimize(foo);
    foo /= 2;
    benchmark::DoNotOptimize(foo);
  }
}

// What one local_work(units) call costs on this machine when called back to
// back, as the benchmarks call it (short bursts overlap in the CPU, so the
// cost of a long chain divided by its length is wrong for small counts):
// the best of 5 timings of enough calls to take about 2 ms, measured once
// per count and process. 0 for units <= 0.
double local_work_ns(int units);

// ---- latency -------------------------------------------------------------

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// Per-item latency samples (ns). One Latency per thread that records; merge
// them after the workers have joined.
class Latency {
 public:
  void reserve(std::size_t n) { samples_.reserve(n); }
  void record(std::int64_t ns) { samples_.push_back(ns); }
  void merge(const Latency& other) { samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end()); }
  std::size_t count() const { return samples_.size(); }

  // Sets <prefix>_p50_ns, _p90_ns, _p99_ns, _p999_ns and <prefix>_samples
  // (nearest-rank percentiles of the recorded samples).
  void report(benchmark::State& state, const std::string& prefix = "lat") {
    if (samples_.empty()) return;
    std::sort(samples_.begin(), samples_.end());
    auto pct = [&](double p) {
      auto idx = static_cast<std::size_t>(p * static_cast<double>(samples_.size() - 1) + 0.5);
      return static_cast<double>(samples_[std::min(idx, samples_.size() - 1)]);
    };
    state.counters[prefix + "_p50_ns"] = pct(0.50);
    state.counters[prefix + "_p90_ns"] = pct(0.90);
    state.counters[prefix + "_p99_ns"] = pct(0.99);
    state.counters[prefix + "_p999_ns"] = pct(0.999);
    state.counters[prefix + "_samples"] = static_cast<double>(samples_.size());
  }

 private:
  std::vector<std::int64_t> samples_;
};

// Sample one item in kLatencyStride: timestamps cost ~20 ns each.
inline constexpr std::uint64_t kLatencyStride = 64;

// ---- watchdog --------------------------------------------------------------

// Calls `on_fire` once if kick() is not called for `seconds`. The callback
// must unblock the benchmark (close its channels); fired() then tells the
// benchmark to report the hang with SkipWithError.
class Watchdog {
 public:
  Watchdog(double seconds, std::function<void()> on_fire)
      : limit_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds))),
        on_fire_(std::move(on_fire)),
        thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void kick() { last_kick_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed); }
  bool fired() const { return fired_.load(std::memory_order_acquire); }

  // The error text for SkipWithError: names the benchmark and the limit.
  std::string message(const std::string& benchmark_name) const {
    return "watchdog: " + benchmark_name + " made no progress for " +
           std::to_string(std::chrono::duration<double>(limit_).count()) + " s; its channels were closed";
  }

 private:
  void run() {
    kick();
    std::unique_lock lk(mu_);
    while (!stop_) {
      cv_.wait_for(lk, std::chrono::milliseconds(200));
      auto last = Clock::time_point(Clock::duration(last_kick_.load(std::memory_order_relaxed)));
      if (!stop_ && Clock::now() - last > limit_) {
        fired_.store(true, std::memory_order_release);
        lk.unlock();
        on_fire_();
        return;
      }
    }
  }

  Clock::duration limit_;
  std::function<void()> on_fire_;
  std::atomic<Clock::rep> last_kick_{0};
  std::atomic<bool> fired_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// ---- checks ----------------------------------------------------------------

// Compares what was received with what was sent; on a mismatch marks the
// benchmark failed. Returns true when the check passed.
bool check_transfer(benchmark::State& state, std::uint64_t sent_count, std::uint64_t sent_sum,
                    std::uint64_t got_count, std::uint64_t got_sum);

// Number of hardware threads this process may run on (its CPU affinity);
// benchmarks report `threads_used` and the results file marks any benchmark
// using more as oversubscribed.
unsigned hardware_threads();

}  // namespace conpat::bench
