// Command permissions (auth.permissions, auth.users[].permissions, docs/security.md): with the
// default set a client can no longer read the upstream's configuration or credentials, watch or
// disconnect other clients, or administer the server; a user granted it still can; refusals are
// Redis's NOPERM bytes, inside MULTI too; key patterns refuse what Redis's ACL refuses.
#include <gtest/gtest.h>

#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

constexpr std::string_view kUpstreamSecret = "upstream-secret";

std::string noperm(std::string_view command) {
  return "-NOPERM this user has no permissions to run the '" + std::string(command) + "' command";
}
constexpr std::string_view kNoKeyPerm =
    "-NOPERM this user has no permissions to access one of the keys used as arguments";

class Permissions : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    // The upstream has secrets to leak: a password (the proxy's own AUTH) and a masterauth.
    o.redis_args = {"--requirepass", std::string(kUpstreamSecret), "--masterauth",
                    "master-secret", "--enable-debug-command",     "yes"};
    o.upstream_yaml = "  password: upstream-secret\n";
    // The default user (AUTH s3cret) gets what admin_commands: deny stands for.
    o.frontcache_yaml =
        "auth:\n"
        "  password: s3cret\n"
        "  users:\n"
        "    - {name: ops, password: opspw, permissions: \"+@all\"}\n"
        "    - {name: app, password: apppw, permissions: \"+@all -@admin ~app:*\"}\n";
    return o;
  }
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    if (!target().is_proxy()) GTEST_SKIP() << "the proxy's permissions";
    auto c = login("default", "s3cret");
    for (int i = 0; i < 250 && c("EXISTS", "ready").type != Reply::Type::Integer; ++i) {
      std::this_thread::sleep_for(20ms);
    }
  }
  RedisClient login(const std::string& user, const std::string& password) {
    auto c = target().client();
    EXPECT_EQ(c("AUTH", user, password).to_string(), "+OK") << user;
    return c;
  }
  RedisClient upstream() {
    auto d = target().direct_client();
    EXPECT_EQ(d("AUTH", std::string(kUpstreamSecret)).to_string(), "+OK");
    return d;
  }
};

TEST_F(Permissions, UpstreamSecretsNeedAGrant) {
  auto c = login("default", "s3cret");
  EXPECT_EQ(c("CONFIG", "GET", "requirepass").to_string(), noperm("config|get"));
  EXPECT_EQ(c("CONFIG", "GET", "masterauth").to_string(), noperm("config|get"));
  EXPECT_EQ(c("CONFIG", "GET", "*").to_string(), noperm("config|get"));
  EXPECT_EQ(c("CONFIG", "GET", "save", "requirepass").to_string(), noperm("config|get"));
  EXPECT_EQ(c("CONFIG", "SET", "maxmemory", "0").to_string(), noperm("config|set"));
  EXPECT_EQ(c("ACL", "LIST").to_string(), noperm("acl|list"));
  EXPECT_EQ(c("FRONTCACHE", "CONFIG").to_string(), noperm("frontcache"));
  // ACL WHOAMI names the client's user, not the proxy's upstream account.
  EXPECT_EQ(c("ACL", "WHOAMI").to_string(), "\"default\"");
  // What redis-benchmark and database pickers ask for reveals nothing: forwarded.
  auto d = upstream();
  for (const char* param : {"save", "appendonly", "databases"}) {
    EXPECT_EQ(c("CONFIG", "GET", param).to_string(), d("CONFIG", "GET", param).to_string());
  }
  EXPECT_EQ(c("CONFIG", "GET", "SAVE", "appendonly").to_string(),
            d("CONFIG", "GET", "SAVE", "appendonly").to_string());

  auto ops = login("ops", "opspw");
  EXPECT_EQ(ops("CONFIG", "GET", "requirepass").to_string(),
            "[\"requirepass\", \"upstream-secret\"]");
  EXPECT_EQ(ops("CONFIG", "GET", "masterauth").to_string(), "[\"masterauth\", \"master-secret\"]");
  EXPECT_EQ(ops("ACL", "WHOAMI").to_string(), "\"ops\"");
  EXPECT_EQ(ops("FRONTCACHE", "CONFIG").type, Reply::Type::String);
}

