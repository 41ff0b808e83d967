// conpat/channel.hpp — conpat::Channel<T>: Go's chan in C++. MPMC, bounded
// (capacity >= 1) or unbuffered (capacity 0, a rendezvous); blocking send and
// recv with timeouts and std::stop_token cancellation; close() wakes everyone.
//
// Like Go's runtime/chan.go, one lock guards a ring buffer and two FIFO queues
// of parked operations (sendq_, recvq_), and a value goes straight from a
// sender to a waiting receiver (or the reverse) without touching the buffer.
// Where Go panics, this channel returns a status (ChanStatus::closed).
//
// Invariants (under mu_):
//   - At least one of sendq_ and recvq_ is empty.
//   - recvq_ is non-empty only while the buffer is empty and the channel open.
//   - sendq_ is non-empty only while the buffer is full (always, when
//     unbuffered) and the channel open.
//   - A waiter is in a queue if and only if its `linked` flag is set; whoever
//     unlinks it (a peer, close(), or the waiter withdrawing on timeout or
//     cancellation) decides its result, exactly once.
//
// Waiting: a blocked operation spins, then yields, then parks on a futex (see
// detail/park.hpp), so a hand-off between two running threads costs no system
// call, and an oversubscribed machine still makes progress.
//
// Memory ordering: a successful recv happens-after the send of the value it
// received (everything the sender wrote before send is visible to the
// receiver after recv). An unbuffered send that returned ok happens-after the
// receiver took the value. close() happens-before every operation that
// returns ChanStatus::closed because of it. Channel operations are
// linearisable: each takes effect at one point while holding mu_.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>

#include "conpat/blocking_channel.hpp"
#include "conpat/chan_status.hpp"
#include "conpat/detail/park.hpp"

namespace conpat {

template <class T>
  requires ChannelValue<T>
class Channel {
 public:
  using value_type = T;

  // capacity 0: unbuffered (send completes only when a receiver takes the value).
  explicit Channel(std::size_t capacity = 0)
      : cap_(capacity), buf_(capacity > 0 ? alloc_.allocate(capacity) : nullptr) {}

  ~Channel() {
    // Precondition: no thread is blocked on the channel.
    while (count_ > 0) pop_buffer();
    if (buf_ != nullptr) alloc_.deallocate(buf_, cap_);
  }

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
  ChanStatus try_send(T value) { return try_send_ref(value); }

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
  ChanStatus try_recv(T& out) {
    std::optional<T> v;
    ChanStatus s = recv_impl(v, detail::Deadline{true, detail::Clock::time_point::min()}, nullptr);
    if (s == ChanStatus::ok) out = std::move(*v);
    return s == ChanStatus::timeout ? ChanStatus::would_block : s;
  }

  // Receives a value, or nullopt once the channel is closed and drained.
  std::optional<T> recv() {
    std::optional<T> v;
    recv_impl(v, detail::Deadline{}, nullptr);
    return v;
  }

  // Closes the channel: later sends return closed, receivers drain the
  // buffer and then get closed, and every blocked sender and receiver wakes
  // (blocked senders' values are not delivered). Returns true if this call
  // closed it, false if it was already closed.
  bool close() noexcept {
    Waiter* woken = nullptr;
    {
      std::lock_guard lk(mu_);
      if (closed_.load(std::memory_order_relaxed)) return false;
      closed_.store(true, std::memory_order_release);
      for (WaitQueue* q : {&recvq_, &sendq_}) {
        while (Waiter* w = q->pop_front()) {
          w->result = ChanStatus::closed;
          w->next = woken;
          woken = w;
        }
      }
    }
    while (woken != nullptr) {
      Waiter* next = woken->next;  // read before signal: the waiter may return at once
      woken->parker.signal(detail::Parker::kDone);
      woken = next;
    }
    return true;
  }

  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return cap_; }

