// benches/channel_bench.cpp — the channel family: how fast a result moves
// through each channel implementation.
//
//   channel.spsc      1 producer -> 1 consumer; capacity, payload and producer work swept
//   channel.mpmc      P producers x C consumers
//   channel.pingpong  round trip over two channels
//   channel.fan_in    N workers (threads, fibers or TBB tasks) each send one result to one collector
//   channel.seq       one thread sends a batch into a channel of the batch's capacity, then receives it
//
// Each workload is written once and instantiated per implementation from
// one type list, the reference (conpat::Channel) first. Worker threads start
// before the timed loop and are reused; one iteration moves a batch. Every
// benchmark checks count, checksum and per-producer order, and a watchdog
// closes the channels of a benchmark that stops making progress.
#include <boost/fiber/all.hpp>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "conpat/chan_ends.hpp"
#include "conpat/channel.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/fiber_channel.hpp"
#include "conpat/fiber_pool.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/spsc_ring.hpp"
#include "conpat/tbb_channel.hpp"
#include "conpat/wait_group.hpp"
#include "harness/harness.hpp"
#include "harness/pinning.hpp"
#include "harness/workers.hpp"
#include "harness/metadata.hpp"
#include "impls.hpp"
#include "peers.hpp"

namespace conpat::bench {
namespace {

// ---- the implementations, reference first ----------------------------------

// Peers (benches/peers.hpp), where installed.
#if defined(CONPAT_HAVE_ATOMIC_QUEUE)
template <bool Spsc>
struct AtomicQueue {
  static constexpr const char* kName = Spsc ? "atomic_queue_spsc" : "atomic_queue_mpmc";
  template <class T>
  using type = PeerChannel<AtomicQueueCore<T, Spsc>>;
};
#define CONPAT_AQ , AtomicQueue<true>, AtomicQueue<false>
#else
#define CONPAT_AQ
#endif
#if defined(CONPAT_HAVE_CONCURRENTQUEUE)
struct McMpmc {
  static constexpr const char* kName = "moodycamel_mpmc";
  template <class T>
  using type = PeerChannel<MoodycamelCore<T>>;
};
#define CONPAT_MC , McMpmc
#else
#define CONPAT_MC
#endif
#if defined(CONPAT_HAVE_READERWRITERQUEUE)
struct McSpsc {
  static constexpr const char* kName = "moodycamel_spsc";
  template <class T>
  using type = PeerChannel<RwqCore<T>>;
};
#define CONPAT_RWQ , McSpsc
#else
#define CONPAT_RWQ
#endif

using Implementations = std::tuple<RefChannel, Spsc<layout::Packed>, Spsc<layout::Padded>, Mpmc<layout::Packed>,
                                   Mpmc<layout::Padded>, Fiber, Tbb CONPAT_AQ CONPAT_MC CONPAT_RWQ>;

template <class Impl>
using Traits = channel_traits<typename Impl::template type<std::uint64_t>>;

// The reference reached through its direction-typed ends (chan_ends.hpp):
// every send goes through a SendEnd, every recv and close through the end
// a Go program would hold. Its rows beside impl:channel's show what the ends
// cost (nothing, if they inline).
template <class T>
class ThroughEnds {
 public:
  using value_type = T;
  explicit ThroughEnds(std::size_t cap) : ch_(cap) {}
  ChanStatus send(T v) { return tx_.send(std::move(v)); }
  template <class D>
  ChanStatus send_for(T v, D timeout) { return tx_.send_for(std::move(v), timeout); }
  ChanStatus recv(T& out) { return rx_.recv(out); }
  template <class D>
  ChanStatus recv_for(T& out, D timeout) { return rx_.recv_for(out, timeout); }
  bool close() { return tx_.close(); }
  std::size_t capacity() const { return rx_.capacity(); }

