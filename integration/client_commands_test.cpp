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

// Admin commands a user is not granted: permissions_test.cpp.
TEST_F(ClientCommands, RefusedCommands) {
  wait_for_upstream(target());
  auto c = target().client();
  if (target().is_proxy()) {
    // Never forwarded, whatever the permissions say.
    EXPECT_TRUE(c("SHUTDOWN").is_error());
    EXPECT_TRUE(c("SYNC").is_error());
    EXPECT_TRUE(c("CLIENT", "UNBLOCK", "1").is_error());
  }
  // CONFIG GET is forwarded.
  EXPECT_EQ(c("CONFIG", "GET", "databases").to_string(),
            target().direct_client()("CONFIG", "GET", "databases").to_string());
  EXPECT_EQ(c("READONLY").to_string(), target().direct_client()("READONLY").to_string());
  EXPECT_EQ(c("PING").to_string(), "+PONG");
}

TEST_F(ClientCommands, PinnedPoolExhaustedGivesAnError) {
  if (!target().is_proxy()) GTEST_SKIP() << "the proxy's bound";
  wait_for_upstream(target());
  // 2 workers x 4: with 12 blocked clients some get the error at once, none hangs.
  std::vector<std::unique_ptr<RawClient>> blocked;
  for (int i = 0; i < 12; ++i) {
    blocked.push_back(std::make_unique<RawClient>(target().host(), target().port()));
    ASSERT_TRUE(blocked.back()->send(encode_command({"BLPOP", "never", "3"})));
  }
  int refused = 0;
  for (auto& b : blocked) {
    if (auto r = b->read_reply(300ms)) {
      EXPECT_NE(r->find("max_pinned_per_worker"), std::string::npos) << *r;
      ++refused;
    }
  }
  EXPECT_GE(refused, 4);
  auto c = target().client();
  EXPECT_EQ(c("PING").to_string(), "+PONG");
  blocked.clear();  // closing them gives the connections back
  std::this_thread::sleep_for(300ms);
  RawClient again(target().host(), target().port());
  ASSERT_TRUE(again.send(encode_command({"BLPOP", "l", "0.1"})));
  EXPECT_EQ(again.read_reply(3s).value_or(""), "*-1\r\n");
}

class BlockedClient : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.workers = 1;
    return o;
  }
};

TEST_F(BlockedClient, DoesNotDelayPingOnTheSameWorker) {
  RawClient blocked(target().host(), target().port());
  ASSERT_TRUE(blocked.send(encode_command({"BLPOP", "k", "5"})));
  std::this_thread::sleep_for(100ms);
  RawClient other(target().host(), target().port());
  std::vector<std::chrono::microseconds> times;
  for (int i = 0; i < 50; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(other.send("*1\r\n$4\r\nPING\r\n"));
    ASSERT_EQ(other.read_reply(2s).value_or(""), "+PONG\r\n");
    times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
  }
  std::sort(times.begin(), times.end());
  std::cout << "[blocked] PING with a BLPOP blocked on the same worker: median "
            << times[times.size() / 2].count() << " us, max " << times.back().count() << " us\n";
  // A PING queued behind the BLPOP would wait for its 5 s timeout; the bounds leave room for a
  // busy shared machine and still catch that.
  EXPECT_LT(times[times.size() / 2], 20ms);
  EXPECT_LT(times.back(), 1000ms);
  EXPECT_FALSE(blocked.read_reply(10ms)) << "BLPOP must still be blocked";
}

}  // namespace
}  // namespace frontcache::integration
