// conpat/detail/ring_front.hpp — the blocking, timed and cancellable face of
// a lock-free ring, written once for SpscRing and MpmcRing (CRTP).
//
// The ring (Derived) provides the non-blocking core:
//   ChanStatus try_push(T& v);        ok | closed | would_block (v untouched unless ok)
//   ChanStatus try_pop(Sink&& sink);  ok (sink(T&&) called) | closed (closed and drained) | would_block
//   bool push_ready() const;          space available, or closed
//   bool pop_ready() const;           a value available, or closed and drained
// The predicates may say true spuriously (the caller retries) but never
// false when ready: a false answer lets the caller park.
//   Doorbell not_full_, not_empty_;   rung after every pop and push
// and this front adds send/recv with waits that spin, yield, then park.
#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <thread>

#include "conpat/chan_status.hpp"
#include "conpat/detail/doorbell.hpp"
#include "conpat/detail/park.hpp"

namespace conpat::detail {

// Reads a ring's ready predicates (the contract above, between a ring and
// this front) from outside it, for tests; rings befriend it.
struct RingProbe {
  template <class Ring>
  static bool push_ready(const Ring& r) noexcept { return r.push_ready(); }
  template <class Ring>
  static bool pop_ready(const Ring& r) noexcept { return r.pop_ready(); }
};

template <class Derived, class T>
class RingFront {
 public:
  using value_type = T;

  ChanStatus send(T value) { return send_impl(value, Deadline{}, nullptr); }
  ChanStatus send(T value, std::stop_token stop) { return send_impl(value, Deadline{}, &stop); }
  template <class Rep, class Period>
  ChanStatus send_for(T value, std::chrono::duration<Rep, Period> timeout) {
    return send_impl(value, deadline_after(timeout), nullptr);
  }
  template <class C, class D>
  ChanStatus send_until(T value, std::chrono::time_point<C, D> deadline) {
    return send_impl(value, deadline_at(deadline), nullptr);
  }
  ChanStatus try_send(T value) { return self().try_push(value); }

  ChanStatus recv(T& out) { return recv_impl(out, Deadline{}, nullptr); }
  ChanStatus recv(T& out, std::stop_token stop) { return recv_impl(out, Deadline{}, &stop); }
  template <class Rep, class Period>
  ChanStatus recv_for(T& out, std::chrono::duration<Rep, Period> timeout) {
    return recv_impl(out, deadline_after(timeout), nullptr);
  }
  template <class C, class D>
  ChanStatus recv_until(T& out, std::chrono::time_point<C, D> deadline) {
    return recv_impl(out, deadline_at(deadline), nullptr);
  }
  ChanStatus try_recv(T& out) {
    return self().try_pop([&](T&& v) { out = std::move(v); });
  }
  std::optional<T> recv() {
    std::optional<T> v;
    for (int retry = 0;; ++retry) {
      ChanStatus s = self().try_pop([&](T&& x) { v.emplace(std::move(x)); });
      if (s != ChanStatus::would_block) return v;
      backoff(retry);
      self().not_empty_.wait([this] { return self().pop_ready(); });
    }
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }

  // Between retries after a wait said "ready": a peer's announcement (see
  // the rings' "Lifetime") makes the ready predicate true a few
  // instructions before the operation can succeed; a peer preempted in
  // that window must not make this thread spin flat out.
  static void backoff(int retry) noexcept {
    if (retry == 0) return;
    if (retry < 16 && multi_cpu()) {
      spin_pause();
    } else {
      std::this_thread::yield();
    }
  }

  struct Wake {
    Doorbell* bell;
    void operator()() const noexcept { bell->notify_all(); }
  };

  // Waits until ready() or the stop/deadline ends the wait: ok means "try again".
  template <class Ready>
  static ChanStatus block(Doorbell& bell, Ready ready, const Deadline& deadline, std::stop_token* stop) {
    if (deadline.expired()) return ChanStatus::timeout;
    if (stop == nullptr) {
      return bell.wait(ready, deadline.get()) ? ChanStatus::ok : ChanStatus::timeout;
    }
    if (stop->stop_requested()) return ChanStatus::cancelled;
    std::stop_callback<Wake> on_stop(*stop, Wake{&bell});
    bool woke = bell.wait([&] { return ready() || stop->stop_requested(); }, deadline.get());
    if (!woke) return ChanStatus::timeout;
    if (!ready() && stop->stop_requested()) return ChanStatus::cancelled;
    return ChanStatus::ok;
  }

  ChanStatus send_impl(T& value, const Deadline& deadline, std::stop_token* stop) {
    for (int retry = 0;; ++retry) {
      ChanStatus s = self().try_push(value);
      if (s != ChanStatus::would_block) return s;
      backoff(retry);
      s = block(self().not_full_, [this] { return self().push_ready(); }, deadline, stop);
      if (s != ChanStatus::ok) return s;
    }
  }

  ChanStatus recv_impl(T& out, const Deadline& deadline, std::stop_token* stop) {
    for (int retry = 0;; ++retry) {
      ChanStatus s = self().try_pop([&](T&& v) { out = std::move(v); });
      if (s != ChanStatus::would_block) return s;
      backoff(retry);
      s = block(self().not_empty_, [this] { return self().pop_ready(); }, deadline, stop);
      if (s != ChanStatus::ok) return s;
    }
  }
};

}  // namespace conpat::detail