 private:
  Channel<T> ch_;
  SendEnd<T> tx_{ch_};
  RecvEnd<T> rx_{ch_};
};
struct RefChannelEnds {
  static constexpr const char* kName = "channel_ends";
  template <class T>
  using type = ThroughEnds<T>;
};

template <class F>
void for_each_impl(F&& f) {
  std::apply([&](auto... impl) { (f(impl), ...); }, Implementations{});
}

// Whether a cell at capacity `cap` measures that capacity: unbuffered only
// where the implementation has it, and no queue that allocates far more than
// asked (atomic_queue's AtomicQueueB2 holds at least 4096 slots, so its cells
// below that would all measure a 4096-slot queue). Rounding up to the next
// power of two is allowed; the rows record the capacity used (usable_cap).
template <class Impl>
bool supports_capacity(std::size_t cap) {
  if (cap == 0) return Traits<Impl>::unbuffered;
  typename Impl::template type<std::uint64_t> probe(cap);
  return probe.capacity() <= std::bit_ceil(std::max<std::size_t>(cap, 2));
}

// Items per iteration: large enough that a round's start and end cost
// little next to moving the batch.
constexpr std::uint64_t kBatch = 4096;

void set_item_counters(benchmark::State& state, std::uint64_t per_iteration, double threads) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(per_iteration));
  state.counters["ns_per_item"] = benchmark::Counter(static_cast<double>(per_iteration) * 1e-9,
                                                     benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
  state.counters["threads_used"] = threads;
}

// Waits for the round, kicking the watchdog; false if the watchdog fired.
bool await_round(WaitGroup& round, Watchdog& wd) {
  while (!round.wait_for(std::chrono::milliseconds(100))) {
    if (wd.fired()) return false;
  }
  wd.kick();
  return true;
}

// ---- channel.spsc ----------------------------------------------------------

// Timed: every send and recv carries a timeout that never fires (one hour),
// as Go's BenchmarkSelectProdCons arms a timer in every select.
constexpr auto kNeverFires = std::chrono::hours(1);

template <class Impl, std::size_t Bytes, bool Timed = false>
void spsc(benchmark::State& state, const std::string& name, std::size_t cap, int work) {
  using T = Payload<Bytes>;
  typename Impl::template type<T> ch(cap);
  std::vector<std::int64_t> stamps(kBatch);  // send times of sampled items, by id % kBatch
  WaitGroup round;
  // The consumer's tallies: its own locals while it runs, published here at
  // the end. (Written per item into this frame, they shared cache lines with
  // the producer's locals, and the false sharing cost every implementation
  // tens of ns per item.)
  Latency lat;
  std::uint64_t got_count = 0, got_sum = 0;
  bool in_order = true;
  PinScope pin(0);  // the producer (this thread) on one CPU, the consumer on another
  std::thread consumer([&] {
    PinScope consumer_pin(1);
    T v;
    auto recv = [&] {
      if constexpr (Timed) return ch.recv_for(v, kNeverFires);
      else return ch.recv(v);
    };
    Latency my_lat;
    std::uint64_t count = 0, sum = 0;
    bool order = true;
    while (recv() == ChanStatus::ok) {
      if (v.id % kLatencyStride == 0) my_lat.record(now_ns() - stamps[v.id % kBatch]);
      order &= v.id == count;
      sum += v.id;
      if (++count % kBatch == 0) round.done();
    }
    lat.merge(my_lat);
    got_count = count, got_sum = sum, in_order = order;
  });
  Watchdog wd(options().watchdog_seconds, [&] { ch.close(); });
  std::uint64_t next = 0, sent_sum = 0;
  bool ok = true;
  for (auto _ : state) {
    round.add(1);
    for (std::uint64_t i = 0; i < kBatch && ok; ++i, ++next) {
      if (next % kLatencyStride == 0) stamps[next % kBatch] = now_ns();
      if (work > 0) local_work(work);
      T item;
      item.id = next;
      if constexpr (Timed) {
        ok = ch.send_for(std::move(item), kNeverFires) == ChanStatus::ok;
      } else {
        ok = ch.send(std::move(item)) == ChanStatus::ok;
      }
      sent_sum += next;
    }
    if (!ok || !await_round(round, wd)) break;
  }
  ch.close();
  consumer.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!in_order) return state.SkipWithError("wrong result: items arrived out of order");
  if (!check_transfer(state, next, sent_sum, got_count, got_sum)) return;
  set_item_counters(state, kBatch, 2);
  state.counters["usable_cap"] = static_cast<double>(ch.capacity());
  state.counters["pinned"] = pin.pinned();
  if (work > 0) state.counters["work_ns"] = local_work_ns(work);  // the producer's work per item, measured
  lat.report(state);
}

// ---- channel.mpmc ----------------------------------------------------------

// An mpmc item's id: producer << kProducerShift | that producer's sequence number.
constexpr int kProducerShift = 40;

// What one mpmc consumer saw, kept in its own locals while it runs
// (adjacent slots written per item would false-share between consumers).
struct MpmcTally {
  std::uint64_t count = 0, sum = 0;
  bool in_order = true;
  Latency lat;
};

// One mpmc consumer, for either runner: receives until the channel closes,
// checks each producer's order, samples latency where `stamps` is given
// (send times by producer * share + seq % share), and publishes progress in
// bulk, every 256 items or when the channel runs dry, calling round_end()
// when a whole batch has been received.
template <class Ch, class RoundEnd>
MpmcTally consume_mpmc(Ch& ch, int producers, std::uint64_t batch, std::uint64_t share,
                       std::atomic<std::uint64_t>& consumed, const std::int64_t* stamps, RoundEnd&& round_end) {
  MpmcTally t;
  std::vector<std::int64_t> last(static_cast<std::size_t>(producers), -1);
  std::uint64_t unflushed = 0;
  auto flush = [&] {
    if (unflushed == 0) return;
    std::uint64_t total = consumed.fetch_add(unflushed, std::memory_order_acq_rel) + unflushed;
    unflushed = 0;
    if (total % batch == 0) round_end();
  };
  Payload<8> v;
  for (;;) {
    ChanStatus s = ch.try_recv(v);
    if (s == ChanStatus::would_block) {
      flush();
      s = ch.recv(v);
    }
    if (s != ChanStatus::ok) break;
    auto p = static_cast<std::size_t>(v.id >> kProducerShift);
    auto seq = static_cast<std::int64_t>(v.id & ((std::uint64_t{1} << kProducerShift) - 1));
    t.in_order &= seq > last[p];
    last[p] = seq;
    if (stamps != nullptr && seq % static_cast<std::int64_t>(kLatencyStride) == 0) {
      t.lat.record(now_ns() - stamps[p * share + static_cast<std::uint64_t>(seq) % share]);
    }
    t.sum += v.id;
    ++t.count;
    if (++unflushed == 256) flush();
  }
  flush();
  return t;
}

