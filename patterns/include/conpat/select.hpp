// conpat/select.hpp — Go's select over conpat::Channel: wait on several
// receive and send cases at once and complete exactly one of them.
//
//   int v;
//   SelectResult r = conpat::select(recv_case(results, v),    // case 0
//                                   send_case(jobs, job));     // case 1
//   switch (r.index) { case 0: ... case 1: ... }
//
// Forms (every case of one select on channels with the same Wait policy,
// any capacity; a SendEnd or RecvEnd works wherever a Channel does):
//   select(cases...)                blocks until one case completes
//   select(stop, cases...)          ... or returns cancelled once `stop` is requested
//   select_for(timeout, cases...)   ... or returns timeout after `timeout`
//   select_until(deadline, ...)     ... or returns timeout at `deadline` (any clock)
//   select_for(timeout, stop, ...), select_until(deadline, stop, ...)   both
//   try_select(cases...)            never blocks: Go's `default:`, would_block
// Cases:
//   recv_case(ch, out)   receives into `out` (written only when the case completes with ok)
//   send_case(ch, v)     sends a copy of (or, from an rvalue, moves) `v`; if another case
//                        completes, nothing is sent
//
// The result: `index` is the position of the completed case in the
// argument list and `status` its outcome — ok (the value was received or
// sent) or closed (the channel is closed; for a receive, closed and
// drained) — or `index` is -1 and `status` is timeout, cancelled or
// would_block. A send on a closed channel completes its case with closed,
// as Channel::send returns closed (Go panics). The same channel may appear
// in several cases, and a select may send and receive on one channel (it
// never pairs with itself: another goroutine-equivalent must take part).
//
// Semantics (Go's): among the cases that can proceed one is chosen
// uniformly at random; a select blocks while none can; exactly one case
// takes effect — a value is never lost or delivered twice, when several
// cases become ready together, when a timeout or a stop races a hand-off,
// or when a channel is closed during the select. When a timeout or stop
// and a ready case race, either outcome may be reported, but never both.
// try_select and an expired timeout are linearisable as the try_ forms
// are: a value whose send completed before the call is seen. Before they
// answer would_block or timeout they look at every case twice, so a case
// made ready while they looked at the others, and still ready, is taken
// (Go locks every channel of a select instead and sees them all at one
// instant; two looks are what crossbeam-channel's Select takes too).
//
// How it works (Go's selectgo and crossbeam-channel's Select): a round
// first tries every case in a random order without waiting. If none can
// proceed it makes a context (detail/select_ctx.hpp: which case won, and
// one wake-up slot) and enrols every case with its channel — a waiter in
// the unbuffered channel's queue (which completes the case at once if a
// peer is already waiting), an entry in the buffered channel's waker —
// then sleeps. A peer that finds one of these entries claims the context
// for that case with a CAS; only the first claim of a round succeeds, and
// the other entries are dead to every peer. An unbuffered peer completes
// the hand-off itself; a buffered one only wakes the select, which then
// retries that case first (the value or the free slot it was woken for may
// have been taken meanwhile by an operation that never slept: then it
// starts a new round). A claimed select retries that case even when its
// timeout or stop fired meanwhile, so it never leaves with a wake-up
// unused: either it takes the value (or slot) it was woken for, or another
// operation did, and no plain waiter of that channel is left asleep beside
// a value or a free slot. On timeout or stop the select claims its own
// context (kAborted) and so can no longer be chosen. Leaving a round, it
// unlinks every entry still linked (none is, on the channel of an
// unbuffered case that decided the round: see Lifetime) and, if a peer
// claimed it, waits for that peer's signal, so no peer touches the context
// after the select returns.
//
// Lifetime (channel.hpp's contract: a peer whose operation returned may
// destroy its channel). A peer that completes an unbuffered case may do so
// as soon as it signalled, before the select has woken. So whoever decides
// a round for an unbuffered case unlinks all of the select's entries on
// that channel under its lock (detail/zero_flavor.hpp, drop_select), and
// the select never touches that channel again in the round. Where several
// cases share an unbuffered channel, the select enrols each of them while
// it is marked leaving (Parker::begin_leaving): a peer that completed an
// earlier of them waits in its signal until the enrolment is over, and
// once that signal came the select enrols nothing more there. A buffered
// case woken by a peer still takes the value or the slot it was woken for,
// so that channel stays in use by the select and alive by the contract.
//
// Memory ordering: as the channel operations the cases stand for: a
// receive case that completed with ok happens-after the send of its value,
// an unbuffered send case that completed with ok happens-after the receiver
// took it, and close() happens-before a case that completes with closed
// because of it.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <type_traits>
#include <utility>
#include <variant>

