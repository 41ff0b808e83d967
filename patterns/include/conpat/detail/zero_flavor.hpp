// conpat/detail/zero_flavor.hpp — conpat::Channel with capacity 0: an
// unbuffered channel, where a send completes only by handing its value
// straight to a receiver (a rendezvous), as Go's unbuffered chan.
//
// Like Go's runtime/chan.go (and crossbeam-channel's zero flavour), one
// short lock guards two FIFO queues of waiting operations, sendq_ and
// recvq_. An operation that finds a peer waiting unlinks it, moves the value
// across and signals it; otherwise it links itself and waits on its Parker:
// spinning briefly on its own slot first (Wait's Parker spins, then sleeps),
// so two running threads meet without a system call.
//
// The hand-off cell. The common case of a rendezvous is one waiting
// operation. When both queues are empty a waiter registers in `cell_`
// instead (a word beside mu_ holding its address and kind), under mu_ as
// any waiter; a peer claims it from there with one compare-and-swap,
// without taking mu_ (it only waits until mu_ is free: claim_cell), and
// completes it as it would a queued waiter. The cell's
// waiter is the oldest of its kind (later ones queue behind it), so peers
// look in the cell first, then in the queue. A waiting sender moves its
// value into its own Waiter, so the peer touches one line of the waiter's
// (value, result and wake-up together) and nothing of the sender's frame.
// The waiter leaves the cell when a peer claims it (a compare-and-swap to
// 0), close() takes it (an exchange, under mu_) or it withdraws itself on
// timeout or cancellation (a compare-and-swap from its own address):
// exactly one of them wins.
//
// Invariants (under mu_):
//   - At least one of sendq_ and recvq_ is empty, leaving aside one
//     select's own waiters (a select may wait to send and to receive on
//     one channel: it never pairs with itself).
//   - A queue is non-empty only while the channel is open.
//   - The cell holds a waiter only while the channel is open, registered
//     while its kind's queue was empty; never one of the kind opposite to a
//     queued waiter's.
//   - A waiter is in a queue if and only if its `linked` flag is set; whoever
//     unlinks it (a peer, close(), or the waiter withdrawing on timeout or
//     cancellation) decides its result, exactly once. A select's waiter is
//     decided by its select's context instead: a peer or close() that
//     unlinks it completes it only if it claims that context (under mu_);
//     one whose context is already claimed is dead, unlinked and left alone.
//   - Once a select's round is decided for a case of this channel by a
//     hand-off or close(), none of that select's waiters is linked here
//     (drop_select), so the select never returns to a channel whose peer
//     may already have destroyed it. (A select that claimed its own context
//     and then found every waiting peer gone, answering retry, withdraws
//     its waiters itself: nobody completed anything here.)
//
// Memory ordering: the value and the result are written before the peer's
// release signal of the waiter's Parker and read after the waiter's acquire
// of it, so a recv that returned ok happens-after the send of its value, and
// a send that returned ok happens-after the receiver took the value. close()
// happens-before every operation that returns closed because of it (mu_).
// Operations are linearisable: each takes effect at one point, under mu_ or
// at the compare-and-swap that claims the cell's waiter.
//
// Lifetime (channel.hpp's contract: either side may destroy the channel as
// soon as its own operation returned). The peer's signal is its last
// touch, and it lands in the waiter's own Waiter, not in the channel. A
// waiter that gave up (timeout, stop) touches the channel once more to
// withdraw; it marks itself leaving first (Parker::begin_leaving), and a
// peer completing it meanwhile waits in its signal until it has left. A
// registrant releases mu_ after publishing itself in the cell; a peer that
// claims it without mu_ waits until mu_ is free (claim_cell).
//
// Select (conpat/select.hpp): a select's waiter points at the select's
// context (detail/select_ctx.hpp) and names its case. A peer that pops such
// a waiter must claim the context for that case first (Go's selectDone);
// if the claim fails the waiter is dead: it stays unlinked and the peer
// looks at the next one. A select enrols a case under mu_: it completes the
// case with a waiting peer if there is one (claiming its own context first,
// never pairing with its own waiters: Go's TestSelfSelect, and dropping its
// other waiters here), else links its waiter unless its context was decided
// meanwhile (lost) — one lock section, so no wake-up is lost between the
// look and the link.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>

