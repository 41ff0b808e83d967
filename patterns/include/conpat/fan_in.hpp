// conpat/fan_in.hpp — fan_in: merge many receive ends into one, Go's
// `FanIn[T](ctx, chans...)`. Forwarders (OS threads with ThreadWait,
// Boost.Fiber fibers with FiberWait) receive from the inputs and send into
// a new channel; the caller gets the new channel's RecvEnd.
//
// Forwarders: each unbuffered input has its own, as in Go's FanIn (a
// goroutine per input). The buffered inputs share one per 64 of them (per 8
// with fibers), which takes a burst of what each holds in turn and blocks
// in a select over them only when none holds anything: a forwarder per
// input puts a second thread behind every producer, and with more threads
// than CPUs each hand-off waits for the scheduler (channel.merge at capacity 16 with 64 inputs:
// benches/README.md). Unbuffered inputs hold nothing to take in a burst,
// and a select over many of them costs a lock per input per round.
//
//   conpat::Channel<int> a(16), b(16);
//   std::stop_source src;
//   conpat::RecvEnd<int> merged = conpat::fan_in(src.get_token(), a, b);
//   for (int v : merged) use(v);            // until a and b are closed and drained
//
// Contract:
// - Every value received from an input is delivered at most once, and each
//   input's values arrive in that input's order (FIFO per input; no order
//   between inputs). Until stop, every value of every input is delivered.
// - The merged channel closes once every input is closed and drained and its
//   last value was delivered (or buffered, with a capacity).
// - Once `stop` is requested, the merged channel is closed and emptied before
//   request_stop() returns: a later recv answers closed, nothing more is
//   delivered. A value a forwarder had taken from its input but not yet
//   delivered is dropped, as in Go's FanIn (its goroutine returns holding it).
//   Forwarders blocked in recv or send wake (cancellable operations with an
//   internal stop token) and end; none is left blocked.
//
// Ownership: the forwarders and the merged channel belong to a shared state
// that the returned RecvEnd (and every copy of it) holds. When the last copy
// goes, the state stops the forwarders (as a stop would), joins them and
// frees the channel: dropping the merged end without draining it leaks no
// thread or fiber. The inputs are not owned — each must outlive the merge
// (unless it is itself an owning end, such as another fan_in's result) — and
// are never closed by fan_in. The destructor of the last copy blocks until
// every forwarder has returned (each at its next channel operation), so it
// must not run on a fiber the forwarders need to make progress: with
// FiberWait, drop the end on a thread whose scheduler is not the only one
// able to run the forwarders, or after stop/close has ended them.
//
// Forwarders with FiberWait are posted to the calling thread's fiber
// scheduler (with a shared or work-stealing scheduler they may run on any of
// its threads); the calling thread must keep running fibers (block in a
// fiber-aware wait, e.g. a FiberWait recv) for them to make progress.
//
// Memory ordering: a recv on the merged end that returns a value
// happens-after the input's send of that value (two channel hand-offs).
#pragma once

#include <boost/fiber/fiber.hpp>

#include <atomic>
#include <concepts>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "conpat/chan_ends.hpp"
#include "conpat/channel.hpp"
#include "conpat/fiber_wait.hpp"
#include "conpat/select.hpp"

namespace conpat {
namespace detail {

// How forwarders run, by waiting policy: OS threads for ThreadWait (a
// forwarder blocks its thread), fibers for FiberWait.
// kGroup: buffered inputs per forwarder. A pass and a select look at every
// input of the group, so where few inputs hold values (one value in flight
// on a random one of 64 or 1,000 inputs) a value costs more the larger the
// group: with fibers 0.3-0.5 µs a forwarder per input, 0.5 µs groups of 4,
// 0.7 µs of 8, 4 µs of 64; a thread group of 64 took 3-30 µs there, where
// a thread per input took 75-190 µs (waking one of many sleeping threads).
// Where every input is busy, groups of 8 fibers are as fast as groups of 64
// up to 8 inputs (channel.merge: benches/README.md).
template <class Wait>
struct ForwarderRunner {
  static constexpr std::size_t kGroup = 64;
  std::vector<std::thread> workers;
  template <class F>
  void spawn(F&& f) { workers.emplace_back(std::forward<F>(f)); }
  void join() {
    for (auto& w : workers) {
      if (w.joinable()) w.join();
    }
  }
};
template <>
struct ForwarderRunner<FiberWait> {
  static constexpr std::size_t kGroup = 8;
  std::vector<boost::fibers::fiber> workers;
  template <class F>
  void spawn(F&& f) { workers.emplace_back(boost::fibers::launch::post, std::forward<F>(f)); }
  void join() {
    for (auto& w : workers) {
      if (w.joinable()) w.join();
    }
  }
};

// The merged channel and its forwarders; owned by the returned RecvEnds.
template <class T, class Wait>
class FanInState {
 public:
  FanInState(std::size_t capacity, std::vector<RecvEnd<T, Wait>> inputs)
      : out_(capacity),
        inputs_(std::move(inputs)),
        groups_(plan(inputs_)),
        live_(groups_.size()),
        stops_(groups_.size()) {}

