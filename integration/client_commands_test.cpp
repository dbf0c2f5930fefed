// CLIENT subcommands over the whole instance, refused commands, the pinned-connection bound,
// and blocked clients not delaying others.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

class ClientCommands : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.workers = 2;
    o.upstream_yaml = "  max_pinned_per_worker: 4\n";
    // CLIENT LIST and KILL are @admin: granted here (permissions_test.cpp covers the refusal).
    o.frontcache_yaml = "admin_commands: forward\n";
    return o;
  }
};

TEST_F(ClientCommands, ListAndKillSeeEveryWorker) {
  wait_for_upstream(target());
  std::vector<RedisClient> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(target().client());
    ASSERT_EQ(clients.back()("CLIENT", "SETNAME", "c" + std::to_string(i)).to_string(), "+OK");
  }
  auto me = target().client();
  Reply list = me("CLIENT", "LIST");
  ASSERT_EQ(list.type, Reply::Type::String) << list;
  for (int i = 0; i < 8; ++i) {
    EXPECT_NE(list.str.find("name=c" + std::to_string(i) + " "), std::string::npos) << list.str;
  }
  const long long id = clients[5]("CLIENT", "ID").integer;
  EXPECT_EQ(me("CLIENT", "KILL", "ID", std::to_string(id)).to_string(), ":1");
  EXPECT_TRUE(clients[5]("PING").is_io_error());
  EXPECT_EQ(me("CLIENT", "KILL", "ID", std::to_string(id)).to_string(), ":0");
  // Old form by address, and SKIPME.
  Reply info = clients[3]("CLIENT", "INFO");
  const auto a = info.str.find("addr=") + 5;
  const std::string addr = info.str.substr(a, info.str.find(' ', a) - a);
  EXPECT_EQ(me("CLIENT", "KILL", addr).to_string(), "+OK");
  EXPECT_TRUE(clients[3]("PING").is_io_error());
  EXPECT_EQ(me("CLIENT", "KILL", addr).to_string(), "-ERR No such client");
  const long long my_id = me("CLIENT", "ID").integer;
  EXPECT_EQ(me("CLIENT", "KILL", "ID", std::to_string(my_id)).to_string(), ":0");
  EXPECT_EQ(me("PING").to_string(), "+PONG");
}

// CLIENT KILL USER names a user that exists (the proxy's users: `default` and auth.users), or
// gets Redis's error; Redis's test suite asks it with a user nobody created.
TEST_F(ClientCommands, KillByUserOfNoSuchUserIsAnError) {
  auto c = target().client();
  auto direct = target().direct_client();
  for (const std::vector<std::string>& kill :
       {std::vector<std::string>{"CLIENT", "KILL", "USER", "wrong_user"},
        {"CLIENT", "KILL", "ID", "99999", "USER", "default"},
        {"CLIENT", "KILL", "USER", "nobody", "ID", "99999"}}) {
    EXPECT_EQ(c.command(kill).to_string(), direct.command(kill).to_string()) << kill[3];
  }
}

// CLIENT UNBLOCK through the proxy ends the blocking command of the client it names (by the
// proxy's id), with Redis's replies for the unblocker and the unblocked: the same transcript as
// on Redis itself, including the argument errors.
TEST_F(ClientCommands, UnblockEndsABlockingCommandAsRedisDoes) {
  ASSERT_TRUE(wait_for_upstream(target()));
  auto redis = target().direct_client();
  auto transcript = [&](std::uint16_t port) {
    RedisClient unblocker(target().host(), port);
    RawClient blocked(target().host(), port);
    EXPECT_TRUE(blocked.send(encode_commands({{"CLIENT", "ID"}})));
    const std::string id_reply = blocked.read_reply().value_or(":0\r\n");
    const std::string id = id_reply.substr(1, id_reply.size() - 3);
    std::vector<std::string> out = unblock_rounds(unblocker, blocked, id, "nothing", [&] {
      return info_field(redis("INFO", "clients").str, "blocked_clients") == "1";
    });
    EXPECT_TRUE(blocked.send(encode_commands({{"PING"}})));
    out.push_back(blocked.read_reply().value_or("<none>"));
    for (const std::vector<std::string>& bad : {std::vector<std::string>{"CLIENT", "UNBLOCK", "x"},
                                                {"CLIENT", "UNBLOCK", id, "later"},
                                                {"CLIENT", "UNblock", id, "TIMEOUT", "now"},
                                                {"CLIENT", "UNBLOCK", "987654"}}) {
      out.push_back(unblocker.command(bad).to_string());
    }
    return out;
  };
  const auto through_proxy = transcript(target().port());
  EXPECT_EQ(through_proxy, transcript(target().redis_port()));
  EXPECT_EQ(through_proxy.at(0), ":1");
}