TEST_F(Permissions, OtherClientsNeedAGrant) {
  auto c = login("default", "s3cret");
  auto other = login("default", "s3cret");
  ASSERT_EQ(other("CLIENT", "SETNAME", "bystander").to_string(), "+OK");
  EXPECT_EQ(c("CLIENT", "LIST").to_string(), noperm("client|list"));
  EXPECT_EQ(c("CLIENT", "KILL", "TYPE", "normal").to_string(), noperm("client|kill"));
  EXPECT_EQ(c("MONITOR").to_string(), noperm("monitor"));
  EXPECT_EQ(c("PING").to_string(), "+PONG");  // not monitoring: an ordinary client still
  EXPECT_EQ(other("PING").to_string(), "+PONG");
  // Its own connection is the client's to see.
  EXPECT_NE(c("CLIENT", "INFO").str.find("user=default"), std::string::npos);
  EXPECT_EQ(c("CLIENT", "ID").type, Reply::Type::Integer);

  auto ops = login("ops", "opspw");
  EXPECT_NE(ops("CLIENT", "LIST").str.find("name=bystander"), std::string::npos);
  // MONITOR shows another client's command.
  RawClient monitor(target().host(), target().port());
  ASSERT_TRUE(monitor.send(encode_commands({{"AUTH", "ops", "opspw"}, {"MONITOR"}})));
  EXPECT_EQ(monitor.read_reply(5s).value_or(""), "+OK\r\n");
  EXPECT_EQ(monitor.read_reply(5s).value_or(""), "+OK\r\n");
  std::string seen;
  for (int i = 0; i < 50 && seen.find("watched-key") == std::string::npos; ++i) {
    ASSERT_EQ(other("SET", "watched-key", "1").to_string(), "+OK");
    seen += monitor.read_reply(200ms).value_or("");
  }
  EXPECT_NE(seen.find("watched-key"), std::string::npos) << seen;
  const Reply killed = ops("CLIENT", "KILL", "TYPE", "normal");
  ASSERT_EQ(killed.type, Reply::Type::Integer) << killed;
  EXPECT_GE(killed.integer, 2);  // c, other, the monitor (not ops itself: SKIPME yes)
  EXPECT_TRUE(other("PING").is_io_error());
}

TEST_F(Permissions, AdministrationNeedsAGrant) {
  auto c = login("default", "s3cret");
  EXPECT_EQ(c("CLUSTER", "RESET").to_string(), noperm("cluster|reset"));
  EXPECT_EQ(c("CLUSTER", "FAILOVER").to_string(), noperm("cluster|failover"));
  EXPECT_EQ(c("CLUSTER", "MEET", "127.0.0.1", "1").to_string(), noperm("cluster|meet"));
  EXPECT_EQ(c("CLUSTER", "FORGET", "abc").to_string(), noperm("cluster|forget"));
  EXPECT_EQ(c("CLUSTER", "SETSLOT", "1", "STABLE").to_string(), noperm("cluster|setslot"));
  EXPECT_EQ(c("DEBUG", "SLEEP", "0").to_string(), noperm("debug"));
  EXPECT_EQ(c("SHUTDOWN").to_string(), noperm("shutdown"));
  EXPECT_EQ(c("BGSAVE").to_string(), noperm("bgsave"));
  EXPECT_EQ(c("REPLICAOF", "NO", "ONE").to_string(), noperm("replicaof"));
  // Redis's own checks come first: wrong arity and unknown subcommands are Redis's errors.
  EXPECT_EQ(c("CONFIG", "GET").to_string(),
            "-ERR wrong number of arguments for 'config|get' command");

  auto ops = login("ops", "opspw");
  // Forwarded: a Redis without cluster support answers it (the proxy did not refuse it).
  const Reply reset = ops("CLUSTER", "RESET");
  EXPECT_TRUE(reset.is_error());
  EXPECT_EQ(reset.str.find("NOPERM"), std::string::npos) << reset;
  EXPECT_EQ(ops("DEBUG", "SLEEP", "0").to_string(), "+OK");
  // SHUTDOWN stays out of reach of everyone: it would stop the Redis every client shares.
  EXPECT_NE(ops("SHUTDOWN").str.find("never forwarded"), std::string::npos);
}

