// Connection-state commands: transactions, blocking commands, pub/sub, MONITOR, CLIENT
// TRACKING, RESET. Through the proxy they run on a pinned upstream connection (DESIGN.md §1).
// Each scenario is played twice, through the target and straight against the redis-server
// behind it (after FLUSHALL), and the raw reply bytes must be identical; a bystander client on
// another connection must stay unaffected all along.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "bystander.hpp"
#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

using Commands = std::vector<std::vector<std::string>>;

class StatefulCommands : public TargetTest {
 protected:
  // MONITOR is @admin: granted here, as Redis's default user has it.
  TargetOptions target_options() const override {
    TargetOptions o;
    o.frontcache_yaml = "admin_commands: forward\n";
    return o;
  }
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    wait_for_upstream(target());
    bystander_ = std::make_unique<Bystander>(target().port());
    raw_ = std::make_unique<RawClient>(target().host(), target().port());
    ASSERT_TRUE(raw_->connected());
  }
  void TearDown() override {
    if (bystander_) {
      bystander_->wait_rounds(20);
      bystander_->stop();
      EXPECT_EQ(bystander_->failure(), "") << "a client on another connection was affected";
      EXPECT_GT(bystander_->rounds(), 0);
    }
    raw_.reset();
    bystander_.reset();
    TargetTest::TearDown();
  }

  // Sends one command on the stateful connection and reads one reply (never waits forever).
  std::string call(const std::vector<std::string>& argv, std::chrono::milliseconds t = 5s) {
    if (!raw_->send(encode_command(argv), t)) return "<send failed>";
    return raw_->read_reply(t).value_or("<no reply>");
  }
  void expect_usable() {
    EXPECT_EQ(call({"PING"}), "+PONG\r\n") << "connection unusable afterwards";
  }

  // Sends `commands` pipelined on a fresh connection to `port`, then a sentinel PING, and
  // returns every byte received before the sentinel's reply (for scenarios whose reply count is
  // not one per command). Replies come in order, so the sentinel's reply proves every earlier
  // one has arrived: no time window is guessed.
  static std::string play(uint16_t port, const Commands& commands) {
    return play_until_sentinel(port, commands);
  }
  // Deletes every key the commands may have touched (any argument, in databases 0-2), but not
  // the bystander's: FLUSHALL would pull its key away between its SET and its GET.
  void clean(const Commands& commands) {
    auto direct = target().direct_client();
    std::vector<std::string> del = {"DEL"};
    for (const auto& c : commands) {
      for (const auto& a : c) {
        if (a != "bystander") del.push_back(a);
      }
    }
    for (const char* db : {"2", "1", "0"}) {
      direct("SELECT", db);
      direct.command(del);
    }
  }
  // The same pipeline through the target and directly, from the same starting data.
  void expect_same_as_redis(const Commands& commands) {
    clean(commands);
    const std::string through = play(target().port(), commands);
    clean(commands);
    const std::string reference = play(target().redis_port(), commands);
    EXPECT_EQ(through, reference) << "replies differ from Redis's for "
                                  << encode_commands(commands);
    EXPECT_FALSE(reference.empty());
  }

  std::unique_ptr<Bystander> bystander_;
  std::unique_ptr<RawClient> raw_;
};

