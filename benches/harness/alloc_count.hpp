// benches/harness/alloc_count.hpp — heap allocations counted, C++'s
// counterpart of Go's testing.AllocsPerRun. The benchmark binary replaces
// the global operator new and delete (alloc_count.cpp) with malloc/free
// that count, while an AllocCount is alive, every allocation made by any
// thread of the process. Counting is off otherwise: an allocation then costs
// one relaxed load more than malloc's own, so the timings of the other
// benchmarks are unchanged.
//
// Benchmarks count in a separate, untimed pass after their timed loop (the
// counting atomics would otherwise be in the timings), and report
// `allocs_per_op` and `bytes_per_op`. Allocations that bypass operator new
// (malloc called directly, e.g. by glibc's pthread_create for a thread's
// stack, or a Boost.Fiber stack) are not counted; the counters say what
// C++ code asked of operator new, as Go's count says what its runtime's
// allocator served.
#pragma once

#include <cstdint>

namespace conpat::bench {

class AllocCount {
 public:
  AllocCount();   // starts counting (one AllocCount at a time)
  ~AllocCount();  // stops counting
  AllocCount(const AllocCount&) = delete;  // non-copyable and non-movable
  AllocCount& operator=(const AllocCount&) = delete;

  // Allocations and bytes requested since construction, by every thread.
  std::uint64_t allocs() const;
  std::uint64_t bytes() const;

 private:
  std::uint64_t allocs0_, bytes0_;
};

}  // namespace conpat::bench