TEST_F(Permissions, OrdinaryCommandsStillWork) {
  auto c = login("default", "s3cret");
  EXPECT_EQ(c("SET", "k", "v").to_string(), "+OK");
  EXPECT_EQ(c("GET", "k").to_string(), "\"v\"");
  EXPECT_EQ(c("INCR", "n").to_string(), ":1");
  EXPECT_EQ(c("RPUSH", "l", "a", "b").to_string(), ":2");
  EXPECT_EQ(c("LRANGE", "l", "0", "-1").to_string(), "[\"a\", \"b\"]");
  EXPECT_EQ(c("HSET", "h", "f", "1").to_string(), ":1");
  EXPECT_EQ(c("EVAL", "return redis.call('GET', KEYS[1])", "1", "k").to_string(), "\"v\"");
  EXPECT_EQ(c("SELECT", "1").to_string(), "+OK");
  EXPECT_EQ(c("SELECT", "0").to_string(), "+OK");
  EXPECT_EQ(c("CLIENT", "SETNAME", "app").to_string(), "+OK");
  EXPECT_EQ(c("INFO", "server").type, Reply::Type::String);
  EXPECT_EQ(c("KEYS", "k").to_string(), "[\"k\"]");
  EXPECT_EQ(c("MULTI").to_string(), "+OK");
  EXPECT_EQ(c("INCR", "n").to_string(), "+QUEUED");
  EXPECT_EQ(c("EXEC").to_string(), "[:2]");
  EXPECT_EQ(c("PUBLISH", "chan", "hi").to_string(), ":0");
  EXPECT_EQ(c("DEL", "k", "n", "l", "h").to_string(), ":4");
}

TEST_F(Permissions, RefusedCommandInsideMultiAbortsExec) {
  auto c = login("default", "s3cret");
  ASSERT_EQ(c("SET", "k", "before").to_string(), "+OK");
  EXPECT_EQ(c("MULTI").to_string(), "+OK");
  EXPECT_EQ(c("SET", "k", "after").to_string(), "+QUEUED");
  EXPECT_EQ(c("CONFIG", "GET", "requirepass").to_string(), noperm("config|get"));
  EXPECT_EQ(c("CLIENT", "LIST").to_string(), noperm("client|list"));
  EXPECT_EQ(c("EXEC").to_string(), "-EXECABORT Transaction discarded because of previous errors.");
  EXPECT_EQ(c("GET", "k").to_string(), "\"before\"");
}

// The same requests, as the same user with the same ACL, to the proxy and to a reference
// Redis: byte-identical replies, key patterns and refusals inside MULTI included.
TEST_F(Permissions, SameBytesAsRedisAcl) {
  RedisServer reference(target().dir().path(),
                        std::vector<std::string>{"--enable-debug-command", "yes"});
  auto r = RedisClient("127.0.0.1", reference.port());
  ASSERT_EQ(r("ACL", "SETUSER", "app", "on", ">apppw", "~app:*", "+@all", "-@admin").to_string(),
            "+OK");
  const std::vector<std::vector<std::string>> script = {
      {"AUTH", "app", "apppw"},
      {"SET", "app:1", "v"},
      {"SET", "other", "v"},
      {"GET", "app:1"},
      {"MGET", "app:1", "other"},
      {"MSET", "app:a", "1", "app:b", "2"},
      {"MSET", "app:a", "1", "other", "2"},
      {"ZADD", "app:z", "1", "m"},
      {"ZUNIONSTORE", "app:d", "2", "app:z", "other"},
      {"ZUNIONSTORE", "app:d", "1", "app:z"},
      {"EVAL", "return 1", "1", "other"},
      {"EVAL", "return 1", "1", "app:x"},
      {"XADD", "app:s", "1-1", "f", "v"},
      {"XREAD", "STREAMS", "app:s", "other", "0", "0"},
      {"XREAD", "STREAMS", "app:s", "0"},
      {"RENAME", "app:1", "other"},
      {"DEBUG", "SLEEP", "0"},
      {"MONITOR"},
      {"CLIENT", "LIST"},
      {"CLIENT", "KILL", "TYPE", "normal"},
      {"CLUSTER", "RESET"},
      {"CONFIG", "GET", "requirepass"},
      {"ACL", "WHOAMI"},
      {"MULTI"},
      {"SET", "app:1", "w"},
      {"GET", "other"},
      {"EXEC"},
      {"GET", "app:1"},
      {"MULTI"},
      {"SET", "app:1", "w"},
      {"DEBUG", "SLEEP", "0"},
      {"EXEC"},
      {"GET", "app:1"},
      {"PING"},
  };
  const auto expected = raw_pipeline(reference.port(), script, 5s);
  const auto got = raw_pipeline(target().port(), script, 5s);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < script.size(); ++i) {
    EXPECT_EQ(got[i], expected[i])
        << script[i][0] << " " << (script[i].size() > 1 ? script[i][1] : "");
  }
  EXPECT_EQ(got[2], std::string(kNoKeyPerm) + "\r\n");
}

}  // namespace
}  // namespace frontcache::integration