#include "conpat/chan_ends.hpp"
#include "conpat/chan_status.hpp"
#include "conpat/channel.hpp"
#include "conpat/detail/park.hpp"
#include "conpat/detail/select_ctx.hpp"
#include "conpat/detail/test_hook.hpp"

namespace conpat {

// The outcome of a select (see the header comment).
struct SelectResult {
  int index = -1;  // the completed case, or -1: nothing took effect
  ChanStatus status = ChanStatus::would_block;
  friend bool operator==(const SelectResult&, const SelectResult&) = default;
};

namespace detail {

struct ChannelAccess {
  template <class T, class Wait>
  static auto& flavor(Channel<T, Wait>& ch) noexcept {
    return ch.flavor_;
  }
  template <class T, class Wait>
  static Channel<T, Wait>& channel(const SendEnd<T, Wait>& e) noexcept {
    return *e.ch_;
  }
  template <class T, class Wait>
  static Channel<T, Wait>& channel(const RecvEnd<T, Wait>& e) noexcept {
    return *e.ch_;
  }
};

// One case of a select, as the engine below drives it.
template <class Wait>
class SelectCase {
 public:
  using Ctx = SelectCtx<typename Wait::Parker>;
  // One attempt without enrolling (linearize: as the try_ forms). ok, closed or blocked.
  virtual SelectStep attempt(bool linearize) = 0;
  // Enrols the case under `ctx` as case `index` (see SelectStep).
  virtual SelectStep enrol(Ctx& ctx, int index) = 0;
  // Unlinks the case's entry if it is still linked. Idempotent.
  virtual void withdraw() noexcept = 0;
  // After a peer claimed the context for this case and signalled: ok or
  // closed, or blocked (a buffered channel's value or slot went to another
  // operation first; the select starts a new round).
  virtual SelectStep claimed() = 0;
  // Looks at the channel (it must be in use) and returns its flavour if
  // it is unbuffered, else nullptr.
  virtual void* look() const noexcept = 0;

  // Filled by enrol_round before the case enrols (not on the fast path).
  // Once a round is decided for an unbuffered case, the select has no entry
  // left on its channel and must not touch it: claimed() and withdraw() go
  // by rdv, not by the channel (see the header comment, Lifetime).
  void* rdv;    // look()'s answer
  bool shared;  // another case of the select has the same unbuffered channel

 protected:
  SelectCase() = default;
  ~SelectCase() = default;
};

// A small per-thread generator for the random case order. Out of the
// compiler's sight (noipa): a select on fibers may resume on another
// thread after it slept, and an address of the thread-local computed before
// would still be the first thread's.
[[gnu::noipa]] inline std::uint32_t select_random(std::uint32_t bound) noexcept {
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
    seed ^= reinterpret_cast<std::uintptr_t>(&seed);
    return seed | 1;
  }();
  state ^= state << 13;  // xorshift64
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<std::uint32_t>(((state >> 32) * bound) >> 32);
}

template <class Parker>
struct SelectInterrupt {
  Parker* parker;
  void operator()() const noexcept { parker->signal(Parker::kInterrupted); }
};

// Fills each case's rdv and shared; true if two cases share an unbuffered channel.
template <class Wait>
bool find_shared_rendezvous(std::span<SelectCase<Wait>* const> cases) noexcept {
  bool any = false;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SelectCase<Wait>& c = *cases[i];
    c.rdv = c.look();
    c.shared = false;
    for (std::size_t j = 0; c.rdv != nullptr && j < i; ++j) {
      if (cases[j]->rdv == c.rdv) any = c.shared = cases[j]->shared = true;
    }
  }
  return any;
}

