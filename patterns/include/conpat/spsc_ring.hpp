// conpat/spsc_ring.hpp — conpat::SpscRing<T, Layout>: a bounded lock-free
// ring for exactly one producer thread and one consumer thread, with
// blocking, timed and cancellable send/recv and close(). No unbuffered mode.
//
// The ring holds exactly `capacity` values (one slack slot tells full from
// empty, as in rigtorp's SPSCQueue). Each side keeps a private copy of the
// other side's index and re-reads the shared one only when the copy says
// full (producer) or empty (consumer), so in steady state the indices'
// cache lines move rarely. Layout selects where the indices live:
// layout::Padded gives the producer's and the consumer's state a cache line
// each, away from the slots; layout::Packed puts them side by side (the
// false-sharing baseline).
//
// Invariants: tail_ is written only by the producer, head_ only by the
// consumer; slots [head_, tail_) hold constructed values.
// Close: any thread may close (the producer, as Go's convention has it, the
// consumer, or a third thread). Then send returns closed, and the consumer
// drains every value whose send returned ok, then gets closed. A close that
// races a send is settled by a handshake: the producer marks itself busy
// around each push and re-checks the closed state after marking; the closer
// marks the ring closing, waits until no push is in flight, then seals it.
// The consumer reports closed only once sealed, so no push can publish a
// value after the consumer concluded the ring was drained. The busy mark is
// a bit in the producer's own index word (a plain store: only the producer
// writes it), with the fence made asymmetric (detail/doorbell.hpp): close()
// pays the full fence.
//
// Lifetime: the store that publishes a push (tail_) or frees a slot
// (head_) is the last thing the operation does to the ring. Just before it
// the operation sets an "announce" bit in its own index word and bumps the
// other side's doorbell (the futex wake, which reads no memory, comes after
// the store); a parked peer's re-check counts the bit as ready.
// So a consumer that got the value it waited for (or a producer whose slot
// was freed) may destroy the ring at once, as Go's one-shot reply channel
// is dropped, while the peer is still returning.
//
// Memory ordering: the producer publishes a slot with a release store of
// tail_, the consumer frees it with a release store of head_; each side
// reads the other's index with acquire (the announce and busy bits are
// masked off an index). A recv that returned ok
// happens-after the send of its value. A recv that returned closed
// happens-after close() and after every send that returned ok.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <memory>
#include <new>
#include <stdexcept>

#include "conpat/blocking_channel.hpp"
#include "conpat/chan_status.hpp"
#include "conpat/detail/doorbell.hpp"
#include "conpat/detail/ring_front.hpp"
#include "conpat/detail/test_hook.hpp"
#include "conpat/padding.hpp"

namespace conpat {

template <class T, class Layout = layout::Padded>
  requires ChannelValue<T>
class SpscRing : public detail::RingFront<SpscRing<T, Layout>, T> {
  friend class detail::RingFront<SpscRing<T, Layout>, T>;
  friend struct detail::RingProbe;

 public:
  using value_type = T;
  using layout_type = Layout;

  // capacity >= 1; throws std::invalid_argument for 0 (no unbuffered mode).
  explicit SpscRing(std::size_t capacity = 1) : cap_(capacity), slots_(capacity + 1) {
    if (capacity == 0) throw std::invalid_argument("conpat::SpscRing: capacity must be >= 1");
    buf_ = static_cast<T*>(::operator new(sizeof(T) * (slots_ + 2 * kGuard), std::align_val_t{kBufAlign}));
  }

  // Precondition: no send or recv is in progress (a close() may be: it is waited for).
  ~SpscRing() {
    detail::CloseGuard::wait_idle(closing_);
    std::size_t h = cons_.value.head.load(std::memory_order_relaxed) & kIndex;
    std::size_t t = prod_.value.tail.load(std::memory_order_relaxed) & kIndex;
    for (; h != t; h = next(h)) std::destroy_at(slot(h));
    ::operator delete(buf_, std::align_val_t{kBufAlign});
  }

  SpscRing(const SpscRing&) = delete;  // non-copyable and non-movable
  SpscRing& operator=(const SpscRing&) = delete;

  // Closes the ring from any thread; returns false if it was already closed.
  // A consumer that sees "closed and drained" may destroy the ring while this
  // call is still waking parked threads: the destructor waits for it.
  bool close() noexcept {
    detail::CloseGuard guard(closing_);
    if (closed_.value.fetch_or(kClosing, std::memory_order_seq_cst) != kOpen) return false;
    detail::heavy_fence();  // pairs with the producer's light_fence between busy and the closed check
    while ((prod_.value.tail.load(std::memory_order_acquire) & kBusy) != 0) std::this_thread::yield();
    closed_.value.fetch_or(kSealed, std::memory_order_release);
    not_empty_.notify_all();
    not_full_.notify_all();
    return true;
  }
  bool is_closed() const noexcept { return closed_.value.load(std::memory_order_acquire) != kOpen; }
  std::size_t capacity() const noexcept { return cap_; }
  std::size_t size() const noexcept {
    std::size_t t = prod_.value.tail.load(std::memory_order_acquire) & kIndex;
    std::size_t h = cons_.value.head.load(std::memory_order_acquire) & kIndex;
    return t >= h ? t - h : t + slots_ - h;
  }

 private:
  // With padding, kGuard unused slots before and after the array keep the
  // first and last slots off the lines of neighbouring heap objects.
  static constexpr std::size_t kGuard = Layout::kAlign == 0 ? 0 : (kCacheLine + sizeof(T) - 1) / sizeof(T);
  static constexpr std::size_t kBufAlign = alignof(T) > kCacheLine ? alignof(T) : kCacheLine;

