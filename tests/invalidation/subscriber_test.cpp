// invalidation::Subscriber alone, against a scripted fake Redis: how it arms (CLIENT ID,
// SUBSCRIBE, CLIENT TRACKING REDIRECT on a second connection), what reaches the sink for each
// message, and how it disarms and re-arms when a connection is lost, PING goes unanswered, or
// Redis refuses tracking.
#include "frontcache/invalidation/subscriber.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "fake_upstream.hpp"
#include "frontcache/invalidation/payload.hpp"

namespace frontcache::invalidation {
namespace {

using namespace frontcache::testing;
using Args = std::vector<std::string>;
using namespace std::chrono_literals;

constexpr std::uint64_t kInstance = 0x1234;
constexpr std::uint64_t kOtherInstance = 0x9999;

// Records what the subscriber tells the sink, as lines: "armed", "disarmed: <reason>",
// "keys tracking: a,b", "all channel".
class RecordingSink final : public Sink {
 public:
  void invalidate(std::span<const std::string_view> keys, Source source) override {
    std::string line = std::string("keys ") + name(source) + ":";
    for (std::size_t i = 0; i < keys.size(); ++i) line += (i ? "," : " ") + std::string(keys[i]);
    add(line);
  }
  void invalidate_all(Source source) override { add(std::string("all ") + name(source)); }
  void set_armed(bool armed, std::string_view reason) override {
    add(armed ? "armed" : "disarmed: " + std::string(reason));
  }
  void set_current(std::chrono::steady_clock::time_point) override {}

  bool wait_for(const std::string& line) {
    return wait_until([&] {
      std::lock_guard lock(mu_);
      return std::find(events_.begin(), events_.end(), line) != events_.end();
    });
  }
  // Waits for an event starting with `prefix`; returns it (empty on timeout).
  std::string wait_for_prefix(const std::string& prefix) {
    std::string found;
    wait_until([&] {
      std::lock_guard lock(mu_);
      for (const auto& e : events_) {
        if (e.starts_with(prefix)) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::size_t count(const std::string& line) {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count(events_.begin(), events_.end(), line));
  }

 private:
  static const char* name(Source s) { return s == Source::Channel ? "channel" : "tracking"; }
  void add(std::string line) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(line));
  }
  std::mutex mu_;
  std::vector<std::string> events_;
};

std::string message(const std::string& channel, const std::string& payload_resp) {
  return "*3\r\n$7\r\nmessage\r\n$" + std::to_string(channel.size()) + "\r\n" + channel + "\r\n" +
         payload_resp;
}

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// Plays Redis for the two invalidation connections. The subscriber connection starts with
// CLIENT ID, the tracker with CLIENT TRACKING; `on_subscriber` / `on_tracker` take over once
// each is set up (by default they answer PINGs until the connection ends).
struct FakeRedis {
  std::function<void(FakeConnection&)> on_subscriber = [](FakeConnection& c) {
    answer_pings(c, true);
  };
  std::function<void(FakeConnection&)> on_tracker = [](FakeConnection& c) {
    answer_pings(c, false);
  };
  std::function<bool(const Args&)> tracking_ok = [](const Args&) { return true; };
  std::atomic<int> subscribers{0};
  std::atomic<int> trackers{0};

  // Answers PING until the connection or the fake server ends; in subscribe mode as Redis does
  // there (RESP2). (Fence rounds PING every few ms: the loop must not outlive the server.)
  static void answer_pings(FakeConnection& c, bool subscribe_mode) {
    while (!c.stopping()) {
      auto cmd = c.read_command(60s);
      if (!cmd) break;
      if (cmd == Args{"PING"}) {
        c.write(subscribe_mode ? "*2\r\n$4\r\npong\r\n$0\r\n\r\n" : "+PONG\r\n");
      }
    }
  }

  void operator()(FakeConnection& c) {
    const auto first = c.read_command();
    if (!first) return;
    if (*first == Args{"CLIENT", "ID"}) {
      c.write(":42\r\n");
      EXPECT_EQ(c.read_command(), (Args{"SUBSCRIBE", "__redis__:invalidate", "inv"}));
      c.write(
          "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"
          "*3\r\n$9\r\nsubscribe\r\n$3\r\ninv\r\n:2\r\n");
      ++subscribers;
      on_subscriber(c);
      return;
    }
    ++trackers;
    if (!tracking_ok(*first)) {
      c.write("-ERR tracking refused here\r\n");
      c.wait_closed();
      return;
    }
    c.write("+OK\r\n");
    on_tracker(c);
  }
};

class SubscriberTest : public ::testing::Test {
 protected:
  void start(FakeUpstream& fake, bool tracking = true, std::vector<std::string> prefixes = {}) {
    SubscriberSettings s;
    s.upstream.port = fake.port();
    s.upstream.connect_timeout = 10s;
    s.channel = "inv";
    s.tracking = tracking;
    s.prefixes = std::move(prefixes);
    s.ping_interval = ping_interval_;
    s.instance = kInstance;
    io_.call([&] {
      subscriber_ = std::make_unique<Subscriber>(io_.io(), s, sink_);
      subscriber_->start();
    });
  }
  void TearDown() override {
    io_.call([&] {
      if (subscriber_) subscriber_->stop();
      subscriber_.reset();
    });
  }