// One round after a try pass that found no case ready: enrol every case,
// sleep until a peer claims one (or the deadline or stop), withdraw, and
// finish the claimed case. nullopt: start a new round. Out of line: a
// select that completes in its try pass never comes here, and its fast
// path stays as small as before it had to look at its channels.
template <class Wait>
[[gnu::noinline]] std::optional<SelectResult> enrol_round(std::span<SelectCase<Wait>* const> cases, const int* order,
                                                          const Deadline& deadline, std::stop_token* stop) {
  using Ctx = typename SelectCase<Wait>::Ctx;
  using Parker = typename Wait::Parker;
  const int n = static_cast<int>(cases.size());
  Ctx ctx;
  ctx.shares_rendezvous = find_shared_rendezvous(cases);  // every channel is in use at the start of a round
  int enrolled = 0;  // cases enrolled, in `order`
  SelectStep outcome = SelectStep::enrolled;
  int done = -1;
  for (int k = 0; k < n && outcome == SelectStep::enrolled; ++k) {
    // A peer that completed another case on this channel may destroy it
    // once it signalled: enrol only while that signal waits (kLeaving).
    const bool guard = cases[order[k]]->shared;
    if (guard && !ctx.parker.begin_leaving()) {
      outcome = SelectStep::lost;
      break;
    }
    if (guard) CONPAT_TEST_HOOK("select.guarded");
    const SelectStep s = cases[order[k]]->enrol(ctx, order[k]);
    if (guard) ctx.parker.end_leaving();
    switch (s) {
      case SelectStep::enrolled:
        ++enrolled;
        CONPAT_TEST_HOOK("select.enrolled");
        break;
      case SelectStep::ready:  // linked, and may proceed now: give up the round
        ++enrolled;
        outcome = ctx.claim(Ctx::kAborted) ? SelectStep::retry : SelectStep::lost;
        break;
      case SelectStep::ok:
      case SelectStep::closed:  // completed while enrolling (unbuffered: it claimed ctx itself)
        done = order[k];
        outcome = s;
        break;
      default:  // lost, or retry (ctx claimed by this select itself: no signal comes)
        outcome = s;
        break;
    }
  }
  if (outcome == SelectStep::enrolled) {  // every case enrolled: sleep
    std::optional<std::stop_callback<SelectInterrupt<Parker>>> on_stop;
    if (stop != nullptr) on_stop.emplace(*stop, SelectInterrupt<Parker>{&ctx.parker});
    CONPAT_TEST_HOOK("select.sleeping");
    const std::uint32_t w = ctx.parker.wait(Parker::kDone | Parker::kInterrupted, deadline.get());
    outcome = (w & Parker::kDone) != 0 || !ctx.claim(Ctx::kAborted) ? SelectStep::lost : SelectStep::retry;
  }
  // The decided case's unbuffered channel holds no entry of ours any more
  // and may already be gone (header comment, Lifetime): leave it alone.
  const int decided = outcome == SelectStep::lost ? ctx.selected.load(std::memory_order_acquire) : done;
  const void* gone = decided >= 0 ? cases[decided]->rdv : nullptr;
  for (int k = 0; k < enrolled; ++k) {
    if (gone == nullptr || cases[order[k]]->rdv != gone) cases[order[k]]->withdraw();
  }
  if (outcome == SelectStep::ok) return SelectResult{done, ChanStatus::ok};
  if (outcome == SelectStep::closed) return SelectResult{done, ChanStatus::closed};
  if (outcome == SelectStep::lost) {
    // A peer claimed ctx for case `won`: wait for its signal (it may still
    // be touching ctx), then finish that case.
    ctx.parker.wait(Parker::kDone);
    const int won = ctx.selected.load(std::memory_order_acquire);
    const SelectStep s = cases[won]->claimed();
    if (s == SelectStep::ok) return SelectResult{won, ChanStatus::ok};
    if (s == SelectStep::closed) return SelectResult{won, ChanStatus::closed};
  }
  return std::nullopt;  // retry: a new round (its try pass answers timeout or cancelled if due)
}