template <class Impl>
void mpmc(benchmark::State& state, const std::string& name, std::size_t cap, int producers, int consumers) {
  using T = Payload<8>;
  typename Impl::template type<T> ch(cap);
  const std::uint64_t share = kBatch / static_cast<std::uint64_t>(producers);
  const std::uint64_t batch = share * static_cast<std::uint64_t>(producers);
  std::vector<std::int64_t> stamps(batch);
  RoundGate gate;
  RoundEnd round;
  const bool oversubscribed = static_cast<unsigned>(producers + consumers) > hardware_threads();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> consumed{0};
  std::vector<Latency> lat(static_cast<std::size_t>(consumers));
  std::vector<std::uint64_t> got_count(static_cast<std::size_t>(consumers)), got_sum(got_count),
      sent_count(static_cast<std::size_t>(producers)), sent_sum(sent_count);
  std::atomic<bool> in_order{true};

  std::vector<std::thread> threads;
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      PinScope pin(producers + c);  // producers on slots 0..P-1, consumers after them
      auto ci = static_cast<std::size_t>(c);
      MpmcTally t = consume_mpmc(ch, producers, batch, share, consumed, stamps.data(), [&] { round.done(); });
      if (!t.in_order) in_order.store(false, std::memory_order_relaxed);
      got_sum[ci] = t.sum, got_count[ci] = t.count;
      lat[ci].merge(t.lat);
    });
  }
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      PinScope pin(p);
      auto pi = static_cast<std::size_t>(p);
      std::uint32_t seen = 0;
      std::uint64_t seq = 0, my_count = 0, my_sum = 0;  // published at the end, as the consumers'
      for (;;) {
        seen = gate.wait(seen, !oversubscribed);
        if (stop.load(std::memory_order_acquire)) break;
        bool open = true;
        for (std::uint64_t i = 0; i < share && open; ++i, ++seq) {
          if (seq % kLatencyStride == 0) stamps[pi * share + i] = now_ns();
          T item;
          item.id = (static_cast<std::uint64_t>(p) << kProducerShift) | seq;
          open = ch.send(item) == ChanStatus::ok;
          if (open) my_sum += item.id, ++my_count;
        }
        if (!open) break;
      }
      sent_sum[pi] = my_sum, sent_count[pi] = my_count;
    });
  }
  Watchdog wd(options().watchdog_seconds, [&] { ch.close(); });
  std::uint32_t rounds = 0;
  for (auto _ : state) {
    gate.open();
    ++rounds;
    bool ended = false;
    while (!(ended = round.wait_for(rounds, std::chrono::milliseconds(100))) && !wd.fired()) {}
    if (!ended) break;
    wd.kick();
  }
  stop.store(true, std::memory_order_release);
  gate.open();
  ch.close();
  for (auto& t : threads) t.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!in_order.load()) return state.SkipWithError("wrong result: a producer's items arrived out of order");
  std::uint64_t sc = 0, ss = 0, gc = 0, gs = 0;
  for (std::size_t i = 0; i < sent_count.size(); ++i) sc += sent_count[i], ss += sent_sum[i];
  for (std::size_t i = 0; i < got_count.size(); ++i) gc += got_count[i], gs += got_sum[i];
  if (!check_transfer(state, sc, ss, gc, gs)) return;
  set_item_counters(state, batch, producers + consumers + 1);  // + the coordinator, which spins at each round's end
  state.counters["usable_cap"] = static_cast<double>(ch.capacity());
  state.counters["pinned"] = pinning_active();  // the coordinator (this thread) is not pinned
  Latency all;
  for (auto& l : lat) all.merge(l);
  all.report(state);
}

// ---- channel.pingpong ------------------------------------------------------

// How close to the machine a round trip is: the core-to-core round trip of
// two spinning threads, probed right after the sample (`c2c_ns`), and the
// sample's round trip as a multiple of it (`rtt_per_c2c`). One allowed CPU
// has no core-to-core round trip; the counters are left out.
void report_round_trip(benchmark::State& state, std::int64_t elapsed_ns, std::uint64_t round_trips) {
  const double c2c = sample_c2c_ns();
  if (c2c <= 0 || round_trips == 0) return;
  state.counters["c2c_ns"] = c2c;
  state.counters["rtt_per_c2c"] = static_cast<double>(elapsed_ns) / static_cast<double>(round_trips) / c2c;
}

