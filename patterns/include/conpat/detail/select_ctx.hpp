// conpat/detail/select_ctx.hpp — what one round of a select shares between
// its cases: which case won, and the one wake-up slot every case's waiting
// entry points to (Go's sudog.isSelect + selectDone, crossbeam-channel's
// Context). The channel flavours link an entry per case into their queues
// of waiting operations; a peer that finds such an entry must claim the
// context for that entry's case before it may treat it as a waiter. Exactly
// one claim per round succeeds: by a peer (which then signals kDone on the
// parker, once, after it has touched the channel for the last time), or by
// the selecting thread itself (kAborted, or its own case index when it
// completes a case while enrolling). An entry whose context is already
// claimed is dead: peers unlink it and look at the next one.
//
// Memory ordering: claim() is an acq_rel CAS, so a peer that claimed a
// context sees everything its owner wrote before linking the entry, and the
// owner, which reads `selected` with acquire (and waits for kDone, a release
// signal), sees everything the peer wrote before signalling.
#pragma once

#include <atomic>

namespace conpat::detail {

template <class Parker>
struct SelectCtx {
  static constexpr int kOpen = -1;     // nobody has claimed this round yet
  static constexpr int kAborted = -2;  // the owner gave up the round (timeout, stop, a ready case)

  std::atomic<int> selected{kOpen};
  Parker parker;
  // Set before the first case enrols, read by peers under a channel's lock:
  // several cases of the select share an unbuffered channel (see
  // detail/zero_flavor.hpp, drop_select).
  bool shares_rendezvous = false;

  SelectCtx() = default;
  SelectCtx(const SelectCtx&) = delete;  // non-copyable and non-movable
  SelectCtx& operator=(const SelectCtx&) = delete;

  // True if this call set `selected` from kOpen to `index`.
  bool claim(int index) noexcept {
    int open = kOpen;
    return selected.compare_exchange_strong(open, index, std::memory_order_acq_rel, std::memory_order_acquire);
  }
  bool open() const noexcept { return selected.load(std::memory_order_acquire) == kOpen; }
};

// The answer of one step of a select on one case (see conpat/select.hpp).
enum class SelectStep {
  ok,        // the case completed: delivered or received a value
  closed,    // the case completed: its channel is closed (recv: and drained)
  blocked,   // the case cannot proceed now
  enrolled,  // an entry is linked and a peer will claim the context when it can proceed
  ready,     // an entry is linked, but the case may proceed now: abort the round and retry
  lost,      // the context was claimed by a peer first: this step did nothing
  retry,     // the owner claimed its own context for this case, but the peer was gone: new round
};

}  // namespace conpat::detail
