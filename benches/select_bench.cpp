// benches/select_bench.cpp — channel.select_rx and channel.select_both:
// conpat::select over T channels, crossbeam-channel's two select workloads
// (its benches `select_rx` and `select_both`), against Go's select
// (benches/go/main.go, same names).
//
//   channel.select_rx/impl:channel/runner:R/threads:T/cap:C
//   channel.select_both/impl:channel/runner:R/threads:T/cap:C
//
// select_rx: T sender threads, each sending on its own channel of capacity
// C; the benchmark's thread receives with one select over the T channels.
// select_both: T sender threads, each sending every item with a select over
// send cases on all T channels, and T receiver threads, each receiving with
// a select over receive cases on all T channels. One iteration is a batch
// of 4096 items (each sender sends its share); ns_per_item is the time per
// item. Each row checks the count and the sum of what was received against
// what was sent, and that every channel closes after the senders. On the
// fiber runner (FiberWait) every sender and receiver is a fiber of a pool
// with one OS thread per allowed CPU, as goroutines; the receivers report
// each round's end on a channel to the benchmark's thread.
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conpat/channel.hpp"
#include "conpat/fiber_pool.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/select.hpp"
#include "harness/harness.hpp"
#include "harness/workers.hpp"

namespace conpat::bench {
namespace {

constexpr std::uint64_t kSelectBatch = 4096;
constexpr int kSenderShift = 40;  // an item: sender << 40 | that sender's sequence number
using Ch = Channel<std::uint64_t>;

// Items per second and ns per item, for `batch` items a round.
void report_items(benchmark::State& state, std::uint64_t batch) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(batch));
  state.counters["ns_per_item"] = benchmark::Counter(static_cast<double>(batch) * 1e-9,
                                                     benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

// A select over receive cases on chans[0..T), into v[i] for case i.
template <class Chans, std::size_t... I>
SelectResult select_recv(Chans& chans, std::array<std::uint64_t, sizeof...(I)>& v, std::index_sequence<I...>) {
  return select(recv_case(chans[I], v[I])...);
}
// A select over send cases of `value` on chans[0..T).
template <class Chans, std::size_t... I>
SelectResult select_send(Chans& chans, std::uint64_t value, std::index_sequence<I...>) {
  return select(send_case(chans[I], value)...);
}

// A select_both receiver: selects over the T channels until one is closed,
// then drains them all with plain receives; take(count, sum, x) counts an
// item. Returns the count and the sum of what it received.
template <std::size_t T, class Chans, class Take>
std::pair<std::uint64_t, std::uint64_t> receive_until_closed(Chans& chans, Take& take) {
  std::uint64_t count = 0, sum = 0;
  std::array<std::uint64_t, T> v{};
  for (;;) {
    SelectResult r = select_recv(chans, v, std::make_index_sequence<T>{});
    if (r.status != ChanStatus::ok) break;
    take(count, sum, v[static_cast<std::size_t>(r.index)]);
  }
  for (auto& c : chans) {
    std::uint64_t x = 0;
    while (c.recv(x) == ChanStatus::ok) take(count, sum, x);
  }
  return {count, sum};
}

// Senders: wait for a round, send a share, until told to stop; then the
// last one closes every channel. `send(p, v)` sends one item.
template <class Send>
std::vector<std::thread> start_senders(int senders, std::uint64_t share, RoundGate& gate, std::atomic<bool>& finish,
                                       std::atomic<std::uint64_t>& sent_count, std::atomic<std::uint64_t>& sent_sum,
                                       std::atomic<int>& left, std::deque<Ch>& chans, Send send) {
  std::vector<std::thread> threads;
  for (int p = 0; p < senders; ++p) {
    threads.emplace_back([&, p, share, send] {
      std::uint32_t seen = 0;
      std::uint64_t seq = 0, count = 0, sum = 0;
      bool open = true;
      while (open) {
        seen = gate.wait(seen, /*spin=*/false);
        if (finish.load(std::memory_order_acquire)) break;
        for (std::uint64_t i = 0; i < share && open; ++i, ++seq) {
          const std::uint64_t v = (static_cast<std::uint64_t>(p) << kSenderShift) | seq;
          open = send(p, v) == ChanStatus::ok;
          if (open) sum += v, ++count;
        }
      }
      sent_count.fetch_add(count), sent_sum.fetch_add(sum);
      if (left.fetch_sub(1) == 1) {
        for (auto& c : chans) c.close();
      }
    });
  }
  return threads;
}

template <std::size_t T>
void select_rx(benchmark::State& state, const std::string& name, std::size_t cap) {
  constexpr auto idx = std::make_index_sequence<T>{};
  const std::uint64_t share = kSelectBatch / T;
  const std::uint64_t batch = share * T;
  std::deque<Ch> chans;  // deque: channels are not movable
  for (std::size_t i = 0; i < T; ++i) chans.emplace_back(cap);
  RoundGate gate;
  std::atomic<bool> finish{false};
  std::atomic<std::uint64_t> sent_count{0}, sent_sum{0};
  std::atomic<int> left{static_cast<int>(T)};
  auto senders = start_senders(static_cast<int>(T), share, gate, finish, sent_count, sent_sum, left, chans,
                               [&chans](int p, std::uint64_t v) { return chans[static_cast<std::size_t>(p)].send(v); });
  Watchdog wd(options().watchdog_seconds, [&] {
    for (auto& c : chans) c.close();
  });
  std::uint64_t got_count = 0, got_sum = 0;
  std::array<std::uint64_t, T> v{};
  bool ok = true;
  for (auto _ : state) {
    gate.open();
    for (std::uint64_t k = 0; k < batch; ++k) {
      SelectResult r = select_recv(chans, v, idx);
      if (r.status != ChanStatus::ok) {
        ok = false;
        break;
      }
      got_sum += v[static_cast<std::size_t>(r.index)], ++got_count;
    }
    if (!ok) break;
    wd.kick();
  }
  finish.store(true, std::memory_order_release);
  gate.open();
  for (auto& t : senders) t.join();
  // Every channel is closed now and nothing is left in it.
  std::uint64_t extra = 0;
  for (auto& c : chans) {
    std::uint64_t x = 0;
    while (c.try_recv(x) == ChanStatus::ok) ++extra;
    if (!c.is_closed()) ok = false;
  }
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok || extra != 0) return state.SkipWithError("wrong result: a select failed, or items were left over");
  if (!check_transfer(state, sent_count.load(), sent_sum.load(), got_count, got_sum)) return;
  report_items(state, batch);
  state.counters["threads_used"] = static_cast<double>(T + 1);
  state.counters["usable_cap"] = static_cast<double>(cap);
}

template <std::size_t T>
void select_both(benchmark::State& state, const std::string& name, std::size_t cap) {
  constexpr auto idx = std::make_index_sequence<T>{};
  const std::uint64_t share = kSelectBatch / T;
  const std::uint64_t batch = share * T;
  std::deque<Ch> chans;
  for (std::size_t i = 0; i < T; ++i) chans.emplace_back(cap);
  RoundGate gate;
  std::atomic<bool> finish{false};
  std::atomic<std::uint64_t> sent_count{0}, sent_sum{0}, got_count{0}, got_sum{0};
  std::atomic<int> left{static_cast<int>(T)};
  auto senders = start_senders(static_cast<int>(T), share, gate, finish, sent_count, sent_sum, left, chans,
                               [&chans, idx](int, std::uint64_t v) { return select_send(chans, v, idx).status; });
  // Receivers: select until a channel reports closed (all close together,
  // after the senders), then drain the others with plain receives. Each
  // received item counts down `remaining`; the one that reaches a round's
  // end reports it.
  std::atomic<std::int64_t> remaining{0};
  RoundEnd round_end;
  auto take = [&](std::uint64_t& count, std::uint64_t& sum, std::uint64_t x) {
    sum += x, ++count;
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) round_end.done();
  };
  std::vector<std::thread> receivers;
  for (std::size_t q = 0; q < T; ++q) {
    receivers.emplace_back([&] {
      const auto [count, sum] = receive_until_closed<T>(chans, take);
      got_count.fetch_add(count), got_sum.fetch_add(sum);
    });
  }
  Watchdog wd(options().watchdog_seconds, [&] {
    for (auto& c : chans) c.close();
  });
  bool ok = true;
  std::uint32_t rounds = 0;
  for (auto _ : state) {
    remaining.store(static_cast<std::int64_t>(batch), std::memory_order_release);
    gate.open();
    while (!round_end.wait_for(rounds + 1, std::chrono::milliseconds(100))) {
      if (wd.fired()) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    ++rounds;
    wd.kick();
  }
  finish.store(true, std::memory_order_release);
  gate.open();
  for (auto& t : senders) t.join();
  for (auto& t : receivers) t.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok || remaining.load() != 0) return state.SkipWithError("wrong result: items lost or received after the rounds");
  if (!check_transfer(state, sent_count.load(), sent_sum.load(), got_count.load(), got_sum.load())) return;
  report_items(state, batch);
  state.counters["threads_used"] = static_cast<double>(2 * T);
  state.counters["usable_cap"] = static_cast<double>(cap);
}

