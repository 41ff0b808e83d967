// conpat/channel.hpp — conpat::Channel<T>: Go's chan in C++. MPMC, bounded
// (capacity >= 1) or unbuffered (capacity 0, a rendezvous); blocking send and
// recv with timeouts and std::stop_token cancellation; close() wakes everyone.
// Where Go panics, this channel returns a status (ChanStatus::closed).
//
// Flavours, chosen by capacity at construction, as crossbeam-channel does
// (one header each, one method set here):
//   capacity >= 1  detail/array_flavor.hpp  lock-free array with a stamp per
//                  slot; a lock only to park or wake a blocked operation
//   capacity 0     detail/zero_flavor.hpp   rendezvous: a short lock over
//                  queues of waiting operations, values handed across
//                  directly; a lone waiter is claimed without the lock
//
// Waiting is a policy, the same algorithm above both, as Go's chan.go sits
// above gopark: Channel<T> (ThreadWait) spins, yields, then parks the OS
// thread on a futex (detail/park.hpp); Channel<T, FiberWait>
// (conpat/fiber_wait.hpp) suspends the running Boost.Fiber instead.
//
// Memory ordering (details in each flavour's header): a successful recv
// happens-after the send of the value it received (everything the sender
// wrote before send is visible to the receiver after recv). An unbuffered
// send that returned ok happens-after the receiver took the value. close()
// happens-before every operation that returns ChanStatus::closed because of
// it. The try_ forms are linearisable: a try_recv after a completed send
// (by any thread) does not answer would_block, nor does a try_send into
// the room a completed recv made. In the array flavour a send publishes its slot with a release store of
// the slot's stamp and a recv acquires it; claims are seq_cst CASes on the
// head and tail positions, and a parking operation re-checks those with
// seq_cst loads after announcing itself, so no wake-up is lost.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <stop_token>
#include <utility>
#include <variant>

#include "conpat/blocking_channel.hpp"
#include "conpat/chan_status.hpp"
#include "conpat/detail/array_flavor.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/detail/zero_flavor.hpp"

namespace conpat {

namespace detail {
struct ChannelAccess;  // conpat/select.hpp: a select's cases reach the flavour
}  // namespace detail

template <class T, class Wait = ThreadWait>
  requires ChannelValue<T>
class Channel {
 public:
  using value_type = T;
  using wait_policy = Wait;

  // capacity 0: unbuffered (send completes only when a receiver takes the value).
  explicit Channel(std::size_t capacity = 0) : flavor_(make(capacity)) {}

  // Precondition: no operation is in progress (a close() may be: it is waited for).
  // An operation counts as finished for its partner as soon as the partner's
  // own operation returned: a receiver that got its value may destroy the
  // channel while the sender is still returning from send (Go's one-shot
  // reply channel), and a sender whose send returned may destroy it while
  // the receiver that made room is still returning from recv. A select's
  // case is such an operation on both sides (select.hpp, Lifetime).
  ~Channel() = default;

  Channel(const Channel&) = delete;  // non-copyable and non-movable
  Channel& operator=(const Channel&) = delete;

  // Sends `value`, blocking while the buffer is full (unbuffered: until a
  // receiver takes it). Returns ok, or closed if the channel is or becomes
  // closed before the value was delivered.
  ChanStatus send(T value) { return send_impl(value, detail::Deadline{}, nullptr); }

  // As send(value), but returns cancelled if `stop` is requested while
  // blocked (or already requested and the send would block).
  ChanStatus send(T value, std::stop_token stop) { return send_impl(value, detail::Deadline{}, &stop); }

  // As send(value), but gives up with timeout after `timeout`. A zero or
  // negative timeout behaves like try_send, answering timeout for would_block.
  template <class Rep, class Period>
  ChanStatus send_for(T value, std::chrono::duration<Rep, Period> timeout) {
    return send_impl(value, detail::deadline_after(timeout), nullptr);
  }

  // As send_for, with an absolute deadline on any clock.
  template <class Clock, class Duration>
  ChanStatus send_until(T value, std::chrono::time_point<Clock, Duration> deadline) {
    return send_impl(value, detail::deadline_at(deadline), nullptr);
  }

  // Never blocks: ok if the value went into the buffer or to a waiting
  // receiver, closed if the channel is closed, would_block otherwise.
  // Unbuffered: succeeds only if a receiver is already waiting.
  ChanStatus try_send(T value) { return as_try(send_impl(value, kNow, nullptr)); }

