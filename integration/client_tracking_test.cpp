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

// A script that reads: Redis remembers its declared keys for the caller, and tells it when they
// change (EVAL and EVAL_RO alike). Through the proxy the same messages arrive.
TEST_F(ClientTracking, ScriptThatReadsTracksItsDeclaredKeys) {
  for (bool through_proxy : {false, true}) {
    last_.clear();  // the previous round's last message is no repeat of this round's
    auto redis = open(Side::Redis);
    auto proxy = open(Side::Proxy, through_proxy);
    const std::string read = "return redis.call('get', KEYS[1])";
    same(redis, proxy, true,
         join({cmd({"HELLO", "3"}), cmd({"CLIENT", "TRACKING", "on"}),
               cmd({"EVAL", read, "1", "s1"}), cmd({"EVAL_RO", read, "1", "s2"})}));
    same(redis, proxy, false, cmd({"SET", "s1", "1"}));
    same_message(redis, proxy);  // >2 invalidate [s1]
    same(redis, proxy, false, cmd({"SET", "s2", "2"}));
    same_message(redis, proxy);  // >2 invalidate [s2]
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

// With fence rounds far apart (60 s), so that whatever the proxy remembers about its own writes
// between two rounds stays in place for the whole test.
class ClientTrackingSlowFence : public ClientTracking {
 protected:
  TwinOptions twin_options() const override {
    TwinOptions o;
    o.frontcache_yaml = "invalidation:\n  ping_interval: 60s\n  max_staleness: 60s\n";
    return o;
  }
  // The same script on a client of each side's Redis, bypassing the proxy.
  void same_direct(const std::string& script) {
    auto a = twin().connect(Side::Redis);
    auto b = twin().connect_redis(Side::Proxy);
    EXPECT_EQ(first_difference(Twin::exchange(*a, script), Twin::exchange(*b, script)), "")
        << script;
  }
  // A BCAST tracking client of the proxy, for waiting on events. A write made directly on Redis
  // just before a tracking client's read may be told after that read (docs/resp3.md); once this
  // client has been told of the write, the proxy has taken Redis's report of it (one worker: all
  // tracking clients are told in the same step), and later reads cannot be told of it.
  std::unique_ptr<RawClient> observer() {
    auto o = twin().connect(Side::Proxy);
    const std::string replies =
        Twin::exchange(*o, join({cmd({"HELLO", "3"}), cmd({"CLIENT", "TRACKING", "on", "BCAST"})}));
    EXPECT_TRUE(replies.ends_with("+OK\r\n")) << replies;
    return o;
  }
  static void told(RawClient& observer, const std::string& key) {
    const std::string message =
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    EXPECT_EQ(observer.read_reply(10s).value_or("(nothing)"), message);
  }
};

// Writes through the proxy that change nothing (SET NX of an existing key, DEL of a missing
// one) are not reported by Redis. A later write by another client must still reach the
// tracking client: the proxy must not take its report for the echo of its own write.
TEST_F(ClientTrackingSlowFence, AWriteRedisDoesNotReportHidesNoLaterWrite) {
  auto redis = open(Side::Redis, /*writer_through_proxy=*/true);
  auto proxy = open(Side::Proxy, /*writer_through_proxy=*/true);
  auto seen = observer();
  same_direct(cmd({"SET", "k", "v"}));
  told(*seen, "k");  // else its report may come after the GET below and be told
  same(redis, proxy, true, join({cmd({"HELLO", "3"}), cmd({"CLIENT", "TRACKING", "on"})}));
  same(redis, proxy, false, join({cmd({"SET", "k", "x", "NX"}), cmd({"DEL", "gone"})}));
  same(redis, proxy, true, join({cmd({"GET", "k"}), cmd({"GET", "gone"})}));
  // One at a time: keys Redis reports in one batch may be told in another order.
  same_direct(cmd({"SET", "k", "new"}));
  same_message(redis, proxy);  // >2 invalidate [k]
  same_direct(cmd({"SET", "gone", "1"}));
  same_message(redis, proxy);  // >2 invalidate [gone]
}

// SWAPDB changes every key of two databases, and Redis tells tracking clients nothing; the
// proxy tells them all to drop everything (docs/resp3.md). A FLUSHALL made afterwards directly
// on Redis must still be told: Redis reports no SWAPDB, so that report is not its echo.
TEST_F(ClientTrackingSlowFence, FlushallAfterASwapdbThroughTheProxyIsTold) {
  auto redis = open(Side::Redis, /*writer_through_proxy=*/true);
  auto proxy = open(Side::Proxy, /*writer_through_proxy=*/true);
  auto seen = observer();
  same_direct(cmd({"SET", "k", "v"}));
  told(*seen, "k");  // else its report may come after the GET below and be told
  same(redis, proxy, true,
       join({cmd({"HELLO", "3"}), cmd({"CLIENT", "TRACKING", "on"}), cmd({"GET", "k"})}));
  same(redis, proxy, false, cmd({"SWAPDB", "1", "2"}));
  const std::string null_message = ">2\r\n$10\r\ninvalidate\r\n_\r\n";
  EXPECT_EQ(proxy.tracker->read_reply(10s).value_or("(nothing)"), null_message);
  same(redis, proxy, true, cmd({"GET", "k"}));
  same_direct(cmd({"FLUSHALL"}));
  same_message(redis, proxy);  // >2 invalidate (null)
}

}  // namespace
}  // namespace frontcache::integration
