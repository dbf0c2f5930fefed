// CLIENT TRACKING served by the proxy, checked against Redis itself: the same scenario runs on a
// plain redis-server and through frontcache, and the tracking client must receive the same
// messages. On the Redis side the writer is another client of that Redis; on the proxy side it
// writes directly on the upstream Redis (writes around the proxy) or through the proxy.
#include <gtest/gtest.h>

#include <regex>

#include "twin.hpp"

namespace frontcache::integration {
namespace {

std::string join(std::initializer_list<std::string> commands) {
  std::string out;
  for (const auto& c : commands) out += c;
  return out;
}

std::string masked(std::string replies) {
  static const std::regex id("\\$2\r\nid\r\n:[0-9]+\r\n");
  return std::regex_replace(replies, id, "$$2\r\nid\r\n:ID\r\n");
}

class ClientTracking : public TwinTest {
 protected:
  struct Side2 {
    std::unique_ptr<RawClient> tracker, writer;
  };
  // Side::Redis: both on the plain Redis. Side::Proxy: the tracker on the proxy, the writer on
  // the upstream Redis directly (or on the proxy when `writer_through_proxy`).
  Side2 open(Side side, bool writer_through_proxy = false) {
    Side2 s;
    s.tracker = twin().connect(side);
    s.writer = side == Side::Redis || writer_through_proxy ? twin().connect(side)
                                                           : twin().connect_redis(Side::Proxy);
    return s;
  }
  void same(Side2& redis, Side2& proxy, bool tracker, const std::string& script) {
    auto& r = tracker ? *redis.tracker : *redis.writer;
    auto& p = tracker ? *proxy.tracker : *proxy.writer;
    const std::string a = masked(Twin::exchange(r, script));
    const std::string b = masked(Twin::exchange(p, script));
    EXPECT_EQ(first_difference(a, b), "") << script;
  }
  // The next message the tracker receives, on each side (pushes come asynchronously). After a
  // write through the proxy, the proxy may tell the same invalidation twice (once on the
  // write's reply, once more if Redis's own report arrives first): a repeat of the previous
  // message is skipped (docs/resp3.md).
  void same_message(Side2& redis, Side2& proxy) {
    auto a = redis.tracker->read_reply(10s);
    auto b = proxy.tracker->read_reply(10s);
    while (b && *b == last_) b = proxy.tracker->read_reply(10s);
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE(b.has_value()) << "no message through the proxy; Redis sent " << *a;
    EXPECT_EQ(first_difference(*a, *b), "");
    last_ = *b;
  }
  std::string last_;
};

TEST_F(ClientTracking, Resp3DefaultModeGetsTheSameInvalidationsAsFromRedis) {
  for (bool through_proxy : {false, true}) {
    auto redis = open(Side::Redis);
    auto proxy = open(Side::Proxy, through_proxy);
    same(redis, proxy, true,
         join({cmd({"HELLO", "3"}), cmd({"CLIENT", "TRACKING", "on"}), cmd({"GET", "a"}),
               cmd({"MGET", "b", "c"}), cmd({"HGET", "h", "f"}), cmd({"CLIENT", "TRACKINGINFO"})}));
    same(redis, proxy, false, cmd({"SET", "a", "1"}));
    same_message(redis, proxy);  // >2 invalidate [a]
    same(redis, proxy, false, cmd({"MSET", "b", "2", "c", "3"}));
    same_message(redis, proxy);  // b, then c: one message per key
    same_message(redis, proxy);
    same(redis, proxy, false, cmd({"HSET", "h", "f", "v"}));
    same_message(redis, proxy);
    // Forgotten once told: a second write is not reported until the key is read again.
    same(redis, proxy, false, join({cmd({"SET", "a", "again"}), cmd({"DEL", "b"})}));
    same(redis, proxy, true, join({cmd({"GET", "a"}), cmd({"CLIENT", "GETREDIR"})}));
    same(redis, proxy, false, cmd({"SET", "a", "third"}));
    same_message(redis, proxy);
    same(redis, proxy, false, cmd({"FLUSHDB"}));
    same_message(redis, proxy);  // null: everything
    // (A repeated null may still be on its way through the proxy: not compared.)
    Twin::exchange(*proxy.tracker, cmd({"CLIENT", "TRACKING", "off"}));
    Twin::exchange(*redis.tracker, cmd({"CLIENT", "TRACKING", "off"}));
  }
}

TEST_F(ClientTracking, BcastWithPrefixesAndOptin) {
  auto redis = open(Side::Redis);
  auto proxy = open(Side::Proxy);
  same(redis, proxy, true,
       join({cmd({"HELLO", "3"}),
             cmd({"CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "cart:"}),
             cmd({"CLIENT", "TRACKINGINFO"}),
             cmd({"CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "us"}),  // overlaps: an error
             cmd({"CLIENT", "TRACKING", "on", "OPTIN"})}));               // BCAST + OPTIN: error
  same(redis, proxy, false, cmd({"SET", "user:1", "x"}));
  same_message(redis, proxy);
  same(redis, proxy, false, cmd({"SET", "other", "x"}));  // no prefix: nothing
  same(redis, proxy, false, cmd({"SET", "cart:9", "y"}));
  same_message(redis, proxy);
  same(redis, proxy, true,
       join({cmd({"CLIENT", "TRACKING", "off"}), cmd({"CLIENT", "TRACKING", "on", "OPTIN"}),
             cmd({"GET", "k1"}), cmd({"CLIENT", "CACHING", "yes"}), cmd({"GET", "k2"}),
             cmd({"CLIENT", "CACHING", "no"}), cmd({"CLIENT", "TRACKINGINFO"})}));
  same(redis, proxy, false, join({cmd({"SET", "k1", "1"}), cmd({"SET", "k2", "2"})}));
  same_message(redis, proxy);  // only k2 was tracked
}

// RESP2 tracking through REDIRECT to another (proxy) client subscribed to
// __redis__:invalidate; a redirect to a client that does not exist is refused.
TEST_F(ClientTracking, Resp2RedirectToASubscribedClient) {
  auto redis = open(Side::Redis);
  auto proxy = open(Side::Proxy);
  auto redis_target = twin().connect(Side::Redis);
  auto proxy_target = twin().connect(Side::Proxy);
  auto id_of = [](RawClient& c) {
    const std::string id = Twin::exchange(c, cmd({"CLIENT", "ID"}));
    return id.substr(1, id.size() - 3);
  };
  const std::string redis_id = id_of(*redis_target);
  const std::string proxy_id = id_of(*proxy_target);
  EXPECT_EQ(Twin::exchange(*redis_target, cmd({"SUBSCRIBE", "__redis__:invalidate"})),
            Twin::exchange(*proxy_target, cmd({"SUBSCRIBE", "__redis__:invalidate"})));
  EXPECT_EQ(
      Twin::exchange(*redis.tracker, cmd({"CLIENT", "TRACKING", "on", "REDIRECT", "999999"})),
      Twin::exchange(*proxy.tracker, cmd({"CLIENT", "TRACKING", "on", "REDIRECT", "999999"})));
  EXPECT_EQ(
      Twin::exchange(*redis.tracker, join({cmd({"CLIENT", "TRACKING", "on", "REDIRECT", redis_id}),
                                           cmd({"GET", "r"}), cmd({"CLIENT", "GETREDIR"})})),
      "+OK\r\n$-1\r\n:" + redis_id + "\r\n");
  EXPECT_EQ(
      Twin::exchange(*proxy.tracker, join({cmd({"CLIENT", "TRACKING", "on", "REDIRECT", proxy_id}),
                                           cmd({"GET", "r"}), cmd({"CLIENT", "GETREDIR"})})),
      "+OK\r\n$-1\r\n:" + proxy_id + "\r\n");
  same(redis, proxy, false, cmd({"SET", "r", "1"}));
  auto a = redis_target->read_reply(10s);
  auto b = proxy_target->read_reply(10s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b, *a);  // *3 message __redis__:invalidate [r]
}

}  // namespace
}  // namespace frontcache::integration