// The fiber runner: both workloads. `both`: select_both (T receivers,
// senders select), else select_rx (one receiver, plain sends).
template <std::size_t T>
void select_fibers(benchmark::State& state, const std::string& name, std::size_t cap, bool both) {
  using FCh = Channel<std::uint64_t, FiberWait>;
  const std::uint64_t share = kSelectBatch / T;
  const std::uint64_t batch = share * T;
  FiberPool pool(static_cast<int>(hardware_threads()));
  std::deque<FCh> chans;
  for (std::size_t i = 0; i < T; ++i) chans.emplace_back(cap);
  Channel<int, FiberWait> start(T);  // one token per sender per round
  Channel<int, FiberWait> done(1);   // a round's end, from the receiver that took its last item
  std::atomic<std::uint64_t> sent_count{0}, sent_sum{0}, got_count{0}, got_sum{0};
  std::atomic<int> left{static_cast<int>(T)};
  std::atomic<std::int64_t> remaining{0};
  for (std::size_t p = 0; p < T; ++p) {
    pool.spawn([&, p] {
      std::uint64_t seq = 0, count = 0, sum = 0;
      int token = 0;
      bool open = true;
      while (open && start.recv(token) == ChanStatus::ok) {
        for (std::uint64_t i = 0; i < share && open; ++i, ++seq) {
          const std::uint64_t v = (static_cast<std::uint64_t>(p) << kSenderShift) | seq;
          open = (both ? select_send(chans, v, std::make_index_sequence<T>{}).status : chans[p].send(v)) ==
                 ChanStatus::ok;
          if (open) sum += v, ++count;
        }
      }
      sent_count.fetch_add(count), sent_sum.fetch_add(sum);
      if (left.fetch_sub(1) == 1) {
        for (auto& c : chans) c.close();
      }
    });
  }
  auto take = [&](std::uint64_t& count, std::uint64_t& sum, std::uint64_t x) {
    sum += x, ++count;
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) (void)done.send(1);
  };
  for (std::size_t q = 0; q < (both ? T : 1); ++q) {
    pool.spawn([&] {
      const auto [count, sum] = receive_until_closed<T>(chans, take);
      got_count.fetch_add(count), got_sum.fetch_add(sum);
    });
  }
  Watchdog wd(options().watchdog_seconds, [&] {
    for (auto& c : chans) c.close();
    start.close();
    done.close();
  });
  bool ok = true;
  for (auto _ : state) {
    remaining.store(static_cast<std::int64_t>(batch), std::memory_order_release);
    for (std::size_t p = 0; p < T && ok; ++p) ok = start.send(1) == ChanStatus::ok;
    int token = 0;
    ChanStatus s = ChanStatus::timeout;
    while (ok && (s = done.recv_for(token, std::chrono::milliseconds(100))) == ChanStatus::timeout && !wd.fired()) {}
    ok = ok && s == ChanStatus::ok;
    if (!ok) break;
    wd.kick();
  }
  start.close();
  pool.join();  // senders close the channels; receivers drain them and end
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok || remaining.load() != 0) return state.SkipWithError("wrong result: items lost or received after the rounds");
  if (!check_transfer(state, sent_count.load(), sent_sum.load(), got_count.load(), got_sum.load())) return;
  report_items(state, batch);
  state.counters["threads_used"] = pool.threads();
  state.counters["fibers"] = static_cast<double>(both ? 2 * T : T + 1);
  state.counters["usable_cap"] = static_cast<double>(cap);
}