// The select loop. `order` has room for cases.size() ints. `nonblocking`:
// try_select.
template <class Wait>
SelectResult run_select(std::span<SelectCase<Wait>* const> cases, int* order, const Deadline& deadline,
                        std::stop_token* stop, bool nonblocking) {
  const int n = static_cast<int>(cases.size());
  for (int i = 0; i < n; ++i) order[i] = i;
  for (int round = 0;; ++round) {
    // A fresh random order per round (Fisher–Yates): the uniform choice among ready cases.
    for (int i = n - 1; i > 0; --i) std::swap(order[i], order[select_random(static_cast<std::uint32_t>(i + 1))]);
    const bool last = nonblocking || deadline.expired();
    // A select about to answer would_block or timeout looks a second time:
    // the first pass looks at one case after another, and a case another
    // thread made ready after the pass had looked at it, while a case it
    // looked at later was emptied (or filled), would be missed. Go's
    // TestNonblockSelectRace fails that way under ThreadSanitizer with one
    // pass (go_chan_test.cpp).
    for (int pass = last ? 2 : 1; pass > 0; --pass) {
      for (int k = 0; k < n; ++k) {
        const SelectStep s = cases[order[k]]->attempt(last);
        if (s == SelectStep::ok) return {order[k], ChanStatus::ok};
        if (s == SelectStep::closed) return {order[k], ChanStatus::closed};
      }
    }
    if (nonblocking) return {-1, ChanStatus::would_block};
    if (last) return {-1, ChanStatus::timeout};
    if (stop != nullptr && stop->stop_requested()) return {-1, ChanStatus::cancelled};
    if (round > 0) Wait::relax(round < 8 ? round : 8);  // a round that found a case ready but lost it
    if (std::optional<SelectResult> r = enrol_round<Wait>(cases, order, deadline, stop)) return *r;
  }
}

template <class T, class Wait>
class RecvCaseImpl final : public SelectCase<Wait> {
  using Ctx = typename SelectCase<Wait>::Ctx;
  using Array = ArrayFlavor<T, Wait>;
  using Zero = ZeroFlavor<T, Wait>;

 public:
  RecvCaseImpl(Channel<T, Wait>& ch, T& out) : ch_(ch), out_(out) {}
  RecvCaseImpl(const RecvCaseImpl&) = delete;  // non-copyable and non-movable: entries link to it
  RecvCaseImpl& operator=(const RecvCaseImpl&) = delete;

  SelectStep attempt(bool linearize) override {
    if (Array* a = array()) {
      auto put = [this](T&& x) { out_ = std::move(x); };
      return a->select_try_recv(put, linearize);
    }
    return take(zero().select_try_recv(slot_));
  }
  SelectStep enrol(Ctx& ctx, int index) override {
    if (Array* a = array()) {
      entry_.sel = &ctx;
      entry_.index = index;
      return a->select_enrol_recv(entry_, stall_);
    }
    return take(zero().select_enrol_recv(waiter_, slot_, ctx, index));
  }
  void withdraw() noexcept override {
    if (Zero* z = recorded()) {
      z->select_withdraw(waiter_);
    } else {
      array()->select_withdraw_recv(entry_);
    }
  }
  SelectStep claimed() override {
    if (recorded() == nullptr) return attempt(true);
    if (waiter_.result != ChanStatus::ok) return SelectStep::closed;
    out_ = std::move(*waiter_.slot);
    waiter_.slot.reset();
    return SelectStep::ok;
  }
  void* look() const noexcept override { return std::get_if<Zero>(&ChannelAccess::flavor(ch_)); }

