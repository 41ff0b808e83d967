// conpat/chan_ends.hpp — direction-typed ends of a conpat::Channel, Go's
// `chan<- T` (SendEnd) and `<-chan T` (RecvEnd), crossbeam's Sender and
// Receiver. An end is a view: it refers to a Channel it does not own (except
// the ends fan_in returns, which share the ownership of their channel), is
// cheap to copy (a pointer, and an empty shared owner), and exposes only its
// side's operations — blocking, cancellable, timed and try — so the compiler
// rejects a receive on a send end and a send on a receive end. close() belongs
// to the sending side, as in Go.
//
//   conpat::Channel<int> ch(16);
//   conpat::SendEnd<int> tx = ch;     // implicit, as Go converts chan T to chan<- T
//   conpat::RecvEnd<int> rx = ch;
//   producer(tx); consumer(rx);       // void producer(SendEnd<int>); void consumer(RecvEnd<int>)
//
// Semantics and memory ordering are the channel's (conpat/channel.hpp): every
// operation forwards to it, inline. An end must not outlive the channel it
// refers to (a dangling end, like a dangling reference, is undefined). A
// default-constructed end refers to no channel; only assignment and
// `valid()` may be used on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <utility>

#include "conpat/channel.hpp"

namespace conpat {

template <class T, class Wait = ThreadWait>
class SendEnd {
 public:
  using value_type = T;
  using channel_type = Channel<T, Wait>;

  SendEnd() = default;
  SendEnd(channel_type& ch) noexcept : ch_(&ch) {}  // NOLINT(google-explicit-constructor): Go converts implicitly
  // An end that shares ownership of its channel (fan_in's result).
  SendEnd(channel_type& ch, std::shared_ptr<void> owner) noexcept : ch_(&ch), owner_(std::move(owner)) {}

  ChanStatus send(T value) const { return ch_->send(std::move(value)); }
  ChanStatus send(T value, std::stop_token stop) const { return ch_->send(std::move(value), std::move(stop)); }
  template <class Rep, class Period>
  ChanStatus send_for(T value, std::chrono::duration<Rep, Period> timeout) const {
    return ch_->send_for(std::move(value), timeout);
  }
  template <class Clock, class Duration>
  ChanStatus send_until(T value, std::chrono::time_point<Clock, Duration> deadline) const {
    return ch_->send_until(std::move(value), deadline);
  }
  ChanStatus try_send(T value) const { return ch_->try_send(std::move(value)); }

  // Closes the channel (true if this call closed it); see Channel::close.
  bool close() const noexcept { return ch_->close(); }
  bool is_closed() const noexcept { return ch_->is_closed(); }
  std::size_t capacity() const noexcept { return ch_->capacity(); }
  std::size_t size() const noexcept { return ch_->size(); }

  bool valid() const noexcept { return ch_ != nullptr; }
  // Two ends are equal when they refer to the same channel.
  friend bool operator==(const SendEnd& a, const SendEnd& b) noexcept { return a.ch_ == b.ch_; }

 private:
  friend struct detail::ChannelAccess;
  channel_type* ch_ = nullptr;
  std::shared_ptr<void> owner_;  // empty unless the end shares ownership of *ch_
};

template <class T, class Wait = ThreadWait>
class RecvEnd {
 public:
  using value_type = T;
  using channel_type = Channel<T, Wait>;

  RecvEnd() = default;
  RecvEnd(channel_type& ch) noexcept : ch_(&ch) {}  // NOLINT(google-explicit-constructor): Go converts implicitly
  // An end that shares ownership of its channel (fan_in's result).
  RecvEnd(channel_type& ch, std::shared_ptr<void> owner) noexcept : ch_(&ch), owner_(std::move(owner)) {}

  ChanStatus recv(T& out) const { return ch_->recv(out); }
  ChanStatus recv(T& out, std::stop_token stop) const { return ch_->recv(out, std::move(stop)); }
  template <class Rep, class Period>
  ChanStatus recv_for(T& out, std::chrono::duration<Rep, Period> timeout) const {
    return ch_->recv_for(out, timeout);
  }
  template <class Clock, class Duration>
  ChanStatus recv_until(T& out, std::chrono::time_point<Clock, Duration> deadline) const {
    return ch_->recv_until(out, deadline);
  }
  ChanStatus try_recv(T& out) const { return ch_->try_recv(out); }
  std::optional<T> recv() const { return ch_->recv(); }

  bool is_closed() const noexcept { return ch_->is_closed(); }
  std::size_t capacity() const noexcept { return ch_->capacity(); }
  std::size_t size() const noexcept { return ch_->size(); }

  // for (T v : rx) receives until the channel is closed and drained.
  typename channel_type::iterator begin() const { return ch_->begin(); }
  std::default_sentinel_t end() const noexcept { return {}; }

  bool valid() const noexcept { return ch_ != nullptr; }
  friend bool operator==(const RecvEnd& a, const RecvEnd& b) noexcept { return a.ch_ == b.ch_; }

 private:
  friend struct detail::ChannelAccess;
  channel_type* ch_ = nullptr;
  std::shared_ptr<void> owner_;  // empty unless the end shares ownership of *ch_
};

// The ends of a channel, named (for code that prefers a call to a conversion).
template <class T, class Wait>
SendEnd<T, Wait> send_end(Channel<T, Wait>& ch) noexcept {
  return SendEnd<T, Wait>(ch);
}
template <class T, class Wait>
RecvEnd<T, Wait> recv_end(Channel<T, Wait>& ch) noexcept {
  return RecvEnd<T, Wait>(ch);
}

}  // namespace conpat
