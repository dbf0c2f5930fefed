#include "frontcache/cluster/redirect.hpp"

#include <gtest/gtest.h>

namespace frontcache::cluster {
namespace {

TEST(Redirect, MovedAndAsk) {
  auto moved = parse_redirect("-MOVED 3999 127.0.0.1:6381\r\n");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirect::Kind::Moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->host, "127.0.0.1");
  EXPECT_EQ(moved->port, 6381);
  EXPECT_EQ(moved->address(), "127.0.0.1:6381");

  auto ask = parse_redirect("-ASK 16383 redis-3.example:7002\r\n");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirect::Kind::Ask);
  EXPECT_EQ(ask->slot, 16383);
  EXPECT_EQ(ask->host, "redis-3.example");
}

TEST(Redirect, Ipv6AndUnknownEndpoints) {
  auto v6 = parse_redirect("-MOVED 1 ::1:7000\r\n");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  EXPECT_EQ(v6->address(), "[::1]:7000");
  auto bracketed = parse_redirect("-MOVED 1 [fe80::1]:7000\r\n");
  ASSERT_TRUE(bracketed);
  EXPECT_EQ(bracketed->host, "fe80::1");
  // cluster-preferred-endpoint-type unknown-endpoint: "?" means "the node you asked".
  auto unknown = parse_redirect("-MOVED 5 ?:7000\r\n");
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->host.empty());
}

TEST(Redirect, OtherRepliesAreNotRedirects) {
  for (const char* reply :
       {"-ERR MOVED 1 h:1\r\n", "-MOVED\r\n", "-MOVED 1\r\n", "-MOVED x h:1\r\n",
        "-MOVED 16384 h:1\r\n", "-MOVED 1 h:0\r\n", "-MOVED 1 h:70000\r\n", "-MOVED 1 h\r\n",
        "-MOVED 1 h:1", "+MOVED 1 h:1\r\n", "-ASKING\r\n"}) {
    EXPECT_FALSE(parse_redirect(reply)) << reply;
  }
  EXPECT_TRUE(is_tryagain("-TRYAGAIN Multiple keys request during rehashing of slot\r\n"));
  EXPECT_TRUE(is_clusterdown("-CLUSTERDOWN The cluster is down\r\n"));
  EXPECT_FALSE(is_tryagain("-ERR x\r\n"));
}

}  // namespace
}  // namespace frontcache::cluster
