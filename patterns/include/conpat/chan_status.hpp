// conpat/chan_status.hpp — the outcome of a channel operation, shared by every
// channel implementation (Go's panics and context errors, as values).
#pragma once

#include <string_view>
#include <type_traits>

namespace conpat {

enum class ChanStatus {
  ok,           // the value was delivered (send) or received (recv)
  closed,       // the channel is closed (recv: and drained); nothing was delivered
  timeout,      // the deadline passed first (Go: context.DeadlineExceeded)
  would_block,  // a try_ form found the channel not ready
  cancelled,    // the stop_token was requested first (Go: context.Canceled)
};

// What a channel can carry. Moving a value in or out of a channel must not
// throw: a lock-free ring cannot undo a claimed slot, and a hand-off cannot
// give a value back to a peer that was already told it was taken. So every
// conpat channel requires nothrow move construction, move assignment and
// destruction (std::string, std::vector, std::unique_ptr and every trivially
// copyable type qualify), as rigtorp's SPSCQueue does. A type whose move can
// throw can travel as std::unique_ptr<T>.
template <class T>
concept ChannelValue = std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T> &&
                       std::is_nothrow_destructible_v<T>;

constexpr std::string_view to_string(ChanStatus s) noexcept {
  switch (s) {
    case ChanStatus::ok: return "ok";
    case ChanStatus::closed: return "closed";
    case ChanStatus::timeout: return "timeout";
    case ChanStatus::would_block: return "would_block";
    case ChanStatus::cancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace conpat