  // Values buffered now (always 0 when unbuffered); a snapshot.
  std::size_t size() const noexcept {
    std::lock_guard lk(mu_);
    return count_;
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
  // A blocked operation, on its thread's stack while it waits.
  struct Waiter {
    Waiter* next = nullptr;
    Waiter* prev = nullptr;
    T* src = nullptr;                 // sender: the value to hand over
    std::optional<T>* dst = nullptr;  // receiver: where the value goes
    ChanStatus result = ChanStatus::ok;  // written by whoever unlinks it, before signal
    bool linked = false;                 // guarded by mu_
    detail::Parker parker;
  };

  // Intrusive FIFO of waiters. Guarded by mu_.
  struct WaitQueue {
    Waiter* head = nullptr;
    Waiter* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
    void push_back(Waiter* w) noexcept {
      w->linked = true;
      w->next = nullptr;
      w->prev = tail;
      (tail != nullptr ? tail->next : head) = w;
      tail = w;
    }
    Waiter* pop_front() noexcept {
      Waiter* w = head;
      if (w != nullptr) remove(w);
      return w;
    }
    void remove(Waiter* w) noexcept {
      (w->prev != nullptr ? w->prev->next : head) = w->next;
      (w->next != nullptr ? w->next->prev : tail) = w->prev;
      w->next = w->prev = nullptr;
      w->linked = false;
    }
  };

  struct Interrupt {
    detail::Parker* parker;
    void operator()() const noexcept { parker->signal(detail::Parker::kInterrupted); }
  };

  ChanStatus try_send_ref(T& value) {
    ChanStatus s = send_impl(value, detail::Deadline{true, detail::Clock::time_point::min()}, nullptr);
    return s == ChanStatus::timeout ? ChanStatus::would_block : s;
  }

  ChanStatus recv_into(T& out, detail::Deadline deadline, std::stop_token* stop) {
    std::optional<T> v;
    ChanStatus s = recv_impl(v, deadline, stop);
    if (s == ChanStatus::ok) out = std::move(*v);
    return s;
  }

  // Requires mu_ held and count_ < cap_.
  void push_buffer(T&& v) {
    std::size_t tail = head_ + count_;
    if (tail >= cap_) tail -= cap_;
    std::construct_at(buf_ + tail, std::move(v));
    ++count_;
  }

  // Requires mu_ held (or exclusive access) and count_ > 0.
  T pop_buffer() {
    T* p = buf_ + head_;
    T v(std::move(*p));
    std::destroy_at(p);
    if (++head_ == cap_) head_ = 0;
    --count_;
    return v;
  }

  // Completes waiter `w` (already unlinked) after mu_ is released.
  static void finish(Waiter* w, ChanStatus result) noexcept {
    w->result = result;
    w->parker.signal(detail::Parker::kDone);
  }

  ChanStatus send_impl(T& value, detail::Deadline deadline, std::stop_token* stop) {
    std::unique_lock lk(mu_);
    if (closed_.load(std::memory_order_relaxed)) return ChanStatus::closed;
    if (Waiter* r = recvq_.pop_front()) {  // direct hand-off; the buffer is empty
      r->dst->emplace(std::move(value));
      lk.unlock();
      finish(r, ChanStatus::ok);
      return ChanStatus::ok;
    }
    if (count_ < cap_) {
      push_buffer(std::move(value));
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

  ChanStatus recv_impl(std::optional<T>& dst, detail::Deadline deadline, std::stop_token* stop) {
    std::unique_lock lk(mu_);
    if (count_ > 0) {
      dst.emplace(pop_buffer());
      if (Waiter* s = sendq_.pop_front()) {  // the buffer was full: refill from a parked sender
        push_buffer(std::move(*s->src));
        lk.unlock();
        finish(s, ChanStatus::ok);
      }
      return ChanStatus::ok;
    }
    if (Waiter* s = sendq_.pop_front()) {  // unbuffered: take straight from the sender
      dst.emplace(std::move(*s->src));
      lk.unlock();
      finish(s, ChanStatus::ok);
      return ChanStatus::ok;
    }
    if (closed_.load(std::memory_order_relaxed)) return ChanStatus::closed;
    if (deadline.expired()) return ChanStatus::timeout;
    if (stop != nullptr && stop->stop_requested()) return ChanStatus::cancelled;
    Waiter w;
    w.dst = &dst;
    recvq_.push_back(&w);
    lk.unlock();
    return wait(w, recvq_, deadline, stop);
  }

  // Waits for a peer or close() to complete `w`; on timeout or cancellation,
  // withdraws it unless someone already unlinked it (then that decision wins).
  ChanStatus wait(Waiter& w, WaitQueue& q, const detail::Deadline& deadline, std::stop_token* stop) {
    std::optional<std::stop_callback<Interrupt>> on_stop;
    if (stop != nullptr) on_stop.emplace(*stop, Interrupt{&w.parker});
    std::uint32_t s = w.parker.wait(detail::Parker::kDone | detail::Parker::kInterrupted, deadline.get());
    if ((s & detail::Parker::kDone) == 0) {
      std::unique_lock lk(mu_);
      if (w.linked) {
        q.remove(&w);
        return (s & detail::Parker::kInterrupted) != 0 ? ChanStatus::cancelled : ChanStatus::timeout;
      }
      lk.unlock();
      w.parker.wait(detail::Parker::kDone);  // unlinked by a peer that is finishing now
    }
    return w.result;
  }

  mutable detail::SpinMutex mu_;
  const std::size_t cap_;
  [[no_unique_address]] std::allocator<T> alloc_;
  T* const buf_;
  std::size_t head_ = 0;   // guarded by mu_
  std::size_t count_ = 0;  // guarded by mu_
  WaitQueue sendq_;        // guarded by mu_
  WaitQueue recvq_;        // guarded by mu_
  std::atomic<bool> closed_{false};  // written under mu_; read without it by is_closed()
};

static_assert(TimedChannel<Channel<int>> && CancellableChannel<Channel<int>>);

}  // namespace conpat
