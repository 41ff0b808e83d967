// How googletest prints ChanStatus and SelectResult in the select tests' failure messages.
#pragma once

#include <ostream>

#include "conpat/chan_status.hpp"
#include "conpat/select.hpp"

namespace conpat {
inline void PrintTo(ChanStatus s, std::ostream* os) { *os << to_string(s); }
inline void PrintTo(const SelectResult& r, std::ostream* os) { *os << "{" << r.index << ", " << to_string(r.status) << "}"; }
}  // namespace conpat