 private:
  // attempt() and enrol() look at the channel (it is in use then);
  // claimed() and withdraw() go by rdv (recorded() below).
  Array* array() noexcept { return std::get_if<Array>(&ChannelAccess::flavor(ch_)); }
  Zero& zero() noexcept { return std::get<Zero>(ChannelAccess::flavor(ch_)); }
  Zero* recorded() const noexcept { return static_cast<Zero*>(this->rdv); }
  SelectStep take(SelectStep s) {  // the unbuffered forms received into slot_
    if (s == SelectStep::ok) {
      out_ = std::move(*slot_);
      slot_.reset();
    }
    return s;
  }

  Channel<T, Wait>& ch_;
  T& out_;
  std::optional<T> slot_;
  typename Array::SelectEntry entry_;
  typename Array::SelectStall stall_;
  typename Zero::Waiter waiter_;
};

template <class T, class Wait>
class SendCaseImpl final : public SelectCase<Wait> {
  using Ctx = typename SelectCase<Wait>::Ctx;
  using Array = ArrayFlavor<T, Wait>;
  using Zero = ZeroFlavor<T, Wait>;

 public:
  SendCaseImpl(Channel<T, Wait>& ch, T value) : ch_(ch), value_(std::move(value)) {}
  SendCaseImpl(const SendCaseImpl&) = delete;  // non-copyable and non-movable: entries link to it
  SendCaseImpl& operator=(const SendCaseImpl&) = delete;

  SelectStep attempt(bool linearize) override {
    if (Array* a = array()) return a->select_try_send(value_, linearize);
    return zero().select_try_send(value_);
  }
  SelectStep enrol(Ctx& ctx, int index) override {
    if (Array* a = array()) {
      entry_.sel = &ctx;
      entry_.index = index;
      return a->select_enrol_send(entry_, stall_);
    }
    return zero().select_enrol_send(waiter_, value_, ctx, index);
  }
  void withdraw() noexcept override {
    if (Zero* z = recorded()) {
      z->select_withdraw(waiter_);
    } else {
      array()->select_withdraw_send(entry_);
    }
  }
  SelectStep claimed() override {
    if (recorded() == nullptr) return attempt(true);
    return waiter_.result == ChanStatus::ok ? SelectStep::ok : SelectStep::closed;
  }
  void* look() const noexcept override { return std::get_if<Zero>(&ChannelAccess::flavor(ch_)); }

 private:
  // attempt() and enrol() look at the channel (it is in use then);
  // claimed() and withdraw() go by rdv (recorded() below).
  Array* array() noexcept { return std::get_if<Array>(&ChannelAccess::flavor(ch_)); }
  Zero& zero() noexcept { return std::get<Zero>(ChannelAccess::flavor(ch_)); }
  Zero* recorded() const noexcept { return static_cast<Zero*>(this->rdv); }

  Channel<T, Wait>& ch_;
  T value_;
  typename Array::SelectEntry entry_;
  typename Array::SelectStall stall_;
  typename Zero::Waiter waiter_;
};

template <class C>
struct IsSelectCase : std::false_type {};
template <class T, class Wait>
struct IsSelectCase<RecvCaseImpl<T, Wait>> : std::true_type {
  using wait = Wait;
};
template <class T, class Wait>
struct IsSelectCase<SendCaseImpl<T, Wait>> : std::true_type {
  using wait = Wait;
};

template <class C>
concept SelectCaseArg = IsSelectCase<std::remove_cvref_t<C>>::value;

template <class... Cases>
struct SelectWaitOf;
template <class First, class... Rest>
struct SelectWaitOf<First, Rest...> {
  using type = typename IsSelectCase<std::remove_cvref_t<First>>::wait;
};

