// RESP3 through the proxy, compared byte for byte with a plain redis-server given the same
// bytes: one command of every family after HELLO 3, cached replies per protocol, pushes mixed
// with replies, protocol switches, and redis-cli -3.
#include <gtest/gtest.h>

#include <regex>

#include "twin.hpp"

namespace frontcache::integration {
namespace {

class Resp3 : public TwinTest {};

std::string join(std::initializer_list<std::string> commands) {
  std::string out;
  for (const auto& c : commands) out += c;
  return out;
}

const std::string kHello3 = cmd({"HELLO", "3"});

// HELLO's map holds the connection id, which differs between two servers: masked.
std::string without_hello(std::string replies) {
  static const std::regex id("\\$2\r\nid\r\n:[0-9]+\r\n");
  return std::regex_replace(replies, id, "$$2\r\nid\r\n:ID\r\n");
}

TEST_F(Resp3, OneCommandOfEveryFamilyIsRedisBytes) {
  const std::string script = join({
      kHello3,
      cmd({"SET", "s", "v"}),
      cmd({"GET", "s"}),
      cmd({"GET", "s"}),
      cmd({"GET", "none"}),
      cmd({"GET", "none"}),
      cmd({"MGET", "s", "none", "s"}),
      cmd({"STRLEN", "s"}),
      cmd({"HSET", "h", "f", "1", "g", "2"}),
      cmd({"HGETALL", "h"}),
      cmd({"HGETALL", "h"}),
      cmd({"HGET", "h", "f"}),
      cmd({"HMGET", "h", "f", "x"}),
      cmd({"HEXISTS", "h", "f"}),
      cmd({"RPUSH", "l", "a", "b"}),
      cmd({"LRANGE", "l", "0", "-1"}),
      cmd({"LLEN", "l"}),
      cmd({"SADD", "st", "m"}),
      cmd({"SMEMBERS", "st"}),
      cmd({"SMEMBERS", "st"}),
      cmd({"SISMEMBER", "st", "m"}),
      cmd({"ZADD", "z", "1.5", "m"}),
      cmd({"ZSCORE", "z", "m"}),
      cmd({"ZSCORE", "z", "m"}),
      cmd({"ZRANGE", "z", "0", "-1", "WITHSCORES"}),
      cmd({"ZRANGE", "z", "0", "-1", "WITHSCORES"}),
      cmd({"EXISTS", "s"}),
      cmd({"TYPE", "h"}),
      cmd({"INCRBYFLOAT", "f", "1.5"}),
      cmd({"EVAL", "return {1, 'a', {true}}", "0"}),
      cmd({"CONFIG", "GET", "databases"}),
      cmd({"XADD", "x", "1-1", "k", "v"}),
      cmd({"XRANGE", "x", "-", "+"}),
      cmd({"CLIENT", "GETNAME"}),
      cmd({"ECHO", "e"}),
      cmd({"PING"}),
      cmd({"SELECT", "1"}),
      cmd({"GET", "s"}),
      cmd({"SELECT", "0"}),
      cmd({"DEL", "s"}),
      cmd({"GET", "s"}),
      cmd({"OBJECT", "ENCODING", "h"}),
  });
  auto [redis, proxy] = twin().run(script);
  EXPECT_EQ(first_difference(without_hello(redis), without_hello(proxy)), "");
  EXPECT_EQ(proxy.rfind("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n", 0), 0u) << proxy.substr(0, 200);
}

// The same key read by a RESP2 and a RESP3 client: each gets its own protocol's bytes from L1.
TEST_F(Resp3, CachedRepliesAreKeptPerProtocol) {
  expect_same(join({cmd({"HSET", "h", "f", "1"}), cmd({"ZADD", "z", "2.5", "m"})}));
  for (int i = 0; i < 3; ++i) {
    expect_same(join({cmd({"HGETALL", "h"}), cmd({"ZSCORE", "z", "m"}), cmd({"GET", "nokey"})}));
    auto [redis, proxy] = twin().run(
        join({kHello3, cmd({"HGETALL", "h"}), cmd({"ZSCORE", "z", "m"}), cmd({"GET", "nokey"})}));
    EXPECT_EQ(first_difference(without_hello(redis), without_hello(proxy)), "");
  }
}

// RESP3 subscribers get pushes and may run any command while subscribed; the subscription
// replies are pushes too.
TEST_F(Resp3, SubscriberMixesCommandsAndPushes) {
  auto redis = twin().connect(Side::Redis);
  auto proxy = twin().connect(Side::Proxy);
  auto redis_pub = twin().connect(Side::Redis);
  auto proxy_pub = twin().connect(Side::Proxy);
  auto step = [&](RawClient& r, RawClient& p, const std::string& script) {
    const std::string a = without_hello(Twin::exchange(r, script));
    const std::string b = without_hello(Twin::exchange(p, script));
    EXPECT_EQ(first_difference(a, b), "") << script;
  };
  step(*redis, *proxy,
       join({kHello3, cmd({"SUBSCRIBE", "a", "b"}), cmd({"GET", "k"}), cmd({"SET", "k", "1"}),
             cmd({"PSUBSCRIBE", "p*"}), cmd({"GET", "k"})}));
  step(*redis_pub, *proxy_pub, join({cmd({"PUBLISH", "a", "one"}), cmd({"PUBLISH", "px", "two"})}));
  step(*redis, *proxy, join({cmd({"PING"}), cmd({"UNSUBSCRIBE", "a"}), cmd({"GET", "k"})}));
  step(*redis_pub, *proxy_pub, cmd({"PUBLISH", "b", "three"}));
  step(*redis, *proxy,
       join({cmd({"PUNSUBSCRIBE"}), cmd({"UNSUBSCRIBE", "b"}), cmd({"UNSUBSCRIBE"}),
             cmd({"GET", "k"}), cmd({"HELLO", "2"})}));
  step(*redis, *proxy, join({cmd({"SUBSCRIBE", "c"}), cmd({"PING"}), cmd({"GET", "k"})}));
}

// Switching protocol in every state: on shared connections with requests in flight, while
// pinned, RESET back to RESP2, and HELLO inside MULTI.
TEST_F(Resp3, ProtocolSwitchesKeepOrderAndBytes) {
  auto [r1, p1] = twin().run(join({cmd({"SET", "k", "v"}), cmd({"GET", "k"}), kHello3,
                                   cmd({"GET", "k"}), cmd({"GET", "none"}), cmd({"RESET"}),
                                   cmd({"GET", "none"}), kHello3, cmd({"GET", "none"})}));
  EXPECT_EQ(first_difference(without_hello(r1), without_hello(p1)), "");
  auto [r2, p2] = twin().run(
      join({kHello3, cmd({"MULTI"}), cmd({"GET", "k"}), cmd({"HSET", "h", "a", "b"}),
            cmd({"HGETALL", "h"}), cmd({"EXEC"}), cmd({"WATCH", "k"}), cmd({"HELLO", "2"}),
            cmd({"HGETALL", "h"}), cmd({"UNWATCH"}), cmd({"HGETALL", "h"})}));
  EXPECT_EQ(first_difference(without_hello(r2), without_hello(p2)), "");
}

TEST_F(Resp3, RedisCli3PrintsWhatRedisPrints) {
  const std::vector<std::vector<std::string>> commands = {
      {"hset", "h", "f", "1"}, {"hgetall", "h"},
      {"hgetall", "h"},        {"zadd", "z", "1", "m"},
      {"zscore", "z", "m"},    {"get", "none"},
      {"client", "getname"},   {"eval", "return {1, {true, false}, 'x'}", "0"},
  };
  for (const auto& c : commands) {
    std::vector<std::string> outputs;
    for (Side side : {Side::Redis, Side::Proxy}) {
      const uint16_t port = side == Side::Proxy ? twin().proxy().port() : twin().redis_port(side);
      std::vector<std::string> argv = {"redis-cli", "-3", "-p", std::to_string(port)};
      argv.insert(argv.end(), c.begin(), c.end());
      TempDir dir;
      const RunResult r = run_command(argv, dir.path(), 30s);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      outputs.push_back(r.out);
    }
    EXPECT_EQ(outputs[1], outputs[0]) << c[0];
  }
}

}  // namespace
}  // namespace frontcache::integration
