// conpat/fiber_channel.hpp — conpat::FiberChannel<T>: Boost.Fiber's
// buffered_channel (capacity >= 1) or unbuffered_channel (capacity 0) behind
// conpat::BlockingChannel and TimedChannel. MPMC. Works between fibers of
// one thread and between threads (a plain thread blocks in its main fiber).
//
// Capacity: buffered_channel needs a power of two >= 2 and holds one less
// than that, so FiberChannel(n) allocates bit_ceil(max(n, 2)) slots and holds
// usable_capacity(n) = bit_ceil(max(n, 2)) - 1 values (n - 1 for a power of
// two n >= 2, 1 for n = 1).
//
// Capacity 0: send and recv are a true rendezvous. Boost's unbuffered_channel
// has no try forms, so try_send/try_recv answer would_block (or closed), and
// its timed push publishes the value before waiting: a send_for that times
// out may still have been received. channel_traits says so
// (exact_unbuffered_try = false). No stop_token support.
//
// Close: Boost's close() wakes every waiter; receivers drain buffered values
// first. Boost 1.74's unbuffered_channel keeps a woken sender's dead slot
// published after close; FiberChannel never pops a closed unbuffered
// channel, but a receiver already blocked in pop() when close() wakes the
// sender can still read it. Close an unbuffered FiberChannel only when no
// sender is blocked (Go's convention: the sender closes). Memory ordering: Boost's channels synchronise through their own
// spinlocks; a pop that succeeded happens-after the matching push.
#pragma once

#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/channel_op_status.hpp>
#include <boost/fiber/unbuffered_channel.hpp>

#include <bit>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "conpat/blocking_channel.hpp"
#include "conpat/chan_status.hpp"

namespace conpat {

template <class T>
  requires ChannelValue<T>
class FiberChannel {
 public:
  using value_type = T;

  explicit FiberChannel(std::size_t capacity = 0) : requested_(capacity) {
    if (capacity == 0) {
      unbuffered_ = std::make_unique<boost::fibers::unbuffered_channel<T>>();
    } else {
      buffered_ = std::make_unique<boost::fibers::buffered_channel<T>>(slots(capacity));
    }
  }
  FiberChannel(const FiberChannel&) = delete;  // non-copyable and non-movable
  FiberChannel& operator=(const FiberChannel&) = delete;

  ChanStatus send(T value) {
    return map(buffered_ ? buffered_->push(std::move(value)) : unbuffered_->push(std::move(value)));
  }
  template <class Rep, class Period>
  ChanStatus send_for(T value, std::chrono::duration<Rep, Period> timeout) {
    if (timeout <= timeout.zero()) return as_timeout(try_send(std::move(value)));
    return map(buffered_ ? buffered_->push_wait_for(std::move(value), timeout)
                         : unbuffered_->push_wait_for(std::move(value), timeout));
  }
  ChanStatus try_send(T value) {
    if (buffered_) return map(buffered_->try_push(std::move(value)));
    return unbuffered_->is_closed() ? ChanStatus::closed : ChanStatus::would_block;
  }

  ChanStatus recv(T& out) {
    if (buffered_) return map(buffered_->pop(out));
    // Boost 1.74's unbuffered_channel leaves a sender's slot published when
    // close() wakes that sender, and a later pop() reads the dead slot. A
    // closed unbuffered channel holds nothing, so answer without popping.
    if (unbuffered_->is_closed()) return ChanStatus::closed;
    return map(unbuffered_->pop(out));
  }
  template <class Rep, class Period>
  ChanStatus recv_for(T& out, std::chrono::duration<Rep, Period> timeout) {
    if (timeout <= timeout.zero()) return as_timeout(try_recv(out));
    if (buffered_) return map(buffered_->pop_wait_for(out, timeout));
    if (unbuffered_->is_closed()) return ChanStatus::closed;  // see recv()
    return map(unbuffered_->pop_wait_for(out, timeout));
  }
  ChanStatus try_recv(T& out) {
    if (buffered_) return map(buffered_->try_pop(out));
    return unbuffered_->is_closed() ? ChanStatus::closed : ChanStatus::would_block;
  }
  std::optional<T> recv() { return recv_optional(*this); }

  bool close() noexcept {
    if (closed_once_.exchange(true, std::memory_order_acq_rel)) return false;
    if (buffered_) buffered_->close(); else unbuffered_->close();
    return true;
  }
  bool is_closed() const noexcept { return buffered_ ? buffered_->is_closed() : unbuffered_->is_closed(); }
  std::size_t capacity() const noexcept { return requested_ == 0 ? 0 : slots(requested_) - 1; }

  static constexpr std::size_t slots(std::size_t n) noexcept { return std::bit_ceil(n < 2 ? std::size_t{2} : n); }

 private:
  static ChanStatus map(boost::fibers::channel_op_status s) noexcept {
    switch (s) {
      case boost::fibers::channel_op_status::success: return ChanStatus::ok;
      case boost::fibers::channel_op_status::closed: return ChanStatus::closed;
      case boost::fibers::channel_op_status::timeout: return ChanStatus::timeout;
      case boost::fibers::channel_op_status::empty:
      case boost::fibers::channel_op_status::full: return ChanStatus::would_block;
    }
    return ChanStatus::would_block;
  }
  static ChanStatus as_timeout(ChanStatus s) noexcept {
    return s == ChanStatus::would_block ? ChanStatus::timeout : s;
  }

  std::size_t requested_;
  std::atomic<bool> closed_once_{false};  // Boost's close() is idempotent but reports nothing
  std::unique_ptr<boost::fibers::buffered_channel<T>> buffered_;
  std::unique_ptr<boost::fibers::unbuffered_channel<T>> unbuffered_;
};

template <class T>
  requires ChannelValue<T>
struct channel_traits<FiberChannel<T>> {
  static constexpr bool multi_producer = true;
  static constexpr bool multi_consumer = true;
  static constexpr bool unbuffered = true;
  static constexpr bool exact_unbuffered_try = false;
  static constexpr std::size_t usable_capacity(std::size_t n) noexcept { return FiberChannel<T>::slots(n) - 1; }
};

static_assert(TimedChannel<FiberChannel<int>>);

}  // namespace conpat
