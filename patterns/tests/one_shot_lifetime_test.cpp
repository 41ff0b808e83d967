// Go's one-shot reply channel: make a channel, hand it to a worker, take
// the one value it sends, and drop the channel — while the worker may
// still be returning from its send. And the reverse: a sender blocked on a
// full channel returns once the partner freed a slot and drops the
// channel while the partner is still returning from its recv. Both are
// safe in every channel here: an operation does not touch the channel
// after the store that lets its partner return.
//
// Before the fix: TSan (tsan preset) reported a data race between the
// delete and Waker::notify_one in ArrayFlavor::send at once (capacity 1,
// receiver drops); ASan (asan preset) reported heap-use-after-free in
// Doorbell::ring from MpmcRing::try_pop (sender drops). Capacity 0 was
// clean, as the review found.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "conpat/channel.hpp"
#include "destroy_after.hpp"
#include "ring_types.hpp"

namespace conpat::test {
namespace {

// 300,000 rounds a case, in every preset: about 1-90 s a case under TSan
// on an idle 2-core machine (the rings' cases are the slowest).
constexpr int kOneShotRounds = 300000;

// The receiver destroys the channel right after recv returned the value.
template <class Ch>
void receiver_drops(std::size_t capacity) {
  destroy_right_after<Ch>(
      kOneShotRounds, [capacity] { return std::make_unique<Ch>(capacity); },
      [](Ch& ch) { ASSERT_EQ(ch.send(42), ChanStatus::ok); },
      [](Ch& ch) {
        int v = 0;
        ASSERT_EQ(ch.recv(v), ChanStatus::ok);
        ASSERT_EQ(v, 42);
      });
}

// The sender fills the channel, then blocks in send until the partner's
// recv frees a slot, and destroys the channel as soon as send returns.
template <class Ch>
void sender_drops(std::size_t capacity, std::size_t usable) {
  destroy_right_after<Ch>(
      kOneShotRounds,
      [capacity, usable] {
        auto ch = std::make_unique<Ch>(capacity);
        for (std::size_t i = 0; i < usable; ++i) EXPECT_EQ(ch->try_send(1), ChanStatus::ok);
        return ch;
      },
      [](Ch& ch) {
        int v = 0;
        ASSERT_EQ(ch.recv(v), ChanStatus::ok);
      },
      [](Ch& ch) { ASSERT_EQ(ch.send(2), ChanStatus::ok); });
}

TEST(OneShot, ChannelUnbufferedReceiverDrops) { receiver_drops<Channel<int>>(0); }
TEST(OneShot, ChannelCap1ReceiverDrops) { receiver_drops<Channel<int>>(1); }
TEST(OneShot, ChannelCap16ReceiverDrops) { receiver_drops<Channel<int>>(16); }
TEST(OneShot, SpscRingReceiverDrops) { receiver_drops<SpscPadded<int>>(1); }
TEST(OneShot, MpmcRingReceiverDrops) { receiver_drops<MpmcPadded<int>>(1); }

TEST(OneShot, ChannelUnbufferedSenderDrops) { sender_drops<Channel<int>>(0, 0); }
TEST(OneShot, ChannelCap1SenderDrops) { sender_drops<Channel<int>>(1, 1); }
TEST(OneShot, ChannelCap16SenderDrops) { sender_drops<Channel<int>>(16, 16); }
TEST(OneShot, SpscRingSenderDrops) { sender_drops<SpscPadded<int>>(1, 1); }
TEST(OneShot, MpmcRingSenderDrops) { sender_drops<MpmcPadded<int>>(2, 2); }  // capacity rounds up to 2

}  // namespace
}  // namespace conpat::test
