// Output limits, reading that never stalls, upstream timeouts that measure silence, and
// blocked clients at shutdown: items 6, 7, 8 and 11 of the connection-state issue.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <thread>

#include "target.hpp"
#include "twin.hpp"

namespace frontcache::integration {
namespace {

// A field of `INFO frontcache`, or -1.
long long info_field(RawClient& c, const std::string& field) {
  c.send(cmd({"INFO", "frontcache"}));
  auto reply = c.read_reply(10s);
  if (!reply) return -1;
  const std::regex re(field + ":(\\d+)");
  std::smatch m;
  if (!std::regex_search(*reply, m, re)) return -1;
  return std::stoll(m[1]);
}

std::string big_value(std::size_t n) {
  std::string v(n, 'x');
  for (std::size_t i = 0; i < n; i += 97) v[i] = static_cast<char>('a' + (i / 97) % 26);
  return v;
}

class Limits : public TwinTest {};

// Item 6: 33 or more pipelined 64 KB L1 hits got 32 replies, then nothing: reading paused on
// the output bytes and nothing resumed it while complete requests sat in the buffer.
TEST_F(Limits, PipelinedLargeHitsAreAllAnswered) {
  const std::string value = big_value(64 * 1024);
  expect_same(cmd({"SET", "big", value}) + cmd({"GET", "big"}));  // the proxy's L1 now has it
  std::string pipeline;
  for (int i = 0; i < 100; ++i) pipeline += cmd({"GET", "big"});
  pipeline += cmd({"GET", "missing"}) + cmd({"INCR", "after"}) + cmd({"GET", "big"});
  expect_same(pipeline);
  expect_same(pipeline + pipeline);
}

// Item 7: a single reply larger than the per-client limit is delivered, as Redis delivers it.
class SmallOutputLimits : public TwinTest {
 protected:
  TwinOptions twin_options() const override {
    return {
        "limits:\n  max_output_buffer: 1mb\n  pubsub_output_buffer: 1mb\n"
        "  pubsub_output_buffer_soft: 0\n",
        "", 1};
  }
};

TEST_F(SmallOutputLimits, OneReplyLargerThanTheLimitIsDelivered) {
  const std::string value = big_value(3 * 1024 * 1024);
  expect_same(cmd({"SET", "huge", value}) + cmd({"GET", "huge"}) + cmd({"STRLEN", "huge"}));
}

// Item 7: a subscriber that stops reading while a publisher floods is disconnected at its
// limit, and the proxy's memory grows by no more than that limit plus socket buffers.
TEST_F(SmallOutputLimits, SubscriberThatStopsReadingIsCutOffAtItsLimit) {
  auto subscriber = twin().connect(Side::Proxy);
  ASSERT_EQ(Twin::exchange(*subscriber, cmd({"SUBSCRIBE", "flood"})).substr(0, 4), "*3\r\n");
  auto admin = twin().connect(Side::Proxy);
  const long long before = info_field(*admin, "output_limit_disconnects");
  const long rss_before = twin().proxy().rss_kb();
  auto publisher = twin().connect_redis(Side::Proxy);
  const std::string message = big_value(4096);
  int published = 0;
  bool cut = false;
  // Bounded: 1 MB of limit plus a few MB of kernel socket buffers is < 5,000 messages.
  for (int batch = 0; batch < 200 && !cut; ++batch) {
    std::string many;
    for (int i = 0; i < 100; ++i) many += cmd({"PUBLISH", "flood", message});
    ASSERT_TRUE(publisher->send(many));
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(publisher->read_reply(10s));
    published += 100;
    cut = info_field(*admin, "output_limit_disconnects") > before;
  }
  EXPECT_TRUE(cut) << "the subscriber was not disconnected after " << published << " messages";
  const long growth_kb = twin().proxy().rss_kb() - rss_before;
  std::cout << "[ figures ] subscriber cut off after " << published << " x 4 KB messages; RSS grew "
            << growth_kb << " KB\n";
  EXPECT_LT(growth_kb, 32 * 1024);
  EXPECT_TRUE(subscriber->read_until_closed(10s));
}

// Item 7: clients that pipeline large GETs without reading cannot take the proxy past the
// budget of all clients together (limits.max_output_memory).
class SmallOutputBudget : public TwinTest {
 protected:
  TwinOptions twin_options() const override {
    return {"limits:\n  max_output_buffer: 0\n  max_output_memory: 16mb\n", "", 1};
  }
};

TEST_F(SmallOutputBudget, ClientsThatDoNotReadStayWithinTheTotalBudget) {
  auto setup = twin().connect(Side::Proxy);
  const std::string value = big_value(512 * 1024);
  ASSERT_EQ(Twin::exchange(*setup, cmd({"SET", "v", value})), "+OK\r\n");
  const long rss_before = twin().proxy().rss_kb();
  std::string pipeline;
  for (int i = 0; i < 20; ++i) pipeline += cmd({"GET", "v"});
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(twin().connect(Side::Proxy));
    clients.back()->send(pipeline, 1s);  // some of it may not fit: the proxy stops reading
  }
  long long shed = 0;
  for (int i = 0; i < 1000 && shed == 0; ++i) {
    shed = info_field(*setup, "output_budget_disconnects");
    if (shed == 0) std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(shed, 0);
  const long growth_kb = twin().proxy().rss_kb() - rss_before;
  std::cout << "[ figures ] 200 clients x 20 GETs of 512 KB without reading: " << shed
            << " disconnected, RSS grew " << growth_kb << " KB (budget 16 MB)\n";
  EXPECT_LT(growth_kb, 64 * 1024);
  // The others are still served once they read.
  std::size_t served = 0;
  for (auto& c : clients) served += c->read_reply(10s).has_value() ? 1 : 0;
  EXPECT_GT(served, 0u);
}

// A client that opens with a long burst of large reads and does not read the replies: every
// one of them (up to limits.max_pipeline, 1024) went to Redis at once, ahead of other clients'
// requests on the shared upstream connection, which then waited for Redis to run them all and
// for their replies to cross that connection (the network fuzzer's checker waited up to 5 s
// behind such clients). Now the client's window (64 requests in flight to start with, one more
// per reply) and the pause on its unread reply bytes hold most of the burst back.
class OneSharedConnection : public TwinTest {
 protected:
  TwinOptions twin_options() const override { return {"cache: false\n", "", 1, 1}; }
};

TEST_F(OneSharedConnection, ABurstOfLargeReadsNotReadGoesOnlyPartlyAheadOfOtherClients) {
  auto redis = twin().connect_redis(Side::Proxy);
  ASSERT_EQ(Twin::exchange(*redis, cmd({"SET", "v", big_value(256 * 1024)})), "+OK\r\n");
  // GETs Redis has run (INFO commandstats).
  auto gets_run = [&] {
    redis->send(cmd({"INFO", "commandstats"}));
    const std::string stats = redis->read_reply(10s).value_or("");
    const std::regex re("cmdstat_get:calls=(\\d+)");
    std::smatch m;
    return std::regex_search(stats, m, re) ? std::stoll(m[1]) : 0LL;
  };
  constexpr int kBurst = 1000;
  std::string burst;
  for (int i = 0; i < kBurst; ++i) burst += cmd({"GET", "v"});
  auto reader = twin().connect(Side::Proxy);
  ASSERT_TRUE(reader->send(burst));  // and never reads
  ASSERT_TRUE(wait_until([&] { return gets_run() >= 64; }));
  // Another client's write goes behind whatever of the burst the proxy has sent.
  auto other = twin().connect(Side::Proxy);
  ASSERT_EQ(Twin::exchange(*other, cmd({"SET", "k", "1"})), "+OK\r\n");
  const long long ahead = gets_run();
  std::cout << "[ figures ] GETs of 256 KB run ahead of another client's SET: " << ahead << " of "
            << kBurst << "\n";
  EXPECT_LT(ahead, kBurst / 2);
}

// Item 8: command_timeout counted from when a request was queued, so a legal burst that kept
// Redis busy (and answering) for longer than the timeout tripped it and failed other clients'
// requests. Now only silence counts. The proof is the unit test
// ConnectionTest.UpstreamThatKeepsAnsweringALongPipelineIsNotTimedOut (its upstream answers at a
// scripted pace); a real Redis cannot be made to answer a pipeline slowly but steadily without
// the test depending on how fast this machine is. Against a real Redis: silence still times out.
class ShortCommandTimeout : public TwinTest {
 protected:
  TwinOptions twin_options() const override {
    return {"cache: false\n", "  command_timeout: 1s\n", 1};
  }
};

// A silent upstream still times out: CLIENT PAUSE on Redis holds the proxy's GET unanswered.
TEST_F(ShortCommandTimeout, SilentUpstreamTimesOut) {
  auto direct = twin().connect_redis(Side::Proxy);
  // (not Twin::exchange: its marker PING would be paused too)
  ASSERT_TRUE(direct->send(cmd({"CLIENT", "PAUSE", "3000", "ALL"})));
  ASSERT_EQ(direct->read_reply(10s), std::optional<std::string>("+OK\r\n"));
  auto c = twin().connect(Side::Proxy);
  ASSERT_TRUE(c->send(cmd({"GET", "k"})));
  auto reply = c->read_reply(10s);
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->starts_with("-ERR upstream timeout")) << *reply;
}

// Item 11: SIGTERM closed a client blocked in BLPOP at once, with no reply. During the drain a
// blocked command keeps its chance to be answered until shutdown_timeout.
class Drain : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.frontcache_yaml = "shutdown_timeout: 60s\n";
    o.workers = 1;
    return o;
  }
};