  FanInState(const FanInState&) = delete;  // non-copyable and non-movable
  FanInState& operator=(const FanInState&) = delete;

  ~FanInState() {
    on_user_stop_.reset();  // waits for a callback running on another thread
    stop_all();
    runner_.join();
  }

  // Starts the forwarders, then follows the caller's stop token. Called
  // once, after construction (the forwarders refer to this object).
  void start(std::stop_token user_stop) {
    if (inputs_.empty()) out_.close();
    for (std::size_t f = 0; f < groups_.size(); ++f) {
      if (groups_[f].size() == 1) {
        runner_.spawn([this, f] { forward(inputs_[groups_[f][0]], stops_[f].get_token()); });
      } else {
        runner_.spawn([this, f] { forward_group(groups_[f], stops_[f].get_token()); });
      }
    }
    // Runs at once if stop is already requested.
    on_user_stop_.emplace(std::move(user_stop), Stopper{this});
  }

  Channel<T, Wait>& out() noexcept { return out_; }

 private:
  struct Stopper {
    FanInState* self;
    void operator()() const noexcept { self->stop_all(); }
  };

  // Stops the forwarders, closes the merged channel and drops what it still
  // buffers: after this, a recv on it answers closed.
  void stop_all() noexcept {
    for (auto& s : stops_) s.request_stop();
    out_.close();
    T drop{};
    while (out_.try_recv(drop) == ChanStatus::ok) {}
  }

  // GCC 12 warns that the stop_token copies in the loop may use a freed
  // pointer: a false positive (the source, a member, outlives the loop and
  // holds a reference to the shared state throughout).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
  void forward(RecvEnd<T, Wait> in, const std::stop_token tok) {
    T v{};
    while (in.recv(v, tok) == ChanStatus::ok) {
      if (out_.send(std::move(v), tok) != ChanStatus::ok) break;
    }
    finish_forwarder();
  }

