#include "slot_coherence.hpp"

#include <gtest/gtest.h>

namespace frontcache::proxy {
namespace {

using namespace std::chrono_literals;
using Clock = SlotCoherence::Clock;

constexpr auto kBound = 100ms;

struct TwoMasters : ::testing::Test {
  TwoMasters() {
    a = slots.add_stream("127.0.0.1:7000");
    b = slots.add_stream("127.0.0.1:7001");
    for (std::uint16_t s = 0; s < 8192; ++s) slots.assign(s, a);
    for (std::uint16_t s = 8192; s < SlotCoherence::kSlots; ++s) slots.assign(s, b);
  }
  void arm_and_fence(std::uint16_t stream, Clock::time_point at) {
    slots.set_armed(stream, true);
    slots.set_current(stream, at);
  }
  SlotCoherence slots;
  std::uint16_t a = 0;
  std::uint16_t b = 0;
  const Clock::time_point t0 = Clock::now();
};

TEST_F(TwoMasters, SlotsBypassUntilTheirStreamIsArmedAndHasFenced) {
  EXPECT_FALSE(slots.fresh(0, t0, kBound));
  slots.set_armed(a, true);
  EXPECT_TRUE(slots.armed(0));
  EXPECT_FALSE(slots.fresh(0, t0, kBound)) << "armed, but no fence round yet";
  slots.set_current(a, t0);
  EXPECT_TRUE(slots.fresh(0, t0 + kBound, kBound));
  EXPECT_FALSE(slots.fresh(0, t0 + kBound + 1ms, kBound)) << "the last round is too old";
  EXPECT_FALSE(slots.fresh(9000, t0, kBound)) << "the other master's stream is not armed";
  EXPECT_EQ(slots.current_as_of(0), t0);
  EXPECT_EQ(slots.current_as_of(9000), Clock::time_point{});
}

TEST_F(TwoMasters, LosingOneStreamBypassesAndReEpochsOnlyItsSlots) {
  arm_and_fence(a, t0);
  arm_and_fence(b, t0);
  const std::uint32_t epoch_a = slots.epoch(100);
  const std::uint32_t epoch_b = slots.epoch(10000);
  slots.set_armed(b, false);
  EXPECT_TRUE(slots.fresh(100, t0, kBound));
  EXPECT_EQ(slots.epoch(100), epoch_a);
  EXPECT_FALSE(slots.fresh(10000, t0, kBound));
  EXPECT_FALSE(slots.armed(10000));
  EXPECT_NE(slots.epoch(10000), epoch_b);
  // Armed again: new epochs once more (anything that raced the loss is unreachable), and the
  // slots wait for a fence round of the new connections.
  const std::uint32_t while_lost = slots.epoch(10000);
  slots.set_armed(b, true);
  EXPECT_NE(slots.epoch(10000), while_lost);
  EXPECT_FALSE(slots.fresh(10000, t0, kBound));
  slots.set_current(b, t0 + 10ms);
  EXPECT_TRUE(slots.fresh(10000, t0 + 10ms, kBound));
  EXPECT_EQ(slots.epoch(100), epoch_a);
}

TEST_F(TwoMasters, ASlotThatMovesGetsANewEpochAndItsNewMastersState) {
  arm_and_fence(a, t0);
  const std::uint32_t before = slots.epoch(5);
  slots.assign(5, a);  // unchanged: same epoch
  EXPECT_EQ(slots.epoch(5), before);
  slots.assign(5, b);  // b is not armed
  EXPECT_NE(slots.epoch(5), before);
  EXPECT_FALSE(slots.fresh(5, t0, kBound));
  EXPECT_TRUE(slots.fresh(6, t0, kBound));
  arm_and_fence(b, t0);
  EXPECT_TRUE(slots.fresh(5, t0, kBound));
}

TEST_F(TwoMasters, ARemovedStreamLeavesItsSlotsBypassedAndItsIndexReusedClean) {
  arm_and_fence(a, t0);
  arm_and_fence(b, t0);
  const std::uint32_t before = slots.epoch(9000);
  slots.remove_stream(b);
  EXPECT_FALSE(slots.fresh(9000, t0, kBound));
  EXPECT_NE(slots.epoch(9000), before);
  const std::uint16_t c = slots.add_stream("127.0.0.1:7002");
  EXPECT_EQ(c, b);
  slots.assign(9000, c);
  EXPECT_FALSE(slots.fresh(9000, t0, kBound)) << "a reused index starts not armed";
  const auto streams = slots.streams();
  ASSERT_EQ(streams.size(), 2U);
  EXPECT_EQ(streams[0].address, "127.0.0.1:7000");
  EXPECT_TRUE(streams[0].armed);
  EXPECT_EQ(streams[0].slots, 8192U);
  EXPECT_EQ(streams[1].address, "127.0.0.1:7002");
  EXPECT_FALSE(streams[1].armed);
  EXPECT_EQ(streams[1].slots, 1U);
}

TEST(SlotCoherence, SlotsOfNoStreamAndOutOfRangeNeverServe) {
  SlotCoherence slots;
  const auto now = Clock::now();
  EXPECT_FALSE(slots.fresh(0, now, kBound));
  EXPECT_FALSE(slots.fresh(0xFFFF, now, kBound));
  EXPECT_FALSE(slots.armed(0xFFFF));
  EXPECT_EQ(slots.epoch(0xFFFF), 0U);
  EXPECT_TRUE(slots.streams().empty());
}

TEST(SlotCoherence, StreamsBeyondTheLimitAreRefused) {
  SlotCoherence slots;
  for (std::size_t i = 0; i < SlotCoherence::kMaxStreams; ++i) {
    ASSERT_NE(slots.add_stream("n" + std::to_string(i)), SlotCoherence::kNoStream);
  }
  EXPECT_EQ(slots.add_stream("one too many"), SlotCoherence::kNoStream);
}

}  // namespace
}  // namespace frontcache::proxy
