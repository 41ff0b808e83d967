// conpat/blocking_channel.hpp — the concept every channel implementation
// satisfies, so a harness or a test is written once and instantiated per
// implementation. Index of the implementations, one line each:
//
//   Channel<T>               channel.hpp        Go semantics, MPMC, bounded or unbuffered (the reference)
//   Channel<T, FiberWait>    fiber_wait.hpp     the same channel, suspending Boost.Fiber fibers instead of threads
//   SpscRing<T, Layout>      spsc_ring.hpp      lock-free bounded ring, one producer, one consumer
//   MpmcRing<T, Layout>      mpmc_ring.hpp      lock-free bounded ring (Vyukov), MPMC
//   FiberChannel<T>          fiber_channel.hpp  Boost.Fiber buffered/unbuffered channel
//   TbbChannel<T>            tbb_channel.hpp    tbb::concurrent_bounded_queue, close through abort()
//
// What an implementation can do beyond the concept is stated by
// channel_traits<C>, so tests and benches skip what it does not claim.
#pragma once

#include <chrono>
#include <concepts>
#include <optional>
#include <cstddef>
#include <stop_token>
#include <utility>

#include "conpat/chan_status.hpp"

namespace conpat {

// send/recv block; try_ forms never block; close() ends the stream:
// receivers drain what was buffered and then see ChanStatus::closed.
template <class C>
concept BlockingChannel = requires(C& c, const C& cc, typename C::value_type v, typename C::value_type& out) {
  typename C::value_type;
  { c.send(std::move(v)) } -> std::same_as<ChanStatus>;
  { c.try_send(std::move(v)) } -> std::same_as<ChanStatus>;
  { c.recv(out) } -> std::same_as<ChanStatus>;
  { c.try_recv(out) } -> std::same_as<ChanStatus>;
  { c.close() } -> std::same_as<bool>;
  { cc.is_closed() } -> std::same_as<bool>;
  { cc.capacity() } -> std::same_as<std::size_t>;
};

// Timed forms: timeout is distinct from closed.
template <class C>
concept TimedChannel = BlockingChannel<C> &&
    requires(C& c, typename C::value_type v, typename C::value_type& out) {
  { c.send_for(std::move(v), std::chrono::milliseconds(1)) } -> std::same_as<ChanStatus>;
  { c.recv_for(out, std::chrono::milliseconds(1)) } -> std::same_as<ChanStatus>;
};

// Cancellable forms: cancelled is distinct from timeout and closed.
template <class C>
concept CancellableChannel = BlockingChannel<C> &&
    requires(C& c, typename C::value_type v, typename C::value_type& out, std::stop_token st) {
  { c.send(std::move(v), st) } -> std::same_as<ChanStatus>;
  { c.recv(out, st) } -> std::same_as<ChanStatus>;
};

// recv() as std::optional for adapters whose underlying queue pops into an
// existing T (requires T default-constructible): the value, or nullopt once
// the channel is closed and drained.
template <class C>
std::optional<typename C::value_type> recv_optional(C& ch) {
  std::optional<typename C::value_type> v(std::in_place);
  if (ch.recv(*v) != ChanStatus::ok) v.reset();
  return v;
}

// What an implementation claims. Specialise next to the implementation.
template <class C>
struct channel_traits {
  static constexpr bool multi_producer = true;
  static constexpr bool multi_consumer = true;
  static constexpr bool unbuffered = true;  // capacity 0 is a rendezvous for send/recv
  // try_ and timed forms are exact at capacity 0 (succeed only with a waiting peer)
  static constexpr bool exact_unbuffered_try = true;
  // Capacity actually usable for a requested capacity n >= 1.
  static constexpr std::size_t usable_capacity(std::size_t n) noexcept { return n; }
};

}  // namespace conpat
