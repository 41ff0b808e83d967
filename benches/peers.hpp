// benches/peers.hpp — adapters that put the best-known C++ queues behind
// conpat::BlockingChannel, so the channel workloads run them beside conpat's
// own (as atomic_queue's benchmarks adapt their peers). Each is optional:
// CMake defines CONPAT_HAVE_<NAME> when the Debian package's header exists.
//
//   atomic_queue_spsc / atomic_queue_mpmc   atomic_queue::AtomicQueueB2 (libatomic-queue-dev)
//   moodycamel_mpmc                         moodycamel::BlockingConcurrentQueue (libconcurrentqueue-dev)
//   moodycamel_spsc                         moodycamel::BlockingReaderWriterQueue (libreaderwriterqueue-dev)
//
// None of them has close, a bounded blocking send or an unbuffered mode, so
// the adapter adds what the workloads need and the results say so
// (peer_notes(), written into context.conpat.impl_notes):
//   - close: a flag; recv drains what is left, then reports closed;
//   - a blocking send on a full queue busy-waits (spin, then yield);
//   - a blocking recv busy-waits (atomic_queue) or waits in the queue's own
//     timed wait, re-checking the flag every 100 us (moodycamel);
//   - capacity: atomic_queue rounds up to a power of two (and holds at least
//     4096); moodycamel's bounded mode (try_enqueue into preallocated blocks)
//     holds the request rounded up to its 32-item blocks; ReaderWriterQueue
//     says what it holds (max_capacity). capacity() reports the real number.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "conpat/blocking_channel.hpp"
#include "conpat/chan_status.hpp"
#include "conpat/detail/park.hpp"

#if defined(CONPAT_HAVE_ATOMIC_QUEUE)
#include <atomic_queue/atomic_queue.h>
#endif
#if defined(CONPAT_HAVE_CONCURRENTQUEUE)
#include CONPAT_CONCURRENTQUEUE_HEADER
#endif
#if defined(CONPAT_HAVE_READERWRITERQUEUE)
#include <readerwriterqueue/readerwriterqueue.h>
#endif

namespace conpat::bench {

// What each peer cannot honour, for the results file.
inline const std::map<std::string, std::string>& peer_notes() {
  static const std::map<std::string, std::string> notes{
      {"atomic_queue_spsc", "no blocking mode (busy-waits), no close (emulated), holds at least 4096 items: "
                            "smaller capacities are left out (they would measure a 4096-item queue)"},
      {"atomic_queue_mpmc", "no blocking mode (busy-waits), no close (emulated), holds at least 4096 items: "
                            "smaller capacities are left out (they would measure a 4096-item queue)"},
      {"moodycamel_mpmc", "no bounded blocking send (busy-waits on try_enqueue), capacity rounded up to 32-item blocks "
                          "(capacities it cannot hold within a power of two are left out), "
                          "no close (emulated, noticed within 100 us), FIFO per producer only"},
      {"moodycamel_spsc", "no bounded blocking send (busy-waits on try_enqueue), capacity as the queue reports it "
                          "(max_capacity; capacities it rounds past the next power of two are left out), "
                          "no close (emulated, noticed within 100 us)"},
  };
  return notes;
}

// Core: bool try_push(T&&), bool try_pop(T&), bool wait_pop(T&, micros) (may
// return false early), std::size_t capacity(). The adapter adds blocking
// waits and close.
template <class Core>
class PeerChannel {
 public:
  using value_type = typename Core::value_type;
  using T = value_type;

  explicit PeerChannel(std::size_t capacity) : core_(capacity) {}

  ChanStatus send(T v) {
    for (int i = 0;; ++i) {
      if (closed_.load(std::memory_order_acquire)) return ChanStatus::closed;
      if (core_.try_push(std::move(v))) return ChanStatus::ok;
      backoff(i);
    }
  }
  ChanStatus try_send(T v) {
    if (closed_.load(std::memory_order_acquire)) return ChanStatus::closed;
    return core_.try_push(std::move(v)) ? ChanStatus::ok : ChanStatus::would_block;
  }
  ChanStatus recv(T& out) {
    for (int i = 0;; ++i) {
      if (core_.try_pop(out)) return ChanStatus::ok;
      if (closed_.load(std::memory_order_acquire)) return core_.try_pop(out) ? ChanStatus::ok : ChanStatus::closed;
      if (Core::kCanWait) {
        if (i > 64 && core_.wait_pop(out, 100)) return ChanStatus::ok;
      }
      backoff(i);
    }
  }
  ChanStatus try_recv(T& out) {
    if (core_.try_pop(out)) return ChanStatus::ok;
    if (!closed_.load(std::memory_order_acquire)) return ChanStatus::would_block;
    return core_.try_pop(out) ? ChanStatus::ok : ChanStatus::closed;
  }
  bool close() noexcept { return !closed_.exchange(true, std::memory_order_acq_rel); }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return core_.capacity(); }

