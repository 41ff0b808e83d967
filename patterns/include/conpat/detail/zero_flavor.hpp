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
// Invariants (under mu_):
//   - At least one of sendq_ and recvq_ is empty.
//   - A queue is non-empty only while the channel is open.
//   - A waiter is in a queue if and only if its `linked` flag is set; whoever
//     unlinks it (a peer, close(), or the waiter withdrawing on timeout or
//     cancellation) decides its result, exactly once.
//
// Memory ordering: the value and the result are written before the peer's
// release signal of the waiter's Parker and read after the waiter's acquire
// of it, so a recv that returned ok happens-after the send of its value, and
// a send that returned ok happens-after the receiver took the value. close()
// happens-before every operation that returns closed because of it (mu_).
// Operations are linearisable: each takes effect at one point under mu_.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>

#include "conpat/chan_status.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/detail/wait_list.hpp"
#include "conpat/padding.hpp"

namespace conpat::detail {

template <class T, class Wait>
class ZeroFlavor {
  using Parker = typename Wait::Parker;

 public:
  ZeroFlavor() = default;
  ZeroFlavor(const ZeroFlavor&) = delete;  // non-copyable and non-movable
  ZeroFlavor& operator=(const ZeroFlavor&) = delete;

  ChanStatus send(T& value, const Deadline& deadline, std::stop_token* stop) {
    std::unique_lock lk(mu_);
    if (closed_.load(std::memory_order_relaxed)) return ChanStatus::closed;
    if (Waiter* r = recvq_.pop_front()) {
      r->slot.emplace(std::move(value));
      lk.unlock();
      finish(r, ChanStatus::ok);
      return ChanStatus::ok;
    }
    if (deadline.expired()) return ChanStatus::timeout;
    if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
    Waiter w;
    w.src = &value;
    sendq_.push_back(&w);
    lk.unlock();
    return wait(w, sendq_, deadline, stop);
  }

  ChanStatus recv(std::optional<T>& dst, const Deadline& deadline, std::stop_token* stop) {
    std::unique_lock lk(mu_);
    if (Waiter* s = sendq_.pop_front()) {
      dst.emplace(std::move(*s->src));
      lk.unlock();
      finish(s, ChanStatus::ok);
      return ChanStatus::ok;
    }
    if (closed_.load(std::memory_order_relaxed)) return ChanStatus::closed;
    if (deadline.expired()) return ChanStatus::timeout;
    if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
    Waiter w;
    recvq_.push_back(&w);
    lk.unlock();
    const ChanStatus s = wait(w, recvq_, deadline, stop);
    if (s == ChanStatus::ok) dst.emplace(std::move(*w.slot));
    return s;
  }

  bool close() noexcept {
    Waiter* woken = nullptr;
    {
      std::lock_guard lk(mu_);
      if (closed_.load(std::memory_order_relaxed)) return false;
      closed_.store(true, std::memory_order_release);
      woken = sendq_.drain(recvq_.drain());
    }
    wake_chain(woken, [](Waiter* w) { w->result = ChanStatus::closed; });
    return true;
  }

  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  // A waiting operation, on its thread's (or fiber's) stack. What the peer
  // writes (the received value, the result, the wake-up) shares one cache
  // line, so a hand-off moves that line across once and back once.
  struct alignas(kCacheLine) Waiter {
    Parker parker;
    ChanStatus result = ChanStatus::ok;  // written by whoever unlinks it, before signal
    bool linked = false;                 // guarded by mu_
    std::optional<T> slot;               // receiver: the value a sender handed over
    T* src = nullptr;                    // sender: the value to hand over
    Waiter* next = nullptr;
    Waiter* prev = nullptr;
  };

  using WaitQueue = WaitList<Waiter>;  // guarded by mu_

  struct Interrupt {
    Parker* parker;
    void operator()() const noexcept { parker->signal(Parker::kInterrupted); }
  };

  // Completes waiter `w` (already unlinked) after mu_ is released.
  static void finish(Waiter* w, ChanStatus result) noexcept {
    w->result = result;
    w->parker.signal(Parker::kDone);
  }

  // Waits for a peer or close() to complete `w`; on timeout or cancellation,
  // withdraws it unless someone already unlinked it (then that decision wins:
  // a sender whose value a receiver took returns ok).
  ChanStatus wait(Waiter& w, WaitQueue& q, const Deadline& deadline, std::stop_token* stop) {
    std::optional<std::stop_callback<Interrupt>> on_stop;
    if (stop != nullptr) on_stop.emplace(*stop, Interrupt{&w.parker});
    std::uint32_t s = w.parker.wait(Parker::kDone | Parker::kInterrupted, deadline.get());
    if ((s & Parker::kDone) == 0) {
      std::unique_lock lk(mu_);
      if (w.linked) {
        q.remove(&w);
        return (s & Parker::kInterrupted) != 0 ? ChanStatus::cancelled : ChanStatus::timeout;
      }
      lk.unlock();
      w.parker.wait(Parker::kDone);  // unlinked by a peer that is finishing now
    }
    return w.result;
  }

  mutable SpinMutex mu_;
  WaitQueue sendq_;                  // guarded by mu_
  WaitQueue recvq_;                  // guarded by mu_
  std::atomic<bool> closed_{false};  // written under mu_; read without it by is_closed()
};

}  // namespace conpat::detail
