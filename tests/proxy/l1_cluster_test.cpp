// The L1's cluster-mode read path: freshness per slot, and the slot's epoch in the cache key.
#include <gtest/gtest.h>

#include "l1.hpp"

namespace frontcache::proxy {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kStaleness = 100ms;

// The cache key of GET <redis_key>, whose slot is `slot`.
std::string key_of(const L1& l1, std::string_view redis_key, std::uint16_t slot) {
  std::string key;
  const std::string_view args[] = {redis_key};
  build_cache_key(key, 0, 2, "get", args);
  l1.append_slot_epoch(key, slot);
  return key;
}

// The cache key's bytes (docs/architecture.md): db | protocol << 24 as 4 native-order bytes,
// the command name in lower case and a NUL, then each argument as its 4-byte length and its
// bytes; appended to what `out` holds. Spelled out byte by byte here.
TEST(L1CacheKey, BytesAreDbProtocolNameAndLengthPrefixedArguments) {
  auto u32 = [](std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  std::string key = "prefix";
  const std::string_view args[] = {"Key", "", std::string_view("a\0b", 3)};
  build_cache_key(key, 5, 3, "HGetALL", args);
  std::string expected = "prefix" + u32(5 | 3 << 24) + std::string("hgetall\0", 8) + u32(3) +
                         "Key" + u32(0) + u32(3) + std::string("a\0b", 3);
  EXPECT_EQ(key, expected);
  std::string none;
  build_cache_key(none, 0, 2, "dbsize", {});
  EXPECT_EQ(none, u32(2 << 24) + std::string("dbsize\0", 7));
}

TEST(L1Standalone, TheSlotIsIgnoredAndKeysAreAsBuilt) {
  L1 l1(config::CacheConfig{}, 1, kStaleness);
  const auto now = Clock::now();
  l1.set_armed(true, "");
  l1.set_current(now);
  EXPECT_TRUE(l1.fresh(now, 1));
  EXPECT_TRUE(l1.fresh(now, 0xFFFF));
  EXPECT_EQ(l1.current_as_of(7), now);
  std::string plain;
  const std::string_view args[] = {"k"};
  build_cache_key(plain, 0, 2, "get", args);
  EXPECT_EQ(key_of(l1, "k", 1), plain);
  EXPECT_EQ(l1.slots(), nullptr);
}

TEST(L1Cluster, LosingOneMastersStreamChangesOnlyItsSlotsKeysAndFreshness) {
  L1 l1(config::CacheConfig{}, 1, kStaleness);
  SlotCoherence& slots = l1.enable_cluster();
  const std::uint16_t a = slots.add_stream("a:1");
  const std::uint16_t b = slots.add_stream("b:1");
  slots.assign(1, a);
  slots.assign(2, b);
  const auto now = Clock::now();
  for (const std::uint16_t s : {a, b}) {
    slots.set_armed(s, true);
    slots.set_current(s, now);
  }
  ASSERT_TRUE(l1.fresh(now, 1));
  ASSERT_TRUE(l1.fresh(now, 2));
  const std::string key1 = key_of(l1, "k1", 1);
  const std::string key2 = key_of(l1, "k2", 2);
  ASSERT_TRUE(l1.cache().insert(key1, "k1", cache::Value::make("$1\r\n1\r\n"), 60s));
  ASSERT_TRUE(l1.cache().insert(key2, "k2", cache::Value::make("$1\r\n2\r\n"), 60s));

  slots.set_armed(b, false);
  l1.stream_changed(false);
  EXPECT_EQ(l1.stats().bypass_events.load(), 1U);
  EXPECT_TRUE(l1.fresh(now, 1));
  EXPECT_FALSE(l1.fresh(now, 2));
  EXPECT_FALSE(l1.usable(2));
  // Slot 1's entry is found as before; slot 2's is not found under its new key.
  EXPECT_EQ(key_of(l1, "k1", 1), key1);
  EXPECT_TRUE(l1.cache().lookup(key_of(l1, "k1", 1), "k1"));
  EXPECT_NE(key_of(l1, "k2", 2), key2);
  EXPECT_FALSE(l1.cache().lookup(key_of(l1, "k2", 2), "k2"));
  // An invalidation by the Redis key still reaches the entry of an older epoch.
  EXPECT_EQ(l1.cache().invalidate("k2"), 1U);
}

// After a MOVED or ASK for a slot, another master may serve its keys while the map still names
// the old one: until the map moves the slot, every master's stream must be current for it.
TEST(L1Cluster, ARedirectedSlotNeedsEveryMastersStreamUntilTheMapMovesIt) {
  L1 l1(config::CacheConfig{}, 1, kStaleness);
  SlotCoherence& slots = l1.enable_cluster();
  const std::uint16_t a = slots.add_stream("a:1");
  const std::uint16_t b = slots.add_stream("b:1");
  const std::uint16_t c = slots.add_stream("c:1");
  slots.assign(1, a);
  slots.assign(2, b);
  const auto now = Clock::now();
  for (const std::uint16_t s : {a, b, c}) {
    slots.set_armed(s, true);
    slots.set_current(s, now);
  }
  l1.set_cluster_state(true, true, now);
  slots.mark_redirected(1);
  EXPECT_TRUE(l1.fresh(now, 1));  // every stream is current

  slots.set_armed(b, false);  // b's stream lost: only b's slots bypass...
  l1.set_cluster_state(false, true, now);
  EXPECT_FALSE(l1.fresh(now, 2));
  EXPECT_FALSE(l1.fresh(now, 1)) << "...and the redirected slot, which b may serve now";
  slots.assign(1, c);  // the map names slot 1's new owner
  EXPECT_FALSE(slots.redirected(1));
  EXPECT_TRUE(l1.fresh(now, 1));

  // The read-your-writes fence of a redirected slot is the oldest of every stream's rounds.
  slots.set_current(c, now + 50ms);
  EXPECT_EQ(l1.current_as_of(1), now + 50ms);
  slots.mark_redirected(1);
  EXPECT_EQ(l1.current_as_of(1), now);
}

TEST(L1Cluster, StateLinesFollowTheSummary) {
  L1 l1(config::CacheConfig{}, 1, kStaleness);
  l1.enable_cluster();
  const auto now = Clock::now();
  l1.set_cluster_state(false, true, now);
  EXPECT_FALSE(l1.armed());
  EXPECT_TRUE(l1.partly_armed());
  EXPECT_FALSE(l1.fresh(now));
  l1.set_cluster_state(true, true, now);
  EXPECT_TRUE(l1.fresh(now));
  EXPECT_EQ(l1.current_as_of(), now);
}

}  // namespace
}  // namespace frontcache::proxy