template <class Impl>
void pingpong(benchmark::State& state, const std::string& name, std::size_t cap) {
  using Ch = typename Impl::template type<std::uint64_t>;
  Ch ping(cap), pong(cap);
  PinScope pin(0);
  std::thread echo([&] {
    PinScope echo_pin(1);
    std::uint64_t v = 0;
    while (ping.recv(v) == ChanStatus::ok) {
      if (pong.send(v + 1) != ChanStatus::ok) break;
    }
  });
  Watchdog wd(options().watchdog_seconds, [&] {
    ping.close();
    pong.close();
  });
  Latency lat;
  std::uint64_t i = 0, bad = 0;
  bool ok = true;
  const std::int64_t t0 = now_ns();
  for (auto _ : state) {
    bool sample = i % 16 == 0;
    std::int64_t t0 = sample ? now_ns() : 0;
    std::uint64_t back = 0;
    ok = ping.send(i) == ChanStatus::ok && pong.recv(back) == ChanStatus::ok;
    if (!ok) break;
    if (sample) lat.record(now_ns() - t0);
    bad += back != i + 1;
    if (++i % 1024 == 0) wd.kick();
  }
  const std::int64_t t1 = now_ns();
  ping.close();
  pong.close();
  echo.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok) return state.SkipWithError("wrong result: a channel closed during the run");
  if (bad != 0) return state.SkipWithError("wrong result: echo returned wrong values");
  set_item_counters(state, 1, 2);
  state.counters["pinned"] = pin.pinned();
  lat.report(state);
  report_round_trip(state, t1 - t0, i);
}

// ---- channel.seq -----------------------------------------------------------

// crossbeam-channel's `seq`: one thread sends `cap` items into a channel of
// capacity `cap`, then receives them all; no other thread, so no waiting and
// no cache line moving between cores: the cost of an uncontended operation.
template <class Impl>
void seq(benchmark::State& state, const std::string& name, std::size_t cap) {
  typename Impl::template type<std::uint64_t> ch(cap);
  // A send beyond what the queue holds would block this (only) thread for
  // good. So first count, with try_send, how many it takes before the first
  // receive (Boost.Fiber's holds cap - 1; moodycamel's implicit producer
  // fewer than the blocks it reports): each iteration moves that many
  // (usable_cap). Should a send block anyway, the watchdog closes the channel.
  {
    std::size_t fits = 0;
    while (fits < cap && ch.try_send(std::uint64_t{fits}) == ChanStatus::ok) ++fits;
    for (std::uint64_t v = 0, k = 0; k < fits; ++k) {
      if (ch.try_recv(v) != ChanStatus::ok || v != k) return state.SkipWithError("wrong result: a queued item was lost");
    }
    cap = fits;
  }
  if (cap == 0) return state.SkipWithError("channel.seq needs a buffered channel");
  Watchdog wd(options().watchdog_seconds, [&] { ch.close(); });
  std::uint64_t next = 0, sent_count = 0, sent_sum = 0, got_count = 0, got_sum = 0;
  bool in_order = true, ok = true;
  for (auto _ : state) {
    const std::uint64_t first = next;
    for (std::size_t i = 0; i < cap && ok; ++i, ++next) {
      ok = ch.send(next) == ChanStatus::ok;
      if (ok) sent_sum += next, ++sent_count;
    }
    std::uint64_t v = 0;
    for (std::uint64_t k = 0; k < cap && ok; ++k) {
      ok = ch.recv(v) == ChanStatus::ok;
      if (ok) in_order &= v == first + k, got_sum += v, ++got_count;
    }
    if (!ok) break;
    wd.kick();
  }
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!ok) return state.SkipWithError("wrong result: the channel closed during the run");
  if (!in_order) return state.SkipWithError("wrong result: items arrived out of order");
  if (!check_transfer(state, sent_count, sent_sum, got_count, got_sum)) return;
  set_item_counters(state, cap, 1);
  state.counters["usable_cap"] = static_cast<double>(cap);
}

// ---- runner:fiber ----------------------------------------------------------
//
// The same workloads with conpat::Channel<T, FiberWait>, producers and
// consumers as fibers on a FiberPool (one OS thread per allowed CPU, the
// benchmark's thread included), as Go runs goroutines. A blocked operation
// suspends its fiber, and the thread runs another. The benchmark's thread
// starts each round through a channel and waits for the round's end on
// another (fiber-aware, so it runs pool fibers meanwhile).

template <class T>
using FiberCh = Channel<T, FiberWait>;