#include "conpat/chan_status.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/detail/select_ctx.hpp"
#include "conpat/detail/test_hook.hpp"
#include "conpat/detail/wait_list.hpp"
#include "conpat/padding.hpp"

namespace conpat::detail {

// Counts a rendezvous's waiters (queued, and in the cell) from outside it,
// for tests; ZeroFlavor befriends it.
struct ZeroProbe {
  template <class Zero>
  static std::size_t waiters(Zero& z) noexcept {
    std::lock_guard lk(z.mu_);
    std::size_t n = z.cell_.load(std::memory_order_relaxed) != 0 ? 1 : 0;
    for (auto* q : {&z.sendq_, &z.recvq_}) {
      for (auto* w = q->head; w != nullptr; w = w->next) ++n;
    }
    return n;
  }
};

template <class T, class Wait>
class ZeroFlavor {
  using Parker = typename Wait::Parker;
  friend struct ZeroProbe;

 public:
  ZeroFlavor() = default;
  ZeroFlavor(const ZeroFlavor&) = delete;  // non-copyable and non-movable
  ZeroFlavor& operator=(const ZeroFlavor&) = delete;

  ChanStatus send(T& value, const Deadline& deadline, std::stop_token* stop) {
    if (Waiter* r = claim_cell(kRecvTag)) return give(r, value), ChanStatus::ok;
    std::unique_lock lk(mu_);
    if (closed_.load(std::memory_order_relaxed)) return ChanStatus::closed;
    if (Waiter* r = claim_cell(kRecvTag, true)) {
      lk.unlock();
      return give(r, value), ChanStatus::ok;
    }
    if (Waiter* r = pop_live(recvq_)) {
      r->slot.emplace(std::move(value));
      lk.unlock();
      finish(r, ChanStatus::ok);
      return ChanStatus::ok;
    }
    if (deadline.expired()) return ChanStatus::timeout;
    if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
    Waiter w;
    if (sendq_.empty() && cell_.load(std::memory_order_relaxed) == 0) {  // only registrants fill it, under mu_
      w.slot.emplace(std::move(value));
      const auto mine = reinterpret_cast<std::uintptr_t>(&w) | kSendTag;
      cell_.store(mine, std::memory_order_release);
      lk.unlock();
      CONPAT_TEST_HOOK("zero.waiting");
      return wait_in_cell(w, mine, deadline, stop);
    }
    w.src = &value;
    sendq_.push_back(&w);
    lk.unlock();
    CONPAT_TEST_HOOK("zero.waiting");
    return wait(w, sendq_, deadline, stop);
  }

  ChanStatus recv(std::optional<T>& dst, const Deadline& deadline, std::stop_token* stop) {
    if (Waiter* s = claim_cell(kSendTag)) return take(s, dst), ChanStatus::ok;
    std::unique_lock lk(mu_);
    if (Waiter* s = claim_cell(kSendTag, true)) {
      lk.unlock();
      return take(s, dst), ChanStatus::ok;
    }
    if (Waiter* s = pop_live(sendq_)) {
      dst.emplace(std::move(*s->src));
      lk.unlock();
      finish(s, ChanStatus::ok);
      return ChanStatus::ok;
    }
    if (closed_.load(std::memory_order_relaxed)) return ChanStatus::closed;
    if (deadline.expired()) return ChanStatus::timeout;
    if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
    Waiter w;
    ChanStatus s;
    if (recvq_.empty() && cell_.load(std::memory_order_relaxed) == 0) {
      const auto mine = reinterpret_cast<std::uintptr_t>(&w);
      cell_.store(mine, std::memory_order_release);
      lk.unlock();
      CONPAT_TEST_HOOK("zero.waiting");
      s = wait_in_cell(w, mine, deadline, stop);
    } else {
      recvq_.push_back(&w);
      lk.unlock();
      CONPAT_TEST_HOOK("zero.waiting");
      s = wait(w, recvq_, deadline, stop);
    }
    if (s == ChanStatus::ok) dst.emplace(std::move(*w.slot));
    return s;
  }