  // closed_ bits: kClosing stops new pushes; kSealed (set once no push is in
  // flight) lets the consumer report closed.
  static constexpr std::uint32_t kOpen = 0;
  static constexpr std::uint32_t kClosing = 1;
  static constexpr std::uint32_t kSealed = 2;

  // Index words: the index, plus flag bits at the top. kBusy (tail_ only):
  // a push is in flight, read by close(). kAnnounce: the operation is about
  // to store the next index, read by the other side's ready predicate.
  static constexpr std::size_t kBusy = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);
  static constexpr std::size_t kAnnounce = kBusy >> 1;
  static constexpr std::size_t kIndex = kAnnounce - 1;

  struct Producer {
    std::atomic<std::size_t> tail{0};  // written by the producer only; index | kBusy | kAnnounce
    std::size_t cached_head = 0;       // producer's copy of head (an index)
  };
  struct Consumer {
    std::atomic<std::size_t> head{0};  // written by the consumer only; index | kAnnounce
    std::size_t cached_tail = 0;       // consumer's copy of tail (an index)
  };

  std::size_t next(std::size_t i) const noexcept { return i + 1 == slots_ ? 0 : i + 1; }
  T* slot(std::size_t i) const noexcept { return buf_ + kGuard + i; }

  ChanStatus try_push(T& v) {
    Producer& p = prod_.value;
    const std::size_t t = p.tail.load(std::memory_order_relaxed);  // no flags between pushes
    p.tail.store(t | kBusy, std::memory_order_relaxed);
    detail::light_fence();  // busy before the closed check (close() pays the heavy side)
    if (closed_.value.load(std::memory_order_relaxed) != kOpen) {
      p.tail.store(t, std::memory_order_release);
      return ChanStatus::closed;
    }
    CONPAT_TEST_HOOK("spsc.push_after_closed_check");
    const std::size_t n = next(t);
    if (n == p.cached_head) {
      p.cached_head = cons_.value.head.load(std::memory_order_acquire) & kIndex;
      if (n == p.cached_head) {
        p.tail.store(t, std::memory_order_release);
        return ChanStatus::would_block;
      }
    }
    std::construct_at(slot(t), std::move(v));
    p.tail.store(t | kBusy | kAnnounce, std::memory_order_relaxed);
    auto* bell = not_empty_.prepare();
    // Publishes the value and clears busy (close() acquires it): the last touch.
    p.tail.store(n, std::memory_order_release);
    detail::Doorbell::wake(bell);  // a system call on the address only
    return ChanStatus::ok;
  }

  template <class Sink>
  ChanStatus try_pop(Sink&& sink) {
    Consumer& c = cons_.value;
    const std::size_t h = c.head.load(std::memory_order_relaxed);  // no flags between pops
    if (h == c.cached_tail) {
      c.cached_tail = prod_.value.tail.load(std::memory_order_acquire) & kIndex;
      if (h == c.cached_tail) {
        if ((closed_.value.load(std::memory_order_acquire) & kSealed) == 0) return ChanStatus::would_block;
        // Sealed: every push that returned ok is visible now; drain it first.
        c.cached_tail = prod_.value.tail.load(std::memory_order_acquire) & kIndex;
        if (h == c.cached_tail) return ChanStatus::closed;
      }
    }
    T* s = slot(h);
    sink(std::move(*s));
    std::destroy_at(s);
    c.head.store(h | kAnnounce, std::memory_order_relaxed);
    auto* bell = not_full_.prepare();
    c.head.store(next(h), std::memory_order_release);  // frees the slot: the last touch
    detail::Doorbell::wake(bell);
    return ChanStatus::ok;
  }

  bool push_ready() const noexcept {
    const std::size_t h = cons_.value.head.load(std::memory_order_acquire);
    return next(prod_.value.tail.load(std::memory_order_relaxed) & kIndex) != (h & kIndex) ||
           (h & kAnnounce) != 0 || is_closed();
  }
  bool pop_ready() const noexcept {
    const std::size_t t = prod_.value.tail.load(std::memory_order_acquire);
    return cons_.value.head.load(std::memory_order_relaxed) != (t & kIndex) || (t & kAnnounce) != 0 ||
           (closed_.value.load(std::memory_order_acquire) & kSealed) != 0;
  }

  const std::size_t cap_;
  const std::size_t slots_;  // cap_ + 1
  T* buf_ = nullptr;
  typename Layout::template Cell<Producer> prod_;
  typename Layout::template Cell<Consumer> cons_;
  typename Layout::template Cell<std::atomic<std::uint32_t>> closed_;  // kOpen, or kClosing | kSealed bits
  detail::Doorbell not_empty_;  // the consumer parks here
  detail::Doorbell not_full_;   // the producer parks here
  std::atomic<std::uint32_t> closing_{0};  // close() calls in progress

  static_assert(Layout::kAlign == 0 || sizeof(typename Layout::template Cell<Producer>) % kCacheLine == 0,
                "padded producer and consumer state must be a cache line apart to prevent false sharing");
};

template <class T, class L>
  requires ChannelValue<T>
struct channel_traits<SpscRing<T, L>> {
  static constexpr bool multi_producer = false;
  static constexpr bool multi_consumer = false;
  static constexpr bool unbuffered = false;
  static constexpr bool exact_unbuffered_try = false;
  static constexpr std::size_t usable_capacity(std::size_t n) noexcept { return n; }
};

static_assert(TimedChannel<SpscRing<int>> && CancellableChannel<SpscRing<int>>);

}  // namespace conpat