void spsc_fiber(benchmark::State& state, const std::string& name, std::size_t cap, int work) {
  using T = Payload<8>;
  FiberPool pool(static_cast<int>(hardware_threads()));
  FiberCh<T> ch(cap);
  FiberCh<int> start(1), done(1);
  std::vector<std::int64_t> stamps(kBatch);  // send times of sampled items, by id % kBatch
  Latency lat;
  std::uint64_t got_count = 0, got_sum = 0, sent = 0, sent_sum = 0;
  bool in_order = true;
  pool.spawn([&] {  // consumer
    std::uint64_t count = 0, sum = 0;
    bool order = true;
    Latency my_lat;
    T v;
    while (ch.recv(v) == ChanStatus::ok) {
      if (v.id % kLatencyStride == 0) my_lat.record(now_ns() - stamps[v.id % kBatch]);
      order &= v.id == count;
      sum += v.id;
      if (++count % kBatch == 0 && done.send(1) != ChanStatus::ok) break;
    }
    got_count = count, got_sum = sum, in_order = order;
    lat.merge(my_lat);
  });
  pool.spawn([&] {  // producer
    std::uint64_t next = 0, sum = 0;
    int token = 0;
    while (start.recv(token) == ChanStatus::ok) {
      bool open = true;
      for (std::uint64_t i = 0; i < kBatch && open; ++i, ++next) {
        if (next % kLatencyStride == 0) stamps[next % kBatch] = now_ns();
        if (work > 0) local_work(work);
        T item;
        item.id = next;
        open = ch.send(std::move(item)) == ChanStatus::ok;
        if (open) sum += next;
      }
      if (!open) break;
    }
    sent = next, sent_sum = sum;
    ch.close();
  });
  Watchdog wd(options().watchdog_seconds, [&] {
    start.close();
    ch.close();
    done.close();
  });
  for (auto _ : state) {
    if (start.send(1) != ChanStatus::ok || !await_fiber_round(done, wd)) break;
  }
  start.close();
  pool.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!in_order) return state.SkipWithError("wrong result: items arrived out of order");
  if (!check_transfer(state, sent, sent_sum, got_count, got_sum)) return;
  set_item_counters(state, kBatch, pool.threads());
  state.counters["usable_cap"] = static_cast<double>(ch.capacity());
  if (work > 0) state.counters["work_ns"] = local_work_ns(work);
  lat.report(state);
}

void mpmc_fiber(benchmark::State& state, const std::string& name, std::size_t cap, int producers, int consumers) {
  using T = Payload<8>;
  FiberPool pool(static_cast<int>(hardware_threads()));
  FiberCh<T> ch(cap);
  FiberCh<int> start(static_cast<std::size_t>(producers)), done(1);
  const std::uint64_t share = kBatch / static_cast<std::uint64_t>(producers);
  const std::uint64_t batch = share * static_cast<std::uint64_t>(producers);
  std::atomic<std::uint64_t> consumed{0}, sent_count{0}, sent_sum{0}, got_count{0}, got_sum{0};
  std::atomic<bool> in_order{true};
  std::atomic<int> producers_left{producers};
  for (int c = 0; c < consumers; ++c) {
    pool.spawn([&] {
      MpmcTally t = consume_mpmc(ch, producers, batch, share, consumed, nullptr, [&] { done.send(1); });
      if (!t.in_order) in_order.store(false, std::memory_order_relaxed);
      got_count.fetch_add(t.count), got_sum.fetch_add(t.sum);
    });
  }
  for (int p = 0; p < producers; ++p) {
    pool.spawn([&, p] {
      std::uint64_t seq = 0, count = 0, sum = 0;
      int token = 0;
      while (start.recv(token) == ChanStatus::ok) {
        bool open = true;
        for (std::uint64_t i = 0; i < share && open; ++i, ++seq) {
          T item;
          item.id = (static_cast<std::uint64_t>(p) << kProducerShift) | seq;
          open = ch.send(item) == ChanStatus::ok;
          if (open) sum += item.id, ++count;
        }
        if (!open) break;
      }
      sent_count.fetch_add(count), sent_sum.fetch_add(sum);
      if (producers_left.fetch_sub(1) == 1) ch.close();
    });
  }
  Watchdog wd(options().watchdog_seconds, [&] {
    start.close();
    ch.close();
    done.close();
  });
  for (auto _ : state) {
    bool ok = true;
    for (int p = 0; p < producers && ok; ++p) ok = start.send(1) == ChanStatus::ok;
    if (!ok || !await_fiber_round(done, wd)) break;
  }
  start.close();
  pool.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (!in_order.load()) return state.SkipWithError("wrong result: a producer's items arrived out of order");
  if (!check_transfer(state, sent_count.load(), sent_sum.load(), got_count.load(), got_sum.load())) return;
  set_item_counters(state, batch, pool.threads());
  state.counters["usable_cap"] = static_cast<double>(ch.capacity());
  state.counters["fibers"] = producers + consumers;
}

// Pinger and echo are both pool fibers (as Go's benchmark goroutines; the
// benchmark thread's main fiber is pinned to its thread). One iteration is
// kPingRounds round trips; ns_per_item is the time per round trip.
constexpr std::uint64_t kPingRounds = 256;

