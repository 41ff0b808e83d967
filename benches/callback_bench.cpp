// benches/callback_bench.cpp — callbacks, errors across threads, timeouts,
// cancellation and close: the seed's third pattern and the traps of all three.
//
//   callback.dispatch      cost per call of each callback holder, per kind of capture, and the
//                          heap allocations of making the closure and its holder (allocs_per_op)
//   callback.spawn         one task on its own thread (std::thread, std::async, ErrGroup): time
//                          and heap allocations per task
//   callback.error_rate    error_code vs Expected vs exceptions, at error rates 0..100 %
//   callback.cross_thread  a result handed to another thread: promise/future, callback->channel, ErrGroup
//   timeout.recv_for       requested vs actual wait on an empty channel (overshoot)
//   cancel.fanout          request_stop -> every blocked worker has returned cancelled
//   close.drain            close a full channel and drain it
// (timeout.armed lives with the channel workloads in channel_bench.cpp.)
//
// Every benchmark checks its outcome: errors seen = errors injected, every
// worker returned the status it should, every value arrived.
#include <boost/fiber/all.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "conpat/callback.hpp"
#include "conpat/channel.hpp"
#include "conpat/err_group.hpp"
#include "conpat/fiber_channel.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/result.hpp"
#include "conpat/spsc_ring.hpp"
#include "conpat/tbb_channel.hpp"
#include "conpat/wait_group.hpp"
#include "harness/alloc_count.hpp"
#include "harness/harness.hpp"
#include "harness/workers.hpp"
#include "impls.hpp"

namespace conpat::bench {
namespace {

constexpr int kCalls = 1024;  // calls per iteration where one call is too short to time

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- callback.dispatch -------------------------------------------------------

// value: 8 bytes by value (fits std::function's 16-byte small buffer);
// large: 64 bytes by value (does not); ref: a reference; shared_ptr: a
// shared_ptr (heap, and not trivially copyable, so std::function stores it
// on the heap too).
enum class Capture { value, ref, shared_ptr, large };
constexpr const char* capture_name(Capture c) {
  switch (c) {
    case Capture::value: return "value";
    case Capture::ref: return "ref";
    case Capture::shared_ptr: return "shared_ptr";
    case Capture::large: return "large";
  }
  return "?";
}

// The closure: returns x + k, with k captured the given way.
template <Capture C>
auto make_closure(const std::int64_t& k_ref) {
  if constexpr (C == Capture::value) {
    return [k = k_ref](std::int64_t x) { return x + k; };
  } else if constexpr (C == Capture::ref) {
    return [&k_ref](std::int64_t x) { return x + k_ref; };
  } else if constexpr (C == Capture::shared_ptr) {
    return [k = std::make_shared<std::int64_t>(k_ref)](std::int64_t x) { return x + *k; };
  } else {
    std::array<std::int64_t, 8> ks{};
    ks[7] = k_ref;
    return [ks](std::int64_t x) { return x + ks[0] + ks[7]; };
  }
}

// Whether the binary's counting operator new is in place (alloc_count.cpp):
// one new must count as one allocation of its size.
bool alloc_counter_works() {
  AllocCount c;
  auto* p = new std::int64_t[3];
  benchmark::DoNotOptimize(p);
  delete[] p;
  return c.allocs() == 1 && c.bytes() == 3 * sizeof(std::int64_t);
}

// Both read before the counters are written: writing one allocates.
void report_allocs(benchmark::State& state, const AllocCount& c, std::uint64_t ops) {
  const auto allocs = static_cast<double>(c.allocs()), bytes = static_cast<double>(c.bytes());
  state.counters["allocs_per_op"] = allocs / static_cast<double>(ops);
  state.counters["bytes_per_op"] = bytes / static_cast<double>(ops);
}

template <class F>
[[gnu::noinline]] std::int64_t call_template(F& f, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += f(i);
    benchmark::DoNotOptimize(sum);  // one real call per i: no vectorising, no closed form
  }
  return sum;
}
[[gnu::noinline]] std::int64_t call_function(const std::function<std::int64_t(std::int64_t)>& f, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += f(i);
    benchmark::DoNotOptimize(sum);  // one real call per i: no vectorising, no closed form
  }
  return sum;
}
[[gnu::noinline]] std::int64_t call_ref(FunctionRef<std::int64_t(std::int64_t)> f, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += f(i);
    benchmark::DoNotOptimize(sum);  // one real call per i: no vectorising, no closed form
  }
  return sum;
}
[[gnu::noinline]] std::int64_t call_virtual(Callback<std::int64_t(std::int64_t)>& f, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += f(i);
    benchmark::DoNotOptimize(sum);  // one real call per i: no vectorising, no closed form
  }
  return sum;
}
#if defined(__cpp_lib_move_only_function)
[[gnu::noinline]] std::int64_t call_move_only(std::move_only_function<std::int64_t(std::int64_t)>& f, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += f(i);
    benchmark::DoNotOptimize(sum);  // one real call per i: no vectorising, no closed form
  }
  return sum;
}
#endif

