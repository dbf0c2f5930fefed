// Proxy authentication (`auth:` in the config) against Redis's own `requirepass` / ACL users:
// the same commands, byte-identical replies; and no cached data before AUTH (DESIGN.md §2.8).
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

// Reference: a redis-server configured like the proxy (password "s3cret", user "alice").
class Auth : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    if (target_kind() == TargetKind::Proxy) {
      o.frontcache_yaml =
          "auth:\n  password: s3cret\n  users:\n    - name: alice\n      password: wonderland\n";
    }
    return o;
  }
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    if (!target().is_proxy()) GTEST_SKIP() << "compares the proxy with a reference Redis";
    ASSERT_TRUE(wait_for_upstream(target(), "s3cret"));
    reference_ = std::make_unique<RedisServer>(target().dir().path());
    auto r = RedisClient("127.0.0.1", reference_->port());
    ASSERT_EQ(r("ACL", "SETUSER", "alice", "on", ">wonderland", "~*", "+@all").to_string(), "+OK");
    ASSERT_EQ(r("CONFIG", "SET", "requirepass", "s3cret").to_string(), "+OK");
  }
  // Every reply to `commands` (until a sentinel PING is answered, or the connection closes).
  std::string play(uint16_t port, const std::vector<std::vector<std::string>>& commands) {
    return play_until_sentinel(port, commands);
  }

  std::unique_ptr<RedisServer> reference_;
};

TEST_F(Auth, RepliesMatchRedisRequirepass) {
  const std::vector<std::vector<std::string>> commands = {
      {"GET", "k"},
      {"PING"},
      {"NOSUCHCOMMAND", "a"},
      {"GET"},
      {"HELLO", "2"},
      {"AUTH", "wrong"},
      {"AUTH", "alice", "nope"},
      {"AUTH", "nobody", "s3cret"},
      {"HELLO", "2", "AUTH", "default", "bad"},
      {"CLIENT", "ID"},
      {"AUTH", "s3cret"},
      {"SET", "k", "v"},
      {"GET", "k"},
      {"RESET"},
      {"GET", "k"},
      {"AUTH", "alice", "wonderland"},
      {"GET", "k"},
      {"AUTH", "a", "b", "c"},
  };
  auto ref = RedisClient("127.0.0.1", reference_->port());
  const std::string expected = play(reference_->port(), commands);
  EXPECT_EQ(play(target().port(), commands), expected);
}

TEST_F(Auth, HelloAuthAndQuit) {
  const std::vector<std::vector<std::string>> commands = {
      {"HELLO", "2", "AUTH", "alice", "wonderland", "SETNAME", "app"},
      {"CLIENT", "GETNAME"},
      {"QUIT"}};
  const std::string expected = play(reference_->port(), commands);
  std::string got = play(target().port(), commands);
  // HELLO's map carries the server's id and version: compare what follows it.
  auto tail = [](const std::string& s) { return s.substr(s.find("$3\r\napp\r\n")); };
  ASSERT_NE(got.find("$3\r\napp\r\n"), std::string::npos) << got;
  EXPECT_EQ(tail(got), tail(expected));
}

TEST_F(Auth, NoCachedDataBeforeAuth) {
  if (!target().is_proxy()) GTEST_SKIP() << "the proxy's cache";
  auto authed = target().client();
  ASSERT_EQ(authed("AUTH", "s3cret").to_string(), "+OK");
  ASSERT_EQ(authed("SET", "hot", "secret-value").to_string(), "+OK");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(authed("GET", "hot").to_string(), "\"secret-value\"");

  RawClient anon(target().host(), target().port());
  const std::vector<std::vector<std::string>> before = {
      {"GET", "hot"},    {"MGET", "hot"},    {"HGET", "hot", "f"},
      {"EXISTS", "hot"}, {"CLIENT", "LIST"}, {"INFO"},
      {"MULTI"},         {"SUBSCRIBE", "c"}, {"EVAL", "return 1", "0"},
      {"GET", "hot"}};
  ASSERT_TRUE(anon.send(encode_commands(before)));
  for (std::size_t i = 0; i < before.size(); ++i) {
    auto r = anon.read_reply(3s);
    ASSERT_TRUE(r) << "no reply to " << before[i][0];
    EXPECT_EQ(*r, "-NOAUTH Authentication required.\r\n") << before[i][0];
  }
  EXPECT_EQ(anon.received().find("secret-value"), std::string::npos);
  ASSERT_TRUE(anon.send(encode_command({"AUTH", "s3cret"})));
  EXPECT_EQ(anon.read_reply(3s).value_or(""), "+OK\r\n");
  ASSERT_TRUE(anon.send(encode_command({"GET", "hot"})));
  EXPECT_EQ(anon.read_reply(3s).value_or(""), "$12\r\nsecret-value\r\n");
}