template <class... Cases>
SelectResult select_impl(const Deadline& deadline, std::stop_token* stop, bool nonblocking, Cases&... cases) {
  static_assert(sizeof...(Cases) >= 1, "a select needs at least one case");
  using Wait = typename SelectWaitOf<Cases...>::type;
  static_assert((std::is_same_v<typename IsSelectCase<std::remove_cvref_t<Cases>>::wait, Wait> && ...),
                "every case of one select must use the same Wait policy");
  std::array<SelectCase<Wait>*, sizeof...(Cases)> ptrs{static_cast<SelectCase<Wait>*>(&cases)...};
  std::array<int, sizeof...(Cases)> order{};
  return run_select<Wait>(std::span<SelectCase<Wait>* const>(ptrs), order.data(), deadline, stop, nonblocking);
}

}  // namespace detail

// A receive case: on ok, the received value is in `out`.
template <class T, class Wait>
detail::RecvCaseImpl<T, Wait> recv_case(Channel<T, Wait>& ch, T& out) {
  return detail::RecvCaseImpl<T, Wait>(ch, out);
}
template <class T, class Wait>
detail::RecvCaseImpl<T, Wait> recv_case(const RecvEnd<T, Wait>& end, T& out) {
  return detail::RecvCaseImpl<T, Wait>(detail::ChannelAccess::channel(end), out);
}

// A send case: sends `value` (held by the case until it is sent).
template <class T, class Wait, class V>
  requires std::constructible_from<T, V&&>
detail::SendCaseImpl<T, Wait> send_case(Channel<T, Wait>& ch, V&& value) {
  return detail::SendCaseImpl<T, Wait>(ch, T(std::forward<V>(value)));
}
template <class T, class Wait, class V>
  requires std::constructible_from<T, V&&>
detail::SendCaseImpl<T, Wait> send_case(const SendEnd<T, Wait>& end, V&& value) {
  return detail::SendCaseImpl<T, Wait>(detail::ChannelAccess::channel(end), T(std::forward<V>(value)));
}

// Blocks until one case completes.
template <detail::SelectCaseArg... Cases>
SelectResult select(Cases&&... cases) {
  return detail::select_impl(detail::Deadline{}, nullptr, false, cases...);
}

// As select(cases...), or {-1, cancelled} once `stop` is requested and no case completed.
template <detail::SelectCaseArg... Cases>
SelectResult select(std::stop_token stop, Cases&&... cases) {
  return detail::select_impl(detail::Deadline{}, &stop, false, cases...);
}

// As select(cases...), or {-1, timeout} after `timeout`. A zero or negative
// timeout behaves like try_select, answering timeout.
template <class Rep, class Period, detail::SelectCaseArg... Cases>
SelectResult select_for(std::chrono::duration<Rep, Period> timeout, Cases&&... cases) {
  return detail::select_impl(detail::deadline_after(timeout), nullptr, false, cases...);
}

// As select_for, with an absolute deadline on any clock.
template <class Clock, class Duration, detail::SelectCaseArg... Cases>
SelectResult select_until(std::chrono::time_point<Clock, Duration> deadline, Cases&&... cases) {
  return detail::select_impl(detail::deadline_at(deadline), nullptr, false, cases...);
}

// With both a timeout (or deadline) and a stop token: Go's select over a
// result, ctx.Done() and time.After.
template <class Rep, class Period, detail::SelectCaseArg... Cases>
SelectResult select_for(std::chrono::duration<Rep, Period> timeout, std::stop_token stop, Cases&&... cases) {
  return detail::select_impl(detail::deadline_after(timeout), &stop, false, cases...);
}
template <class Clock, class Duration, detail::SelectCaseArg... Cases>
SelectResult select_until(std::chrono::time_point<Clock, Duration> deadline, std::stop_token stop,
                          Cases&&... cases) {
  return detail::select_impl(detail::deadline_at(deadline), &stop, false, cases...);
}

// Never blocks (Go's select with a default case): completes a case that
// can proceed now, or returns {-1, would_block}.
template <detail::SelectCaseArg... Cases>
SelectResult try_select(Cases&&... cases) {
  return detail::select_impl(detail::Deadline{}, nullptr, true, cases...);
}

}  // namespace conpat
