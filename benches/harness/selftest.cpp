// benches/harness/selftest.cpp — benchmarks that misbehave on purpose, to
// test the harness: registered only when CONPAT_BENCH_SELFTEST is set.
//   selftest.hang   blocks in recv on a channel nobody sends to: the watchdog must end it
//   selftest.wrong  loses an item: its own check must fail it
//   selftest.crash  aborts the process: the driver must record the family as failed
#include <cstdlib>
#include <thread>

#include "conpat/channel.hpp"
#include "harness.hpp"

namespace conpat::bench {
namespace {

void hang(benchmark::State& state, const std::string& name) {
  Channel<int> ch(1);
  Watchdog wd(options().watchdog_seconds, [&] { ch.close(); });
  for (auto _ : state) {
    int v = 0;
    if (ch.recv(v) != ChanStatus::ok) break;
  }
  if (wd.fired()) state.SkipWithError(wd.message(name).c_str());
}

void wrong(benchmark::State& state, const std::string&) {
  std::uint64_t sent = 0, got = 0;
  for (auto _ : state) {
    Channel<std::uint64_t> ch(4);
    ch.send(1);
    ch.send(2);
    ch.close();
    std::uint64_t v = 0;
    ch.recv(v);  // the second item is "lost"
    sent += 2;
    got += 1;
  }
  check_transfer(state, sent, sent, got, got);
}

void crash(benchmark::State& state, const std::string&) {
  for (auto _ : state) std::abort();
}

void register_selftest(const Options&) {
  if (std::getenv("CONPAT_BENCH_SELFTEST") == nullptr) return;
  for (auto [name, fn] : {std::pair{"selftest.hang/impl:channel", &hang}, std::pair{"selftest.wrong/impl:channel", &wrong},
                          std::pair{"selftest.crash/impl:none", &crash}}) {
    std::string n = name;
    benchmark::RegisterBenchmark(n.c_str(), [n, fn = fn](benchmark::State& st) { fn(st, n); })->UseRealTime();
  }
}
CONPAT_BENCH_FAMILY(register_selftest);

}  // namespace
}  // namespace conpat::bench
