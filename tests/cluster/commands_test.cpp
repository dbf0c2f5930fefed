// Fan-out rules and the merges of replies from several masters (RESP2 and RESP3 shapes).
#include "frontcache/cluster/commands.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace frontcache::cluster {
namespace {

using Parts = std::vector<std::string>;

TEST(ClusterCommands, Rules) {
  EXPECT_EQ(keyless_fanout("dbsize"), Fanout::Sum);
  EXPECT_EQ(keyless_fanout("keys"), Fanout::Concat);
  EXPECT_EQ(keyless_fanout("scan"), Fanout::Scan);
  EXPECT_EQ(keyless_fanout("flushall"), Fanout::AllSame);
  EXPECT_EQ(keyless_fanout("script|exists"), Fanout::AndArrays);
  EXPECT_EQ(keyless_fanout("cluster|info"), Fanout::Refuse);
  EXPECT_EQ(keyless_fanout("cluster"), Fanout::Refuse);
  EXPECT_EQ(keyless_fanout("clusterx"), Fanout::None);
  EXPECT_EQ(keyless_fanout("publish"), Fanout::None);
  EXPECT_EQ(split_kind("mget"), Split::Mget);
  EXPECT_EQ(split_kind("exists"), Split::Sum);
  EXPECT_EQ(split_kind("mset"), Split::Mset);
  EXPECT_EQ(split_kind("msetnx"), Split::None);
  EXPECT_EQ(split_kind("sunionstore"), Split::None);
}

TEST(ClusterCommands, Sum) {
  EXPECT_EQ(merge_sum(Parts{":1\r\n", ":0\r\n", ":41\r\n"}), ":42\r\n");
  EXPECT_EQ(merge_sum(Parts{":1\r\n", "-ERR boom\r\n", "-ERR second\r\n"}), "-ERR boom\r\n");
  EXPECT_EQ(merge_sum(Parts{":1\r\n", "+OK\r\n"}),
            "-ERR frontcache: unexpected integer reply from a cluster node\r\n");
  EXPECT_EQ(merge_sum(Parts{}), ":0\r\n");
}

TEST(ClusterCommands, ConcatAndAllSame) {
  EXPECT_EQ(merge_concat(Parts{"*1\r\n$1\r\na\r\n", "*0\r\n", "*2\r\n$1\r\nb\r\n$2\r\ncd\r\n"}),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$2\r\ncd\r\n");
  EXPECT_EQ(merge_concat(Parts{"*1\r\n$1\r\na\r\n", "*2\r\n$1\r\nb\r\n"}),
            "-ERR frontcache: unexpected array reply from a cluster node\r\n");
  EXPECT_EQ(merge_all_same(Parts{"+OK\r\n", "+OK\r\n"}), "+OK\r\n");
  EXPECT_EQ(merge_all_same(Parts{"+OK\r\n", "-ERR x\r\n"}), "-ERR x\r\n");
  EXPECT_EQ(merge_all_same(Parts{"$40\r\nabc\r\n"}), "$40\r\nabc\r\n");
  EXPECT_EQ(merge_and_arrays(Parts{"*3\r\n:1\r\n:1\r\n:0\r\n", "*3\r\n:1\r\n:0\r\n:0\r\n"}),
            "*3\r\n:1\r\n:0\r\n:0\r\n");
}

TEST(ClusterCommands, MgetPutsElementsBackInKeyOrder) {
  // MGET a b c d: a and c on one slot, b on another, d on a third.
  const Parts parts{"*2\r\n$2\r\nva\r\n$-1\r\n", "*1\r\n$2\r\nvb\r\n", "*1\r\n_\r\n"};
  const std::vector<std::vector<std::size_t>> positions{{0, 2}, {1}, {3}};
  EXPECT_EQ(merge_mget(parts, positions, 4), "*4\r\n$2\r\nva\r\n$2\r\nvb\r\n$-1\r\n_\r\n");
  EXPECT_EQ(
      merge_mget(Parts{"*1\r\n$1\r\nx\r\n"}, std::vector<std::vector<std::size_t>>{{0, 1}}, 2),
      "-ERR frontcache: unexpected MGET reply from a cluster node\r\n");
  EXPECT_EQ(merge_mget(Parts{"-WRONGTYPE x\r\n"}, std::vector<std::vector<std::size_t>>{{0}}, 1),
            "-WRONGTYPE x\r\n");
}

TEST(ClusterCommands, ScanCursorsAsRedisParsesThem) {
  auto zero = parse_scan_cursor("0");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->node, 0u);
  EXPECT_EQ(zero->inner, 0u);
  const std::string next = format_scan_cursor({2, 1234});
  auto back = parse_scan_cursor(next);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->node, 2u);
  EXPECT_EQ(back->inner, 1234u);
  EXPECT_TRUE(parse_scan_cursor("+5"));  // strtoul's grammar
  EXPECT_TRUE(parse_scan_cursor(""));    // Redis takes an empty cursor as 0
  EXPECT_FALSE(parse_scan_cursor(" 5"));
  EXPECT_FALSE(parse_scan_cursor("5 "));
  EXPECT_FALSE(parse_scan_cursor("abc"));
  EXPECT_FALSE(parse_scan_cursor("18446744073709551616"));
}

TEST(ClusterCommands, ScanRepliesGetTheClientsCursor) {
  const std::string keys = "*2\r\n$1\r\na\r\n$1\r\nb\r\n";
  // More on this master.
  auto more = rewrite_scan_reply("*2\r\n$2\r\n17\r\n" + keys, 1, 3);
  ASSERT_TRUE(more);
  const std::string c1 = format_scan_cursor({1, 17});
  EXPECT_EQ(*more, "*2\r\n$" + std::to_string(c1.size()) + "\r\n" + c1 + "\r\n" + keys);
  // This master is done: the next one, from its start.
  auto next = rewrite_scan_reply("*2\r\n$1\r\n0\r\n*0\r\n", 1, 3);
  const std::string c2 = format_scan_cursor({2, 0});
  EXPECT_EQ(*next, "*2\r\n$" + std::to_string(c2.size()) + "\r\n" + c2 + "\r\n*0\r\n");
  // The last master is done: the scan is.
  EXPECT_EQ(*rewrite_scan_reply("*2\r\n$1\r\n0\r\n" + keys, 2, 3), "*2\r\n$1\r\n0\r\n" + keys);
  EXPECT_FALSE(rewrite_scan_reply("-ERR x\r\n", 0, 3));
  EXPECT_FALSE(rewrite_scan_reply("*2\r\n$17\r\n18014398509481984\r\n*0\r\n", 0, 3));
}

}  // namespace
}  // namespace frontcache::cluster
