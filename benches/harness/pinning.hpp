// benches/harness/pinning.hpp — pins a benchmark's own threads to distinct
// CPUs, so that a producer and its consumer stay on different cores for the
// whole run. Unpinned, the scheduler may move a woken thread next to the
// thread that woke it, and an SPSC hand-off then alternates between a
// cache-line transfer and a context switch on one core: the same benchmark
// measures two different things from one repetition to the next.
//
// Pinning is off by default: on this 2-vCPU VM it did not make two runs
// agree better (benches/README.md, "Pinning"). --conpat_pin=1 turns it on;
// it is recorded in context.conpat.pinning and, per benchmark, in the
// counter `pinned`. It
// applies to the threads the harness creates (channel.spsc, channel.mpmc,
// channel.pingpong, timeout.*, and the WorkerPool families); threads that
// a library owns (oneTBB's arena, Boost.Fiber's schedulers, Go's Ms) are
// left to their scheduler. With one allowed CPU there is nothing to choose
// and no thread is pinned.
#pragma once

#include <nlohmann/json.hpp>
#include <sched.h>

#include <vector>

namespace conpat::bench {

// The CPUs this process was allowed at start-up (taskset, cgroups), in order.
const std::vector<int>& allowed_cpus();

// Whether pinning is on (the option) and possible (two or more allowed CPUs).
bool pinning_active();

// Pins the calling thread to allowed_cpus()[slot % count] for its lifetime
// (or until the object is destroyed, which restores the thread's previous
// mask). Does nothing when pinning is not active. Slots wrap around when a
// benchmark has more threads than CPUs: the oversubscribed threads then
// share CPUs in a fixed way instead of wherever the scheduler puts them.
class PinScope {
 public:
  explicit PinScope(int slot);
  ~PinScope();
  PinScope(const PinScope&) = delete;
  PinScope& operator=(const PinScope&) = delete;
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t old_{};
  bool pinned_ = false;
};

// For context.conpat.pinning: enabled, allowed CPUs, and what it covers.
nlohmann::json pinning_context();

}  // namespace conpat::bench
