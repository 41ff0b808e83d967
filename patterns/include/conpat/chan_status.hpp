// conpat/chan_status.hpp — the outcome of a channel operation, shared by every
// channel implementation (Go's panics and context errors, as values).
#pragma once

#include <string_view>

namespace conpat {

enum class ChanStatus {
  ok,           // the value was delivered (send) or received (recv)
  closed,       // the channel is closed (recv: and drained); nothing was delivered
  timeout,      // the deadline passed first (Go: context.DeadlineExceeded)
  would_block,  // a try_ form found the channel not ready
  cancelled,    // the stop_token was requested first (Go: context.Canceled)
};

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