TEST_F(StatefulCommands, MultiExec) {
  ASSERT_EQ(call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(call({"SET", "tx", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(call({"INCR", "tx"}), "+QUEUED\r\n");
  EXPECT_EQ(call({"EXEC"}), "*2\r\n+OK\r\n:2\r\n");
  EXPECT_EQ(target().direct_client()("GET", "tx").to_string(), "\"2\"");
  expect_usable();
}

TEST_F(StatefulCommands, TransactionsMatchRedis) {
  expect_same_as_redis({{"SET", "k", "1"},
                        {"MULTI"},
                        {"INCR", "k"},
                        {"GET", "k"},
                        {"PING"},
                        {"EXEC"},
                        {"GET", "k"}});
  // Queue-time error: EXECABORT; runtime error: inside EXEC's array.
  expect_same_as_redis({{"MULTI"}, {"SET", "k"}, {"INCR", "k"}, {"EXEC"}, {"PING"}});
  expect_same_as_redis({{"SET", "s", "x"}, {"MULTI"}, {"INCR", "s"}, {"SET", "t", "1"}, {"EXEC"}});
  expect_same_as_redis({{"EXEC"},
                        {"DISCARD"},
                        {"MULTI"},
                        {"MULTI"},
                        {"WATCH", "k"},
                        {"DISCARD"},
                        {"UNWATCH"},
                        {"GET", "k"}});
  expect_same_as_redis({{"MULTI"},
                        {"SELECT", "1"},
                        {"SET", "db1", "v"},
                        {"EXEC"},
                        {"GET", "db1"},
                        {"SELECT", "0"},
                        {"GET", "db1"}});
}

TEST_F(StatefulCommands, WatchAbortsOnConcurrentWrite) {
  ASSERT_EQ(call({"WATCH", "watched"}), "+OK\r\n");
  auto other = target().client();
  ASSERT_EQ(other("SET", "watched", "theirs").to_string(), "+OK");
  ASSERT_EQ(call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(call({"SET", "watched", "mine"}), "+QUEUED\r\n");
  EXPECT_EQ(call({"EXEC"}), "*-1\r\n") << "EXEC must abort after a watched key changed";
  EXPECT_EQ(other("GET", "watched").to_string(), "\"theirs\"");
  // UNWATCH ends the watch: a later write does not abort.
  ASSERT_EQ(call({"WATCH", "watched"}), "+OK\r\n");
  ASSERT_EQ(call({"UNWATCH"}), "+OK\r\n");
  ASSERT_EQ(other("SET", "watched", "again").to_string(), "+OK");
  ASSERT_EQ(call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(call({"GET", "watched"}), "+QUEUED\r\n");
  EXPECT_EQ(call({"EXEC"}), "*1\r\n$5\r\nagain\r\n");
  expect_usable();
}

TEST_F(StatefulCommands, WriteBeforeMultiRunsFirst) {
  // A SET on the shared connection, then MULTI on the pinned one, pipelined: upstream order
  // must be the client's.
  expect_same_as_redis({{"SET", "order", "1"},
                        {"MULTI"},
                        {"GET", "order"},
                        {"EXEC"},
                        {"SET", "order", "2"},
                        {"GET", "order"}});
}

TEST_F(StatefulCommands, BlpopWaitsForPush) {
  ASSERT_TRUE(raw_->send(encode_command({"BLPOP", "queue", "0"})));
  auto direct = target().direct_client();
  ASSERT_TRUE(wait_until([&] { return blocked_clients(direct) == 1; }))
      << "the BLPOP never blocked in Redis";
  EXPECT_EQ(raw_->read_available(), "") << "BLPOP on an empty list must block";
  auto other = target().client();
  EXPECT_EQ(other("RPUSH", "queue", "job").to_string(), ":1");
  EXPECT_EQ(raw_->read_reply(3s).value_or("<no reply>"), "*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n");
  expect_usable();
}

TEST_F(StatefulCommands, BlockingCommandsMatchRedis) {
  expect_same_as_redis({{"RPUSH", "l", "a", "b"},
                        {"BLPOP", "l", "1"},
                        {"BRPOP", "l", "1"},
                        {"BLPOP", "l", "0.1"},
                        {"PING"}});
  expect_same_as_redis({{"RPUSH", "l", "a", "b"},
                        {"BLMOVE", "l", "m", "LEFT", "RIGHT", "1"},
                        {"BRPOPLPUSH", "l", "m", "1"},
                        {"BLMPOP", "1", "1", "m", "LEFT"},
                        {"LRANGE", "m", "0", "-1"}});
  expect_same_as_redis({{"ZADD", "z", "1", "a", "2", "b", "3", "c"},
                        {"BZPOPMIN", "z", "1"},
                        {"BZPOPMAX", "z", "1"},
                        {"BZMPOP", "1", "1", "z", "MIN"},
                        {"BZPOPMIN", "z", "0.1"}});
  expect_same_as_redis({{"XADD", "s", "1-1", "f", "v"},
                        {"XREAD", "BLOCK", "100", "STREAMS", "s", "0"},
                        {"XREAD", "BLOCK", "100", "STREAMS", "s", "$"},
                        {"WAIT", "0", "100"},
                        {"GET", "after"}});
  expect_same_as_redis({{"BLPOP", "l"}, {"BLPOP", "l", "x"}, {"WAIT", "0"}});
}

TEST_F(StatefulCommands, SubscribeReceivesPublishedMessages) {
  ASSERT_EQ(call({"SUBSCRIBE", "news"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  auto other = target().client();
  EXPECT_EQ(other("PUBLISH", "news", "hello").to_string(), ":1");
  EXPECT_EQ(raw_->read_reply(3s).value_or("<no message>"),
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
  EXPECT_EQ(call({"PSUBSCRIBE", "n*"}), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n");
  EXPECT_EQ(other("PUBLISH", "news", "two").to_string(), ":2");
  EXPECT_EQ(raw_->read_reply(3s).value_or("<none>"),
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\ntwo\r\n");
  EXPECT_EQ(raw_->read_reply(3s).value_or("<none>"),
            "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$3\r\ntwo\r\n");
  EXPECT_EQ(call({"PING"}), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  EXPECT_EQ(call({"GET", "x"}),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
            "RESET are allowed in this context\r\n");
  EXPECT_EQ(call({"UNSUBSCRIBE", "news"}), "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  EXPECT_EQ(call({"PUNSUBSCRIBE"}), "*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n");
  expect_usable();
}

TEST_F(StatefulCommands, PubSubMatchesRedis) {
  expect_same_as_redis({{"SUBSCRIBE", "a", "b"},
                        {"PING", "hi"},
                        {"CLIENT", "ID"},
                        {"SSUBSCRIBE", "s"},
                        {"PSUBSCRIBE", "p*", "q*"},
                        {"UNSUBSCRIBE"},
                        {"PUNSUBSCRIBE"},
                        {"SUNSUBSCRIBE"},
                        {"UNSUBSCRIBE"},
                        {"PING"},
                        {"SET", "k", "v"},
                        {"GET", "k"}});
  expect_same_as_redis({{"SUBSCRIBE", "a"}, {"RESET"}, {"SET", "k", "v"}, {"GET", "k"}});
  // PUBLISH from any client, counted as Redis counts it.
  expect_same_as_redis({{"PUBLISH", "nobody", "x"}, {"SPUBLISH", "nobody", "x"}});
}

TEST_F(StatefulCommands, MonitorSeesOtherClientsCommands) {
  ASSERT_EQ(call({"MONITOR"}), "+OK\r\n");
  auto other = target().client();
  ASSERT_EQ(other("SET", "monitored", "v").to_string(), "+OK");
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    auto line = raw_->read_reply(500ms);
    if (line) seen = line->find("\"monitored\"") != std::string::npos;
  }
  EXPECT_TRUE(seen) << "MONITOR feed: " << raw_->received();
  // The feed goes on (the proxy's own invalidation PUBLISH is a command too) until RESET ends it.
  ASSERT_TRUE(raw_->send(encode_command({"RESET"})));
  bool reset = false;
  const auto reset_deadline = std::chrono::steady_clock::now() + 3s;
  while (!reset && std::chrono::steady_clock::now() < reset_deadline) {
    auto line = raw_->read_reply(500ms);
    reset = line && *line == "+RESET\r\n";
  }
  EXPECT_TRUE(reset);
  expect_usable();
}

// RESP2 client-side caching as Redis documents it: a second connection subscribes to
// __redis__:invalidate, the tracking connection redirects to it, and a write by another client
// to a key the tracking connection read must arrive there as an invalidation message.
TEST_F(StatefulCommands, ClientTracking) {
  RawClient subscriber(target().host(), target().port());
  ASSERT_TRUE(subscriber.send(encode_command({"CLIENT", "ID"})));
  const std::string id_reply = subscriber.read_reply().value_or("");
  ASSERT_TRUE(id_reply.starts_with(":")) << id_reply;
  const std::string id = id_reply.substr(1, id_reply.size() - 3);
  ASSERT_TRUE(subscriber.send(encode_command({"SUBSCRIBE", "__redis__:invalidate"})));
  ASSERT_EQ(subscriber.read_reply().value_or(""),
            "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");

  ASSERT_EQ(call({"CLIENT", "TRACKING", "on", "REDIRECT", id}), "+OK\r\n");
  EXPECT_EQ(call({"SET", "tracked", "1"}), "+OK\r\n");
  EXPECT_EQ(call({"GET", "tracked"}), "$1\r\n1\r\n");
  auto other = target().client();
  ASSERT_EQ(other("SET", "tracked", "2").to_string(), "+OK");
  EXPECT_EQ(subscriber.read_reply(30s).value_or("<no invalidation message>"),
            "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$7\r\ntracked\r\n");
  EXPECT_EQ(call({"CLIENT", "TRACKING", "off"}), "+OK\r\n");
  expect_usable();
}

// The tracking commands' replies are Redis's.
TEST_F(StatefulCommands, ClientTrackingRepliesMatchRedis) {
  EXPECT_EQ(call({"CLIENT", "TRACKING", "on"}), "+OK\r\n");
  EXPECT_EQ(call({"SET", "tracked", "1"}), "+OK\r\n");
  EXPECT_EQ(call({"GET", "tracked"}), "$1\r\n1\r\n");
  EXPECT_EQ(call({"CLIENT", "TRACKING", "off"}), "+OK\r\n");
  expect_usable();
  expect_same_as_redis({{"CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"},
                        {"CLIENT", "TRACKINGINFO"},
                        {"CLIENT", "TRACKING", "off"},
                        {"CLIENT", "TRACKINGINFO"},
                        {"CLIENT", "CACHING", "yes"}});
}

TEST_F(StatefulCommands, ClientReplyAndReset) {
  expect_same_as_redis({{"CLIENT", "REPLY", "OFF"},
                        {"SET", "a", "1"},
                        {"GET", "a"},
                        {"CLIENT", "REPLY", "ON"},
                        {"GET", "a"},
                        {"CLIENT", "REPLY", "SKIP"},
                        {"GET", "a"},
                        {"GET", "a"},
                        {"CLIENT", "REPLY", "MAYBE"}});
  expect_same_as_redis({{"SELECT", "2"},
                        {"SET", "x", "1"},
                        {"MULTI"},
                        {"RESET"},
                        {"GET", "x"},
                        {"EXEC"},
                        {"CLIENT", "GETNAME"}});
}

TEST_F(StatefulCommands, ScriptsAndFunctions) {
  expect_same_as_redis({{"EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "sk", "v"},
                        {"GET", "sk"},
                        {"SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"},
                        {"EVALSHA", "b0b54fd8fb42ea5ac1a0d7fbfd1e91e4fd0f5a3c", "1", "n"},
                        {"EVAL", "return {1, 'two', {3}}", "0"},
                        {"EVAL", "return redis.call('NOSUCH')", "0"},
                        {"FUNCTION", "LOAD",
                         "#!lua name=lib\nredis.register_function('incrby2', function(k) return "
                         "redis.call('INCRBY', k[1], 2) end)"},
                        {"FCALL", "incrby2", "1", "f"},
                        {"FCALL_RO", "incrby2", "1", "f"},
                        {"FUNCTION", "DELETE", "lib"}});
}

}  // namespace
}  // namespace frontcache::integration