  // Receives into `out`, blocking while the channel is empty and open.
  // Returns ok, or closed once the channel is closed and drained; `out` is
  // unspecified on any status but ok.
  ChanStatus recv(T& out) { return recv_into(out, detail::Deadline{}, nullptr); }

  // As recv(out), but returns cancelled if `stop` is requested while blocked.
  ChanStatus recv(T& out, std::stop_token stop) { return recv_into(out, detail::Deadline{}, &stop); }

  template <class Rep, class Period>
  ChanStatus recv_for(T& out, std::chrono::duration<Rep, Period> timeout) {
    return recv_into(out, detail::deadline_after(timeout), nullptr);
  }

  template <class Clock, class Duration>
  ChanStatus recv_until(T& out, std::chrono::time_point<Clock, Duration> deadline) {
    return recv_into(out, detail::deadline_at(deadline), nullptr);
  }

  // Never blocks: ok with a buffered value or one from a waiting sender,
  // closed if closed and drained, would_block otherwise.
  ChanStatus try_recv(T& out) { return as_try(recv_into(out, kNow, nullptr)); }

  // Receives a value, or nullopt once the channel is closed and drained.
  std::optional<T> recv() {
    std::optional<T> v;
    if (auto* a = std::get_if<Array>(&flavor_)) {
      a->recv([&](T&& x) { v.emplace(std::move(x)); }, detail::Deadline{}, nullptr);
    } else {
      std::get<Zero>(flavor_).recv(v, detail::Deadline{}, nullptr);
    }
    return v;
  }

  // Closes the channel: later sends return closed, receivers drain the
  // buffer and then get closed, and every blocked sender and receiver wakes
  // (blocked senders' values are not delivered). Returns true if this call
  // closed it, false if it was already closed.
  bool close() noexcept {
    return std::visit([](auto& f) { return f.close(); }, flavor_);
  }

  bool is_closed() const noexcept {
    return std::visit([](const auto& f) { return f.is_closed(); }, flavor_);
  }
  std::size_t capacity() const noexcept {
    const auto* a = std::get_if<Array>(&flavor_);
    return a != nullptr ? a->capacity() : 0;
  }

  // Values buffered now (always 0 when unbuffered); a snapshot.
  std::size_t size() const noexcept {
    const auto* a = std::get_if<Array>(&flavor_);
    return a != nullptr ? a->size() : 0;
  }

  // Input iterator for `for (T v : ch)`: receives until closed and drained.
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(Channel* ch) : ch_(ch) { ++*this; }
    T& operator*() const { return *cur_; }
    T* operator->() const { return &*cur_; }
    iterator& operator++() {
      cur_.reset();
      cur_ = ch_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.cur_.has_value(); }

   private:
    Channel* ch_ = nullptr;
    mutable std::optional<T> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend struct detail::ChannelAccess;
  using Array = detail::ArrayFlavor<T, Wait>;
  using Zero = detail::ZeroFlavor<T, Wait>;
  using Flavor = std::variant<Array, Zero>;

  // The try_ forms: a deadline that has always passed.
  static constexpr detail::Deadline kNow{true, detail::Clock::time_point::min()};

  static Flavor make(std::size_t capacity) {
    if (capacity == 0) return Flavor(std::in_place_type<Zero>);
    return Flavor(std::in_place_type<Array>, capacity);
  }

  static ChanStatus as_try(ChanStatus s) noexcept { return s == ChanStatus::timeout ? ChanStatus::would_block : s; }

  ChanStatus send_impl(T& value, const detail::Deadline& deadline, std::stop_token* stop) {
    if (auto* a = std::get_if<Array>(&flavor_)) return a->send(value, deadline, stop);
    return std::get<Zero>(flavor_).send(value, deadline, stop);
  }

  ChanStatus recv_into(T& out, const detail::Deadline& deadline, std::stop_token* stop) {
    if (auto* a = std::get_if<Array>(&flavor_)) {
      return a->recv([&](T&& x) { out = std::move(x); }, deadline, stop);
    }
    std::optional<T> v;
    ChanStatus s = std::get<Zero>(flavor_).recv(v, deadline, stop);
    if (s == ChanStatus::ok) out = std::move(*v);
    return s;
  }

  Flavor flavor_;
};

static_assert(TimedChannel<Channel<int>> && CancellableChannel<Channel<int>>);

}  // namespace conpat