void pingpong_fiber(benchmark::State& state, const std::string& name, std::size_t cap) {
  FiberPool pool(static_cast<int>(hardware_threads()));
  FiberCh<std::uint64_t> ping(cap), pong(cap);
  FiberCh<int> start(1), done(1);
  std::uint64_t trips = 0, bad = 0;
  pool.spawn([&] {  // echo
    std::uint64_t v = 0;
    while (ping.recv(v) == ChanStatus::ok) {
      if (pong.send(v + 1) != ChanStatus::ok) break;
    }
  });
  pool.spawn([&] {  // pinger
    std::uint64_t i = 0, wrong = 0;
    int token = 0;
    bool ok = true;
    while (ok && start.recv(token) == ChanStatus::ok) {
      for (std::uint64_t k = 0; k < kPingRounds && ok; ++k, ++i) {
        std::uint64_t back = 0;
        ok = ping.send(i) == ChanStatus::ok && pong.recv(back) == ChanStatus::ok;
        wrong += ok && back != i + 1;
      }
      ok = ok && done.send(1) == ChanStatus::ok;
    }
    trips = i, bad = wrong;
    ping.close();
  });
  Watchdog wd(options().watchdog_seconds, [&] {
    start.close();
    ping.close();
    pong.close();
    done.close();
  });
  const std::int64_t t0 = now_ns();
  std::uint64_t rounds = 0;
  for (auto _ : state) {
    if (start.send(1) != ChanStatus::ok || !await_fiber_round(done, wd)) break;
    ++rounds;
  }
  const std::int64_t t1 = now_ns();
  start.close();
  pool.join();
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (trips != rounds * kPingRounds) return state.SkipWithError("wrong result: round trips lost");
  if (bad != 0) return state.SkipWithError("wrong result: echo returned wrong values");
  set_item_counters(state, kPingRounds, pool.threads());
  report_round_trip(state, t1 - t0, trips);
}

// ---- channel.fan_in --------------------------------------------------------

template <class Impl, Runner R>
void fan_in(benchmark::State& state, const std::string& name, int workers, std::size_t cap) {
  using Ch = typename Impl::template type<std::uint64_t>;
  const auto n = static_cast<std::uint64_t>(workers);
  const std::uint64_t want_sum = n * (n - 1) / 2 * 3;  // worker i returns 3 * i
  Peak peak;
  std::uint64_t bad_rounds = 0;
  // TBB: an arena with at least one worker besides this (collecting)
  // thread. The default arena on one allowed CPU has none, and tasks that
  // block in send would then wait for a wait() that never comes.
  const int arena_threads = std::max(2, tbb::this_task_arena::max_concurrency());
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(arena_threads));
  tbb::task_arena arena(arena_threads);
  std::optional<FiberPool> pool;  // fibers: one OS thread per allowed CPU, as goroutines
  if constexpr (R == Runner::fiber) pool.emplace(static_cast<int>(hardware_threads()));
  std::atomic<Ch*> current{nullptr};  // the round's channel, for the watchdog to close
  Watchdog wd(options().watchdog_seconds, [&] {
    if (Ch* c = current.load(std::memory_order_acquire)) c->close();
  });
  if constexpr (R == Runner::fiber) {
    // One untimed round first, as the Go harness's first short run warms
    // Go's runtime: the first `workers` fibers of the process fault in their
    // stacks (FiberPool keeps them for the next fibers, as Go keeps dead
    // goroutines' stacks), tens of microseconds per fiber on a virtual
    // machine, and a measured run of a single iteration would time that.
    Ch ch(0);
    current.store(&ch, std::memory_order_release);  // the watchdog covers it too
    for (std::uint64_t i = 0; i < n; ++i) pool->spawn([&ch] { ch.send(0); });
    std::uint64_t ignored = 0;
    for (std::uint64_t k = 0; k < n && ch.recv(ignored) == ChanStatus::ok; ++k) {
    }
    pool->join();
    current.store(nullptr, std::memory_order_release);
    if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  }
  for (auto _ : state) {
    Ch ch(cap);
    current.store(&ch, std::memory_order_release);
    auto worker = [&ch, &peak](std::uint64_t i) {
      peak.enter();
      ch.send(3 * i);
      peak.leave();
    };
    std::uint64_t sum = 0, count = 0, v = 0;
    auto collect = [&] {
      for (std::uint64_t k = 0; k < n && ch.recv(v) == ChanStatus::ok; ++k) sum += v, ++count;
    };
    if constexpr (R == Runner::thread) {
      std::vector<WorkerThread> ts;  // 2 MiB stacks, as the Rust peers' threads
      ts.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) ts.emplace_back([&worker, i] { worker(i); });
      collect();
      for (auto& t : ts) t.join();
    } else if constexpr (R == Runner::fiber) {
      for (std::uint64_t i = 0; i < n; ++i) pool->spawn([&worker, i] { worker(i); });
      collect();
      pool->join();
    } else {
      tbb::task_group tg;
      arena.execute([&] {
        for (std::uint64_t i = 0; i < n; ++i) tg.run([&worker, i] { worker(i); });
      });
      collect();
      arena.execute([&] { tg.wait(); });
    }
    current.store(nullptr, std::memory_order_release);
    wd.kick();
    bad_rounds += (count != n || sum != want_sum);
    if (wd.fired()) break;
  }
  if (wd.fired()) return state.SkipWithError(wd.message(name).c_str());
  if (bad_rounds != 0) {
    return state.SkipWithError(("wrong result: " + std::to_string(bad_rounds) + " round(s) lost or corrupted results").c_str());
  }
  // TBB: the arena's threads, this (receiving) thread's slot included.
  set_item_counters(state, n, R == Runner::thread ? workers + 1 : R == Runner::fiber ? pool->threads() : arena_threads);
  state.counters["peak_workers"] = peak.peak.load();
}