  bool close() noexcept {
    Waiter* woken = nullptr;
    {
      std::lock_guard lk(mu_);
      if (closed_.load(std::memory_order_relaxed)) return false;
      closed_.store(true, std::memory_order_release);
      if (const std::uintptr_t c = cell_.exchange(0, std::memory_order_acquire); c != 0) {
        woken = as_waiter(c);
        woken->next = nullptr;
      }
      for (WaitQueue* q : {&sendq_, &recvq_}) {
        while (Waiter* w = pop_live(*q)) {  // dead select waiters: unlinked, not signalled
          w->next = woken;
          woken = w;
        }
      }
    }
    while (woken != nullptr) {
      Waiter* next = woken->next;  // read before the signal: the waiter may leave at once
      finish(woken, ChanStatus::closed);
      woken = next;
    }
    return true;
  }

  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  struct Waiter;
  using Ctx = SelectCtx<Parker>;

  // The steps of a select. select_try_*: as the try_ forms (the select is
  // not enrolled anywhere yet). select_enrol_*: under mu_, complete the
  // case with a live waiting peer (ok; the select's other waiters here are
  // dropped), report the channel closed (closed), or link `w` (enrolled);
  // lost if a peer or close() claimed `ctx` first (then nothing is linked),
  // retry if this call claimed it for `index` but every waiting peer turned
  // out dead. ok and closed mean this call claimed `ctx` for `index`.
  SelectStep select_try_send(T& value) { return step(send(value, kNow, nullptr)); }
  SelectStep select_try_recv(std::optional<T>& dst) { return step(recv(dst, kNow, nullptr)); }

  SelectStep select_enrol_send(Waiter& w, T& value, Ctx& ctx, int index) {
    std::unique_lock lk(mu_);
    if (closed_.load(std::memory_order_relaxed)) return ctx.claim(index) ? SelectStep::closed : SelectStep::lost;
    SelectStep claimed = SelectStep::blocked;
    if (cell_holds(kRecvTag)) {  // the oldest receiver
      if (!ctx.claim(index)) return SelectStep::lost;
      if (Waiter* r = claim_cell(kRecvTag, true)) {
        drop_select(&ctx);
        lk.unlock();
        return give(r, value), SelectStep::ok;
      }
      claimed = SelectStep::retry;  // it withdrew meanwhile; the queue may hold the next
    }
    if (Waiter* r = pop_peer(recvq_, ctx, index, claimed)) {
      r->slot.emplace(std::move(value));
      drop_select(&ctx);
      lk.unlock();
      finish(r, ChanStatus::ok);
      return SelectStep::ok;
    }
    if (claimed != SelectStep::blocked) return claimed;  // lost, or retry
    if (!ctx.open()) return SelectStep::lost;  // decided meanwhile: no new entry (see drop_select)
    w.sel = &ctx;
    w.index = index;
    w.src = &value;
    sendq_.push_back(&w);
    return SelectStep::enrolled;
  }

  SelectStep select_enrol_recv(Waiter& w, std::optional<T>& dst, Ctx& ctx, int index) {
    std::unique_lock lk(mu_);
    SelectStep claimed = SelectStep::blocked;
    if (cell_holds(kSendTag)) {  // the oldest sender
      if (!ctx.claim(index)) return SelectStep::lost;
      if (Waiter* s = claim_cell(kSendTag, true)) {
        drop_select(&ctx);
        lk.unlock();
        return take(s, dst), SelectStep::ok;
      }
      claimed = SelectStep::retry;
    }
    if (Waiter* s = pop_peer(sendq_, ctx, index, claimed)) {
      dst.emplace(std::move(*s->src));
      drop_select(&ctx);
      lk.unlock();
      finish(s, ChanStatus::ok);
      return SelectStep::ok;
    }
    if (claimed != SelectStep::blocked) return claimed;
    if (closed_.load(std::memory_order_relaxed)) return ctx.claim(index) ? SelectStep::closed : SelectStep::lost;
    if (!ctx.open()) return SelectStep::lost;
    w.sel = &ctx;
    w.index = index;
    recvq_.push_back(&w);
    return SelectStep::enrolled;
  }

  // Unlinks `w` if no peer or close() has (the owner knows from its context
  // whether a signal is coming).
  void select_withdraw(Waiter& w) noexcept {
    std::lock_guard lk(mu_);
    if (w.linked) (w.src != nullptr ? sendq_ : recvq_).remove(&w);
  }