  // Which inputs each forwarder reads: one forwarder for up to kGroup
  // buffered inputs, and one for each unbuffered input.
  static std::vector<std::vector<std::size_t>> plan(const std::vector<RecvEnd<T, Wait>>& inputs) {
    std::vector<std::vector<std::size_t>> groups;
    std::vector<std::size_t> buffered;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].capacity() == 0) {
        groups.push_back({i});
      } else {
        buffered.push_back(i);
        if (buffered.size() == kGroup) groups.push_back(std::exchange(buffered, {}));
      }
    }
    if (!buffered.empty()) groups.push_back(std::move(buffered));
    return groups;
  }

  // The forwarder of several (buffered) inputs: takes what they hold
  // without blocking, a burst from each in turn (one reader per input
  // keeps each input's order), and blocks in a select over the open inputs
  // only when a whole pass found nothing.
  void forward_group(std::vector<std::size_t> open, std::stop_token tok) {
    T v{};
    std::deque<RecvCaseImpl<T, Wait>> cases;  // the select's cases, rebuilt when an input closes
    std::vector<SelectCase<Wait>*> ptrs;
    std::vector<int> order;
    auto rebuild = [&] {
      cases.clear(), ptrs.clear();
      for (std::size_t i : open) ptrs.push_back(&cases.emplace_back(ChannelAccess::channel(inputs_[i]), v));
      order.resize(ptrs.size());
    };
    rebuild();
    std::size_t first = 0;  // where a pass starts: every input gets to go first in turn
    while (!open.empty()) {
      bool took = false, closed_one = false;
      for (std::size_t k = 0; k < open.size(); ++k) {
        // The select's own attempt, not try_recv: a value whose sender is
        // still writing it answers "blocked" here rather than holding up
        // the whole group (try_recv waits for that sender); the select
        // below waits for it as a blocking recv would.
        const std::size_t j = (first + k) % open.size();
        SelectStep s = SelectStep::ok;
        for (int n = 0; n < kBurst && (s = cases[j].attempt(false)) == SelectStep::ok; ++n) {
          took = true;
          if (out_.send(std::move(v), tok) != ChanStatus::ok) return finish_forwarder();
        }
        if (s == SelectStep::closed) open[j] = kClosed, closed_one = true;
      }
      if (closed_one) {
        std::erase(open, kClosed);
        rebuild();
      }
      if (open.empty()) break;
      first = (first + 1) % open.size();
      if (took) continue;
      const SelectResult r = run_select<Wait>(std::span<SelectCase<Wait>* const>(ptrs), order.data(), Deadline{}, &tok, false);
      if (r.status == ChanStatus::cancelled) break;
      if (r.status == ChanStatus::closed) {
        open.erase(open.begin() + r.index);
        rebuild();
      } else if (out_.send(std::move(v), tok) != ChanStatus::ok) {
        break;
      }
    }
    finish_forwarder();
  }

  // The last forwarder to finish closes the merged channel (Go: wg.Wait(); close(out)).
  void finish_forwarder() noexcept {
    if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1) out_.close();
  }

  static constexpr int kBurst = 64;  // values taken from one input before the next gets a turn
  static constexpr std::size_t kGroup = ForwarderRunner<Wait>::kGroup;
  static constexpr std::size_t kClosed = ~std::size_t{0};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

  Channel<T, Wait> out_;
  std::vector<RecvEnd<T, Wait>> inputs_;
  std::vector<std::vector<std::size_t>> groups_;  // the inputs of each forwarder
  std::atomic<std::size_t> live_;  // forwarders still running
  // Internal stop, one source per forwarder (user stop, or the last owner
  // gone): a channel operation copies its token, and copies of one token
  // shared by every forwarder contend on its reference count.
  std::vector<std::stop_source> stops_;
  ForwarderRunner<Wait> runner_;
  std::optional<std::stop_callback<Stopper>> on_user_stop_;
};

template <class X>
struct recv_end_of {};  // no `type`: X is not a receive end or a Channel
template <class T, class Wait>
struct recv_end_of<RecvEnd<T, Wait>> {
  using type = RecvEnd<T, Wait>;
};
template <class T, class Wait>
struct recv_end_of<Channel<T, Wait>> {
  using type = RecvEnd<T, Wait>;
};
template <class X>
using recv_end_of_t = typename recv_end_of<std::remove_cvref_t<X>>::type;

template <class T, class Wait>
RecvEnd<T, Wait> start_fan_in(std::stop_token stop, std::vector<RecvEnd<T, Wait>> inputs, std::size_t capacity) {
  static_assert(std::default_initializable<T>, "fan_in: the forwarders receive into a T, which must be default-constructible");
  auto state = std::make_shared<FanInState<T, Wait>>(capacity, std::move(inputs));
  state->start(std::move(stop));
  Channel<T, Wait>& out = state->out();
  return RecvEnd<T, Wait>(out, std::move(state));
}

}  // namespace detail

// Merges the given receive ends (or Channels, converted to their receive
// ends) into a new unbuffered channel, as Go's FanIn. All inputs must have
// the same value type and waiting policy.
template <class First, class... Rest>
  requires requires { typename detail::recv_end_of_t<First>; } &&
           (std::same_as<detail::recv_end_of_t<First>, detail::recv_end_of_t<Rest>> && ...)
auto fan_in(std::stop_token stop, First&& first, Rest&&... rest) {
  using End = detail::recv_end_of_t<First>;
  std::vector<End> inputs{End(first), End(rest)...};
  return detail::start_fan_in(std::move(stop), std::move(inputs), 0);
}

// Merges a range of receive ends into a new channel of the given capacity
// (0: unbuffered, as Go's FanIn). An empty range gives a closed channel.
template <std::ranges::input_range R>
  requires requires { typename detail::recv_end_of_t<std::ranges::range_value_t<R>>; }
auto fan_in(std::stop_token stop, R&& inputs, std::size_t capacity = 0) {
  using End = detail::recv_end_of_t<std::ranges::range_value_t<R>>;
  std::vector<End> ends;
  for (auto&& in : inputs) ends.emplace_back(in);
  return detail::start_fan_in(std::move(stop), std::move(ends), capacity);
}

}  // namespace conpat
