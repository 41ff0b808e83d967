// conpat/detail/array_flavor.hpp — conpat::Channel with capacity >= 1: a
// lock-free bounded array (crossbeam-channel's array flavour, itself
// Vyukov's bounded MPMC queue with a stamp per slot), and parked waiters on
// the slow path only.
//
// Positions: head_ (next to receive) and tail_ (next to send) each hold a
// lap and an index, pos = lap * one_lap_ + index, with index < cap_ and
// one_lap_ = 2 * mark_bit_, mark_bit_ = bit_ceil(cap_ + 1). The bit
// mark_bit_ of tail_ is the closed flag, so close() and "no send after
// close" are one RMW on tail_. Any capacity works, 1 included; nothing is
// rounded up.
//
// Slot stamps: slot i's stamp is the tail position that may write it next
// (free) or that position + 1 (holding a value, for the receiver at that
// head position). A sender claims a slot by CAS on tail_, writes the value
// and publishes it with stamp = pos + 1; a receiver claims it by CAS on
// head_, moves the value out and frees it with stamp = pos + one_lap_.
// Between claim and publish a slot is "in progress".
//
// The stamp store is the last thing an operation does to the channel.
// Just before it, the operation announces it (the same stamp with the
// kAnnounced bit, a store to a line it already owns) and unlinks a parked
// waiter of the other side if there is one; it signals that waiter after
// the store, touching only the waiter's own Parker. So a receiver that got its value (or a sender whose slot
// was freed) may destroy the channel at once — Go's one-shot reply channel
// — while its peer is returning: the peer no longer touches it.
//
// The try_ forms (and a timed operation whose deadline has passed) are
// linearisable: when the slot they need is in progress while the other
// index says a peer has claimed it (a send is being written, a value is
// being moved out), they wait for that peer, as Go's lock and
// crossbeam-channel's backoff do, so a completed send is never reported
// as "would block" to a later try_recv.
//
// Blocking: an operation that cannot proceed spins (Wait::spin_until, with
// an adaptive length per side) watching the one slot it waits for, then
// yields, then links itself into the waker of its side (senders_ or
// receivers_), re-checks, and sleeps on its Parker until a peer of the other
// side notifies it (each successful operation wakes at most one waiter of
// the other side), close() wakes it, or its deadline or stop token fires.
// Waiting for a peer that is in progress parks too (it is woken by that
// peer's announcement), so a sender preempted in the middle of its move
// costs a waiting receiver no CPU.
// A woken operation retries from the start; one that timed out or was
// cancelled still retries once, so a notification is never swallowed.
//
// Refill (Go's chanrecv with a sender waiting): a receiver that empties a
// slot of a full array while a plain send is parked moves the oldest parked
// sender's value into that slot itself, for the next lap, and completes the
// send; the sender wakes with its operation done. So a receiver that comes
// straight back finds a value instead of an empty array and a sender that
// has yet to be scheduled. On fibers only up to capacity 16 (see refill()).
//
// Memory ordering: a send publishes its slot with a release store of the
// stamp, and a receive reads the stamp with acquire before moving the value
// out, so a recv that returned ok happens-after the send of its value (and
// freeing a slot happens-before the next lap's write of it). The claims
// (CAS on head_/tail_) and close() (fetch_or on tail_) are seq_cst. A
// parking operation links itself into its waker (a seq_cst RMW of the
// waker's count) and then re-checks: the other index with a seq_cst load,
// which pairs with the peer's claim (seq_cst) before the peer reads the
// count; or, when a peer is in progress, the slot's stamp after an
// asymmetric heavy fence (detail/doorbell.hpp), which pairs with the peer's
// light fence between its announcement and its read of the count. Either
// way no wake-up is lost. close() happens-before every operation that
// returns closed because of it (a sender that sees the closed bit re-reads
// tail_ with acquire).
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <utility>

