// conpat/tbb_channel.hpp — conpat::TbbChannel<T>: oneTBB's
// concurrent_bounded_queue behind conpat::BlockingChannel. MPMC, bounded
// (capacity >= 1, exact); no unbuffered mode, no timeouts, no stop_token.
//
// TBB has no close. TbbChannel keeps its own closed flag and uses abort(),
// which makes every thread blocked in push/pop throw tbb::user_abort, to
// wake them. abort() only reaches threads already inside push/pop, so
// close() repeats it until every thread that entered a blocking call
// before the flag was set has left it (blocked_ counts them).
//
// After close: send returns closed; recv drains what is buffered, then
// returns closed. Unlike Channel, close is not atomic with respect to a
// send that passed its closed check a moment before: such a value can land
// after the last receiver has seen closed. Close from the producer side
// once sending is over (Go's convention) and nothing is lost. Memory ordering: TBB's queue makes a pop that succeeded
// happen-after the matching push; closed_ is seq_cst so a thread that
// counted itself in blocked_ and then missed the flag is seen by close().
#pragma once

#include <oneapi/tbb/concurrent_queue.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "conpat/blocking_channel.hpp"
#include "conpat/chan_status.hpp"

namespace conpat {

template <class T>
  requires ChannelValue<T>
class TbbChannel {
 public:
  using value_type = T;

  // capacity >= 1; throws std::invalid_argument for 0 (no unbuffered mode).
  explicit TbbChannel(std::size_t capacity = 1) : cap_(capacity) {
    if (capacity == 0) throw std::invalid_argument("conpat::TbbChannel: capacity must be >= 1");
    q_.set_capacity(static_cast<std::ptrdiff_t>(capacity));
  }
  TbbChannel(const TbbChannel&) = delete;  // non-copyable and non-movable
  TbbChannel& operator=(const TbbChannel&) = delete;

  ChanStatus send(T value) {
    if (closed()) return ChanStatus::closed;
    if (q_.try_push(std::move(value))) return ChanStatus::ok;
    return blocking([&] { q_.push(std::move(value)); });
  }
  ChanStatus try_send(T value) {
    if (closed()) return ChanStatus::closed;
    return q_.try_push(std::move(value)) ? ChanStatus::ok : ChanStatus::would_block;
  }

  ChanStatus recv(T& out) {
    if (q_.try_pop(out)) return ChanStatus::ok;
    if (blocking([&] { q_.pop(out); }) == ChanStatus::ok) return ChanStatus::ok;
    return q_.try_pop(out) ? ChanStatus::ok : ChanStatus::closed;  // closed: drain first
  }
  ChanStatus try_recv(T& out) {
    if (q_.try_pop(out)) return ChanStatus::ok;
    if (!closed()) return ChanStatus::would_block;
    return q_.try_pop(out) ? ChanStatus::ok : ChanStatus::closed;
  }
  std::optional<T> recv() { return recv_optional(*this); }

  bool close() noexcept {
    if (closed_.exchange(true, std::memory_order_seq_cst)) return false;
    do {
      q_.abort();
      std::this_thread::yield();
    } while (blocked_.load(std::memory_order_seq_cst) != 0);
    return true;
  }
  bool is_closed() const noexcept { return closed(); }
  std::size_t capacity() const noexcept { return cap_; }

 private:
  bool closed() const noexcept { return closed_.load(std::memory_order_seq_cst); }

  // Runs a blocking TBB call unless closed; an abort from close() ends it.
  template <class Op>
  ChanStatus blocking(Op op) {
    blocked_.fetch_add(1, std::memory_order_seq_cst);
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { n.fetch_sub(1, std::memory_order_seq_cst); }
    } leave{blocked_};
    if (closed()) return ChanStatus::closed;
    try {
      op();
      return ChanStatus::ok;
    } catch (const tbb::user_abort&) {
      return ChanStatus::closed;
    }
  }

  const std::size_t cap_;
  tbb::concurrent_bounded_queue<T> q_;
  std::atomic<bool> closed_{false};
  std::atomic<int> blocked_{0};  // threads inside (or about to enter) a blocking push/pop
};

template <class T>
  requires ChannelValue<T>
struct channel_traits<TbbChannel<T>> {
  static constexpr bool multi_producer = true;
  static constexpr bool multi_consumer = true;
  static constexpr bool unbuffered = false;
  static constexpr bool exact_unbuffered_try = false;
  static constexpr std::size_t usable_capacity(std::size_t n) noexcept { return n; }
};

static_assert(BlockingChannel<TbbChannel<int>>);

}  // namespace conpat
