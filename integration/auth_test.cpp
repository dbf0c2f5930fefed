// Proxy authentication (`auth:` in the config) against Redis's own `requirepass` / ACL users:
// the same commands, byte-identical replies; and no cached data before AUTH (DESIGN.md §2.8).
#include <gtest/gtest.h>

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

TEST_F(Auth, WrongPasswordsAreSlowedDown) {
  if (!target().is_proxy()) GTEST_SKIP() << "the proxy's rate limit";
  RawClient c(target().host(), target().port());
  std::vector<std::vector<std::string>> tries(6, {"AUTH", "guess"});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send(encode_commands(tries)));
  for (std::size_t i = 0; i < tries.size(); ++i) {
    EXPECT_EQ(c.read_reply(30s).value_or(""),
              "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms) << "6 wrong passwords too fast";
  // Counted for operators (INFO frontcache, frontcache_auth_failures_total).
  ASSERT_TRUE(c.send(encode_commands({{"AUTH", "s3cret"}, {"INFO", "frontcache"}})));
  EXPECT_EQ(c.read_reply(30s).value_or(""), "+OK\r\n");
  const std::string info = c.read_reply(30s).value_or("");
  EXPECT_NE(info.find("auth_failures:6\r\n"), std::string::npos) << info;
}

}  // namespace
}  // namespace frontcache::integration
