// Stress over the other channel implementations (see channel_stress.hpp):
// MPMC ones on the 4x4 and 8x2 grid, the SPSC ring 1x1, at several
// capacities; every item exactly once, in producer order.
#include <gtest/gtest.h>

#include <cstdint>

#include "channel_stress.hpp"
#include "conpat/mpmc_ring.hpp"
#include "conpat/spsc_ring.hpp"
#include "conpat/tbb_channel.hpp"

namespace conpat::test {
namespace {

template <class Ch>
class MpmcStress : public ::testing::Test {};
using MpmcImpls = ::testing::Types<MpmcRing<std::uint64_t, layout::Packed>, MpmcRing<std::uint64_t, layout::Padded>,
                                   TbbChannel<std::uint64_t>>;
TYPED_TEST_SUITE(MpmcStress, MpmcImpls);

TYPED_TEST(MpmcStress, EveryItemArrivesExactlyOnceInProducerOrder) {
  for (std::size_t cap : {1u, 16u, 1024u}) {
    SCOPED_TRACE(cap);
    run_stress<TypeParam>(cap, 1, 1, kStressItems / 4);
    run_stress<TypeParam>(cap, 4, 4, kStressItems / 4);
    run_stress<TypeParam>(cap, 8, 2, kStressItems / 4);
  }
}

template <class Ch>
class SpscStress : public ::testing::Test {};
using SpscImpls = ::testing::Types<SpscRing<std::uint64_t, layout::Packed>, SpscRing<std::uint64_t, layout::Padded>>;
TYPED_TEST_SUITE(SpscStress, SpscImpls);

TYPED_TEST(SpscStress, EveryItemArrivesExactlyOnceInOrder) {
  for (std::size_t cap : {1u, 16u, 1024u}) {
    SCOPED_TRACE(cap);
    run_stress<TypeParam>(cap, 1, 1, kStressItems);
  }
}

}  // namespace
}  // namespace conpat::test
