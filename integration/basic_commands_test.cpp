// Commands a client sends on every connection, checked as a Redis user would: PING, ECHO, QUIT,
// HELLO, CLIENT SETNAME/GETNAME, INFO, and plain SET/GET on both protocols hiredis speaks.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

using BasicCommands = TargetTest;

TEST_F(BasicCommands, PingAndEcho) {
  auto c = target().client();
  ASSERT_TRUE(c.connected()) << c.error();
  EXPECT_EQ(c("PING").to_string(), "+PONG");
  EXPECT_EQ(c("PING", "hello").to_string(), "\"hello\"");
  EXPECT_EQ(c("ECHO", "frontcache").to_string(), "\"frontcache\"");
  EXPECT_EQ(c("ECHO", std::string("a\0b\r\nc", 6)).str, std::string("a\0b\r\nc", 6));
  EXPECT_EQ(c("PING", "a", "b").to_string(), "-ERR wrong number of arguments for 'ping' command");
  EXPECT_EQ(c("ECHO").to_string(), "-ERR wrong number of arguments for 'echo' command");
}

TEST_F(BasicCommands, InlinePingAnswersPong) {
  RawClient c(target().host(), target().port());
  ASSERT_TRUE(c.send("PING\r\n"));
  EXPECT_EQ(c.read_reply().value_or("<none>"), "+PONG\r\n");
}

TEST_F(BasicCommands, SetGetDel) {
  auto c = target().client();
  EXPECT_EQ(c("SET", "k", "v").to_string(), "+OK");
  EXPECT_EQ(c("GET", "k").to_string(), "\"v\"");
  EXPECT_EQ(c("SET", "k", "v2").to_string(), "+OK");
  EXPECT_EQ(c("GET", "k").to_string(), "\"v2\"");
  EXPECT_EQ(c("DEL", "k").to_string(), ":1");
  EXPECT_EQ(c("GET", "k").to_string(), "(nil)");
  // What went through the target is in Redis.
  auto d = target().direct_client();
  EXPECT_EQ(c("SET", "k2", "x").to_string(), "+OK");
  EXPECT_EQ(d("GET", "k2").to_string(), "\"x\"");
  // And what is written directly is seen through the target (read-your-writes across paths).
  EXPECT_EQ(d("SET", "k2", "y").to_string(), "+OK");
  EXPECT_EQ(c("GET", "k2").to_string(), "\"y\"");
}

TEST_F(BasicCommands, QuitRepliesOkThenCloses) {
  RawClient c(target().host(), target().port());
  ASSERT_TRUE(c.send(encode_command({"QUIT"})));
  EXPECT_EQ(c.read_reply().value_or("<none>"), "+OK\r\n");
  EXPECT_TRUE(c.read_until_closed(5s)) << "connection still open after QUIT";
  // Other connections go on.
  auto other = target().client();
  EXPECT_EQ(other("PING").to_string(), "+PONG");
}

TEST_F(BasicCommands, Hello2ReturnsServerInfoMap) {
  auto c = target().client();
  Reply r = c("HELLO", "2");
  ASSERT_EQ(r.type, Reply::Type::Array) << r;
  ASSERT_EQ(r.elements.size() % 2, 0u) << r;
  bool proto_seen = false;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    if (r.elements[i].str == "proto") {
      proto_seen = true;
      EXPECT_EQ(r.elements[i + 1].to_string(), ":2") << r;
    }
  }
  EXPECT_TRUE(proto_seen) << r;
  EXPECT_EQ(c("PING").to_string(), "+PONG");
}

TEST_F(BasicCommands, Hello3) {
  RawClient c(target().host(), target().port());
  ASSERT_TRUE(c.send(encode_command({"HELLO", "3"})));
  auto reply = c.read_reply();
  ASSERT_TRUE(reply) << "no reply to HELLO 3; got: " << c.received();
  EXPECT_EQ(reply->front(), '%') << *reply;  // Redis 7: a RESP3 map
  ASSERT_TRUE(c.send(encode_command({"GET", "nokey"})));
  EXPECT_EQ(c.read_reply().value_or("<none>"), "_\r\n");  // RESP3 null
  ASSERT_TRUE(c.send(encode_command({"HELLO", "2"})));
  EXPECT_EQ(c.read_reply().value_or("<none>").front(), '*');
  ASSERT_TRUE(c.send(encode_command({"GET", "nokey"})));
  EXPECT_EQ(c.read_reply().value_or("<none>"), "$-1\r\n");
}