// Inside MULTI, SHUTDOWN, SYNC and PSYNC get Redis's own refusal (Redis checks `no_multi`
// before anything else), and EXEC then aborts: the same transcript as on Redis.
TEST_F(ClientCommands, NeverForwardedCommandsInsideMultiGetRedisRefusal) {
  auto transcript = [&](std::uint16_t port) {
    RedisClient c(target().host(), port);
    std::vector<std::string> out;
    for (const std::vector<std::string>& command : {std::vector<std::string>{"MULTI"},
                                                    {"SET", "k", "1"},
                                                    {"SHUTDOWN"},
                                                    {"SYNC"},
                                                    {"PSYNC", "?", "-1"},
                                                    {"EXEC"},
                                                    {"GET", "k"}}) {
      out.push_back(c.command(command).to_string());
    }
    return out;
  };
  EXPECT_EQ(transcript(target().port()), transcript(target().redis_port()));
}

// CLIENT LIST, KILL and UNBLOCK gather an answer from every worker (or from Redis), which EXEC
// cannot wait for: inside MULTI they are refused, and the transaction aborts (docs:
// architecture.md). Redis would queue them.
TEST_F(ClientCommands, GatheringClientCommandsAreNotQueuedInMulti) {
  if (!target().is_proxy()) GTEST_SKIP() << "a difference of the proxy's";
  auto c = target().client();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"CLIENT", "LIST"}, "client|list"},
      {{"CLIENT", "KILL", "ID", "1"}, "client|kill"},
      {{"CLIENT", "UNBLOCK", "1"}, "client|unblock"}};
  for (const auto& [command, name] : cases) {
    ASSERT_EQ(c("MULTI").to_string(), "+OK");
    EXPECT_EQ(c.command(command).to_string(),
              "-ERR frontcache: '" + name + "' cannot be queued in a transaction");
    EXPECT_EQ(c("EXEC").to_string(),
              "-EXECABORT Transaction discarded because of previous errors.");
  }
}

// Commands never forwarded, whatever the permissions say: the proxy's own error, naming the
// command, and they never reach Redis. (Admin commands a user is not granted:
// permissions_test.cpp.)
TEST_F(ClientCommands, RefusedCommands) {
  ASSERT_TRUE(wait_for_upstream(target()));
  auto c = target().client();
  auto direct = target().direct_client();
  if (target().is_proxy()) {
    EXPECT_EQ(c("SHUTDOWN").to_string(),
              "-ERR frontcache: 'shutdown' is never forwarded to the shared upstream");
    EXPECT_EQ(c("SYNC").to_string(),
              "-ERR frontcache: 'sync' is never forwarded to the shared upstream");
    // Redis never saw them: it is still up and counted no call.
    const std::string stats = direct("INFO", "commandstats").str;
    for (const char* name : {"cmdstat_shutdown:", "cmdstat_sync:"}) {
      EXPECT_EQ(stats.find(name), std::string::npos) << name << " reached Redis:\n" << stats;
    }
  }
  // CONFIG GET is forwarded.
  EXPECT_EQ(c("CONFIG", "GET", "databases").to_string(),
            direct("CONFIG", "GET", "databases").to_string());
  EXPECT_EQ(c("READONLY").to_string(), direct("READONLY").to_string());
  EXPECT_EQ(c("PING").to_string(), "+PONG");
}