enum class Holder { template_param, std_function, function_ref, virtual_interface, move_only_function };
constexpr const char* holder_name(Holder h) {
  switch (h) {
    case Holder::template_param: return "template";
    case Holder::std_function: return "std_function";
    case Holder::function_ref: return "function_ref";
    case Holder::virtual_interface: return "virtual";
    case Holder::move_only_function: return "move_only_function";
  }
  return "?";
}

// Wraps `closure` in holder H (copying it, as passing a callback does) and
// calls it n times with 0..n-1; returns the sum.
template <Holder H, class F>
std::int64_t hold_and_call(F& closure, int n) {
  if constexpr (H == Holder::template_param) {
    return call_template(closure, n);
  } else if constexpr (H == Holder::std_function) {
    std::function<std::int64_t(std::int64_t)> f = closure;
    return call_function(f, n);
  } else if constexpr (H == Holder::function_ref) {
    return call_ref(closure, n);
  } else if constexpr (H == Holder::virtual_interface) {
    auto cb = make_callback<std::int64_t(std::int64_t)>(closure);
    return call_virtual(*cb, n);
  } else {
#if defined(__cpp_lib_move_only_function)
    std::move_only_function<std::int64_t(std::int64_t)> f = closure;
    return call_move_only(f, n);
#else
    return -1;
#endif
  }
}

template <Holder H, Capture C>
void dispatch(benchmark::State& state, const std::string&) {
  std::int64_t k = 7;
  benchmark::DoNotOptimize(k);
  auto closure = make_closure<C>(k);
  std::int64_t total = 0;
  for (auto _ : state) total += hold_and_call<H>(closure, kCalls);
  const std::int64_t want = static_cast<std::int64_t>(state.iterations()) * (kCalls * (kCalls - 1) / 2 + kCalls * k);
  if (total != want) return state.SkipWithError("wrong result: callbacks returned a wrong sum");
  // Allocations, untimed: one op makes the closure, wraps it in the holder
  // and calls it once (Go's AllocsPerRun of the same closure, benches/go).
  if (!alloc_counter_works()) return state.SkipWithError("wrong result: the counting operator new is not in place");
  constexpr int kOps = 1000;
  std::int64_t op_sum = 0;
  {
    AllocCount count;
    for (int i = 0; i < kOps; ++i) {
      auto fresh = make_closure<C>(k);
      op_sum += hold_and_call<H>(fresh, 1);
    }
    report_allocs(state, count, kOps);
  }
  if (op_sum != kOps * k) return state.SkipWithError("wrong result: callbacks returned a wrong sum (allocation pass)");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kCalls);
  state.counters["ns_per_call"] = benchmark::Counter(kCalls * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                         benchmark::Counter::kInvert);
  state.counters["threads_used"] = 1;
}

// ---- callback.spawn ------------------------------------------------------------

// One task on its own thread and its result back: time per task (thread
// creation is the subject) and, in an untimed pass, heap allocations per
// task. The task is the closure of callback.dispatch (small or large
// capture), called with the task's index.
enum class Spawn { std_thread, std_async, err_group };
constexpr const char* spawn_name(Spawn s) {
  return s == Spawn::std_thread ? "std_thread" : s == Spawn::std_async ? "std_async" : "err_group";
}

