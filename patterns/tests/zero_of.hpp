// The unbuffered flavour inside a conpat::Channel<int, Wait>, for the test
// probe detail::ZeroProbe (which counts its waiters).
#pragma once

#include <variant>

#include "conpat/select.hpp"  // detail::ChannelAccess

namespace conpat::test {

template <class Ch>
auto& zero_of(Ch& ch) {
  return std::get<detail::ZeroFlavor<int, typename Ch::wait_policy>>(detail::ChannelAccess::flavor(ch));
}

}  // namespace conpat::test