TEST_F(Drain, BlockedClientIsAnsweredDuringTheDrain) {
  if (!target().is_proxy()) GTEST_SKIP() << "needs the proxy";
  wait_for_upstream(target());
  RawClient blocked("127.0.0.1", target().port());
  ASSERT_TRUE(blocked.send(cmd({"BLPOP", "queue", "0"})));
  // Wait until Redis has it blocked.
  auto direct = target().direct_client();
  bool is_blocked = false;
  for (int i = 0; i < 6000 && !is_blocked; ++i) {
    is_blocked = direct("CLIENT", "LIST").str.find("cmd=blpop") != std::string::npos;
    if (!is_blocked) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(is_blocked);
  target().proxy()->signal(SIGTERM);
  // Once the proxy has stopped accepting, the value arrives.
  for (int i = 0; i < 6000; ++i) {
    RawClient probe("127.0.0.1", target().port(), 5s);
    if (!probe.connected()) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(direct("RPUSH", "queue", "job").integer, 1);
  auto reply = blocked.read_reply(60s);
  ASSERT_TRUE(reply) << target().logs();
  EXPECT_EQ(*reply, cmd({"queue", "job"}));
  EXPECT_EQ(target().proxy()->stop(60s), 0) << target().logs();
}

}  // namespace
}  // namespace frontcache::integration
