#include "frontcache/cache/cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace frontcache::cache {
namespace {

using std::chrono::seconds;
using namespace std::chrono_literals;

struct Fixture {
  explicit Fixture(CacheConfig config = {}) : clock(std::make_shared<ManualClock>()) {
    config.clock = clock;
    if (config.shards == 0) config.shards = 1;
    cache = std::make_unique<Cache>(config);
  }
  std::shared_ptr<ManualClock> clock;
  std::unique_ptr<Cache> cache;
};

CacheConfig entries(std::uint64_t n) {
  CacheConfig c;
  c.max_entries = n;
  c.max_weight = 0;
  c.shards = 1;
  return c;
}

ValueRef v(std::string_view s) { return Value::make(s); }

TEST(Value, HandleKeepsEvictedValueAlive) {
  Fixture f(entries(1));
  f.cache->insert("a", {}, v("alpha"), {});
  ValueRef held = f.cache->lookup("a");
  ASSERT_TRUE(held);
  f.cache->insert("b", {}, v("beta"), {});
  f.cache->insert("c", {}, v("gamma"), {});
  f.cache->clear();
  EXPECT_EQ(held.bytes(), "alpha");
}

TEST(Value, HitReturnsSameBufferNotACopy) {
  Fixture f;
  ValueRef original = v("payload");
  f.cache->insert("k", {}, original, {});
  EXPECT_EQ(f.cache->lookup("k").get(), original.get());
}

TEST(Expiry, TtlEdge) {
  Fixture f;
  f.cache->insert("k", {}, v("x"), 10s);
  f.clock->advance(10s - 1ns);
  EXPECT_TRUE(f.cache->lookup("k"));
  f.clock->advance(1ns);
  EXPECT_FALSE(f.cache->lookup("k"));
  EXPECT_EQ(f.cache->stats().expirations, 1U);
  EXPECT_EQ(f.cache->stats().entries, 0U);
}

TEST(Expiry, ZeroTtlNeverExpires) {
  Fixture f;
  f.cache->insert("k", {}, v("x"), Duration{0});
  f.clock->advance(std::chrono::hours(24 * 365));
  f.cache->run_maintenance();
  EXPECT_TRUE(f.cache->lookup("k"));
}

TEST(Expiry, TimeToIdleExtendsOnReadAndTtlStillCaps) {
  CacheConfig c;
  c.time_to_idle = 5s;
  Fixture f(c);
  f.cache->insert("idle", {}, v("x"), 60s);
  f.cache->insert("capped", {}, v("y"), 7s);
  for (int i = 0; i < 3; ++i) {
    f.clock->advance(4s);  // reads every 4 s keep "idle" alive past 5 s
    EXPECT_TRUE(f.cache->lookup("idle")) << i;
    if (i == 0) {
      EXPECT_TRUE(f.cache->lookup("capped"));
    }
    if (i == 1) {
      EXPECT_FALSE(f.cache->lookup("capped")) << "TTL 7 s caps TTI";
    }
  }
  f.clock->advance(5s - 1ns);
  EXPECT_TRUE(f.cache->lookup("idle"));
  f.clock->advance(5s);
  EXPECT_FALSE(f.cache->lookup("idle"));
}

TEST(Expiry, ReclaimedWithoutLookups) {
  Fixture f;
  for (int i = 0; i < 1000; ++i) f.cache->insert("k" + std::to_string(i), {}, v("x"), 1s);
  f.cache->insert("long", {}, v("x"), 500s);
  EXPECT_EQ(f.cache->stats().entries, 1001U);
  f.clock->advance(900ms);
  EXPECT_EQ(f.cache->run_maintenance(), 0U);
  f.clock->advance(300ms);
  EXPECT_EQ(f.cache->run_maintenance(), 1000U);
  EXPECT_EQ(f.cache->stats().entries, 1U);
  EXPECT_EQ(f.cache->stats().expirations, 1000U);
  // The long-lived entry laps the 1024-tick wheel several times before it is due.
  f.clock->advance(498s);
  EXPECT_EQ(f.cache->run_maintenance(), 0U);
  EXPECT_TRUE(f.cache->lookup("long"));
  f.clock->advance(2s);
  EXPECT_EQ(f.cache->run_maintenance(), 1U);
  EXPECT_EQ(f.cache->stats().weighted_size, 0U);
}

TEST(Expiry, ReplacedEntryUsesNewDeadline) {
  Fixture f;
  f.cache->insert("k", {}, v("old"), 1s);
  f.cache->insert("k", {}, v("new"), 10s);
  f.clock->advance(2s);
  f.cache->run_maintenance();
  EXPECT_EQ(f.cache->lookup("k").bytes(), "new");
}

TEST(Weight, AccountsKeyOwnerValueAndOverhead) {
  Fixture f;
  f.cache->insert("0GET k", "k", v("$3\r\nabc\r\n"), {});
  const std::uint64_t one = 6 + 1 + 9 + Cache::kEntryOverhead;
  EXPECT_EQ(f.cache->stats().weighted_size, one);
  f.cache->insert("self", {}, v("12345"), {});
  EXPECT_EQ(f.cache->stats().weighted_size, one + 4 + 5 + Cache::kEntryOverhead);
  f.cache->insert("self", {}, v("1"), {});  // replace: weight follows the new value
  EXPECT_EQ(f.cache->stats().weighted_size, one + 4 + 1 + Cache::kEntryOverhead);
  f.cache->invalidate("k");
  EXPECT_EQ(f.cache->stats().weighted_size, 4 + 1 + Cache::kEntryOverhead);
  EXPECT_EQ(f.cache->stats().entries, 1U);
}

TEST(Weight, HeavierThanMaxValueSizeIsNeverAdmitted) {
  CacheConfig c;
  c.max_value_size = 1000;
  Fixture f(c);
  const std::string fits(1000 - Cache::kEntryOverhead - 1, 'x');
  EXPECT_TRUE(f.cache->insert("k", {}, v(fits), {}));
  EXPECT_FALSE(f.cache->insert("k", {}, v(fits + "y"), {}));
  EXPECT_FALSE(f.cache->lookup("k")) << "a rejected update must not leave the old value";
  EXPECT_EQ(f.cache->stats().rejected, 1U);
}

TEST(Weight, ByteBoundHolds) {
  CacheConfig c;
  c.max_weight = 100 * (Cache::kEntryOverhead + 20);
  Fixture f(c);
  for (int i = 0; i < 10000; ++i) {
    f.cache->insert("key" + std::to_string(i), {}, v(std::string(i % 30, 'v')), {});
    ASSERT_LE(f.cache->stats().weighted_size, c.max_weight);
  }
  EXPECT_GT(f.cache->stats().entries, 50U);
}

TEST(Weight, EntryAndByteBoundsTogether) {
  CacheConfig c = entries(1000);
  c.max_weight = 10 * (Cache::kEntryOverhead + 10);
  Fixture f(c);
  for (int i = 0; i < 100; ++i) f.cache->insert("k" + std::to_string(i), {}, v("12345678"), {});
  EXPECT_LE(f.cache->stats().weighted_size, c.max_weight);
  EXPECT_LE(f.cache->stats().entries, 10U);
}

TEST(Policy, EvictionOrder) {
  Fixture f(entries(10));  // window 1, probation 9 until protected fills (max 7)
  for (char c = 'a'; c <= 'j'; ++c) f.cache->insert(std::string(1, c), {}, v("x"), {});
  EXPECT_EQ(f.cache->debug_order(), "W[j] P[a b c d e f g h i] M[]");
  (void)f.cache->lookup("c");
  (void)f.cache->lookup("a");
  EXPECT_EQ(f.cache->debug_order(), "W[j] P[b d e f g h i] M[c a]");
  // k enters the window; j leaves it and loses to the probation LRU b (equal frequency).
  f.cache->insert("k", {}, v("x"), {});
  EXPECT_EQ(f.cache->debug_order(), "W[k] P[b d e f g h i] M[c a]");
  // l pushes k out; k was read twice more than b, so b is the one evicted.
  (void)f.cache->lookup("k");
  (void)f.cache->lookup("k");
  f.cache->insert("l", {}, v("x"), {});
  EXPECT_EQ(f.cache->debug_order(), "W[l] P[d e f g h i k] M[c a]");
  EXPECT_EQ(f.cache->stats().evictions, 2U);
}

TEST(Policy, ScanResistance) {
  Fixture f(entries(200));
  std::vector<std::string> hot;
  for (int i = 0; i < 100; ++i) hot.push_back("hot" + std::to_string(i));
  for (int round = 0; round < 5; ++round) {
    for (const auto& k : hot) {
      if (!f.cache->lookup(k)) f.cache->insert(k, {}, v("x"), {});
    }
  }
  // A scan of one-off keys five times the cache size; LRU would keep none of the hot keys.
  for (int i = 0; i < 1000; ++i) {
    const std::string k = "scan" + std::to_string(i);
    if (!f.cache->lookup(k)) f.cache->insert(k, {}, v("x"), {});
  }
  int hits = 0;
  for (const auto& k : hot) hits += f.cache->lookup(k) ? 1 : 0;
  EXPECT_GE(hits, 95);
}

TEST(Invalidate, OwnerDropsEveryEntryItOwns) {
  CacheConfig c;
  c.shards = 8;
  Fixture f(c);
  f.cache->insert("0GET k", "k", v("a"), {});
  f.cache->insert("0HGETALL k", "k", v("b"), {});
  f.cache->insert("3LRANGE k 0 -1", "k", v("c"), {});
  f.cache->insert("0GET kk", "kk", v("d"), {});
  f.cache->insert("k", {}, v("e"), {});  // no owner: owned by its own key
  EXPECT_EQ(f.cache->invalidate("k"), 4U);
  EXPECT_FALSE(f.cache->lookup("0HGETALL k", "k"));
  EXPECT_FALSE(f.cache->lookup("3LRANGE k 0 -1", "k"));
  EXPECT_TRUE(f.cache->lookup("0GET kk", "kk"));
  EXPECT_EQ(f.cache->stats().invalidations, 4U);
}

// The empty Redis key is a key like any other: entries it owns, and fills in flight for it,
// are dropped when it is invalidated (it used to be taken for "the key owns itself").
TEST(Invalidate, EmptyOwnerIsTheEmptyKey) {
  CacheConfig c;
  c.shards = 4;
  Fixture f(c);
  f.cache->insert("0GET ", std::string_view(""), v("a"), {});
  f.cache->insert("0HGETALL ", std::string_view(""), v("b"), {});
  f.cache->insert("0GET x", "x", v("c"), {});
  BeginResult fill = f.cache->begin("0STRLEN ", std::string_view(""), [](FillOutcome) {});
  ASSERT_EQ(fill.kind, BeginKind::Leader);
  EXPECT_EQ(f.cache->invalidate(std::string_view("")), 2U);
  EXPECT_FALSE(f.cache->lookup("0GET ", std::string_view("")));
  EXPECT_FALSE(f.cache->lookup("0HGETALL ", std::string_view("")));
  EXPECT_TRUE(f.cache->lookup("0GET x", "x"));
  EXPECT_TRUE(fill.ticket.stale());
  EXPECT_FALSE(f.cache->complete(std::move(fill.ticket), v("old"), {}));
  // Self-owned entries are not the empty key's.
  f.cache->insert("self", {}, v("s"), {});
  EXPECT_EQ(f.cache->invalidate(std::string_view("")), 0U);
  EXPECT_EQ(f.cache->invalidate("self"), 1U);
}

TEST(Invalidate, SetOfOwnersEntryAndClear) {
  CacheConfig c;
  c.shards = 4;
  Fixture f(c);
  for (int i = 0; i < 10; ++i) {
    f.cache->insert("0GET o" + std::to_string(i), "o" + std::to_string(i), v("x"), {});
  }
  const std::vector<std::string_view> owners{"o1", "o2", "o9", "missing"};
  EXPECT_EQ(f.cache->invalidate(owners), 3U);
  EXPECT_EQ(f.cache->stats().entries, 7U);
  EXPECT_TRUE(f.cache->invalidate_entry("0GET o3", "o3"));
  EXPECT_FALSE(f.cache->invalidate_entry("0GET o3", "o3"));
  f.cache->clear();
  EXPECT_EQ(f.cache->stats().entries, 0U);
  EXPECT_FALSE(f.cache->lookup("0GET o4", "o4"));
}

// Owners are invalidated a group of shards at a time: more owners than one group, over every
// shard, with repeats and absent ones, drop exactly the entries they own.
TEST(Invalidate, ManyOwnersOverEveryShardDropExactlyTheirEntries) {
  CacheConfig c;
  c.shards = 8;
  Fixture f(c);
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("o" + std::to_string(i));
  for (const auto& o : names) f.cache->insert("0GET " + o, o, v("x"), {});
  std::vector<std::string_view> owners;
  for (int i = 0; i < 300; i += 2) owners.push_back(names[static_cast<std::size_t>(i)]);
  owners.push_back(names[0]);  // a repeat, in another group
  owners.push_back("absent");
  EXPECT_EQ(f.cache->invalidate(owners), 150U);
  EXPECT_EQ(f.cache->stats().entries, 150U);
  for (int i = 0; i < 300; ++i) {
    const auto& o = names[static_cast<std::size_t>(i)];
    EXPECT_EQ(static_cast<bool>(f.cache->lookup("0GET " + o, o)), i % 2 == 1) << o;
  }
}

TEST(Config, ShardsRoundUpToPowerOfTwo) {
  CacheConfig c;
  c.shards = 5;
  EXPECT_EQ(Cache(c).shard_count(), 8U);
  c.shards = 0;
  const unsigned autosized = Cache(c).shard_count();
  EXPECT_EQ(autosized & (autosized - 1), 0U);
}

TEST(Stats, HitsAndMisses) {
  Fixture f;
  f.cache->insert("k", {}, v("x"), {});
  (void)f.cache->lookup("k");
  (void)f.cache->lookup("nope");
  const CacheStats s = f.cache->stats();
  EXPECT_EQ(s.hits, 1U);
  EXPECT_EQ(s.misses, 1U);
  EXPECT_EQ(s.inserts, 1U);
}

// hash_key reads the key's bytes and nothing around them, at every length (each length class of
// the multiply-fold takes a different path: 0, 1-3, 4-16, 17-48, longer), and every byte counts.
TEST(HashKey, DependsOnEveryByteOfTheKeyAndOnNothingElse) {
  for (std::size_t len = 0; len <= 130; ++len) {
    std::string key(len, 'k');
    for (std::size_t i = 0; i < len; ++i) key[i] = static_cast<char>('a' + (i * 7) % 26);
    const std::uint64_t h = hash_key(key);
    // The same bytes amid other bytes: a read past either end would change the hash.
    for (const char fill : {'\0', '\xff'}) {
      const std::string framed = std::string(64, fill) + key + std::string(64, fill);
      EXPECT_EQ(hash_key(std::string_view(framed).substr(64, len)), h) << "length " << len;
    }
    for (std::size_t i = 0; i < len; ++i) {
      std::string other = key;
      other[i] = static_cast<char>(other[i] ^ 1);
      EXPECT_NE(hash_key(other), h) << "length " << len << ", byte " << i;
    }
    if (len > 0) {
      EXPECT_NE(hash_key(key.substr(0, len - 1)), h) << "length " << len;
    }
  }
}

}  // namespace
}  // namespace frontcache::cache