  // Long enough that PINGs never decide a test that is not about them.
  std::chrono::milliseconds ping_interval_ = 60s;
  IoThread io_;
  RecordingSink sink_;
  std::unique_ptr<Subscriber> subscriber_;
};

TEST_F(SubscriberTest, ArmsWithTrackingRedirectedToTheSubscriber) {
  Args tracking_request;
  FakeRedis redis;
  redis.tracking_ok = [&](const Args& a) {
    tracking_request = a;
    return true;
  };
  FakeUpstream fake(std::ref(redis));
  start(fake, true, {"session:", "user:"});
  ASSERT_TRUE(sink_.wait_for("armed")) << ::testing::PrintToString(sink_.events());
  EXPECT_EQ(tracking_request, (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "42", "BCAST", "PREFIX",
                                    "session:", "PREFIX", "user:"}));
  EXPECT_EQ(sink_.events(), (std::vector<std::string>{"armed"}));
}

TEST_F(SubscriberTest, EveryKindOfMessageReachesTheSink) {
  Notification done;
  FakeRedis redis;
  redis.on_subscriber = [&](FakeConnection& c) {
    // Tracking: one key, several keys, a null payload (everything, e.g. FLUSHALL).
    c.write(message("__redis__:invalidate", "*1\r\n" + bulk("k1")));
    c.write(message("__redis__:invalidate", "*2\r\n" + bulk("a") + bulk("b")));
    c.write(message("__redis__:invalidate", "*-1\r\n"));
    // The channel: another instance's keys, its flush, our own message, a plain key.
    std::string keys;
    const std::string_view names[] = {"x", "y:z"};
    encode_keys(keys, kOtherInstance, names);
    c.write(message("inv", bulk(keys)));
    std::string all;
    encode_all(all, kOtherInstance);
    c.write(message("inv", bulk(all)));
    std::string own;
    const std::string_view mine[] = {"mine"};
    encode_keys(own, kInstance, mine);
    c.write(message("inv", bulk(own)));
    c.write(message("inv", bulk("plain-key")));
    c.write(message("elsewhere", bulk("ignored")));
    done.notify();
    FakeRedis::answer_pings(c, true);
  };
  FakeUpstream fake(std::ref(redis));
  start(fake);
  ASSERT_TRUE(done.wait());
  ASSERT_TRUE(sink_.wait_for("keys channel: plain-key"))
      << ::testing::PrintToString(sink_.events());
  EXPECT_EQ(sink_.events(), (std::vector<std::string>{
                                "armed",
                                "keys tracking: k1",
                                "keys tracking: a,b",
                                "all tracking",
                                "keys channel: x,y:z",
                                "all channel",
                                "keys channel: plain-key",
                            }));
}

// Replies are decoded into slots that are reused from one message to the next, and a message
// longer than one read is decoded across several: every key of every message must come out
// intact, none left over from a longer message before.
TEST_F(SubscriberTest, LongAndShortMessagesInTurnReachTheSinkIntact) {
  auto keys_of = [](char tag, int count) {
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) {
      keys.push_back(std::string(1, tag) + ":" +
                     std::string(static_cast<std::size_t>(i % 97), 'v') + std::to_string(i));
    }
    return keys;
  };
  // Three times the subscriber's 16 KB read buffer, then 2 keys, more keys than the decoder
  // keeps slots for between replies, and an empty array.
  const std::vector<std::vector<std::string>> batches = {keys_of('a', 1000), keys_of('b', 2),
                                                         keys_of('c', 700),  keys_of('d', 5000),
                                                         keys_of('e', 3),    {}};
  std::vector<std::string> expected{"armed"};
  Notification done;
  FakeRedis redis;
  redis.on_subscriber = [&](FakeConnection& c) {
    for (const auto& keys : batches) {
      std::string payload = "*" + std::to_string(keys.size()) + "\r\n";
      for (const auto& k : keys) payload += bulk(k);
      const std::string frame = message("__redis__:invalidate", payload);
      // In pieces of 1,000 bytes: replies end in the middle of a read.
      for (std::size_t at = 0; at < frame.size(); at += 1000) c.write(frame.substr(at, 1000));
    }
    c.write(message("inv", bulk("last")));
    done.notify();
    FakeRedis::answer_pings(c, true);
  };
  for (const auto& keys : batches) {
    std::string line = "keys tracking:";
    for (std::size_t i = 0; i < keys.size(); ++i) line += (i ? "," : " ") + keys[i];
    expected.push_back(line);
  }
  expected.push_back("keys channel: last");
  FakeUpstream fake(std::ref(redis));
  start(fake);
  ASSERT_TRUE(done.wait());
  ASSERT_TRUE(sink_.wait_for("keys channel: last"));
  EXPECT_EQ(sink_.events(), expected);
}

TEST_F(SubscriberTest, LostSubscriberDisarmsThenRearms) {
  FakeRedis redis;
  redis.on_subscriber = [&](FakeConnection& c) {
    if (redis.subscribers == 1) {
      c.close();  // as CLIENT KILL TYPE pubsub does
      return;
    }
    FakeRedis::answer_pings(c, true);
  };
  FakeUpstream fake(std::ref(redis));
  start(fake);
  EXPECT_NE(sink_.wait_for_prefix("disarmed: "), "");
  ASSERT_TRUE(wait_until([&] { return sink_.count("armed") >= 2; }))
      << ::testing::PrintToString(sink_.events());
  EXPECT_EQ(redis.subscribers, 2);
  // Disarming comes between the two armings, and L1 is told before it is used again.
  const auto events = sink_.events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0], "armed");
  EXPECT_TRUE(events[1].starts_with("disarmed: ")) << events[1];
  EXPECT_EQ(events[2], "armed");
}