void register_select(const Options& opt) {
  const bool quick = opt.profile == Profile::quick;
  constexpr std::size_t kThreads = 4;  // crossbeam's THREADS
  const std::vector<std::size_t> caps = quick ? std::vector<std::size_t>{1} : std::vector<std::size_t>{0, 1, 1024};
  for (std::size_t cap : caps) {
    register_benchmark(Name("channel.select_rx", "channel").add("runner", runner_name(Runner::thread)).add("threads", kThreads).add("cap", cap),
                       [cap](benchmark::State& st, const std::string& nm) { select_rx<kThreads>(st, nm, cap); });
    register_benchmark(Name("channel.select_both", "channel").add("runner", runner_name(Runner::thread)).add("threads", kThreads).add("cap", cap),
                       [cap](benchmark::State& st, const std::string& nm) { select_both<kThreads>(st, nm, cap); });
    register_benchmark(Name("channel.select_rx", "channel").add("runner", runner_name(Runner::fiber)).add("threads", kThreads).add("cap", cap),
                       [cap](benchmark::State& st, const std::string& nm) { select_fibers<kThreads>(st, nm, cap, false); });
    register_benchmark(Name("channel.select_both", "channel").add("runner", runner_name(Runner::fiber)).add("threads", kThreads).add("cap", cap),
                       [cap](benchmark::State& st, const std::string& nm) { select_fibers<kThreads>(st, nm, cap, true); });
  }
}
CONPAT_BENCH_FAMILY(register_select);

}  // namespace
}  // namespace conpat::bench
