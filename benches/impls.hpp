// benches/impls.hpp — the channel implementations the workloads run, each
// named once: `kName` (the impl in benchmark names) and `type<T>`.
#pragma once

#include "conpat/channel.hpp"
#include "conpat/fiber_channel.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/padding.hpp"
#include "conpat/spsc_ring.hpp"
#include "conpat/tbb_channel.hpp"

namespace conpat::bench {

struct RefChannel {  // The reference.
  static constexpr const char* kName = "channel";
  template <class T>
  using type = Channel<T>;
};
struct RefChannelFiber {  // The reference, suspending fibers (runner:fiber).
  static constexpr const char* kName = "channel";
  template <class T>
  using type = Channel<T, FiberWait>;
};
template <class Layout>
struct Spsc {
  static constexpr const char* kName = Layout::kAlign == 0 ? "spsc_ring_packed" : "spsc_ring_padded";
  template <class T>
  using type = SpscRing<T, Layout>;
};
template <class Layout>
struct Mpmc {
  static constexpr const char* kName = Layout::kAlign == 0 ? "mpmc_ring_packed" : "mpmc_ring_padded";
  template <class T>
  using type = MpmcRing<T, Layout>;
};
struct Fiber {
  static constexpr const char* kName = "fiber_channel";
  template <class T>
  using type = FiberChannel<T>;
};
struct Tbb {
  static constexpr const char* kName = "tbb_channel";
  template <class T>
  using type = TbbChannel<T>;
};
}  // namespace conpat::bench