  // A waiter, on its thread's (or fiber's) stack. What the peer writes (the
  // received value, the result, the wake-up) shares one cache line, so a
  // hand-off moves that line across once and back once.
  struct alignas(kCacheLine) Waiter {
    Parker parker;                       // a plain waiter's wake-up slot
    ChanStatus result = ChanStatus::ok;  // written by whoever unlinks it, before signal
    bool linked = false;                 // guarded by mu_
    std::optional<T> slot;               // receiver: the value a sender handed over; the cell's sender: its value
    T* src = nullptr;                    // a queued sender: the value to hand over
    Waiter* next = nullptr;
    Waiter* prev = nullptr;
    Ctx* sel = nullptr;                  // a select's waiter: its context (signalled instead of `parker`)
    int index = -1;                      // a select's waiter: its case
  };

 private:
  static constexpr Deadline kNow{true, Clock::time_point::min()};
  static SelectStep step(ChanStatus s) noexcept {
    return s == ChanStatus::ok ? SelectStep::ok : s == ChanStatus::closed ? SelectStep::closed : SelectStep::blocked;
  }
  using WaitQueue = WaitList<Waiter>;  // guarded by mu_

  struct Interrupt {
    Parker* parker;
    void operator()() const noexcept { parker->signal(Parker::kInterrupted); }
  };

  // Completes waiter `w` (already unlinked, and claimed if a select's) after mu_ is released.
  static void finish(Waiter* w, ChanStatus result) noexcept {
    w->result = result;
    (w->sel != nullptr ? w->sel->parker : w->parker).signal(Parker::kDone);
  }

  // Requires mu_. Unlinks and returns the oldest waiter of `q` that is
  // plain or whose select this call claimed (its select's other waiters
  // here are dropped); dead select waiters on the way are unlinked and
  // dropped.
  Waiter* pop_live(WaitQueue& q) noexcept {
    while (Waiter* w = q.pop_front()) {
      if (w->sel == nullptr) return w;
      if (w->sel->claim(w->index)) {
        drop_select(w->sel);
        return w;
      }
    }
    return nullptr;
  }

  // Requires mu_. Unlinks every waiter of the select `ctx` from both queues.
  // Whoever decides a select's round by a hand-off or close() on this
  // channel (a peer, close(), or the select itself handing off with a
  // waiting peer while it enrols; a select that finds the channel closed
  // has no waiter here, close() took them) calls this before it releases
  // mu_: the select never comes back to this channel to withdraw, because
  // a peer may destroy the channel as soon as it signalled
  // (conpat/select.hpp). A select that finds its context decided links no
  // new waiter (select_enrol_*). Only a select with several cases on one
  // unbuffered channel can have another waiter here, so the others cost
  // nothing.
  void drop_select(const Ctx* ctx) noexcept {
    if (!ctx->shares_rendezvous) return;
    for (WaitQueue* q : {&sendq_, &recvq_}) {
      for (Waiter* w = q->head; w != nullptr;) {
        Waiter* next = w->next;
        if (w->sel == ctx) q->remove(w);
        w = next;
      }
    }
  }

  // Requires mu_. pop_live for a select enrolling case `index` under `ctx`:
  // skips the select's own waiters (left linked: the caller drops them once
  // it completes the case; on retry the select withdraws them), claims
  // `ctx` before the first live peer
  // (`claimed` becomes lost if that fails, else retry until a peer is
  // returned).
  Waiter* pop_peer(WaitQueue& q, Ctx& ctx, int index, SelectStep& claimed) noexcept {
    Waiter* w = q.head;
    while (w != nullptr) {
      Waiter* next = w->next;
      if (w->sel == &ctx) {
        w = next;
        continue;
      }
      if (w->sel != nullptr && !w->sel->open()) {  // dead
        q.remove(w);
        w = next;
        continue;
      }
      if (claimed == SelectStep::blocked) {
        if (!ctx.claim(index)) {
          claimed = SelectStep::lost;
          return nullptr;
        }
        claimed = SelectStep::retry;
      }
      q.remove(w);
      if (w->sel == nullptr) return w;
      if (w->sel->claim(w->index)) {
        drop_select(w->sel);
        return w;
      }
      w = next;
    }
    return nullptr;
  }

