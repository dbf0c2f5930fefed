// Hash slots against Redis's own examples (the cluster specification's hash tag cases, crc16.c's
// check value) and slots CLUSTER KEYSLOT returned on a real cluster. The integration suite
// compares thousands of random keys with CLUSTER KEYSLOT (ClusterSlots.KeySlotMatchesRedis).
#include "frontcache/cluster/slot.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace frontcache::cluster {
namespace {

TEST(Slot, Crc16CheckValue) {
  // crc16.c: "Output for "123456789" : 31C3".
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

TEST(Slot, KeySlotAsClusterKeyslotSays) {
  // CLUSTER KEYSLOT on redis-server 7.0.15.
  const std::pair<std::string, std::uint16_t> cases[] = {
      {"foo", 12182},
      {"bar", 5061},
      {"{user1000}.following", 3443},
      {"{user1000}.followers", 3443},
      {"foo{}{bar}", 8363},     // "{}": the whole key
      {"foo{{bar}}zap", 4015},  // the tag is "{bar"
      {"foo{bar}{zap}", 5061},  // the first tag only: "bar"
      {"", 0},
      {"a", 15495},
      {"123456789", 12739},
  };
  for (const auto& [key, slot] : cases) EXPECT_EQ(key_hash_slot(key), slot) << key;
}

TEST(Slot, HashTags) {
  EXPECT_EQ(key_hash_slot("{user1000}.following"), key_hash_slot("user1000"));
  EXPECT_EQ(key_hash_slot("x{a}y"), key_hash_slot("a"));
  EXPECT_EQ(key_hash_slot("foo{"), crc16("foo{") & 0x3FFF);    // no '}'
  EXPECT_EQ(key_hash_slot("foo}{"), crc16("foo}{") & 0x3FFF);  // '}' before '{'
  EXPECT_EQ(key_hash_slot("{}"), crc16("{}") & 0x3FFF);
  EXPECT_EQ(key_hash_slot("{a}{b}"), key_hash_slot("a"));
  // Binary keys: NUL and high bytes are hashed like any byte.
  const std::string binary("\0\xff{\x01}", 5);
  EXPECT_EQ(key_hash_slot(binary), crc16(std::string("\x01", 1)) & 0x3FFF);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(key_hash_slot(std::to_string(i)), kSlots);
}

}  // namespace
}  // namespace frontcache::cluster
