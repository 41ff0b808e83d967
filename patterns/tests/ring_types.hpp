// The rings in both layouts, named once for the test suites.
#pragma once

#include "conpat/mpmc_ring.hpp"
#include "conpat/spsc_ring.hpp"

namespace conpat::test {

template <class T>
using SpscPacked = SpscRing<T, layout::Packed>;
template <class T>
using SpscPadded = SpscRing<T, layout::Padded>;
template <class T>
using MpmcPacked = MpmcRing<T, layout::Packed>;
template <class T>
using MpmcPadded = MpmcRing<T, layout::Padded>;

}  // namespace conpat::test
