// benches/merge_bench.cpp — channel.merge: conpat::fan_in merging N input
// channels into one, against Go's FanIn (benches/go/main.go, the article's
// section 2.3: a goroutine per input forwarding into one channel, with ctx);
// channel.merge_sparse (below): the same with one value in flight.
//
//   channel.merge/impl:channel/runner:R/inputs:N/cap:C
//
// N producers (threads or fibers, as the runner) each own one input channel
// of capacity C; fan_in(stop, inputs, C) merges them into one channel of
// capacity C (C = 0: unbuffered everywhere, Go's FanIn exactly). The merge
// (its forwarders) is built once, before the timed loop, as Go's workload
// builds its FanIn once. One iteration: every producer sends its share of a
// 4096-item batch, and the benchmark's thread receives the whole batch from
// the merged channel; ns_per_item is the time per item (two hand-offs each:
// producer -> forwarder -> receiver). Each row checks count, sum and each
// producer's order, and that the merge closes after its inputs.
#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "conpat/chan_ends.hpp"
#include "conpat/channel.hpp"
#include "conpat/fan_in.hpp"
#include "conpat/fiber_pool.hpp"
#include "conpat/fiber_wait.hpp"
#include "harness/harness.hpp"
#include "harness/workers.hpp"

namespace conpat::bench {
namespace {

constexpr std::uint64_t kMergeBatch = 4096;
constexpr int kProducerShift = 40;  // an item: producer << 40 | that producer's sequence number

// What the receiver saw; checked against what the producers sent.
struct MergeTally {
  std::uint64_t count = 0, sum = 0;
  bool in_order = true;
  std::vector<std::int64_t> last;
  explicit MergeTally(int inputs) : last(static_cast<std::size_t>(inputs), -1) {}
  void take(std::uint64_t v) {
    auto p = static_cast<std::size_t>(v >> kProducerShift);
    auto seq = static_cast<std::int64_t>(v & ((std::uint64_t{1} << kProducerShift) - 1));
    if (p >= last.size()) {
      in_order = false;
      return;
    }
    in_order &= seq > last[p];
    last[p] = seq;
    sum += v, ++count;
  }
};

// How many forwarders fan_in runs for `inputs` inputs of capacity `cap`:
// one per unbuffered input, one per kGroup buffered ones (conpat/fan_in.hpp).
template <class Wait>
int forwarder_count(int inputs, std::size_t cap) {
  const int group = static_cast<int>(detail::ForwarderRunner<Wait>::kGroup);
  return cap == 0 ? inputs : (inputs + group - 1) / group;
}

template <Runner R>
void merge(benchmark::State& state, const std::string& name, int inputs, std::size_t cap) {
  using Wait = std::conditional_t<R == Runner::fiber, FiberWait, ThreadWait>;
  using Ch = Channel<std::uint64_t, Wait>;
  const auto share = kMergeBatch / static_cast<std::uint64_t>(inputs);
  const std::uint64_t batch = share * static_cast<std::uint64_t>(inputs);
  std::optional<FiberPool> pool;  // fibers: one OS thread per allowed CPU, as goroutines
  if constexpr (R == Runner::fiber) pool.emplace(static_cast<int>(hardware_threads()));
  std::deque<Ch> ins;  // deque: channels are not movable
  std::vector<RecvEnd<std::uint64_t, Wait>> ends;
  for (int i = 0; i < inputs; ++i) ends.emplace_back(ins.emplace_back(cap));
  std::stop_source stop;
  std::atomic<std::uint64_t> sent_count{0}, sent_sum{0};

  // Producers: wait for a round, send a share, until told to stop; then
  // close their input (the merge closes once all are closed and drained).
  RoundGate gate;                                        // threads
  std::optional<Channel<int, FiberWait>> start;          // fibers: one token per producer per round
  std::optional<Channel<int, FiberWait>> done;           // fibers: the receiver's round ends
  if constexpr (R == Runner::fiber) start.emplace(static_cast<std::size_t>(inputs)), done.emplace(1);
  std::atomic<bool> finish{false};
  auto produce = [&](int p, auto&& next_round) {
    SendEnd<std::uint64_t, Wait> tx = ins[static_cast<std::size_t>(p)];
    std::uint64_t seq = 0, count = 0, sum = 0;
    while (next_round()) {
      bool open = true;
      for (std::uint64_t i = 0; i < share && open; ++i, ++seq) {
        const std::uint64_t v = (static_cast<std::uint64_t>(p) << kProducerShift) | seq;
        open = tx.send(v) == ChanStatus::ok;
        if (open) sum += v, ++count;
      }
      if (!open) break;
    }
    sent_count.fetch_add(count), sent_sum.fetch_add(sum);
    tx.close();
  };
  std::vector<std::thread> threads;
  if constexpr (R == Runner::thread) {
    for (int p = 0; p < inputs; ++p) {
      threads.emplace_back([&, p] {
        std::uint32_t seen = 0;
        produce(p, [&] {
          seen = gate.wait(seen, /*spin=*/false);
          return !finish.load(std::memory_order_acquire);
        });
      });
    }
  } else {
    for (int p = 0; p < inputs; ++p) {
      pool->spawn([&, p] {
        produce(p, [&] {
          int token = 0;
          return start->recv(token) == ChanStatus::ok;
        });
      });
    }
  }
  auto merged = fan_in(stop.get_token(), ends, cap);
  Watchdog wd(options().watchdog_seconds, [&] {
    stop.request_stop();  // closes the merged channel: the receiver below returns
    for (auto& c : ins) c.close();
    if (start) start->close();
    if (done) done->close();
  });

  // The receiver: this thread (threads), or a pool fiber that reports each
  // round's end on `done` (fibers: the benchmark thread's main fiber is
  // pinned to it, and waking it for every item would measure that wake).
  MergeTally got(inputs);
  std::uint64_t extra = 0;               // values received after the last round (none when correct)
  ChanStatus last = ChanStatus::ok;      // what ended the receiver (closed when correct)
  // Receives one round's batch; false if the merge closed first (then
  // `extra` counts what that round had received).
  auto receive_round = [&] {
    std::uint64_t v = 0;
    for (std::uint64_t k = 0; k < batch; ++k) {
      if ((last = merged.recv(v)) != ChanStatus::ok) {
        extra = k;
        return false;
      }
      got.take(v);
    }
    return true;
  };
  if constexpr (R == Runner::fiber) {
    pool->spawn([&] {
      while (receive_round()) {
        if (done->send(1) != ChanStatus::ok) return;
      }
      done->close();
    });
  }
  bool ok = true;
  for (auto _ : state) {
    if constexpr (R == Runner::thread) {
      gate.open();
      ok = receive_round();
      wd.kick();
    } else {
      for (int p = 0; p < inputs && ok; ++p) ok = start->send(1) == ChanStatus::ok;
      ok = ok && await_fiber_round(*done, wd);
    }
    if (!ok) break;
  }
  // Teardown: producers close their inputs, the merge then closes by itself.
  if constexpr (R == Runner::thread) {
    finish.store(true, std::memory_order_release);
    gate.open();
    if (ok) receive_round();  // nothing: every round was received whole
    for (auto& t : threads) t.join();
  } else {
    start->close();
    pool->join();  // producers, and the receiver once the merge has closed
  }
  merged = {};  // joins the forwarders
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok) return state.SkipWithError("wrong result: the merged channel closed during the run");
  if (extra != 0 || last != ChanStatus::closed) {  // the receiver saw the merge close, after whole rounds only
    return state.SkipWithError("wrong result: the merge delivered values after the rounds or did not close");
  }
  if (!got.in_order) return state.SkipWithError("wrong result: a producer's items arrived out of order");
  if (!check_transfer(state, sent_count.load(), sent_sum.load(), got.count, got.sum)) return;
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(batch));
  state.counters["ns_per_item"] = benchmark::Counter(static_cast<double>(batch) * 1e-9,
                                                     benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
  // Threads: producers, forwarders (one per unbuffered input, one per
  // kGroup buffered ones: conpat/fan_in.hpp) and this receiving thread.
  // Fibers: the pool.
  const int forwarders = forwarder_count<Wait>(inputs, cap);
  state.counters["threads_used"] = R == Runner::thread ? inputs + forwarders + 1 : pool->threads();
  if (R == Runner::fiber) state.counters["fibers"] = inputs + forwarders;
  state.counters["usable_cap"] = static_cast<double>(cap);
}

// channel.merge_sparse: the same merge where traffic is sparse, one value
// in flight. The driver (the benchmark's thread, or a pool fiber on the
// fiber runner) sends each value on one of the N inputs, picked by a fixed
// pseudo-random sequence, and receives it from the merge before it sends
// the next; the other inputs stay open and idle. A forwarder that serves a
// group of inputs looks at all of them to find the one value, one per
// input does not. Capacity 16 runs conpat's shared forwarders and capacity
// 0 a forwarder per input (Go's FanIn has one at every capacity): the two
// rows compare the two designs as fan_in uses them, not the grouping alone,
// since capacity 0 also makes every channel a rendezvous. Every value must
// come back as sent, and the merge must close after the inputs.
constexpr std::uint64_t kSparseBatch = 256;

template <Runner R>
void merge_sparse(benchmark::State& state, const std::string& name, int inputs, std::size_t cap) {
  using Wait = std::conditional_t<R == Runner::fiber, FiberWait, ThreadWait>;
  using Ch = Channel<std::uint64_t, Wait>;
  std::optional<FiberPool> pool;
  if constexpr (R == Runner::fiber) pool.emplace(static_cast<int>(hardware_threads()));
  std::deque<Ch> ins;
  std::vector<RecvEnd<std::uint64_t, Wait>> ends;
  for (int i = 0; i < inputs; ++i) ends.emplace_back(ins.emplace_back(cap));
  std::stop_source stop;
  auto merged = fan_in(stop.get_token(), ends, cap);
  std::optional<Channel<int, FiberWait>> start, done;  // fibers: the driver's rounds
  if constexpr (R == Runner::fiber) start.emplace(1), done.emplace(1);
  Watchdog wd(options().watchdog_seconds, [&] {
    stop.request_stop();
    for (auto& c : ins) c.close();
    if (start) start->close();
    if (done) done->close();
  });

  std::uint64_t rng = 0x9E3779B97F4A7C15ull, seq = 0, wrong = 0;
  auto round = [&] {
    for (std::uint64_t k = 0; k < kSparseBatch; ++k) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;  // xorshift64
      const auto i = static_cast<std::size_t>(rng % static_cast<std::uint64_t>(inputs));
      const std::uint64_t v = (static_cast<std::uint64_t>(i) << kProducerShift) | seq++;
      std::uint64_t got = 0;
      if (ins[i].send(v) != ChanStatus::ok || merged.recv(got) != ChanStatus::ok) return false;
      wrong += got != v;
    }
    return true;
  };
  // After the rounds: close every input; the merge must then close, empty.
  ChanStatus last = ChanStatus::ok;
  auto finish = [&] {
    for (auto& c : ins) c.close();
    std::uint64_t v = 0;
    last = merged.recv(v);
  };
  if constexpr (R == Runner::fiber) {
    pool->spawn([&] {
      int token = 0;
      while (start->recv(token) == ChanStatus::ok) {
        if (!round() || done->send(1) != ChanStatus::ok) break;
      }
      finish();
      done->close();
    });
  }
  bool ok = true;
  for (auto _ : state) {
    if constexpr (R == Runner::thread) {
      ok = round();
      wd.kick();
    } else {
      ok = start->send(1) == ChanStatus::ok && await_fiber_round(*done, wd);
    }
    if (!ok) break;
  }
  if constexpr (R == Runner::thread) {
    finish();
  } else {
    start->close();
    pool->join();
  }
  merged = {};  // joins the forwarders
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok) return state.SkipWithError("wrong result: a channel closed during the run");
  if (wrong != 0) return state.SkipWithError("wrong result: a value came out of the merge other than the one sent");
  // (A lost value would leave the driver waiting: the watchdog reports it.)
  const auto want = static_cast<std::uint64_t>(state.iterations()) * kSparseBatch;
  if (last != ChanStatus::closed) return state.SkipWithError("wrong result: the merge did not close after its inputs");
  state.SetItemsProcessed(static_cast<std::int64_t>(want));
  state.counters["ns_per_item"] = benchmark::Counter(static_cast<double>(kSparseBatch) * 1e-9,
                                                     benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
  const int forwarders = forwarder_count<Wait>(inputs, cap);
  state.counters["threads_used"] = R == Runner::thread ? forwarders + 1 : pool->threads();
  if (R == Runner::fiber) state.counters["fibers"] = forwarders + 1;
  state.counters["usable_cap"] = static_cast<double>(cap);
}

