// SELECT: the logical database is per connection, goes through to Redis, and does not leak
// between connections that share upstream connections (DESIGN.md §2.6).
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

using Select = TargetTest;

TEST_F(Select, KeysInDatabaseOneAreNotInDatabaseZero) {
  auto c = target().client();
  ASSERT_EQ(c("SELECT", "1").to_string(), "+OK");
  ASSERT_EQ(c("SET", "db1key", "one").to_string(), "+OK");
  EXPECT_EQ(c("GET", "db1key").to_string(), "\"one\"");
  ASSERT_EQ(c("SELECT", "0").to_string(), "+OK");
  EXPECT_EQ(c("GET", "db1key").to_string(), "(nil)");
  EXPECT_EQ(c("EXISTS", "db1key").to_string(), ":0");

  // A fresh connection starts in database 0.
  auto fresh = target().client();
  EXPECT_EQ(fresh("GET", "db1key").to_string(), "(nil)");

  // Read directly from Redis.
  auto d = target().direct_client();
  EXPECT_EQ(d("GET", "db1key").to_string(), "(nil)");
  ASSERT_EQ(d("SELECT", "1").to_string(), "+OK");
  EXPECT_EQ(d("GET", "db1key").to_string(), "\"one\"");

  // A write made directly in db 1 is seen through the target in db 1 only. It bypasses the
  // proxy, so its L1 learns of it from CLIENT TRACKING a moment later: poll briefly.
  ASSERT_EQ(d("SET", "db1key", "changed").to_string(), "+OK");
  ASSERT_EQ(c("SELECT", "1").to_string(), "+OK");
  std::string got;
  for (int i = 0; i < 1000 && got != "\"changed\""; ++i) {
    got = c("GET", "db1key").to_string();
    if (got != "\"changed\"") std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(got, "\"changed\"");
}

TEST_F(Select, OutOfRangeDatabase) {
  auto c = target().client();
  EXPECT_EQ(c("SELECT", "16").to_string(), "-ERR DB index is out of range");
  EXPECT_EQ(c("SELECT", "x").to_string(), "-ERR value is not an integer or out of range");
  EXPECT_EQ(c("SET", "k", "v").to_string(), "+OK");
  auto d = target().direct_client();
  EXPECT_EQ(d("GET", "k").to_string(), "\"v\"") << "a failed SELECT must leave db 0 selected";
}

// Two connections pipeline SELECT 1; SET; SELECT 0; SET; GET; SELECT 1; GET at the same time,
// so their requests interleave on whatever upstream connections the target uses.
TEST_F(Select, PipelinedSelectOnTwoConnectionsAtOnce) {
  constexpr int kRounds = 300;
  std::atomic<int> mismatches{0};
  std::vector<std::string> first_failure(2);
  auto worker = [&](int id) {
    auto c = target().client();
    for (int round = 0; round < kRounds; ++round) {
      const std::string key = "shared:" + std::to_string(round % 7);
      const std::string v1 = "db1-c" + std::to_string(id) + "-" + std::to_string(round);
      const std::string v0 = "db0-c" + std::to_string(id) + "-" + std::to_string(round);
      // Keys are per connection so that values are deterministic; the key names collide across
      // databases, which is what must stay apart.
      const std::string k = key + ":c" + std::to_string(id);
      auto replies = c.pipeline({{"SELECT", "1"},
                                 {"SET", k, v1},
                                 {"SELECT", "0"},
                                 {"SET", k, v0},
                                 {"GET", k},
                                 {"SELECT", "1"},
                                 {"GET", k},
                                 {"SELECT", "0"}});
      std::string got;
      for (const auto& r : replies) got += r.to_string() + " ";
      const std::string want = "+OK +OK +OK +OK \"" + v0 + "\" +OK \"" + v1 + "\" +OK ";
      if (got != want) {
        if (mismatches++ == 0 || first_failure[id].empty()) {
          first_failure[id] = "want " + want + "\ngot  " + got;
        }
      }
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(mismatches.load(), 0) << first_failure[0] << "\n" << first_failure[1];

  auto d = target().direct_client();
  for (int id = 0; id < 2; ++id) {
    const std::string k = "shared:" + std::to_string((kRounds - 1) % 7) + ":c" + std::to_string(id);
    const std::string last = std::to_string(kRounds - 1);
    EXPECT_EQ(d("GET", k).str, "db0-c" + std::to_string(id) + "-" + last);
    ASSERT_EQ(d("SELECT", "1").to_string(), "+OK");
    EXPECT_EQ(d("GET", k).str, "db1-c" + std::to_string(id) + "-" + last);
    ASSERT_EQ(d("SELECT", "0").to_string(), "+OK");
  }
}

// A script running past busy-reply-threshold: Redis refuses SELECT and every other command but
// SCRIPT KILL and a few more, and stays in its database. A client of another database than
// the shared connection's gets Redis's own BUSY refusal (not an error of the proxy's), its
// SCRIPT KILL reaches Redis (no SELECT, no queueing behind the script), and afterwards its
// database is the one it selected. The script is run directly on Redis, as another instance or
// an operator would.
class BusyScript : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.redis_args = {"--busy-reply-threshold", "10"};
    o.workers = 1;  // one worker, so both clients below use its first shared connection
    return o;
  }

  // Starts the endless script on Redis and waits until `direct` (a client in the database the
  // test uses, holding key k) gets Redis's BUSY refusal: that refusal.
  template <typename Client>
  std::string start_script(Client& direct) {
    script_.emplace(target().host(), target().redis_port());
    EXPECT_TRUE(script_->send(encode_commands({{"EVAL", "while true do end", "0"}})));
    std::string refusal;
    EXPECT_TRUE(wait_until([&] {
      refusal = direct("GET", "k").to_string();
      return refusal.starts_with("-BUSY ");
    })) << refusal;
    return refusal;
  }
  // After SCRIPT KILL: the script's own reply.
  std::string script_reply() { return script_->read_reply().value_or("<none>"); }

  std::optional<RawClient> script_;
};

TEST_F(BusyScript, OtherDatabasesGetRedisRefusalAndScriptKillGetsThrough) {
  auto a = target().client();
  ASSERT_EQ(a("SELECT", "9").to_string(), "+OK");
  ASSERT_EQ(a("SET", "k", "v").to_string(), "+OK");
  auto zero = target().client();  // the shared connection goes back to database 0
  ASSERT_EQ(zero("SET", "x", "1").to_string(), "+OK");
  auto direct = target().direct_client();
  ASSERT_EQ(direct("SELECT", "9").to_string(), "+OK");

  const std::string refusal = start_script(direct);
  ASSERT_TRUE(refusal.starts_with("-BUSY ")) << refusal;

  EXPECT_EQ(a("GET", "k").to_string(), refusal);
  EXPECT_EQ(a("EXISTS", "k").to_string(), refusal);
  EXPECT_EQ(a("SCRIPT", "KILL").to_string(), "+OK");
  const std::string killed = script_reply();
  EXPECT_TRUE(killed.starts_with("-ERR ") &&
              killed.find("Script killed by user") != std::string::npos)
      << killed;
  EXPECT_EQ(a("GET", "k").to_string(), "\"v\"");
  EXPECT_EQ(zero("GET", "k").to_string(), "(nil)");
}

// ... and so does a command that needs a dedicated connection (a blocking one, SUBSCRIBE): the
// hand-off's SELECT is refused, and so is the command behind it, with Redis's own BUSY, which
// the client gets as from Redis; it stays connected, in its database, and its next blocking
// command (the script killed) runs there.
TEST_F(BusyScript, ACommandOnADedicatedConnectionGetsRedisRefusalAndTheClientStays) {
  auto a = target().client();
  ASSERT_EQ(a("SELECT", "9").to_string(), "+OK");
  ASSERT_EQ(a("SET", "k", "v").to_string(), "+OK");
  auto direct = target().direct_client();
  ASSERT_EQ(direct("SELECT", "9").to_string(), "+OK");

  const std::string refusal = start_script(direct);
  ASSERT_TRUE(refusal.starts_with("-BUSY ")) << refusal;

  EXPECT_EQ(a("BLPOP", "list", "0").to_string(), direct("BLPOP", "list", "0").to_string());
  EXPECT_EQ(a("SUBSCRIBE", "ch").to_string(), direct("SUBSCRIBE", "ch").to_string());
  // Redis runs WATCH while busy; behind the refused SELECT it would watch database 0's key:
  // that client is told so and disconnected instead (a documented difference).
  auto b = target().client();
  ASSERT_EQ(b("SELECT", "9").to_string(), "+OK");
  EXPECT_EQ(b("WATCH", "k").to_string(), "-ERR frontcache: dedicated connection refused SELECT 9");
  EXPECT_EQ(b("PING").to_string().substr(0, 10), "<io error:");
  EXPECT_EQ(a("SCRIPT", "KILL").to_string(), "+OK");
  const std::string killed = script_reply();
  EXPECT_NE(killed.find("Script killed by user"), std::string::npos) << killed;
  EXPECT_EQ(a("GET", "k").to_string(), "\"v\"");
  ASSERT_EQ(direct("RPUSH", "list", "x").to_string(), ":1");
  EXPECT_EQ(a("BLPOP", "list", "0").to_string(), "[\"list\", \"x\"]");
}

}  // namespace
}  // namespace frontcache::integration