TEST_F(SubscriberTest, UnansweredPingDisarms) {
  ping_interval_ = 50ms;
  FakeRedis redis;
  redis.on_tracker = [&](FakeConnection& c) {
    if (redis.trackers == 1) {
      while (c.read_command(60s)) {
        // Reads the PINGs and never answers: a stalled connection.
      }
      return;
    }
    FakeRedis::answer_pings(c, false);
  };
  FakeUpstream fake(std::ref(redis));
  start(fake);
  // Only the PING deadline can end this: the silent tracker connection stays open.
  EXPECT_NE(sink_.wait_for_prefix("disarmed: "), "");
  ASSERT_TRUE(wait_until([&] { return sink_.count("armed") >= 2; }))
      << ::testing::PrintToString(sink_.events());
  EXPECT_GE(redis.trackers, 2);
}

// BUG (src/invalidation/subscriber.cpp, left for the owner of that module): the reason given to
// the sink (and logged: "invalidation lost (...)") is not the cause. serve_once runs the two
// read loops and the ping loop as `a || b || c` sharing one `reason` string; when one ends with
// its reason, the cancelled siblings catch "Operation canceled" and overwrite it. Every loss then
// reads "tracker connection: Operation canceled": here instead of "no PONG within 50ms" and of
// "subscriber connection: closed by upstream". Enable once each loop keeps its own reason.
TEST_F(SubscriberTest, DisarmReasonNamesTheCause) {
  ping_interval_ = 50ms;
  FakeRedis redis;
  redis.on_tracker = [&](FakeConnection& c) {
    while (c.read_command(60s)) {
      // Never answers PING.
    }
  };
  FakeUpstream fake(std::ref(redis));
  start(fake);
  EXPECT_EQ(sink_.wait_for_prefix("disarmed: "), "disarmed: no PONG within 50ms");
}

TEST_F(SubscriberTest, DisarmReasonNamesTheLostConnection) {
  FakeRedis redis;
  redis.on_subscriber = [&](FakeConnection& c) { c.close(); };
  FakeUpstream fake(std::ref(redis));
  start(fake);
  EXPECT_EQ(sink_.wait_for_prefix("disarmed: "),
            "disarmed: subscriber connection: closed by upstream");
}

TEST_F(SubscriberTest, RefusedTrackingNeverArms) {
  FakeRedis redis;
  redis.tracking_ok = [](const Args&) { return false; };
  FakeUpstream fake(std::ref(redis));
  start(fake);
  EXPECT_EQ(sink_.wait_for_prefix("disarmed: "),
            "disarmed: CLIENT TRACKING refused: ERR tracking refused here");
  ASSERT_TRUE(wait_until([&] { return redis.trackers >= 2; })) << "no retry";
  EXPECT_EQ(sink_.count("armed"), 0u);
}

TEST_F(SubscriberTest, TrackingOffUsesOneConnection) {
  FakeRedis redis;
  FakeUpstream fake(std::ref(redis));
  start(fake, false);
  ASSERT_TRUE(sink_.wait_for("armed"));
  EXPECT_EQ(redis.trackers, 0);
  EXPECT_EQ(fake.accepted(), 1);
}

TEST_F(SubscriberTest, NewPrefixesRearmWithThem) {
  std::mutex mu;
  std::vector<Args> requests;
  FakeRedis redis;
  redis.tracking_ok = [&](const Args& a) {
    std::lock_guard lock(mu);
    requests.push_back(a);
    return true;
  };
  FakeUpstream fake(std::ref(redis));
  start(fake, true, {"a:"});
  ASSERT_TRUE(sink_.wait_for("armed"));
  io_.call([&] { subscriber_->set_prefixes({"b:"}); });
  ASSERT_TRUE(wait_until([&] { return sink_.count("armed") >= 2; }))
      << ::testing::PrintToString(sink_.events());
  std::lock_guard lock(mu);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].back(), "b:");
}

}  // namespace
}  // namespace frontcache::invalidation