template <Spawn S, class F>
std::int64_t run_task(const F& closure, std::int64_t i) {
  std::int64_t v = 0;
  if constexpr (S == Spawn::std_thread) {
    std::thread t([closure, i, &v] { v = closure(i); });
    t.join();
  } else if constexpr (S == Spawn::std_async) {
    v = std::async(std::launch::async, [closure, i] { return closure(i); }).get();
  } else {
    ErrGroup g;
    g.go([closure, i, &v] { v = closure(i); });
    g.wait();
  }
  return v;
}

template <Spawn S, Capture C>
void spawn(benchmark::State& state, const std::string& name) {
  std::int64_t k = 7;
  benchmark::DoNotOptimize(k);
  const auto closure = make_closure<C>(k);
  std::int64_t got = 0, want = 0, i = 0;
  for (auto _ : state) {
    got += run_task<S>(closure, i);
    want += i + k;
    ++i;
  }
  if (got != want) return state.SkipWithError(("wrong result: " + name + ": a task's result was wrong").c_str());
  if (!alloc_counter_works()) return state.SkipWithError("wrong result: the counting operator new is not in place");
  constexpr int kTasks = 64;
  std::int64_t op_got = 0;
  {
    AllocCount count;
    for (int t = 0; t < kTasks; ++t) op_got += run_task<S>(closure, t);
    report_allocs(state, count, kTasks);
  }
  if (op_got != kTasks * (kTasks - 1) / 2 + kTasks * k) return state.SkipWithError("wrong result: allocation pass");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["threads_used"] = 2;
}

// ---- callback.error_rate -------------------------------------------------------

// Operation i fails when i % 1000 < permille.
bool fails(int i, int permille) { return i % 1000 < permille; }

[[gnu::noinline]] int op_code(int i, int permille, std::error_code& ec) {
  if (fails(i, permille)) {
    ec = std::make_error_code(std::errc::io_error);
    return 0;
  }
  ec.clear();
  return i & 7;
}
[[gnu::noinline]] Result<int> op_expected(int i, int permille) {
  if (fails(i, permille)) return Unexpected<std::error_code>(std::make_error_code(std::errc::io_error));
  return i & 7;
}
[[gnu::noinline]] int op_throw(int i, int permille) {
  if (fails(i, permille)) throw std::system_error(std::make_error_code(std::errc::io_error));
  return i & 7;
}

enum class ErrStyle { error_code, expected, exception, exception_ptr_cross_thread };
constexpr const char* err_name(ErrStyle e) {
  switch (e) {
    case ErrStyle::error_code: return "error_code";
    case ErrStyle::expected: return "expected";
    case ErrStyle::exception: return "exception";
    case ErrStyle::exception_ptr_cross_thread: return "exception_ptr_cross_thread";
  }
  return "?";
}

