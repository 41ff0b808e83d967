// conpat/detail/waker.hpp — the parked operations of one side of a lock-free
// channel (its blocked senders, or its blocked receivers), woken one at a
// time, in the order they parked.
//
// The fast path of a channel operation never takes the lock here: after it
// changed the channel, it reads the number of parked waiters and only if it
// is not zero takes the lock, unlinks the oldest waiter and signals it. A
// waiter links itself, then re-checks the channel, then sleeps; whoever
// unlinks an entry (a notifier, or the waiter itself on timeout or
// cancellation) decides, exactly once, whether it was notified.
//
// Memory ordering: add() increments the count with a seq_cst RMW and the
// waiter then re-checks the channel with seq_cst loads; the channel's fast
// path changes its indices with seq_cst RMWs and then loads the count with
// seq_cst. In the single total order of seq_cst operations either the
// waiter's re-check sees the change, or the notifier's load sees the count,
// so no wake-up is lost (the Dekker pattern, fenced by the RMWs themselves).
// Waking is signal(kDone) on the waiter's Parker, a release RMW.
//
// Select entries (conpat/select.hpp): an entry may belong to a select, with
// `sel` pointing at the select's context (detail/select_ctx.hpp) and
// `index` its case. Such an entry counts as a waiter only if the notifier
// claims the context for that case (under the lock); otherwise it is dead
// (its select completed another case or gave up the round): it is unlinked
// and the next entry is considered. The signal then goes to the context's
// Parker. Plain entries are always taken. None of this touches the fast
// path: it runs only when the count is not zero.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

#include "conpat/detail/park.hpp"
#include "conpat/detail/select_ctx.hpp"
#include "conpat/detail/wait_list.hpp"
#include "conpat/padding.hpp"

namespace conpat::detail {

template <class Parker>
class Waker {
 public:
  // One parked operation, on its waiter's stack.
  struct Entry {
    Entry* next = nullptr;
    Entry* prev = nullptr;
    bool linked = false;  // guarded by the waker's lock
    SelectCtx<Parker>* sel = nullptr;  // a select's entry: its context (else nullptr)
    int index = -1;                    // a select's entry: its case
    // A plain entry of a blocked send may carry its value, for a peer to
    // complete the send from here (take_carrier); `delivered`, written
    // before the kDone signal, says whether it did.
    void* handoff = nullptr;
    bool delivered = false;
    Parker parker;                     // a plain entry's wake-up slot
  };

  Waker() = default;
  Waker(const Waker&) = delete;  // non-copyable and non-movable
  Waker& operator=(const Waker&) = delete;

  // Links `e` at the back. The caller must re-check its condition after
  // this, before it sleeps.
  void add(Entry& e) noexcept {
    std::lock_guard lk(mu_);
    list_.push_back(&e);
    count_.fetch_add(1, std::memory_order_seq_cst);
  }

  // Unlinks `e` if it is still linked and returns true; false means a
  // notifier unlinked it first and has signalled, or is about to signal,
  // kDone (the caller must wait for that before `e` goes out of scope).
  bool remove(Entry& e) noexcept {
    std::lock_guard lk(mu_);
    if (!e.linked) return false;
    unlink(&e);
    return true;
  }

  // Wakes the oldest waiter that can be claimed, if any. Cheap when nobody waits.
  void notify_one() noexcept { wake(take_one()); }

  // notify_one in two steps, for a caller that must not touch the waker's
  // owner after some store: take_one() unlinks the oldest waiter (nullptr
  // if none) and touches only the waker; wake(e) then signals it and
  // touches only the waiter's own Parker (on the waiter's stack; the waiter
  // cannot leave before the signal).
  // A select's entry whose context cannot be claimed is unlinked and skipped.
  // (The look at the count is inlined into every fast path, the rest is not.)
  [[gnu::always_inline]] Entry* take_one() noexcept {
    if (count_.load(std::memory_order_seq_cst) == 0) return nullptr;
    return take_one_locked();
  }
  // The oldest waiter, unlinked and claimed (Parker::claim), if it is a
  // plain entry that carries a value and is not leaving; else nullptr and
  // nothing changed (FIFO: a later carrier is not taken over the oldest
  // waiter). The caller completes it or not, sets `delivered`, and wakes it.
  Entry* take_carrier() noexcept {
    if (count_.load(std::memory_order_relaxed) == 0) return nullptr;
    std::lock_guard lk(mu_);
    Entry* e = list_.head;
    if (e == nullptr || e->sel != nullptr || e->handoff == nullptr || !e->parker.claim()) return nullptr;
    unlink(e);
    return e;
  }
  bool maybe_waiting() const noexcept { return count_.load(std::memory_order_relaxed) != 0; }

  static void wake(Entry* e) noexcept {
    if (e != nullptr) parker_of(e).signal(Parker::kDone);
  }

  // Wakes every waiter (close); dead select entries are unlinked unsignalled.
  void notify_all() noexcept {
    Entry* woken = nullptr;
    {
      std::lock_guard lk(mu_);
      while (Entry* e = list_.head) {
        unlink(e);
        if (!claimable(e)) continue;
        e->next = woken;
        woken = e;
      }
    }
    while (woken != nullptr) {
      Entry* next = woken->next;  // read before the signal: the waiter may leave at once
      wake(woken);
      woken = next;
    }
  }

 private:
  [[gnu::noinline]] Entry* take_one_locked() noexcept {
    std::lock_guard lk(mu_);
    while (Entry* e = list_.head) {
      unlink(e);
      if (claimable(e)) return e;
    }
    return nullptr;
  }

  static bool claimable(Entry* e) noexcept { return e->sel == nullptr || e->sel->claim(e->index); }
  static Parker& parker_of(Entry* e) noexcept { return e->sel != nullptr ? e->sel->parker : e->parker; }

  void unlink(Entry* e) noexcept {  // requires mu_
    list_.remove(e);
    count_.fetch_sub(1, std::memory_order_relaxed);
  }

  // The count is read by every fast-path operation of the other side, the
  // list only on the slow path: separate cache lines.
  alignas(kCacheLine) std::atomic<std::size_t> count_{0};
  alignas(kCacheLine) SpinMutex mu_;
  WaitList<Entry> list_;  // guarded by mu_
};

}  // namespace conpat::detail