  // Waits for a peer or close() to complete `w`; on timeout or cancellation,
  // withdraws it unless someone already unlinked it (then that decision wins:
  // a sender whose value a receiver took returns ok).
  ChanStatus wait(Waiter& w, WaitQueue& q, const Deadline& deadline, std::stop_token* stop) {
    std::optional<std::stop_callback<Interrupt>> on_stop;
    if (stop != nullptr) on_stop.emplace(*stop, Interrupt{&w.parker});
    std::uint32_t s = w.parker.wait(Parker::kDone | Parker::kInterrupted, deadline.get());
    if ((s & Parker::kDone) == 0 && w.parker.begin_leaving()) {
      CONPAT_TEST_HOOK("zero.withdraw");
      std::unique_lock lk(mu_);
      const bool withdrawn = w.linked;
      if (withdrawn) q.remove(&w);
      lk.unlock();
      w.parker.end_leaving();
      if (withdrawn) return (s & Parker::kInterrupted) != 0 ? ChanStatus::cancelled : ChanStatus::timeout;
      w.parker.wait(Parker::kDone);  // unlinked by a peer that is finishing now
    }
    return w.result;
  }

  // ---- the hand-off cell (see the top of this file) ----
  // The cell's word: 0, or a Waiter's address (cache-line aligned, so its
  // low bit is free) with kSendTag set for a sender.
  static constexpr std::uintptr_t kRecvTag = 0;
  static constexpr std::uintptr_t kSendTag = 1;
  static Waiter* as_waiter(std::uintptr_t c) noexcept { return reinterpret_cast<Waiter*>(c & ~kSendTag); }
  bool cell_holds(std::uintptr_t tag) const noexcept {
    const std::uintptr_t c = cell_.load(std::memory_order_relaxed);
    return c != 0 && (c & kSendTag) == tag;
  }

  // Takes the cell's waiter if it is of kind `tag`; it is then the caller's
  // to complete (give or take, after releasing mu_). Called without mu_
  // (`locked` false), it waits until mu_ has been free once after the
  // claim: the waiter registered under mu_ and may still be releasing it,
  // and must not be completed before that. (Its lock-acquire
  // happens-before the cell word our CAS read, so a free mu_ read after the
  // CAS was released after it registered. Releasing may still make a futex
  // wake on mu_'s address afterwards: a system call, no memory access.)
  Waiter* claim_cell(std::uintptr_t tag, bool locked = false) noexcept {
    std::uintptr_t c = cell_.load(std::memory_order_relaxed);
    while (c != 0 && (c & kSendTag) == tag) {
      if (cell_.compare_exchange_weak(c, 0, std::memory_order_acquire, std::memory_order_relaxed)) {
        for (int i = 0; !locked && mu_.locked(); ++i) Wait::relax(i);
        return as_waiter(c);
      }
    }
    return nullptr;
  }
  static void give(Waiter* r, T& value) noexcept {
    r->slot.emplace(std::move(value));
    finish(r, ChanStatus::ok);
  }
  static void take(Waiter* s, std::optional<T>& dst) noexcept {
    dst.emplace(std::move(*s->slot));
    finish(s, ChanStatus::ok);
  }

  // As wait(), for the cell's waiter (`mine`: its word in the cell).
  ChanStatus wait_in_cell(Waiter& w, std::uintptr_t mine, const Deadline& deadline, std::stop_token* stop) {
    std::optional<std::stop_callback<Interrupt>> on_stop;
    if (stop != nullptr) on_stop.emplace(*stop, Interrupt{&w.parker});
    std::uint32_t s = w.parker.wait(Parker::kDone | Parker::kInterrupted, deadline.get());
    if ((s & Parker::kDone) == 0 && w.parker.begin_leaving()) {
      CONPAT_TEST_HOOK("zero.withdraw");
      const bool withdrawn = cell_.compare_exchange_strong(mine, 0, std::memory_order_relaxed);
      w.parker.end_leaving();
      if (withdrawn) return (s & Parker::kInterrupted) != 0 ? ChanStatus::cancelled : ChanStatus::timeout;
      w.parker.wait(Parker::kDone);  // claimed by a peer or close() that is finishing now
    }
    return w.result;
  }

  mutable SpinMutex mu_;
  WaitQueue sendq_;                  // guarded by mu_
  WaitQueue recvq_;                  // guarded by mu_
  std::atomic<bool> closed_{false};  // written under mu_; read without it by is_closed()
  std::atomic<std::uintptr_t> cell_{0};  // filled under mu_; claimed and withdrawn without it
};

}  // namespace conpat::detail