TEST_F(BasicCommands, HelloWithUnsupportedVersion) {
  RawClient c(target().host(), target().port());
  ASSERT_TRUE(c.send(encode_command({"HELLO", "4"})));
  auto reply = c.read_reply().value_or("<none>");
  EXPECT_EQ(reply.rfind("-NOPROTO", 0), 0u) << reply;
}

TEST_F(BasicCommands, ClientSetnameGetname) {
  auto c = target().client();
  EXPECT_EQ(c("CLIENT", "GETNAME").to_string(), "(nil)");
  EXPECT_EQ(c("CLIENT", "SETNAME", "worker-1").to_string(), "+OK");
  EXPECT_EQ(c("CLIENT", "GETNAME").to_string(), "\"worker-1\"");
  EXPECT_EQ(c("CLIENT", "SETNAME", "bad name").to_string(),
            "-ERR Client names cannot contain spaces, newlines or special characters.");
  EXPECT_EQ(c("CLIENT", "GETNAME").to_string(), "\"worker-1\"");
  // The name belongs to this connection only.
  auto other = target().client();
  EXPECT_EQ(other("CLIENT", "GETNAME").to_string(), "(nil)");
  EXPECT_EQ(c("CLIENT", "SETNAME", "").to_string(), "+OK");
  EXPECT_EQ(c("CLIENT", "GETNAME").to_string(), "(nil)");
}

TEST_F(BasicCommands, InfoHasFrontcacheSection) {
  if (!target().is_proxy()) GTEST_SKIP() << "the # frontcache INFO section is proxy-only";
  auto c = target().client();
  Reply r = c("INFO");
  ASSERT_EQ(r.type, Reply::Type::String) << r;
  EXPECT_NE(r.str.find("# frontcache\r\n"), std::string::npos) << r.str;
}

// The section headers ("# Server", ...) of an INFO reply, in order.
std::vector<std::string> info_sections(const std::string& text) {
  std::vector<std::string> sections;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find("\r\n", at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, 2, "# ") == 0) sections.push_back(text.substr(at + 2, end - at - 2));
    at = end + 2;
  }
  return sections;
}

// INFO gives the sections asked for, as Redis does: ours join Redis's default and full sets
// and come when named, never with other named sections (Redis's test suite asks `INFO cpu`
// and checks that no memory field is in it).
TEST_F(BasicCommands, InfoHasTheSectionsAskedFor) {
  if (!target().is_proxy()) GTEST_SKIP() << "compares the proxy's INFO with Redis's";
  auto c = target().client();
  auto direct = target().direct_client();
  const std::vector<std::vector<std::string>> asks = {{"INFO"},
                                                      {"INFO", "cpu"},
                                                      {"INFO", "CPU", "memory"},
                                                      {"INFO", "default"},
                                                      {"INFO", "all"},
                                                      {"INFO", "everything"},
                                                      {"INFO", "commandstats"},
                                                      {"INFO", "server", "frontcache"},
                                                      {"INFO", "nosuch"}};
  for (const auto& ask : asks) {
    std::vector<std::string> expected = info_sections(direct.command(ask).str);
    const std::string args = ask.size() > 1 ? ask[1] : "";
    const bool ours = ask.size() == 1 || args == "default" || args == "all" ||
                      args == "everything" || (ask.size() > 2 && ask[2] == "frontcache");
    if (ours) expected.push_back("frontcache");
    if (std::find(expected.begin(), expected.end(), "Commandstats") != expected.end()) {
      expected.push_back("frontcache_commandstats");
    }
    const Reply r = c.command(ask);
    ASSERT_EQ(r.type, Reply::Type::String) << r;
    EXPECT_EQ(info_sections(r.str), expected) << ask.back();
  }
}