template <ErrStyle S>
void error_rate(benchmark::State& state, const std::string& name, int permille) {
  std::int64_t errors = 0, sum = 0, injected = 0, want_sum = 0;
  int i = 0;
  // Cross-thread: a worker runs the operation and ships each Outcome back.
  SpscRing<Outcome<int>> results(1024);
  SpscRing<int> requests(1024);
  std::thread worker;
  if constexpr (S == ErrStyle::exception_ptr_cross_thread) {
    worker = std::thread([&] {
      int r = 0;
      while (requests.recv(r) == ChanStatus::ok) {
        if (results.send(capture([&] { return op_throw(r, permille); })) != ChanStatus::ok) break;
      }
    });
  }
  Watchdog wd(options().watchdog_seconds, [&] {
    requests.close();
    results.close();
  });
  for (auto _ : state) {
    for (int n = 0; n < kCalls; ++n, ++i) {
      injected += fails(i, permille);
      want_sum += fails(i, permille) ? 0 : (i & 7);
      if constexpr (S == ErrStyle::error_code) {
        std::error_code ec;
        int v = op_code(i, permille, ec);
        if (ec) ++errors; else sum += v;
      } else if constexpr (S == ErrStyle::expected) {
        Result<int> r = op_expected(i, permille);
        if (r) sum += *r; else ++errors;
      } else if constexpr (S == ErrStyle::exception) {
        try {
          sum += op_throw(i, permille);
        } catch (const std::system_error&) {
          ++errors;
        }
      } else {
        if (requests.send(i) != ChanStatus::ok) break;
        Outcome<int> o;
        if (results.recv(o) != ChanStatus::ok) break;
        try {
          sum += get_or_rethrow(std::move(o));
        } catch (const std::system_error&) {
          ++errors;
        }
      }
    }
    wd.kick();
  }
  requests.close();
  if (worker.joinable()) worker.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (errors != injected || sum != want_sum) {
    return state.SkipWithError(("wrong result: " + std::to_string(errors) + " errors seen, " +
                                std::to_string(injected) + " injected").c_str());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kCalls);
  state.counters["ns_per_op"] = benchmark::Counter(kCalls * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                       benchmark::Counter::kInvert);
  state.counters["errors"] = static_cast<double>(errors);
  state.counters["threads_used"] = S == ErrStyle::exception_ptr_cross_thread ? 2 : 1;
}

// ---- callback.cross_thread -------------------------------------------------------

enum class Delivery { promise_future, callback_channel, err_group };
constexpr const char* delivery_name(Delivery d) {
  return d == Delivery::promise_future ? "promise_future" : d == Delivery::callback_channel ? "callback_channel" : "err_group";
}

template <Delivery D>
void cross_thread(benchmark::State& state, const std::string& name) {
  std::int64_t got = 0, want = 0;
  std::int64_t i = 0;
  Channel<std::promise<std::int64_t>> promises(1);
  Channel<std::int64_t> requests(1), replies(1);
  std::thread worker;
  if constexpr (D == Delivery::promise_future) {
    worker = std::thread([&] {
      std::int64_t n = 0;
      for (std::promise<std::int64_t> p; promises.recv(p) == ChanStatus::ok;) p.set_value(2 * n++);
    });
  } else if constexpr (D == Delivery::callback_channel) {
    worker = std::thread([&] {
      // The callback the worker calls with its result pushes it onto a channel.
      std::function<void(std::int64_t)> on_result = [&](std::int64_t v) { replies.send(v); };
      std::int64_t r = 0;
      while (requests.recv(r) == ChanStatus::ok) on_result(2 * r);
    });
  }
  Watchdog wd(options().watchdog_seconds, [&] {
    promises.close();
    requests.close();
    replies.close();
  });
  for (auto _ : state) {
    want += 2 * i;
    if constexpr (D == Delivery::promise_future) {
      std::promise<std::int64_t> p;
      auto f = p.get_future();
      if (promises.send(std::move(p)) != ChanStatus::ok) break;
      got += f.get();
    } else if constexpr (D == Delivery::callback_channel) {
      std::int64_t v = 0;
      if (requests.send(i) != ChanStatus::ok || replies.recv(v) != ChanStatus::ok) break;
      got += v;
    } else {
      ErrGroup g;  // runs the task on its own thread: creating it is part of the pattern
      std::int64_t v = 0;
      g.go([&v, i] { v = 2 * i; });
      g.wait();
      got += v;
    }
    ++i;
    if ((i & 255) == 0) wd.kick();
  }
  promises.close();
  requests.close();
  if (worker.joinable()) worker.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (got != want) return state.SkipWithError("wrong result: a delivered result was wrong or missing");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["threads_used"] = 2;
}

// ---- timeout.recv_for ------------------------------------------------------------

template <class Impl>
void recv_timeout(benchmark::State& state, const std::string&, std::int64_t timeout_ns) {
  typename Impl::template type<std::uint64_t> ch(16);
  Latency actual, overshoot;
  std::int64_t wrong = 0;
  for (auto _ : state) {
    std::uint64_t v = 0;
    auto t0 = Clock::now();
    ChanStatus s = ch.recv_for(v, std::chrono::nanoseconds(timeout_ns));
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    state.SetIterationTime(static_cast<double>(ns) * 1e-9);
    wrong += s != ChanStatus::timeout;
    actual.record(ns);
    overshoot.record(ns - timeout_ns);
  }
  if (wrong != 0) return state.SkipWithError("wrong result: recv_for on an empty channel did not time out");
  actual.report(state, "actual");
  overshoot.report(state, "overshoot");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["threads_used"] = 1;
}

