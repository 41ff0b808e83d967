// A harness for lifetime races: an object is destroyed by the thread that
// just finished with it (a wait() that returned, a recv() that said closed)
// while its partner thread may still be returning from the call that let it
// finish. Go's idiom relies on this being safe. Under AddressSanitizer a
// touch of the object after that point is a heap-use-after-free; under
// ThreadSanitizer a race with the delete.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "conpat/detail/park.hpp"

namespace conpat::test {

// A round takes about 100 ns on 2 cores, and the window these tests look
// for is a few instructions wide: against the unfixed WaitGroup, 20,000
// rounds under ASan hit it in 4 runs of 20, so a million rounds hit it in
// practically every run. ThreadSanitizer runs each round far slower.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kLifetimeRounds = 20000;
#else
inline constexpr int kLifetimeRounds = 1000000;
#endif

// For each round: make() an object on the heap, hand it to a persistent
// partner thread that calls partner(obj), call finish(obj) here, and
// destroy the object as soon as finish returns.
template <class T, class Make, class Partner, class Finish>
void destroy_right_after(int rounds, Make make, Partner partner, Finish finish) {
  std::atomic<T*> handed{nullptr};
  std::atomic<bool> stop{false};
  std::thread th([&] {
    for (;;) {
      T* p = nullptr;
      for (int spins = 0; (p = handed.exchange(nullptr, std::memory_order_acquire)) == nullptr; ++spins) {
        if (stop.load(std::memory_order_acquire)) return;
        // Spin briefly, then yield: ctest runs suites side by side on 2 cores.
        if (spins < 256) detail::spin_pause(); else std::this_thread::yield();
      }
      partner(*p);
    }
  });
  for (int i = 0; i < rounds; ++i) {
    std::unique_ptr<T> obj = make();
    handed.store(obj.get(), std::memory_order_release);
    finish(*obj);
    obj.reset();
  }
  stop.store(true, std::memory_order_release);
  th.join();
}

}  // namespace conpat::test
