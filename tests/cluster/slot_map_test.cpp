// The slot map from replies captured on a real 3-master cluster (redis-server 7.0.15, built by
// `redis-cli --cluster create ... --cluster-replicas 1`), fed through hiredis's redisReader as
// the topology probe reads them, and from malformed variants.
#include "frontcache/cluster/slot_map.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <memory>
#include <string>

namespace frontcache::cluster {
namespace {

// CLUSTER SHARDS (one replica reports health "loading").
constexpr std::string_view kShardsReply =
    "*3\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\n"
    "id\r\n$40\r\nf0b7c0ab5230285378f6f5b39ce5975628ee97ad\r\n$4\r\nport\r\n:17002\r\n$2\r\n"
    "ip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\n"
    "master\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n"
    "$2\r\nid\r\n$40\r\n214b6dbc47c41cf7ee72fac894316b923501e269\r\n$4\r\nport\r\n:17005\r\n"
    "$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\n"
    "replica\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n"
    "$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "d5ae01884b67c3cc90d94c9ecb03d63eb9aec2bb\r\n$4\r\nport\r\n:17003\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "cfd33355db1e17e5007b529a460df509f99f8091\r\n$4\r\nport\r\n:17006\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\n"
    "replication-offset\r\n:0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n*4\r\n$5\r\nslots\r\n*2\r\n"
    ":0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "ef82305397acff131c6d7d1530824b085e481b64\r\n$4\r\nport\r\n:17001\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "d91c27d56699c0360be47425de8c6a33dd9b78cf\r\n$4\r\nport\r\n:17004\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";
// CLUSTER SLOTS of the same cluster.
constexpr std::string_view kSlotsReply =
    "*3\r\n*4\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:17001\r\n$40\r\n"
    "ef82305397acff131c6d7d1530824b085e481b64\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:17004\r\n"
    "$40\r\nd91c27d56699c0360be47425de8c6a33dd9b78cf\r\n*0\r\n*4\r\n:5461\r\n:10922\r\n*4\r\n"
    "$9\r\n127.0.0.1\r\n:17002\r\n$40\r\nf0b7c0ab5230285378f6f5b39ce5975628ee97ad\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17005\r\n$40\r\n214b6dbc47c41cf7ee72fac894316b923501e269\r\n"
    "*0\r\n*4\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:17003\r\n$40\r\n"
    "d5ae01884b67c3cc90d94c9ecb03d63eb9aec2bb\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:17006\r\n"
    "$40\r\ncfd33355db1e17e5007b529a460df509f99f8091\r\n*0\r\n";
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

ReplyPtr decode(std::string_view bytes) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, bytes.data(), bytes.size());
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK);
  redisReaderFree(reader);
  EXPECT_NE(reply, nullptr) << "incomplete RESP";
  return ReplyPtr(static_cast<redisReply*>(reply));
}

void expect_three_masters(const SlotMap& map) {
  ASSERT_EQ(map.shards().size(), 3u);
  // Ordered by first slot, whatever order the node listed them in.
  EXPECT_EQ(map.shards()[0].master.address(), "127.0.0.1:17001");
  EXPECT_EQ(map.shards()[1].master.address(), "127.0.0.1:17002");
  EXPECT_EQ(map.shards()[2].master.address(), "127.0.0.1:17003");
  EXPECT_EQ(map.shards()[0].master.id, "ef82305397acff131c6d7d1530824b085e481b64");
  ASSERT_EQ(map.shards()[0].replicas.size(), 1u);
  EXPECT_EQ(map.shards()[0].replicas[0].address(), "127.0.0.1:17004");
  EXPECT_EQ(map.unowned_slots(), 0u);
  EXPECT_EQ(map.owner(0), 0);
  EXPECT_EQ(map.owner(5460), 0);
  EXPECT_EQ(map.owner(5461), 1);
  EXPECT_EQ(map.owner(10922), 1);
  EXPECT_EQ(map.owner(10923), 2);
  EXPECT_EQ(map.owner(16383), 2);
  EXPECT_EQ(map.master_of(12182)->port, 17003);  // "foo"
  EXPECT_FALSE(map.degraded());
}

TEST(SlotMap, FromClusterShards) {
  std::string error;
  auto map = SlotMap::from_shards(decode(kShardsReply).get(), error);
  ASSERT_TRUE(map) << error;
  expect_three_masters(*map);
  // health "loading" is not online.
  EXPECT_FALSE(map->shards()[2].replicas[0].online);
  EXPECT_TRUE(map->shards()[1].replicas[0].online);
}

TEST(SlotMap, FromClusterSlots) {
  std::string error;
  auto map = SlotMap::from_slots(decode(kSlotsReply).get(), error);
  ASSERT_TRUE(map) << error;
  expect_three_masters(*map);
}

TEST(SlotMap, ShardsAndSlotsAgree) {
  std::string error;
  auto shards = SlotMap::from_shards(decode(kShardsReply).get(), error);
  auto slots = SlotMap::from_slots(decode(kSlotsReply).get(), error);
  ASSERT_TRUE(shards && slots);
  for (std::uint32_t s = 0; s < kSlots; ++s) {
    const auto slot = static_cast<std::uint16_t>(s);
    ASSERT_EQ(shards->master_of(slot)->address(), slots->master_of(slot)->address()) << s;
  }
}