// ---- cancel.fanout -----------------------------------------------------------------

// N threads blocked in recv(out, token); request_stop; until all have returned.
template <class Impl>
void cancel_threads(benchmark::State& state, const std::string& name, int workers) {
  typename Impl::template type<std::uint64_t> ch(16);
  WorkerPool pool(workers, name, /*waits_itself=*/true);
  std::vector<std::int64_t> returned(static_cast<std::size_t>(workers));
  std::atomic<int> entered{0}, wrong{0};
  for (auto _ : state) {
    std::stop_source src;
    std::stop_token token = src.get_token();
    entered.store(0);
    pool.start([&](int t) {
      entered.fetch_add(1);
      std::uint64_t v = 0;
      if (ch.recv(v, token) != ChanStatus::cancelled) wrong.fetch_add(1);
      returned[static_cast<std::size_t>(t)] = now_ns();
    });
    while (entered.load() < workers) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let them park (not timed)
    std::int64_t t0 = now_ns();
    src.request_stop();
    if (!pool.finish()) break;
    std::int64_t last = *std::max_element(returned.begin(), returned.end());
    state.SetIterationTime(static_cast<double>(last - t0) * 1e-9);
  }
  if (pool.failed()) return state.SkipWithError(pool.error().c_str());
  if (wrong.load() != 0) return state.SkipWithError("wrong result: a worker did not return cancelled");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * workers);
  state.counters["threads_used"] = workers + 1;
}

// N fibers on one thread wait on a fiber condition variable; a stop_callback
// on the requesting thread notifies it.
void cancel_fibers(benchmark::State& state, const std::string& name, int fibers) {
  for (auto _ : state) {
    std::stop_source src;
    boost::fibers::mutex mu;
    boost::fibers::condition_variable cv;
    bool stopped = false;  // guarded by mu
    std::atomic<int> entered{0};
    std::int64_t last = 0;
    int returned = 0;
    WaitGroup all_back;
    all_back.add(1);
    std::thread host([&] {
      std::vector<boost::fibers::fiber> fs;
      fs.reserve(static_cast<std::size_t>(fibers));
      for (int f = 0; f < fibers; ++f) {
        fs.emplace_back([&] {
          std::unique_lock lk(mu);
          entered.fetch_add(1);
          cv.wait(lk, [&] { return stopped; });
          ++returned;
          last = now_ns();
        });
      }
      for (auto& f : fs) f.join();
      all_back.done();
    });
    while (entered.load() < fibers) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::stop_callback on_stop(src.get_token(), [&] {
      std::lock_guard lk(mu);
      stopped = true;
      cv.notify_all();
    });
    std::int64_t t0 = now_ns();
    src.request_stop();
    bool ok = all_back.wait_for(std::chrono::duration<double>(options().watchdog_seconds));
    host.join();
    if (!ok) return state.SkipWithError(("watchdog: " + name + " fibers did not all return").c_str());
    if (returned != fibers) return state.SkipWithError("wrong result: a fiber did not return");
    state.SetIterationTime(static_cast<double>(last - t0) * 1e-9);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * fibers);
  state.counters["threads_used"] = 2;
}

