// benches/harness/pinning.cpp — see pinning.hpp.
#include "pinning.hpp"

#include <pthread.h>

#include "harness.hpp"

namespace conpat::bench {

const std::vector<int>& allowed_cpus() {
  // First called from main() before any benchmark pins a thread.
  static const std::vector<int> cpus = [] {
    std::vector<int> out;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
      for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) out.push_back(c);
      }
    }
    return out;
  }();
  return cpus;
}

bool pinning_active() { return options().pin_threads && allowed_cpus().size() >= 2; }

PinScope::PinScope(int slot) {
  if (!pinning_active() || slot < 0) return;
  const auto& cpus = allowed_cpus();
  if (pthread_getaffinity_np(pthread_self(), sizeof(old_), &old_) != 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[static_cast<std::size_t>(slot) % cpus.size()], &set);
  pinned_ = pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

PinScope::~PinScope() {
  if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof(old_), &old_);
}

nlohmann::json pinning_context() {
  return {{"enabled", pinning_active()},
          {"requested", options().pin_threads},
          {"allowed_cpus", allowed_cpus()},
          {"applies_to", "when enabled, threads the harness creates: channel.spsc, channel.mpmc, channel.pingpong, timeout.*, "
                         "and the collect/callback worker pools (thread k on allowed CPU k mod count); not oneTBB's "
                         "arena, Boost.Fiber's schedulers, fan_in's per-round threads or Go"}};
}

}  // namespace conpat::bench