TEST(SlotMap, SeveralRangesOfOneMasterAndGaps) {
  // CLUSTER SLOTS lists a master once per range; slots 100-199 are not served.
  const std::string reply =
      "*4\r\n"
      "*3\r\n:51\r\n:99\r\n*2\r\n$4\r\nhost\r\n:7000\r\n"
      "*3\r\n:0\r\n:49\r\n*2\r\n$4\r\nhost\r\n:7000\r\n"
      "*3\r\n:200\r\n:16383\r\n*2\r\n$4\r\nhost\r\n:7001\r\n"
      "*3\r\n:50\r\n:50\r\n*2\r\n$4\r\nhost\r\n:7001\r\n";
  std::string error;
  auto map = SlotMap::from_slots(decode(reply).get(), error);
  ASSERT_TRUE(map) << error;
  ASSERT_EQ(map->shards().size(), 2u);
  EXPECT_EQ(map->master_of(50)->port, 7001);
  EXPECT_EQ(map->master_of(49)->port, 7000);
  EXPECT_EQ(map->master_of(100), nullptr);
  EXPECT_EQ(map->unowned_slots(), 100u);
  EXPECT_EQ(map->describe(), "0-49,51-99 host:7000, 50,200-16383 host:7001");
}

// Two maps of the same cluster share a node id (a failover, a reshard, a node added); a map
// read from another cluster's node shares none, and the topology refuses it.
TEST(SlotMap, MapsOfTwoClustersShareNoNode) {
  auto node = [](std::string id, std::uint16_t port) {
    return Node{std::move(id), "127.0.0.1", port, true};
  };
  const SlotMap ours({Shard{node("a", 7000), {node("a2", 7003)}, {{0, 8191}}},
                      Shard{node("b", 7001), {}, {{8192, 16383}}}});
  // Failover: b's replica, never seen before, and a2 promoted.
  const SlotMap after_failover(
      {Shard{node("a2", 7003), {}, {{0, 8191}}}, Shard{node("b9", 7004), {}, {{8192, 16383}}}});
  const SlotMap other_cluster({Shard{node("x", 7001), {node("y", 7005)}, {{0, 16383}}}});
  const SlotMap without_ids({Shard{node("", 7001), {}, {{0, 16383}}}});
  EXPECT_TRUE(ours.shares_a_node_with(after_failover));
  EXPECT_TRUE(after_failover.shares_a_node_with(ours));
  EXPECT_FALSE(ours.shares_a_node_with(other_cluster));
  EXPECT_FALSE(other_cluster.shares_a_node_with(ours));
  EXPECT_TRUE(ours.shares_a_node_with(without_ids));  // cannot be told apart
  EXPECT_TRUE(without_ids.shares_a_node_with(ours));
}

TEST(SlotMap, FailedMasterMakesTheMapDegraded) {
  const std::string reply =
      "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n"
      "*8\r\n$2\r\nip\r\n$3\r\n::1\r\n$4\r\nport\r\n:7000\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
      "$6\r\nhealth\r\n$6\r\nfailed\r\n";
  std::string error;
  auto map = SlotMap::from_shards(decode(reply).get(), error);
  ASSERT_TRUE(map) << error;
  EXPECT_TRUE(map->degraded());
  EXPECT_EQ(map->shards()[0].master.address(), "[::1]:7000");
}

TEST(SlotMap, ShardWithoutMasterServesNothing) {
  const std::string reply =
      "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n"
      "*6\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nport\r\n:7000\r\n$4\r\nrole\r\n$7\r\nreplica\r\n";
  std::string error;
  auto map = SlotMap::from_shards(decode(reply).get(), error);
  ASSERT_TRUE(map) << error;
  EXPECT_TRUE(map->empty());
  EXPECT_EQ(map->unowned_slots(), std::size_t{kSlots});
}

TEST(SlotMap, MalformedRepliesAreRejectedWithAReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"-ERR unknown subcommand 'shards'.\r\n", "CLUSTER SHARDS: ERR unknown subcommand"},
      {":1\r\n", "not an array"},
      {"*1\r\n*1\r\n$5\r\nslots\r\n", "field/value pairs"},
      {"*1\r\n*2\r\n$5\r\nslots\r\n*2\r\n:5\r\n:4\r\n", "lacks its slots or nodes"},
      {"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5\r\n:4\r\n$5\r\nnodes\r\n*0\r\n", "slot range"},
      {"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16384\r\n$5\r\nnodes\r\n*0\r\n", "slot range"},
      {"*1\r\n*4\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n*2\r\n$4\r\nport\r\n:0\r\n",
       "no usable address"},
  };
  for (const auto& [reply, expected] : cases) {
    std::string error;
    EXPECT_FALSE(SlotMap::from_shards(decode(reply).get(), error)) << reply;
    EXPECT_NE(error.find(expected), std::string::npos) << reply << " -> " << error;
  }
  const std::string slots_cases[] = {
      "*1\r\n*2\r\n:0\r\n:1\r\n",
      "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n",
      "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\n?\r\n:7000\r\n",
      "*1\r\n*3\r\n:9\r\n:1\r\n*2\r\n$1\r\nh\r\n:7000\r\n",
  };
  for (const auto& reply : slots_cases) {
    std::string error;
    EXPECT_FALSE(SlotMap::from_slots(decode(reply).get(), error)) << reply;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace frontcache::cluster