// Clients read INFO into one flat map of fields (redis-py's info(), exporters): a field of ours
// with the name of one of Redis's would hide Redis's value (redis-py's own CONFIG RESETSTAT test
// read the proxy's total_commands_processed). No field of the proxy's sections may be named
// like a field of Redis's INFO everything.
TEST_F(BasicCommands, InfoFieldsOfTheProxyNeverShadowRedisFields) {
  if (!target().is_proxy()) GTEST_SKIP() << "compares the proxy's INFO with Redis's";
  auto fields = [](const std::string& text) {
    std::set<std::string> names;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#' || line.find(':') == std::string::npos) continue;
      names.insert(line.substr(0, line.find(':')));
    }
    return names;
  };
  auto c = target().client();
  ASSERT_EQ(c("GET", "info-field-probe").type, Reply::Type::Nil);  // a command statistic
  const Reply redis = target().direct_client()("INFO", "everything");
  const Reply ours = c("INFO", "frontcache", "frontcache_commandstats");
  ASSERT_EQ(redis.type, Reply::Type::String) << redis;
  ASSERT_EQ(ours.type, Reply::Type::String) << ours;
  const std::set<std::string> redis_fields = fields(redis.str);
  ASSERT_TRUE(redis_fields.count("total_commands_processed")) << redis.str;
  const std::set<std::string> our_fields = fields(ours.str);
  ASSERT_GT(our_fields.size(), 20U) << ours.str;
  for (const auto& name : our_fields) {
    EXPECT_EQ(redis_fields.count(name), 0U) << name << " is one of Redis's INFO fields";
  }
}

TEST_F(BasicCommands, InfoServerSection) {
  auto c = target().client();
  Reply r = c("INFO", "server");
  ASSERT_EQ(r.type, Reply::Type::String) << r;
  EXPECT_NE(r.str.find("# Server\r\n"), std::string::npos) << r.str;
}

// limits.idle_timeout closes a client that sends nothing, as Redis's `timeout` does, and
// leaves alone a client that keeps talking.
class IdleTimeout : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.redis_args = {"--timeout", "1"};
    o.frontcache_yaml = "limits:\n  idle_timeout: 1s\n";
    return o;
  }
};

TEST_F(IdleTimeout, IdleClientIsClosedBusyClientIsNot) {
  RawClient idle(target().host(), target().port());
  auto busy = target().client();
  ASSERT_TRUE(idle.send(encode_command({"PING"})));
  ASSERT_TRUE(idle.read_reply(2s).has_value());
  // The busy client keeps talking until the idle one has been closed (at least idle_timeout):
  // it must be served all along, and stay open.
  int pings = 0;
  const bool idle_closed = wait_until(
      [&] {
        EXPECT_EQ(busy("PING").to_string(), "+PONG") << "ping " << pings;
        ++pings;
        idle.read_available();
        return idle.closed_by_peer();
      },
      30s, 20ms);
  EXPECT_TRUE(idle_closed) << "the idle client was not closed";
  EXPECT_EQ(busy("PING").to_string(), "+PONG") << "the busy client was closed too";
}

// upstream.username / upstream.password: every upstream connection the proxy opens (shared,
// pinned, invalidation) authenticates as that ACL user.
class UpstreamAuth : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.redis_args = {"--user", "fc", "on", ">fcpass", "~*", "&*", "+@all"};
    o.upstream_yaml = "  username: fc\n  password: fcpass\n";
    return o;
  }
};

TEST_F(UpstreamAuth, EveryUpstreamConnectionAuthenticates) {
  if (!target().is_proxy()) GTEST_SKIP() << "upstream credentials are the proxy's";
  auto c = target().client();
  ASSERT_EQ(c("SET", "k", "v").to_string(), "+OK");
  ASSERT_EQ(c("GET", "k").to_string(), "\"v\"");
  ASSERT_EQ(c("MULTI").to_string(), "+OK");  // a dedicated connection authenticates too
  ASSERT_EQ(c("INCR", "n").to_string(), "+QUEUED");
  ASSERT_EQ(c("EXEC").to_string(), "[:1]");
  EXPECT_TRUE(wait_armed(c)) << "the invalidation connections could not authenticate";
  // Every connection the proxy holds upstream is user fc.
  auto d = target().direct_client();
  const std::string clients = d("CLIENT", "LIST").str;
  std::size_t ours = 0;
  for (std::size_t pos = 0; (pos = clients.find("id=", pos)) != std::string::npos; ++pos) {
    const std::string line = clients.substr(pos, clients.find('\n', pos) - pos);
    if (line.find("cmd=client|list") != std::string::npos) continue;  // this direct client
    ++ours;
    EXPECT_NE(line.find(" user=fc "), std::string::npos) << line;
  }
  EXPECT_GE(ours, 4u);  // 2 workers x 2 shared, at least
}

}  // namespace
}  // namespace frontcache::integration