#include "conpat/chan_status.hpp"
#include "conpat/detail/doorbell.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/detail/select_ctx.hpp"
#include "conpat/detail/test_hook.hpp"
#include "conpat/detail/waker.hpp"
#include "conpat/padding.hpp"

namespace conpat::detail {

template <class T, class Wait>
class ArrayFlavor {
  using Parker = typename Wait::Parker;
  using WakerT = Waker<Parker>;

 public:
  // Requires capacity >= 1.
  explicit ArrayFlavor(std::size_t capacity)
      : cap_(capacity),
        mark_bit_(std::bit_ceil(capacity + 1)),
        one_lap_(2 * mark_bit_),
        slots_(std::make_unique<Slot[]>(capacity)) {
    for (std::size_t i = 0; i < cap_; ++i) slots_[i].stamp.store(i, std::memory_order_relaxed);
  }

  // Precondition: no send or recv is in progress (a close() may be: it is waited for).
  ~ArrayFlavor() {
    CloseGuard::wait_idle(closing_);
    const std::size_t n = size();
    std::size_t index = head_.load(std::memory_order_relaxed) & (mark_bit_ - 1);
    for (std::size_t k = 0; k < n; ++k) {
      std::destroy_at(slots_[index].ptr());
      if (++index == cap_) index = 0;
    }
  }

  ArrayFlavor(const ArrayFlavor&) = delete;  // non-copyable and non-movable
  ArrayFlavor& operator=(const ArrayFlavor&) = delete;

  // Status ok, closed, timeout (deadline passed; for the try_ form too) or cancelled.
  //
  // send and recv make one attempt inline and leave the rest (the
  // linearisable retry, the spin, parking) to an out-of-line loop. An
  // attempt that succeeds, or finds the channel closed, is a right answer
  // whatever the deadline and the stop token say; the loop starts over
  // with them. Inlined whole, the loop made the calls too large to inline,
  // and in channel.spsc on threads the receiver, a call slower per item,
  // fell behind the sender: the array then stays full and the two work
  // on the same cache lines for every item (benches/README.md).
  [[gnu::always_inline]] ChanStatus send(T& value, const Deadline& deadline, std::stop_token* stop) {
    const Try r = try_send_once(value, false);
    if (r != Try::blocked) return r == Try::ok ? ChanStatus::ok : ChanStatus::closed;
    return send_loop(value, deadline, stop);
  }

  // `put(T&&)` receives the value. Status ok, closed, timeout or cancelled.
  template <class Put>
  [[gnu::always_inline]] ChanStatus recv(Put&& put, const Deadline& deadline, std::stop_token* stop) {
    const Try r = try_recv_once(put, false);
    if (r != Try::blocked) return r == Try::ok ? ChanStatus::ok : ChanStatus::closed;
    return recv_loop(put, deadline, stop);
  }

  // A consumer that sees "closed and drained" may destroy the channel while
  // this call is still waking parked operations: the destructor waits.
  bool close() noexcept {
    CloseGuard guard(closing_);
    if ((tail_.load(std::memory_order_relaxed) & mark_bit_) != 0) return false;
    if ((tail_.fetch_or(mark_bit_, std::memory_order_seq_cst) & mark_bit_) != 0) return false;
    closed_.store(true, std::memory_order_release);
    senders_.notify_all();
    receivers_.notify_all();
    return true;
  }

  bool is_closed() const noexcept { return (tail_.load(std::memory_order_seq_cst) & mark_bit_) != 0; }

  std::size_t capacity() const noexcept { return cap_; }

  // Values buffered now (claimed sends included, claimed receives not); a snapshot.
  std::size_t size() const noexcept {
    for (;;) {
      std::size_t tail = tail_.load(std::memory_order_seq_cst);
      std::size_t head = head_.load(std::memory_order_seq_cst);
      if (tail_.load(std::memory_order_seq_cst) != tail) continue;
      std::size_t hix = head & (mark_bit_ - 1);
      std::size_t tix = tail & (mark_bit_ - 1);
      if (hix < tix) return tix - hix;
      if (hix > tix) return cap_ - hix + tix;
      return (tail & ~mark_bit_) == head ? 0 : cap_;
    }
  }

