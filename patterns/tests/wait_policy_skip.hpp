// A googletest fixture for tests typed over a wait policy: with FiberWait
// the test is skipped under ThreadSanitizer, as every fiber test is (TSan
// cannot follow Boost.Context's stack switches).
#pragma once

#include <gtest/gtest.h>

#include <type_traits>

#include "conpat/fiber_wait.hpp"

namespace conpat::test {

template <class Wait>
class WaitPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_THREAD__)
    if constexpr (std::is_same_v<Wait, FiberWait>) {
      GTEST_SKIP() << "Boost.Fiber's context switches are invisible to TSan (the fiber tests run without it)";
    }
#endif
  }
};

}  // namespace conpat::test