// ErrGroup: N tasks blocked in recv on the group's stop_token; one throws.
// Timed from the throw until wait() has joined every task.
void cancel_errgroup(benchmark::State& state, const std::string& name, int tasks) {
  for (auto _ : state) {
    Channel<int> ch(1);
    std::atomic<int> entered{0}, cancelled{0};
    std::atomic<std::int64_t> thrown_at{0};
    ErrGroup g;
    for (int t = 0; t < tasks; ++t) {
      g.go([&](std::stop_token st) {
        entered.fetch_add(1);
        int v = 0;
        if (ch.recv(v, st) == ChanStatus::cancelled) cancelled.fetch_add(1);
      });
    }
    while (entered.load() < tasks) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    g.go([&] {
      thrown_at.store(now_ns());
      throw std::runtime_error("first error");
    });
    bool rethrown = false;
    try {
      g.wait();
    } catch (const std::runtime_error&) {
      rethrown = true;
    }
    std::int64_t end = now_ns();
    if (!rethrown || cancelled.load() != tasks) {
      return state.SkipWithError(("wrong result: " + name + ": error not rethrown or a task not cancelled").c_str());
    }
    state.SetIterationTime(static_cast<double>(end - thrown_at.load()) * 1e-9);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * tasks);
  state.counters["threads_used"] = tasks + 2;
}

// ---- close.drain ---------------------------------------------------------------------

template <class Impl>
void close_drain(benchmark::State& state, const std::string&, std::size_t cap) {
  using Ch = typename Impl::template type<std::uint64_t>;
  const std::size_t n = channel_traits<Ch>::usable_capacity(cap);
  std::uint64_t bad = 0;
  for (auto _ : state) {
    Ch ch(cap);
    for (std::uint64_t i = 0; i < n; ++i) bad += ch.try_send(i) != ChanStatus::ok;
    auto t0 = Clock::now();
    ch.close();
    std::uint64_t v = 0, count = 0, sum = 0;
    while (ch.recv(v) == ChanStatus::ok) ++count, sum += v;
    state.SetIterationTime(seconds_since(t0));
    bad += count != n || sum != n * (n - 1) / 2;
  }
  if (bad != 0) return state.SkipWithError("wrong result: close lost or invented buffered values");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["usable_cap"] = static_cast<double>(n);
  state.counters["threads_used"] = 1;
}

// ---- registration ----------------------------------------------------------------------

using SpscPadded = Spsc<layout::Padded>;
using MpmcPadded = Mpmc<layout::Padded>;