  // The steps of a select (conpat/select.hpp). A select's entry in a waker
  // is taken by a hand-over only if the hand-over claims its context
  // (detail/waker.hpp); the select then retries that case first.
  using SelectEntry = typename WakerT::Entry;
  struct SelectStall;  // a case's stall detection across rounds (see Stall)

  // One attempt, as the try_ forms (`linearize`) or the first, cheap look.
  SelectStep select_try_send(T& value, bool linearize) { return step(try_send_once(value, linearize)); }
  template <class Put>
  SelectStep select_try_recv(Put& put, bool linearize) {
    return step(try_recv_once(put, linearize));
  }
  // Links `e` (its sel and index set) and re-checks, as a parking operation
  // does: enrolled, or ready (linked, but retrying may succeed now).
  SelectStep select_enrol_send(SelectEntry& e, SelectStall& st) {
    senders_.add(e);
    return send_ready(st.s) ? SelectStep::ready : SelectStep::enrolled;
  }
  SelectStep select_enrol_recv(SelectEntry& e, SelectStall& st) {
    receivers_.add(e);
    return recv_ready(st.s) ? SelectStep::ready : SelectStep::enrolled;
  }
  // Unlinks `e` if a hand-over has not (the select's owner knows from its
  // context whether a signal is coming).
  void select_withdraw_send(SelectEntry& e) noexcept { (void)senders_.remove(e); }
  void select_withdraw_recv(SelectEntry& e) noexcept { (void)receivers_.remove(e); }

 private:
  // The rest of send and recv after a first attempt that found them blocked.
  [[gnu::noinline]] ChanStatus send_loop(T& value, const Deadline& deadline, std::stop_token* stop) {
    Stall stall;
    for (;;) {
      // Once the deadline has passed, one last linearisable attempt.
      const bool last = deadline.expired();
      Try r = try_send_once(value, last);
      if (r != Try::blocked) return r == Try::ok ? ChanStatus::ok : ChanStatus::closed;
      if (last) return ChanStatus::timeout;
      if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
      if (!Wait::spin_until([this] { return send_may_proceed(); }, deadline.get(), &send_spins_)) {
        // Only where refill() runs does the send offer its value to receivers.
        T* const handoff = cap_ <= kRefillMaxCapacity ? &value : nullptr;
        if (park(senders_, [this, &stall] { return send_ready(stall); }, deadline, stop, handoff)) {
          return ChanStatus::ok;  // a receiver put the value into the slot it emptied (refill)
        }
      }
    }
  }

  template <class Put>
  [[gnu::noinline]] ChanStatus recv_loop(Put& put, const Deadline& deadline, std::stop_token* stop) {
    Stall stall;
    for (;;) {
      const bool last = deadline.expired();
      Try r = try_recv_once(put, last);
      if (r != Try::blocked) return r == Try::ok ? ChanStatus::ok : ChanStatus::closed;
      if (last) return ChanStatus::timeout;
      if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
      if (!Wait::spin_until([this, n = 0u]() mutable { return recv_may_proceed(++n); }, deadline.get(), &recv_spins_)) {
        park(receivers_, [this, &stall] { return recv_ready(stall); }, deadline, stop);
      }
    }
  }

  struct Slot {
    std::atomic<std::size_t> stamp{0};
    alignas(T) unsigned char storage[sizeof(T)];
    T* ptr() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  enum class Try { ok, closed, blocked };
  static SelectStep step(Try r) noexcept {
    return r == Try::ok ? SelectStep::ok : r == Try::closed ? SelectStep::closed : SelectStep::blocked;
  }