void register_merge(const Options& opt) {
  const bool quick = opt.profile == Profile::quick;
  std::vector<int> counts = quick ? std::vector<int>{2, 8} : std::vector<int>{2, 4, 8, 16, 32, 64};
  const int cpus = static_cast<int>(hardware_threads());
  if (!quick && cpus > 64) counts.push_back(cpus);  // up to the machine's CPUs
  const std::vector<std::size_t> caps =
      quick ? std::vector<std::size_t>{16} : std::vector<std::size_t>{0, 1, 16, 256};
  for (int n : counts) {
    for (std::size_t cap : caps) {
      register_benchmark(Name("channel.merge", "channel").add("runner", runner_name(Runner::thread)).add("inputs", n).add("cap", cap),
                         [n, cap](benchmark::State& st, const std::string& nm) { merge<Runner::thread>(st, nm, n, cap); });
      register_benchmark(Name("channel.merge", "channel").add("runner", runner_name(Runner::fiber)).add("inputs", n).add("cap", cap),
                         [n, cap](benchmark::State& st, const std::string& nm) { merge<Runner::fiber>(st, nm, n, cap); });
    }
  }
  if (quick) return;
  for (int n : {8, 64, 1024}) {
    for (std::size_t cap : {std::size_t{0}, std::size_t{16}}) {
      register_benchmark(Name("channel.merge_sparse", "channel").add("runner", runner_name(Runner::thread)).add("inputs", n).add("cap", cap),
                         [n, cap](benchmark::State& st, const std::string& nm) { merge_sparse<Runner::thread>(st, nm, n, cap); });
      register_benchmark(Name("channel.merge_sparse", "channel").add("runner", runner_name(Runner::fiber)).add("inputs", n).add("cap", cap),
                         [n, cap](benchmark::State& st, const std::string& nm) { merge_sparse<Runner::fiber>(st, nm, n, cap); });
    }
  }
}
CONPAT_BENCH_FAMILY(register_merge);

}  // namespace
}  // namespace conpat::bench