void register_callback(const Options& opt) {
  const bool quick = opt.profile == Profile::quick;

  auto holders = [&]<Capture C>() {
    const char* cap = capture_name(C);
    register_benchmark(Name("callback.dispatch", holder_name(Holder::template_param)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { dispatch<Holder::template_param, C>(st, n); });
    register_benchmark(Name("callback.dispatch", holder_name(Holder::std_function)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { dispatch<Holder::std_function, C>(st, n); });
    register_benchmark(Name("callback.dispatch", holder_name(Holder::function_ref)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { dispatch<Holder::function_ref, C>(st, n); });
    register_benchmark(Name("callback.dispatch", holder_name(Holder::virtual_interface)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { dispatch<Holder::virtual_interface, C>(st, n); });
#if defined(__cpp_lib_move_only_function)
    register_benchmark(Name("callback.dispatch", holder_name(Holder::move_only_function)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { dispatch<Holder::move_only_function, C>(st, n); });
#endif
  };
  holders.template operator()<Capture::value>();
  holders.template operator()<Capture::ref>();
  holders.template operator()<Capture::shared_ptr>();
  holders.template operator()<Capture::large>();

  auto spawns = [&]<Capture C>() {
    const char* cap = capture_name(C);
    register_benchmark(Name("callback.spawn", spawn_name(Spawn::std_thread)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { spawn<Spawn::std_thread, C>(st, n); });
    register_benchmark(Name("callback.spawn", spawn_name(Spawn::std_async)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { spawn<Spawn::std_async, C>(st, n); });
    register_benchmark(Name("callback.spawn", spawn_name(Spawn::err_group)).add("capture", cap),
                       [](benchmark::State& st, const std::string& n) { spawn<Spawn::err_group, C>(st, n); });
  };
  spawns.template operator()<Capture::value>();
  spawns.template operator()<Capture::large>();

  // Error rates in per mille: 0, 0.1 %, 1 %, 10 %, 50 %, 100 %.
  const std::vector<std::pair<int, const char*>> rates =
      quick ? std::vector<std::pair<int, const char*>>{{0, "0"}, {100, "10"}}
            : std::vector<std::pair<int, const char*>>{{0, "0"}, {1, "0.1"}, {10, "1"}, {100, "10"}, {500, "50"}, {1000, "100"}};
  for (auto [pm, pct] : rates) {
    auto reg = [&, pm = pm, pct = pct]<ErrStyle S>() {
      register_benchmark(Name("callback.error_rate", err_name(S)).add("error_pct", pct),
                         [pm](benchmark::State& st, const std::string& n) { error_rate<S>(st, n, pm); });
    };
    reg.template operator()<ErrStyle::error_code>();
    reg.template operator()<ErrStyle::expected>();
    reg.template operator()<ErrStyle::exception>();
    reg.template operator()<ErrStyle::exception_ptr_cross_thread>();
  }

  register_benchmark(Name("callback.cross_thread", delivery_name(Delivery::promise_future)),
                     [](benchmark::State& st, const std::string& n) { cross_thread<Delivery::promise_future>(st, n); });
  register_benchmark(Name("callback.cross_thread", delivery_name(Delivery::callback_channel)),
                     [](benchmark::State& st, const std::string& n) { cross_thread<Delivery::callback_channel>(st, n); });
  register_benchmark(Name("callback.cross_thread", delivery_name(Delivery::err_group)),
                     [](benchmark::State& st, const std::string& n) { cross_thread<Delivery::err_group>(st, n); });

  // Timeouts: every implementation with timed operations (TbbChannel has none).
  const std::vector<std::int64_t> timeouts =
      quick ? std::vector<std::int64_t>{0, 100'000} : std::vector<std::int64_t>{0, 1'000, 10'000, 100'000, 1'000'000, 10'000'000};
  auto timed = [&](auto impl) {
    using I = decltype(impl);
    for (std::int64_t t : timeouts) {
      register_manual(Name("timeout.recv_for", I::kName).add("timeout_ns", t),
                      [t](benchmark::State& st, const std::string& n) { recv_timeout<I>(st, n, t); });
    }
  };
  timed(RefChannel{});
  timed(SpscPadded{});
  timed(MpmcPadded{});
  timed(Fiber{});

  // Cancellation: implementations with stop_token support, and fibers.
  // Each round first lets the workers park for 2 ms (untimed): a fixed number
  // of rounds keeps the family to seconds.
  const benchmark::IterationCount rounds = quick ? 5 : 100;
  for (int w : quick ? std::vector<int>{1, 8} : std::vector<int>{1, 8, 64}) {
    register_manual(Name("cancel.fanout", RefChannel::kName).add("runner", "thread").add("workers", w),
                    [w](benchmark::State& st, const std::string& n) { cancel_threads<RefChannel>(st, n, w); }, rounds);
    register_manual(Name("cancel.fanout", MpmcPadded::kName).add("runner", "thread").add("workers", w),
                    [w](benchmark::State& st, const std::string& n) { cancel_threads<MpmcPadded>(st, n, w); }, rounds);
    register_manual(Name("cancel.fanout", "err_group").add("runner", "thread").add("workers", w),
                    [w](benchmark::State& st, const std::string& n) { cancel_errgroup(st, n, w); }, rounds);
  }
  const int fibers = quick ? 100 : 1000;
  register_manual(Name("cancel.fanout", "fiber_cv").add("runner", "fiber").add("workers", fibers),
                  [fibers](benchmark::State& st, const std::string& n) { cancel_fibers(st, n, fibers); }, rounds);

  for (std::size_t cap : {std::size_t{16}, std::size_t{1024}}) {
    auto drain = [&](auto impl) {
      using I = decltype(impl);
      register_manual(Name("close.drain", I::kName).add("cap", static_cast<long long>(cap)),
                      [cap](benchmark::State& st, const std::string& n) { close_drain<I>(st, n, cap); });
    };
    drain(RefChannel{});
    drain(SpscPadded{});
    drain(MpmcPadded{});
    drain(Fiber{});
    drain(Tbb{});
  }
}
CONPAT_BENCH_FAMILY(register_callback);

}  // namespace
}  // namespace conpat::bench