  // A stamp with this bit is an announcement: the operation in progress
  // on the slot is about to store the stamp without it. Every reader that
  // expects "free" or "holding a value" sees neither and waits briefly (it
  // is a few instructions away). Positions never reach this bit.
  static constexpr std::size_t kAnnounced = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);

  // The spin before parking watches one slot, not the other side's
  // position: a receiver polling tail_ would pull that line away from the
  // sender at every send (it is the line the sender's claim writes), and
  // would make a receiver that keeps up pay a cache-line transfer per item.
  //
  // A sender blocked on a full array: the slot at tail_ still holds the
  // previous lap's value. Worth retrying once that changes, or on close.
  bool send_may_proceed() const noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if ((tail & mark_bit_) != 0) return true;
    const std::size_t stamp = slots_[tail & (mark_bit_ - 1)].stamp.load(std::memory_order_relaxed);
    return stamp + one_lap_ != tail + 1;
  }
  // A receiver blocked on an empty array: the slot at head_ is free. Worth
  // retrying once its stamp changes; whether the channel was closed is
  // looked up every 64th poll only.
  bool recv_may_proceed(unsigned polls) const noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    const std::size_t stamp = slots_[head & (mark_bit_ - 1)].stamp.load(std::memory_order_relaxed);
    if (stamp != head) return true;
    return polls % 64 == 0 && closed_.load(std::memory_order_relaxed);
  }

  // The re-checks of a parking operation (run after it linked itself into
  // its waker): true when retrying may succeed, false only when a wake-up
  // is guaranteed to come (see "Memory ordering" above). While the peer
  // that the operation waits for is in progress, the re-checks answer true
  // until that same slot has been seen in progress for kStallAfter, so the
  // operation goes on spinning and yielding (each round ends in
  // spin_until's yields): a running peer is a few instructions from its
  // stamp store, and one that was merely preempted — common where threads
  // outnumber CPUs — gets the CPU back and finishes. Only then does the peer
  // count as stalled: in_progress_done looks once more, behind a heavy fence
  // (an IPI to the process's other CPUs, so not something to do while the
  // peer is running), and the operation sleeps until the peer's
  // announcement wakes it. Rounds that found the channel full or empty do
  // not count: a receiver that waited long for values is not thereby
  // waiting on a stalled sender.
  static constexpr std::chrono::microseconds kStallAfter{1000};
  struct Stall {
    std::size_t pos = ~std::size_t{0};  // the slot position last seen in progress
    Clock::time_point since{};          // when it was first seen so
    // One more sighting of position `p` in progress: true while it is too
    // soon to call its peer stalled.
    bool too_soon(std::size_t p) noexcept {
      const Clock::time_point now = Clock::now();
      if (p != pos) {
        pos = p;
        since = now;
        return true;
      }
      return now - since < kStallAfter;
    }
  };

 public:
  struct SelectStall {
    Stall s;
  };

 private:

  bool send_ready(Stall& stall) const noexcept {
    const std::size_t tail = tail_.load(std::memory_order_seq_cst);
    if ((tail & mark_bit_) != 0) return true;
    const std::size_t head = head_.load(std::memory_order_seq_cst);
    if (head + one_lap_ == tail) return false;  // full: the next receiver's claim comes first, then its wake-up
    // Not full by the indices: the receiver of the slot at tail_ has
    // claimed it, and may still be moving its value out.
    return stall.too_soon(tail) || in_progress_done(slots_[tail & (mark_bit_ - 1)], tail - one_lap_ + 1);
  }
  bool recv_ready(Stall& stall) const noexcept {
    const std::size_t head = head_.load(std::memory_order_seq_cst);
    const std::size_t tail = tail_.load(std::memory_order_seq_cst);
    if ((tail & ~mark_bit_) == head) return (tail & mark_bit_) != 0;  // empty: ready only when closed
    // Not empty by the indices: the sender of the slot at head_ has
    // claimed it, and may still be writing.
    return stall.too_soon(head) || in_progress_done(slots_[head & (mark_bit_ - 1)], head);
  }
  // A slot whose stamp was `before` while an operation was in progress:
  // true once the stamp moved on (announced, or stored).
  static bool in_progress_done(const Slot& slot, std::size_t before) noexcept {
    // The peer is usually a few instructions from its stamp store: a short
    // look first keeps the heavy fence (a membarrier system call) for a
    // peer that really is stalled.
    for (int i = 0; i < 64; ++i) {
      if (slot.stamp.load(std::memory_order_seq_cst) != before) return true;
      spin_pause();
    }
    heavy_fence();  // pairs with the peer's light_fence between announcing and reading the count
    return slot.stamp.load(std::memory_order_seq_cst) != before;
  }

  // The hand-over that ends an operation: announce the stamp, unlink a
  // parked waiter of the other side (if any), store the stamp — the last
  // touch of the channel — and only then signal the waiter, which touches
  // nothing but the waiter's own Parker. (Signalling before the stamp store
  // would delay every publish by a futex wake while someone is parked.)
  // Always inline: it is the end of every fast path, and refill()'s calls
  // would otherwise tip the compiler into a call.
  [[gnu::always_inline]] static void hand_over(Slot& slot, std::size_t stamp, WakerT& waiters) noexcept {
    slot.stamp.store(stamp | kAnnounced, std::memory_order_relaxed);
    light_fence();
    typename WakerT::Entry* woken = waiters.take_one();
    slot.stamp.store(stamp, std::memory_order_release);  // the last touch
    WakerT::wake(woken);
  }

  // Go's receive from a full buffer while a sender is parked (chanrecv's
  // "a sender is waiting" case): the receiver that just emptied the slot
  // moves the oldest parked sender's value into it, for tail position `t`
  // (the slot's next lap), claiming t for that sender, and completes the
  // send. Without it the slot is freed and the sender woken to retry; a
  // receiver that comes back before the sender has run finds the buffer
  // empty and waits too: with capacity 1, every value costs two wake-ups,
  // one of them on the receiver's path. Done only when tail_ is exactly t
  // (full, and no sender has claimed t) and the oldest parked sender is a
  // plain send, not a select's case, that has not begun to leave
  // (Waker::take_carrier claims it). True once it has done the slot's
  // hand-over: refilled, or, if close() or a sender got to t first, freed
  // as usual (the claimed sender is woken to retry). Out of line: the fast
  // path only reads the parked senders' count, which its hand-over reads
  // anyway.
  //
  // Up to the wait policy's kRefillMaxCapacity: with a large array the
  // receiver has plenty of values left while a woken sender comes back, and
  // refilling makes a lone sender wake to a full array after every receive.
  // A thread still spinning in its Parker takes that wake-up as a bit, but
  // a fiber is suspended and resumed for each value (channel.spsc on
  // fibers, capacities 256 to 4096: 40 to 100 % slower with it), so
  // FiberWait refills only up to capacity 16.
  static constexpr std::size_t kRefillMaxCapacity = Wait::kRefillMaxCapacity;
  [[gnu::noinline]] bool refill(Slot& slot, std::size_t t) noexcept {
    if (cap_ > kRefillMaxCapacity || tail_.load(std::memory_order_relaxed) != t) return false;
    typename WakerT::Entry* e = senders_.take_carrier();
    if (e == nullptr) return false;
    CONPAT_TEST_HOOK("array.refill");
    const std::size_t next = (t & (mark_bit_ - 1)) + 1 < cap_ ? t + 1 : (t & ~(one_lap_ - 1)) + one_lap_;
    std::size_t expected = t;
    if (tail_.compare_exchange_strong(expected, next, std::memory_order_seq_cst, std::memory_order_relaxed)) {
      std::construct_at(slot.ptr(), std::move(*static_cast<T*>(e->handoff)));
      e->delivered = true;
      hand_over(slot, t + 1, receivers_);
    } else {
      hand_over(slot, t, senders_);
    }
    WakerT::wake(e);  // after the last touch of the channel: the sender may return and free it
    return true;
  }

  // The pauses after an operation's lost claims (CAS on head_ or tail_):
  // 1, 2, 4, ... up to 64 (`lost` counts from 0), crossbeam-channel's
  // Backoff::spin. A thread that retries at once pulls the index's line
  // away from the winner on every try; backing off lets the winner run a
  // burst of operations with the line in its cache (fiber mpmc at
  // capacity 1024 with 2-8 producers: 37-62 % faster, benches/README.md).
  static void contention_backoff(int lost) noexcept {
    const int n = 1 << (lost < 6 ? lost : 6);
    for (int i = 0; i < n; ++i) spin_pause();
  }

  // `linearize`: wait for a peer that is in the middle of the operation
  // this one depends on, rather than answer "blocked" (the try_ forms, and
  // the last attempt of a timed operation); otherwise answer "blocked" at
  // once and let the caller spin or park.
  [[gnu::always_inline]] Try try_send_once(T& value, bool linearize) {
    std::size_t tail = tail_.load(std::memory_order_relaxed);
    for (int step = 0, lost = 0;;) {
      if ((tail & mark_bit_) != 0) {
        (void)tail_.load(std::memory_order_acquire);  // close() happens-before this "closed"
        return Try::closed;
      }
      const std::size_t index = tail & (mark_bit_ - 1);
      const std::size_t lap = tail & ~(one_lap_ - 1);
      Slot& slot = slots_[index];
      const std::size_t stamp = slot.stamp.load(std::memory_order_acquire);
      if (stamp == tail) {  // free for this lap
        const std::size_t next = index + 1 < cap_ ? tail + 1 : lap + one_lap_;
        if (tail_.compare_exchange_weak(tail, next, std::memory_order_seq_cst, std::memory_order_relaxed)) {
          std::construct_at(slot.ptr(), std::move(value));
          hand_over(slot, tail + 1, receivers_);
          return Try::ok;
        }
        contention_backoff(lost++);  // lost the claim to another sender; `tail` was reloaded
      } else if (stamp + one_lap_ == tail + 1) {
        // Holds the previous lap's value: full, or a receiver is moving it
        // out. Without `linearize` no look at head_ (the receivers' line):
        // the caller watches this slot.
        if (!linearize) return Try::blocked;
        if (head_.load(std::memory_order_seq_cst) + one_lap_ == tail) return Try::blocked;  // full
        Wait::relax(step++);  // a receiver is freeing it: wait for it
        tail = tail_.load(std::memory_order_relaxed);
      } else {  // another sender claimed it and is writing
        Wait::relax(step++);
        tail = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  template <class Put>
  [[gnu::always_inline]] Try try_recv_once(Put& put, bool linearize) {
    std::size_t head = head_.load(std::memory_order_relaxed);
    for (int step = 0, lost = 0;;) {
      const std::size_t index = head & (mark_bit_ - 1);
      const std::size_t lap = head & ~(one_lap_ - 1);
      Slot& slot = slots_[index];
      const std::size_t stamp = slot.stamp.load(std::memory_order_acquire);
      if (stamp == head + 1) {  // holds a value for this position
        const std::size_t next = index + 1 < cap_ ? head + 1 : lap + one_lap_;
        if (head_.compare_exchange_weak(head, next, std::memory_order_seq_cst, std::memory_order_relaxed)) {
          T* p = slot.ptr();
          put(std::move(*p));
          std::destroy_at(p);
          if (!senders_.maybe_waiting() || !refill(slot, head + one_lap_)) hand_over(slot, head + one_lap_, senders_);
          return Try::ok;
        }
        contention_backoff(lost++);  // lost the claim to another receiver
      } else if (stamp == head) {
        // Free: empty, or a sender claimed it and is writing. While open
        // and without `linearize`, answer "blocked" with no look at tail_
        // (the senders' line): the caller watches this slot. Otherwise
        // tail_ says which: empty (closed, or blocked), or a send to wait for.
        if (!linearize && !closed_.load(std::memory_order_acquire)) return Try::blocked;
        const std::size_t tail = tail_.load(std::memory_order_seq_cst);
        if ((tail & ~mark_bit_) == head) return (tail & mark_bit_) != 0 ? Try::closed : Try::blocked;
        Wait::relax(step++);
        head = head_.load(std::memory_order_relaxed);
      } else {  // another receiver claimed it
        Wait::relax(step++);
        head = head_.load(std::memory_order_relaxed);
      }
    }
  }

  struct Interrupt {
    Parker* parker;
    void operator()() const noexcept { parker->signal(Parker::kInterrupted); }
  };

  // Sleeps until notified, `ready()` already holds, the deadline passes or
  // stop is requested. The caller retries its operation afterwards, unless
  // this returns true: a send that carries its value (`handoff`) may be
  // completed from its entry by a receiver (refill), which then claimed it.
  //
  // Such a completion is visible at once: a third thread may receive the
  // value and destroy the channel while this sender has not yet returned.
  // So a carrying sender touches the channel after linking (its re-check,
  // its withdrawal) only under Parker::begin_leaving, which a claimed entry
  // cannot begin, and a leaving one cannot be claimed; a claimed sender
  // only waits for its kDone.
  // Out of line, as refill(): it sleeps, and inlined it doubles the size
  // of the fast path's functions.
  template <class Ready>
  [[gnu::noinline]] static bool park(WakerT& waker, Ready&& ready, const Deadline& deadline, std::stop_token* stop,
                   T* handoff = nullptr) {
    typename WakerT::Entry e;
    e.handoff = handoff;
    const auto leave = [&e] { return e.handoff == nullptr || e.parker.begin_leaving(); };
    const auto stay = [&e] {
      if (e.handoff != nullptr) e.parker.end_leaving();
    };
    // Withdraws `e` (when leave() said the channel may be touched) or waits
    // for the notifier that took it.
    const auto withdraw = [&](bool may_touch) {
      const bool removed = may_touch && waker.remove(e);
      if (may_touch) stay();
      if (!removed) e.parker.wait(Parker::kDone);  // a notifier took it and is signalling now
      return e.delivered;
    };
    waker.add(e);
    if (!leave()) return withdraw(false);
    if (ready()) return withdraw(true);  // the re-check after linking (see detail/waker.hpp)
    stay();
    CONPAT_TEST_HOOK("array.sleeping");
    std::optional<std::stop_callback<Interrupt>> on_stop;
    if (stop != nullptr) on_stop.emplace(*stop, Interrupt{&e.parker});
    std::uint32_t s = e.parker.wait(Parker::kDone | Parker::kInterrupted, deadline.get());
    if ((s & Parker::kDone) != 0) return e.delivered;
    CONPAT_TEST_HOOK("array.gave_up");
    return withdraw(leave());
  }

  const std::size_t cap_;
  const std::size_t mark_bit_;  // the closed bit of tail_; also bounds an index
  const std::size_t one_lap_;
  const std::unique_ptr<Slot[]> slots_;
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  alignas(kCacheLine) std::atomic<std::uint32_t> closing_{0};  // close() calls in progress
  // Set by close() after the mark bit: read by a receiver that finds its
  // slot free, on a line nobody writes while the channel is open.
  std::atomic<bool> closed_{false};
  WakerT senders_;
  WakerT receivers_;
  // The adaptive spin lengths of blocked senders and receivers (Wait::spin_until).
  alignas(kCacheLine) std::atomic<int> send_spins_{kInitialSpins};
  std::atomic<int> recv_spins_{kInitialSpins};
  static constexpr int kInitialSpins = 256;
};

}  // namespace conpat::detail