// 2 workers x 4 dedicated connections: with 12 clients blocked forever in BLPOP, each one is
// either blocked in Redis or refused at once with the proxy's error; none hangs in between.
TEST_F(ClientCommands, PinnedPoolExhaustedGivesAnError) {
  if (!target().is_proxy()) GTEST_SKIP() << "the proxy's bound";
  ASSERT_TRUE(wait_for_upstream(target()));
  auto c = target().client();
  auto direct = target().direct_client();
  const auto refused_so_far = [&] {
    return std::stoll(info_field(c("INFO", "frontcache").str, "pinned_refused"));
  };
  const long long refused_before = refused_so_far();
  constexpr int kClients = 12;
  std::vector<std::unique_ptr<RawClient>> blocked;
  for (int i = 0; i < kClients; ++i) {
    blocked.push_back(std::make_unique<RawClient>(target().host(), target().port()));
    ASSERT_TRUE(blocked.back()->send(encode_command({"BLPOP", "never", "0"})));
  }
  long long in_redis = 0;
  long long refused = 0;
  ASSERT_TRUE(wait_until([&] {
    in_redis = blocked_clients(direct);
    refused = refused_so_far() - refused_before;
    return in_redis + refused == kClients;
  })) << in_redis
      << " blocked in Redis, " << refused << " refused";
  EXPECT_LE(in_redis, 8);
  EXPECT_GE(refused, kClients - 8);
  // Each refusal is counted before its reply is written: wait until every one has arrived.
  int answered = 0;
  ASSERT_TRUE(wait_until([&] {
    answered = 0;
    for (auto& b : blocked) answered += resp_value_length(b->read_available()) > 0 ? 1 : 0;
    return answered == refused;
  })) << answered
      << " replies for " << refused << " refusals";
  for (auto& b : blocked) {
    if (b->received().empty()) continue;  // blocked in Redis
    EXPECT_NE(b->received().find("max_pinned_per_worker"), std::string::npos) << b->received();
  }
  EXPECT_EQ(c("PING").to_string(), "+PONG");
  blocked.clear();  // closing them gives the connections back
  ASSERT_TRUE(wait_until([&] { return blocked_clients(direct) == 0; }));
  RawClient again(target().host(), target().port());
  ASSERT_TRUE(again.send(encode_command({"BLPOP", "l", "0.1"})));
  EXPECT_EQ(again.read_reply(30s).value_or(""), "*-1\r\n");
}

// One worker with one shared upstream connection, no L1: a GET travels upstream over that
// connection while another client of the same worker is blocked in BLPOP. Were the BLPOP on the
// shared connection, the GETs queued behind it would wait for it (it has no timeout) until
// command_timeout fails them.
class BlockedClient : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.workers = 1;
    o.connections_per_worker = 1;
    o.frontcache_yaml = "cache: false\n";
    return o;
  }
};

TEST_F(BlockedClient, DoesNotDelayForwardedCommandsOnTheSameWorker) {
  ASSERT_TRUE(wait_for_upstream(target()));
  auto direct = target().direct_client();
  ASSERT_EQ(direct("SET", "plain", "v").to_string(), "+OK");
  RawClient blocked(target().host(), target().port());
  ASSERT_TRUE(blocked.send(encode_command({"BLPOP", "k", "0"})));
  ASSERT_TRUE(wait_until([&] { return blocked_clients(direct) == 1; }))
      << "the BLPOP never blocked in Redis";
  ASSERT_EQ(direct("CONFIG", "RESETSTAT").to_string(), "+OK");

  RawClient other(target().host(), target().port());
  std::vector<std::chrono::microseconds> times;
  for (int i = 0; i < 50; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(other.send(encode_command({"GET", "plain"})));
    ASSERT_EQ(other.read_reply(30s).value_or("<no reply>"), "$1\r\nv\r\n") << "GET " << i;
    times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
  }
  std::sort(times.begin(), times.end());
  std::cout << "[blocked] GET forwarded with a BLPOP blocked on the same worker: median "
            << times[times.size() / 2].count() << " us, max " << times.back().count() << " us\n";
  // Every GET travelled to Redis, and the BLPOP is still blocked there.
  const std::string stats = direct("INFO", "commandstats").str;
  EXPECT_NE(stats.find("cmdstat_get:calls=50,"), std::string::npos) << stats;
  EXPECT_EQ(blocked_clients(direct), 1);
  EXPECT_EQ(blocked.read_available(), "") << "BLPOP must still be blocked";
  ASSERT_EQ(direct("RPUSH", "k", "x").to_string(), ":1");
  EXPECT_EQ(blocked.read_reply(30s).value_or("<no reply>"), "*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
}

}  // namespace
}  // namespace frontcache::integration