// ---- registration ----------------------------------------------------------


void register_channel(const Options& opt) {
  for (const auto& [impl, note] : peer_notes()) impl_notes()[impl] = note;
  const bool quick = opt.profile == Profile::quick;
  const std::vector<std::size_t> caps = quick ? std::vector<std::size_t>{0, 16, 1024}
                                              : std::vector<std::size_t>{0, 1, 16, 64, 256, 1024, 4096};
  // The 64-byte payload only at a small and a large buffer: the payload's
  // cost does not depend on the capacity in between (benches/README.md).
  const std::vector<std::size_t> payload64_caps = quick ? std::vector<std::size_t>{} : std::vector<std::size_t>{16, 1024};
  // Producer local work, as Go's benchmarkChanProdCons (payload 8 B): work
  // 100 at the unbuffered, smallest and a large buffer, work 1000 at the large one.
  const std::vector<std::pair<int, std::size_t>> work_cells =
      quick ? std::vector<std::pair<int, std::size_t>>{{100, 16}}
            : std::vector<std::pair<int, std::size_t>>{{100, 0}, {100, 1}, {100, 1024}, {1000, 1024}};

  for_each_impl([&](auto impl) {
    using I = decltype(impl);
    for (std::size_t cap : caps) {
      if (!supports_capacity<I>(cap)) continue;
      register_benchmark(Name("channel.spsc", I::kName).add("cap", cap).add("payload", 8).add("work", 0),
                         [cap](benchmark::State& st, const std::string& n) { spsc<I, 8>(st, n, cap, 0); });
    }
    for (std::size_t cap : payload64_caps) {
      if (!supports_capacity<I>(cap)) continue;
      register_benchmark(Name("channel.spsc", I::kName).add("cap", cap).add("payload", 64).add("work", 0),
                         [cap](benchmark::State& st, const std::string& n) { spsc<I, 64>(st, n, cap, 0); });
    }
    for (auto [work, cap] : work_cells) {
      if (!supports_capacity<I>(cap)) continue;
      auto name = Name("channel.spsc", I::kName).add("cap", cap).add("payload", 8).add("work", work);
      register_benchmark(name, [cap = cap, work = work](benchmark::State& st, const std::string& n) {
        spsc<I, 8>(st, n, cap, work);
      });
    }
  });

  // The reference through its ends: spsc at every capacity, pingpong
  // unbuffered and at capacity 1 (the zero-cost check of chan_ends.hpp).
  for (std::size_t cap : caps) {
    register_benchmark(Name("channel.spsc", RefChannelEnds::kName).add("cap", cap).add("payload", 8).add("work", 0),
                       [cap](benchmark::State& st, const std::string& n) { spsc<RefChannelEnds, 8>(st, n, cap, 0); });
  }
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
    register_benchmark(Name("channel.pingpong", RefChannelEnds::kName).add("cap", cap),
                       [cap](benchmark::State& st, const std::string& n) { pingpong<RefChannelEnds>(st, n, cap); });
  }

  // timeout.armed: the spsc workload with a timeout on every operation, for
  // every implementation with timed operations. Its baseline (no timeout) is
  // channel.spsc with the same impl, cap, payload 8 and work 0: the same
  // code, so it is not run twice (benches/README.md).
  for_each_impl([&](auto impl) {
    using I = decltype(impl);
    if constexpr (TimedChannel<typename I::template type<Payload<8>>>) {
      for (std::size_t cap : quick ? std::vector<std::size_t>{16} : std::vector<std::size_t>{16, 1024}) {
        register_benchmark(Name("timeout.armed", I::kName).add("cap", cap).add("armed", 1),
                           [cap](benchmark::State& st, const std::string& n) { spsc<I, 8, true>(st, n, cap, 0); });
      }
    }
  });

  // k producers x k consumers from 2 x 2 until 2k threads are twice the CPUs (at least 8 x 8), and 1 x 4, 4 x 1.
  std::vector<std::pair<int, int>> shapes{{2, 2}, {4, 1}};
  if (!quick) {
    shapes = {{1, 4}, {4, 1}};
    for (int k = 2; k <= std::max(8, sweep_cpus()); k *= 2) shapes.emplace_back(k, k);
  }
  const std::vector<std::size_t> mpmc_caps = quick ? std::vector<std::size_t>{16} : std::vector<std::size_t>{16, 1024};
  // The rendezvous and the one-slot buffer (crossbeam's bounded0 / bounded1
  // cells) at the mpsc 4 x 1 and mpmc 4 x 4 shapes (quick: 4 x 1 only).
  auto caps_of_shape = [&](int p, int c) {
    std::vector<std::size_t> out;
    if ((p == 4 && c == 1) || (!quick && p == 4 && c == 4)) out = {0, 1};
    out.insert(out.end(), mpmc_caps.begin(), mpmc_caps.end());
    return out;
  };
  for_each_impl([&](auto impl) {
    using I = decltype(impl);
    for (auto [p, c] : shapes) {
      if ((p > 1 && !Traits<I>::multi_producer) || (c > 1 && !Traits<I>::multi_consumer)) continue;
      for (std::size_t cap : caps_of_shape(p, c)) {
        if (!supports_capacity<I>(cap)) continue;
        auto name = Name("channel.mpmc", I::kName).add("cap", cap).add("producers", p).add("consumers", c);
        register_benchmark(name, [cap, p = p, c = c](benchmark::State& st, const std::string& n) { mpmc<I>(st, n, cap, p, c); });
      }
    }
  });

  for_each_impl([&](auto impl) {
    using I = decltype(impl);
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
      if (!supports_capacity<I>(cap)) continue;
      register_benchmark(Name("channel.pingpong", I::kName).add("cap", cap),
          [cap](benchmark::State& st, const std::string& n) { pingpong<I>(st, n, cap); });
    }
  });

  // channel.seq: a batch into a channel of the batch's capacity, then out.
  for_each_impl([&](auto impl) {
    using I = decltype(impl);
    if (!supports_capacity<I>(kBatch)) return;
    register_benchmark(Name("channel.seq", I::kName).add("cap", kBatch),
                       [](benchmark::State& st, const std::string& n) { seq<I>(st, n, kBatch); });
  });

  // runner:fiber — conpat::Channel<T, FiberWait> with fibers on a FiberPool.
  // (Rows without a runner in their name run on OS threads.)
  for (std::size_t cap : caps) {
    register_benchmark(Name("channel.spsc", RefChannel::kName).add("runner", "fiber").add("cap", cap).add("payload", 8).add("work", 0),
                       [cap](benchmark::State& st, const std::string& n) { spsc_fiber(st, n, cap, 0); });
  }
  for (auto [p, c] : shapes) {
    for (std::size_t cap : caps_of_shape(p, c)) {
      register_benchmark(Name("channel.mpmc", RefChannel::kName).add("runner", "fiber").add("cap", cap).add("producers", p).add("consumers", c),
                         [cap, p = p, c = c](benchmark::State& st, const std::string& n) { mpmc_fiber(st, n, cap, p, c); });
    }
  }
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
    register_benchmark(Name("channel.pingpong", RefChannel::kName).add("runner", "fiber").add("cap", cap),
                       [cap](benchmark::State& st, const std::string& n) { pingpong_fiber(st, n, cap); });
  }

  const std::vector<int> fan = quick ? std::vector<int>{16, 1024} : std::vector<int>{16, 1024, 10000};
  constexpr std::size_t kFanCap = 64;
  for (int w : fan) {
    register_benchmark(Name("channel.fan_in", RefChannel::kName).add("runner", runner_name(Runner::thread)).add("workers", w).add("cap", kFanCap),
        [w](benchmark::State& st, const std::string& n) { fan_in<RefChannel, Runner::thread>(st, n, w, kFanCap); });
    register_benchmark(Name("channel.fan_in", RefChannel::kName).add("runner", runner_name(Runner::fiber)).add("workers", w).add("cap", kFanCap),
        [w](benchmark::State& st, const std::string& n) { fan_in<RefChannelFiber, Runner::fiber>(st, n, w, kFanCap); });
    register_benchmark(Name("channel.fan_in", Fiber::kName).add("runner", runner_name(Runner::fiber)).add("workers", w).add("cap", kFanCap),
        [w](benchmark::State& st, const std::string& n) { fan_in<Fiber, Runner::fiber>(st, n, w, kFanCap); });
    register_benchmark(Name("channel.fan_in", Tbb::kName).add("runner", runner_name(Runner::tbb_task)).add("workers", w).add("cap", kFanCap),
        [w](benchmark::State& st, const std::string& n) { fan_in<Tbb, Runner::tbb_task>(st, n, w, kFanCap); });
  }
}
CONPAT_BENCH_FAMILY(register_channel);

}  // namespace
}  // namespace conpat::bench
