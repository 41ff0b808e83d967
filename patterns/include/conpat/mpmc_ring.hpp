// conpat/mpmc_ring.hpp — conpat::MpmcRing<T, Layout>: Dmitry Vyukov's
// bounded MPMC queue (a sequence number per slot), with blocking, timed and
// cancellable send/recv and close(). No unbuffered mode.
//
// Capacity is rounded up to a power of two, at least 2 (the slot index is a
// mask of the position, and with one slot "full" and "free for the next lap"
// have the same sequence number); channel_traits<MpmcRing>::usable_capacity says by how much.
// Layout selects the padding: layout::Padded puts the enqueue position, the
// dequeue position and every slot on its own cache line; layout::Packed
// packs them (the false-sharing baseline).
//
// Invariants: slot i's sequence is i + k*cap when free for the k-th lap's
// producer and i + k*cap + 1 when full for the k-th lap's consumer. A
// producer claims a position by CAS on enq_, a consumer by CAS on deq_.
// Close sets the top bit of enq_, so no position is claimed after close: a
// send that returned ok was claimed before it and will be drained.
//
// Lifetime: the store of a slot's sequence (publishing a value, or freeing
// the slot) is the last thing an operation does to the ring. Just before
// it the operation announces it (the same sequence with the kAnnounced
// bit; a try_ operation that meets the announcement answers would_block,
// as it would a moment earlier) and bumps the other side's doorbell (its futex wake,
// which reads no memory, comes after the store); a parked peer's re-check
// counts the announcement as ready. So a consumer that got the
// value it waited for (or a producer whose slot was freed) may destroy the
// ring at once, as Go's one-shot reply channel is dropped.
//
// Memory ordering: a producer publishes a slot with a release store of its
// sequence and a consumer reads it with acquire (and the reverse when the
// slot is freed), so a recv that returned ok happens-after the send of its
// value. close() is an acq_rel RMW on enq_.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
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
class MpmcRing : public detail::RingFront<MpmcRing<T, Layout>, T> {
  friend class detail::RingFront<MpmcRing<T, Layout>, T>;
  friend struct detail::RingProbe;

 public:
  using value_type = T;
  using layout_type = Layout;

  // capacity >= 1, rounded up to a power of two >= 2; throws std::invalid_argument for 0.
  explicit MpmcRing(std::size_t capacity = 1)
      : mask_(round(capacity) - 1), slots_(std::make_unique<SlotCell[]>(mask_ + 1)) {
    for (std::size_t i = 0; i <= mask_; ++i) slots_[i].value.seq.store(i, std::memory_order_relaxed);
  }

  // Precondition: no send or recv is in progress (a close() may be: it is waited for).
  ~MpmcRing() {
    detail::CloseGuard::wait_idle(closing_);
    std::size_t d = deq_.value.load(std::memory_order_relaxed);
    std::size_t e = enq_.value.load(std::memory_order_relaxed) & ~kClosed;
    for (; d != e; ++d) std::destroy_at(slots_[d & mask_].value.ptr());
  }

  MpmcRing(const MpmcRing&) = delete;  // non-copyable and non-movable
  MpmcRing& operator=(const MpmcRing&) = delete;

  // Closes the ring; returns false if it was already closed. A consumer
  // that sees "closed and drained" may destroy the ring while this call is
  // still waking parked threads: the destructor waits for it to return.
  bool close() noexcept {
    detail::CloseGuard guard(closing_);
    if ((enq_.value.fetch_or(kClosed, std::memory_order_acq_rel) & kClosed) != 0) return false;
    not_empty_.notify_all();
    not_full_.notify_all();
    return true;
  }
  bool is_closed() const noexcept { return (enq_.value.load(std::memory_order_acquire) & kClosed) != 0; }
  std::size_t capacity() const noexcept { return mask_ + 1; }
  std::size_t size() const noexcept {  // a snapshot; may be stale at once
    std::size_t e = enq_.value.load(std::memory_order_acquire) & ~kClosed;
    std::size_t d = deq_.value.load(std::memory_order_acquire);
    return e > d ? e - d : 0;
  }