 private:
  static void backoff(int i) {
    if (i < 256) {
      detail::spin_pause();
    } else {
      std::this_thread::yield();
    }
  }
  Core core_;
  std::atomic<bool> closed_{false};
};

#if defined(CONPAT_HAVE_ATOMIC_QUEUE)
template <class V, bool Spsc>
struct AtomicQueueCore {
  using value_type = V;
  static constexpr bool kCanWait = false;
  static constexpr bool kMultiProducer = !Spsc;
  static constexpr bool kMultiConsumer = !Spsc;
  explicit AtomicQueueCore(std::size_t n) : q_(static_cast<unsigned>(n)), cap_(q_.capacity()) {}
  bool try_push(V&& v) { return q_.try_push(std::move(v)); }
  bool try_pop(V& v) { return q_.try_pop(v); }
  bool wait_pop(V&, int) { return false; }
  std::size_t capacity() const { return cap_; }
  atomic_queue::AtomicQueueB2<V, std::allocator<V>, true, false, Spsc> q_;
  std::size_t cap_;
};
#endif

#if defined(CONPAT_HAVE_CONCURRENTQUEUE)
template <class V>
struct MoodycamelCore {
  using value_type = V;
  static constexpr bool kCanWait = true;
  static constexpr bool kMultiProducer = true;
  static constexpr bool kMultiConsumer = true;
  // The queue preallocates whole blocks; try_enqueue uses only those, so the
  // capacity is the request rounded up to the block size (shared by producers).
  static constexpr std::size_t kBlock = moodycamel::ConcurrentQueueDefaultTraits::BLOCK_SIZE;
  explicit MoodycamelCore(std::size_t n) : q_(n), cap_((n + kBlock - 1) / kBlock * kBlock) {}
  bool try_push(V&& v) { return q_.try_enqueue(std::move(v)); }
  bool try_pop(V& v) { return q_.try_dequeue(v); }
  bool wait_pop(V& v, int micros) { return q_.wait_dequeue_timed(v, micros); }
  std::size_t capacity() const { return cap_; }
  moodycamel::BlockingConcurrentQueue<V> q_;
  std::size_t cap_;
};
#endif

#if defined(CONPAT_HAVE_READERWRITERQUEUE)
template <class V>
struct RwqCore {
  using value_type = V;
  static constexpr bool kCanWait = true;
  static constexpr bool kMultiProducer = false;
  static constexpr bool kMultiConsumer = false;
  explicit RwqCore(std::size_t n) : q_(n), cap_(q_.max_capacity()) {}  // what the queue really holds
  bool try_push(V&& v) { return q_.try_enqueue(std::move(v)); }
  bool try_pop(V& v) { return q_.try_dequeue(v); }
  bool wait_pop(V& v, int micros) { return q_.wait_dequeue_timed(v, static_cast<std::int64_t>(micros)); }
  std::size_t capacity() const { return cap_; }
  moodycamel::BlockingReaderWriterQueue<V> q_;
  std::size_t cap_;
};
#endif

}  // namespace conpat::bench

namespace conpat {
// What the peers claim, for the workloads' filters.
template <class Core>
struct channel_traits<bench::PeerChannel<Core>> {
  static constexpr bool multi_producer = Core::kMultiProducer;
  static constexpr bool multi_consumer = Core::kMultiConsumer;
  static constexpr bool unbuffered = false;
  static constexpr bool exact_unbuffered_try = false;
  // Not known statically (rounded, or approximate): the workloads report capacity() instead.
  static constexpr std::size_t usable_capacity(std::size_t n) noexcept { return n; }
};
}  // namespace conpat