// One connection, pipelined: after two free failures the replies take turns, 25 ms doubling.
TEST_F(Auth, WrongPasswordsAreSlowedDown) {
  if (!target().is_proxy()) GTEST_SKIP() << "the proxy's rate limit";
  RawClient c(target().host(), target().port());
  std::vector<std::vector<std::string>> tries(8, {"AUTH", "guess"});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send(encode_commands(tries)));
  for (std::size_t i = 0; i < tries.size(); ++i) {
    EXPECT_EQ(c.read_reply(30s).value_or(""),
              "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  }
  // Turns 25, 50, 125, 250, 525 ms after the first reply (each failure is counted at once,
  // each reply waits for its turn).
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms) << "8 wrong passwords too fast";
  // Counted for operators (INFO frontcache, frontcache_auth_*).
  ASSERT_TRUE(c.send(encode_commands({{"AUTH", "s3cret"}, {"INFO", "frontcache"}})));
  EXPECT_EQ(c.read_reply(5s).value_or(""), "+OK\r\n");
  const std::string info = c.read_reply(5s).value_or("");
  EXPECT_NE(info.find("auth_failures:8\r\n"), std::string::npos) << info;
  EXPECT_NE(info.find("auth_delayed:6\r\n"), std::string::npos) << info;  // and the +OK's
  EXPECT_NE(info.find("auth_penalized_addresses:1\r\n"), std::string::npos) << info;
}

constexpr std::string_view kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

// An attacker reconnecting for every guess, from one address. The limit can only make this
// slower, so the bound holds however fast the machine is; the loop stops after 100 guesses or
// 10 s, whichever comes first.
TEST_F(Auth, FreshConnectionGuessingFromOneAddressIsHeldBelow20PerSecond) {
  if (!target().is_proxy()) GTEST_SKIP() << "the proxy's limits";
  const auto start = std::chrono::steady_clock::now();
  int guesses = 0;
  int refused = 0;
  for (int i = 0; i < 200 && guesses < 100 && std::chrono::steady_clock::now() - start < 10s; ++i) {
    RawClient c(target().host(), target().port(), 5s, "127.0.0.1");
    ASSERT_TRUE(c.send(encode_command({"AUTH", "guess-" + std::to_string(i)})));
    const std::string reply = c.read_reply(15s).value_or("<none>");
    if (reply == kWrongPass) {
      ++guesses;
    } else {
      ASSERT_TRUE(reply.starts_with("-ERR")) << reply;  // refused without checking
      ++refused;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = guesses / seconds;
  std::cout << "[auth] " << guesses << " guesses (" << refused << " refused unchecked) in "
            << seconds << " s from one address, on fresh connections: " << rate << " guesses/s\n";
  EXPECT_GE(guesses, 1);
  EXPECT_LT(rate, 20.0);

  // The address now waits about 2 s between turns. Three correct AUTHs from it, sent at once,
  // take three turns; a correct AUTH from another address is answered before the last of them.
  std::vector<std::unique_ptr<RawClient>> same;
  for (int i = 0; i < 3; ++i) {
    same.push_back(std::make_unique<RawClient>(target().host(), target().port(), 5s, "127.0.0.1"));
    ASSERT_TRUE(same.back()->send(encode_command({"AUTH", "s3cret"})));
  }
  RawClient other(target().host(), target().port(), 5s, "127.0.0.2");
  ASSERT_TRUE(other.connected()) << "cannot connect from 127.0.0.2";
  ASSERT_TRUE(other.send(encode_command({"AUTH", "s3cret"})));
  EXPECT_EQ(other.read_reply(15s).value_or(""), "+OK\r\n");
  EXPECT_FALSE(same.back()->read_reply(0ms)) << "the other address was held behind this one";
  for (auto& c : same) EXPECT_EQ(c->read_reply(15s).value_or(""), "+OK\r\n");
}

// No `auth:` configured: no user has a password, so there is nothing to guess, and a client
// sending wrong credentials (ioredis's `password` option against a Redis without one, a
// username Redis does not know) gets Redis's replies, however many it sends: no turns, never
// the proxy's refusal. 40 connections from one address, each four attempts at once, the
// replies compared with those of the upstream Redis itself (which has no password either).
class AuthNotConfigured : public TargetTest {};

TEST_F(AuthNotConfigured, WrongCredentialsGetRedisRepliesHoweverMany) {
  if (!target().is_proxy()) GTEST_SKIP() << "compares the proxy with Redis";
  const std::vector<std::vector<std::string>> attempts = {
      {"AUTH", "nobody", "wrong"},
      {"HELLO", "2", "AUTH", "nobody", "x"},
      {"AUTH", "password"},
      {"AUTH", "default", "anything"},
  };
  auto replies = [&](RawClient& c) {
    std::string out;
    for (std::size_t i = 0; i < attempts.size(); ++i) out += c.read_reply(30s).value_or("<none>");
    return out;
  };
  RawClient direct("127.0.0.1", target().redis_port());
  ASSERT_TRUE(direct.send(encode_commands(attempts)));
  const std::string expected = replies(direct);
  ASSERT_NE(expected.find("-WRONGPASS"), std::string::npos) << expected;

  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(
        std::make_unique<RawClient>(target().host(), target().port(), 5s, "127.0.0.9"));
    ASSERT_TRUE(clients.back()->connected()) << "cannot connect from 127.0.0.9";
    ASSERT_TRUE(clients.back()->send(encode_commands(attempts)));
  }
  for (auto& c : clients) EXPECT_EQ(replies(*c), expected);
}

}  // namespace
}  // namespace frontcache::integration