 private:
  static constexpr std::size_t kClosed = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);

  static std::size_t round(std::size_t n) {
    if (n == 0) throw std::invalid_argument("conpat::MpmcRing: capacity must be >= 1");
    return std::bit_ceil(n < 2 ? std::size_t{2} : n);  // one slot cannot tell full from free
  }

  // A sequence with this bit announces the same sequence without it: the
  // operation in progress on the slot is about to store that.
  static constexpr std::size_t kAnnounced = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);

  struct Slot {
    std::atomic<std::size_t> seq{0};
    alignas(T) unsigned char storage[sizeof(T)];
    T* ptr() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  using SlotCell = typename Layout::template Cell<Slot>;

  ChanStatus try_push(T& v) {
    std::size_t pos = enq_.value.load(std::memory_order_relaxed);
    for (;;) {
      if ((pos & kClosed) != 0) return ChanStatus::closed;
      Slot& s = slots_[pos & mask_].value;
      std::size_t seq = s.seq.load(std::memory_order_acquire);
      auto dif = static_cast<std::intptr_t>(seq - pos);  // modular: seq may carry kAnnounced
      if (dif == 0) {
        if (enq_.value.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          std::construct_at(reinterpret_cast<T*>(s.storage), std::move(v));
          s.seq.store((pos + 1) | kAnnounced, std::memory_order_relaxed);
          auto* bell = not_empty_.prepare();
          s.seq.store(pos + 1, std::memory_order_release);  // the last touch
          detail::Doorbell::wake(bell);
          return ChanStatus::ok;
        }
      } else if (dif < 0) {
        // Full; but a concurrent close must still win over would_block.
        std::size_t now = enq_.value.load(std::memory_order_relaxed);
        if (now == pos) return ChanStatus::would_block;
        pos = now;
      } else {
        pos = enq_.value.load(std::memory_order_relaxed);
      }
    }
  }

  template <class Sink>
  ChanStatus try_pop(Sink&& sink) {
    std::size_t pos = deq_.value.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = slots_[pos & mask_].value;
      std::size_t seq = s.seq.load(std::memory_order_acquire);
      auto dif = static_cast<std::intptr_t>(seq - (pos + 1));  // modular: seq may carry kAnnounced
      if (dif == 0) {
        if (deq_.value.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          T* p = s.ptr();
          sink(std::move(*p));
          std::destroy_at(p);
          s.seq.store((pos + mask_ + 1) | kAnnounced, std::memory_order_relaxed);
          auto* bell = not_full_.prepare();
          s.seq.store(pos + mask_ + 1, std::memory_order_release);  // the last touch
          detail::Doorbell::wake(bell);
          return ChanStatus::ok;
        }
      } else if (dif < 0) {
        // Empty at pos. Closed and drained only if no position past pos was claimed.
        std::size_t e = enq_.value.load(std::memory_order_acquire);
        if ((e & kClosed) != 0 && (e & ~kClosed) == pos) return ChanStatus::closed;
        std::size_t now = deq_.value.load(std::memory_order_relaxed);
        if (now == pos) return ChanStatus::would_block;
        pos = now;
      } else {
        pos = deq_.value.load(std::memory_order_relaxed);
      }
    }
  }

  // The ready predicates may answer true spuriously (the caller retries),
  // never false while the ring is ready: a false answer parks the caller.
  // A slot's sequence past the position read means another thread moved the
  // position on between the two loads, so the answer is "look again".
  bool push_ready() const noexcept {
    std::size_t pos = enq_.value.load(std::memory_order_acquire);
    if ((pos & kClosed) != 0) return true;
    CONPAT_TEST_HOOK("mpmc.push_ready");
    const Slot& s = slots_[pos & mask_].value;
    std::size_t seq = s.seq.load(std::memory_order_acquire);
    return seq == (pos | kAnnounced) || static_cast<std::intptr_t>(seq - pos) >= 0;
  }
  bool pop_ready() const noexcept {
    std::size_t pos = deq_.value.load(std::memory_order_acquire);
    CONPAT_TEST_HOOK("mpmc.pop_ready");
    const Slot& s = slots_[pos & mask_].value;
    std::size_t seq = s.seq.load(std::memory_order_acquire);
    if (seq == ((pos + 1) | kAnnounced) || static_cast<std::intptr_t>(seq - (pos + 1)) >= 0) return true;
    std::size_t e = enq_.value.load(std::memory_order_acquire);
    return (e & kClosed) != 0 && (e & ~kClosed) == pos;
  }

  const std::size_t mask_;
  std::unique_ptr<SlotCell[]> slots_;
  typename Layout::template Cell<std::atomic<std::size_t>> enq_;  // next position to claim; top bit: closed
  typename Layout::template Cell<std::atomic<std::size_t>> deq_;  // next position to consume
  detail::Doorbell not_empty_;  // consumers park here
  detail::Doorbell not_full_;   // producers park here
  std::atomic<std::uint32_t> closing_{0};  // close() calls in progress

  static_assert(Layout::kAlign == 0 || sizeof(SlotCell) % kCacheLine == 0,
                "padded slots must be a cache line apart to prevent false sharing");
};

template <class T, class L>
  requires ChannelValue<T>
struct channel_traits<MpmcRing<T, L>> {
  static constexpr bool multi_producer = true;
  static constexpr bool multi_consumer = true;
  static constexpr bool unbuffered = false;
  static constexpr bool exact_unbuffered_try = false;
  static constexpr std::size_t usable_capacity(std::size_t n) noexcept { return std::bit_ceil(n < 2 ? std::size_t{2} : n); }
};

static_assert(TimedChannel<MpmcRing<int>> && CancellableChannel<MpmcRing<int>>);

}  // namespace conpat
