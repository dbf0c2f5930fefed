// L1 through the real proxy (issue 4, DESIGN.md §2): reads answered locally cost the upstream
// nothing, and no instance serves a value older than the bound the user set, whoever wrote.
// Upstream command counts are read from Redis's own INFO commandstats.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// calls=N of one command in the upstream's INFO commandstats (0 when never called).
long long upstream_calls(RedisClient& direct, const std::string& command) {
  const std::string info = direct("INFO", "commandstats").str;
  const std::string key = "cmdstat_" + command + ":calls=";
  const auto pos = info.find(key);
  if (pos == std::string::npos) return 0;
  return std::stoll(info.substr(pos + key.size()));
}

std::string info_field(RedisClient& c, const std::string& field) {
  const std::string info = c("INFO", "frontcache").str;
  const auto pos = info.find(field + ":");
  if (pos == std::string::npos) return "";
  const auto end = info.find("\r\n", pos);
  return info.substr(pos + field.size() + 1, end - pos - field.size() - 1);
}

bool wait_armed(RedisClient& c, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (info_field(c, "l1_state") == "armed") return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Polls `read` until it returns `want`; the time it took, or nullopt after `timeout`.
template <typename Read>
std::optional<std::chrono::microseconds> time_until(Read read, const std::string& want,
                                                    std::chrono::milliseconds timeout = 3s) {
  const auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    if (read() == want) {
      return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    }
    std::this_thread::sleep_for(1ms);
  }
  return std::nullopt;
}

class Caching : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.redis_args = {"--enable-debug-command", "yes"};  // DEBUG SLEEP: a slow upstream
    return o;
  }
  void SetUp() override {
    TargetTest::SetUp();
    if (!target().is_proxy()) GTEST_SKIP() << "L1 exists only in proxy mode";
    auto c = target().client();
    ASSERT_TRUE(wait_armed(c)) << "invalidation never armed";
  }
};

TEST_F(Caching, RepeatedReadsCostOneUpstreamRead) {
  auto c = target().client();
  auto d = target().direct_client();
  const long long seen = std::stoll(info_field(c, "invalidations_tracking"));
  ASSERT_EQ(d("SET", "k", "v").to_string(), "+OK");
  ASSERT_EQ(d("SET", "k2", "v2").to_string(), "+OK");
  ASSERT_EQ(d("HSET", "h", "f1", "a", "f2", "b").to_string(), ":2");
  // The tracking invalidations of these writes reach the proxy on another connection, maybe
  // after the first GET went upstream; that fill is then (rightly) discarded and the key read
  // again. Wait for them so that the count below is about caching only.
  const auto deadline = Clock::now() + 3s;
  while (std::stoll(info_field(c, "invalidations_tracking")) < seen + 3 &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(d("CONFIG", "RESETSTAT").to_string(), "+OK");
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(c("GET", "k").to_string(), "\"v\"");
    ASSERT_EQ(c("MGET", "k2", "nokey").to_string(), "[\"v2\", (nil)]");
    ASSERT_EQ(c("HGETALL", "h").to_string(), "[\"f1\", \"a\", \"f2\", \"b\"]");
  }
  EXPECT_LE(upstream_calls(d, "get"), 1);
  EXPECT_LE(upstream_calls(d, "mget"), 1);
  EXPECT_LE(upstream_calls(d, "hgetall"), 1);
  // MGET of keys GET has cached costs nothing more.
  EXPECT_EQ(c("MGET", "k", "k2").to_string(), "[\"v\", \"v2\"]");
  EXPECT_LE(upstream_calls(d, "mget"), 1);
  EXPECT_GE(std::stoll(info_field(c, "l1_hits")), 147);
}

TEST_F(Caching, StampedeOnAColdKeyCostsOneUpstreamRead) {
  auto d = target().direct_client();
  ASSERT_EQ(d("SET", "cold", "value").to_string(), "+OK");
  ASSERT_EQ(d("CONFIG", "RESETSTAT").to_string(), "+OK");
  // Every client connects first; then Redis stalls for 500 ms and all of them ask at once, so
  // every GET arrives while the first one is in flight.
  constexpr int kClients = 100;
  std::vector<std::string> got(kClients);
  std::vector<std::thread> clients;
  std::atomic<int> connected{0};
  std::atomic<bool> go{false};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto c = target().client(5s);
      c("PING");
      ++connected;
      while (!go) std::this_thread::sleep_for(1ms);
      got[i] = c("GET", "cold").to_string();
    });
  }
  while (connected < kClients) std::this_thread::sleep_for(1ms);
  std::string slept;
  std::thread sleeper([&] {
    auto s = target().direct_client(5s);
    slept = s("DEBUG", "SLEEP", "0.5").to_string();
  });
  std::this_thread::sleep_for(50ms);
  go = true;
  for (auto& t : clients) t.join();
  sleeper.join();
  ASSERT_EQ(slept, "+OK");
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(got[i], "\"value\"") << "client " << i;
  EXPECT_EQ(upstream_calls(d, "get"), 1);
  auto c = target().client();
  EXPECT_GE(std::stoll(info_field(c, "l1_coalesced_waits")), 1) << c("INFO", "frontcache").str;
}

// Two instances on one Redis: instance B holds the old value; each write, through A or
// around every instance, must reach B's L1.
class CrossInstance : public Caching {
 protected:
  void SetUp() override {
    Caching::SetUp();
    if (IsSkipped()) return;
    FrontcacheOptions options;
    options.binary = frontcache_binary();
    options.upstream_port = target().redis_port();
    second_ = std::make_unique<Frontcache>(second_dir_.path(), options);
    auto b = RedisClient("127.0.0.1", second_->port());
    ASSERT_TRUE(wait_armed(b));
  }
  void TearDown() override {
    if (HasFailure() && second_) std::cerr << "--- instance B log ---\n" << second_->log();
    second_.reset();
    Caching::TearDown();
  }
  RedisClient a() { return target().client(); }
  RedisClient b() { return RedisClient("127.0.0.1", second_->port()); }

  // Makes B cache `read`'s reply, runs `write`, and returns how long B took to show `want`.
  template <typename Write>
  void expect_seen(const std::vector<std::string>& read, Write write, const std::string& want,
                   const std::string& what) {
    auto rb = b();
    const std::string before = rb.command(read).to_string();
    ASSERT_EQ(rb.command(read).to_string(), before);  // cached now
    ASSERT_NE(before, want) << what;
    write();
    auto took = time_until([&] { return rb.command(read).to_string(); }, want);
    ASSERT_TRUE(took.has_value()) << what << ": B still serves " << rb.command(read).to_string();
    std::cout << "[latency] " << what << ": " << took->count() << " us\n";
    // Bound for a shared CI machine; the design target (100 ms) is measured in the note.
    EXPECT_LT(*took, 1000ms) << what;
  }

  TempDir second_dir_;
  std::unique_ptr<Frontcache> second_;
};

TEST_F(CrossInstance, WritesThroughAnotherInstanceReachL1) {
  auto d = target().direct_client();
  auto ra = a();
  d("SET", "s", "old");
  expect_seen(
      {"GET", "s"}, [&] { ra("SET", "s", "new"); }, "\"new\"", "SET via A");
  expect_seen(
      {"GET", "s"}, [&] { ra("DEL", "s"); }, "(nil)", "DEL via A");
  d("SET", "e", "x");
  expect_seen(
      {"GET", "e"}, [&] { ra("PEXPIRE", "e", "1"); }, "(nil)", "PEXPIRE via A");
  d("HSET", "h", "f", "1");
  expect_seen(
      {"HGETALL", "h"}, [&] { ra("HSET", "h", "f", "2"); }, "[\"f\", \"2\"]", "HSET via A");
  d("RPUSH", "l", "a");
  expect_seen(
      {"LRANGE", "l", "0", "-1"}, [&] { ra("LPUSH", "l", "z"); }, "[\"z\", \"a\"]", "LPUSH via A");
  d("SET", "lua", "1");
  expect_seen(
      {"GET", "lua"}, [&] { ra("EVAL", "redis.call('SET', KEYS[1], ARGV[1])", "1", "lua", "2"); },
      "\"2\"", "EVAL via A (declared key)");
  d("SET", "undeclared", "1");
  expect_seen(
      {"GET", "undeclared"}, [&] { ra("EVAL", "redis.call('SET', 'undeclared', '2')", "0"); },
      "\"2\"", "EVAL via A (undeclared key, caught by tracking)");
}

TEST_F(CrossInstance, WritesAroundEveryInstanceReachL1) {
  auto d = target().direct_client();
  d("SET", "direct", "old");
  expect_seen(
      {"GET", "direct"}, [&] { d("SET", "direct", "new"); }, "\"new\"", "SET directly on Redis");
  // A write by redis-cli, as another application would.
  const std::string cmd =
      "redis-cli -p " + std::to_string(target().redis_port()) + " SET direct cli >/dev/null";
  expect_seen(
      {"GET", "direct"}, [&] { ASSERT_EQ(std::system(cmd.c_str()), 0); }, "\"cli\"",
      "SET by redis-cli");
}

// Invalidation latency, measured as a client sees it: B holds the old value, a write lands (via
// A, or directly on Redis), and B is polled until it serves the new value. Printed as p50/p99
// for the notes; asserted only loosely (shared machine).
TEST_F(CrossInstance, InvalidationLatencyPercentiles) {
  auto ra = a();
  auto rb = b();
  auto d = target().direct_client();
  for (const bool direct_write : {false, true}) {
    std::vector<long long> micros;
    for (int i = 0; i < 200; ++i) {
      // Fresh keys per mode: B must not hold a value from the other loop.
      const std::string key = (direct_write ? "lat:d:" : "lat:a:") + std::to_string(i);
      const std::string old_value = "old" + std::to_string(i);
      const std::string new_value = "new" + std::to_string(i);
      d("SET", key, old_value);
      ASSERT_EQ(rb("GET", key).str, old_value);
      ASSERT_EQ(rb("GET", key).str, old_value);  // cached
      const auto start = Clock::now();
      if (direct_write) {
        d("SET", key, new_value);
      } else {
        ra("SET", key, new_value);
      }
      std::string got;
      while (got != new_value && Clock::now() - start < 2s) got = rb("GET", key).str;
      ASSERT_EQ(got, new_value);
      micros.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
    }
    std::sort(micros.begin(), micros.end());
    const long long p50 = micros[micros.size() / 2];
    const long long p99 = micros[micros.size() * 99 / 100];
    std::cout << "[latency] " << (direct_write ? "direct write" : "write via A")
              << " -> B serves it: p50 " << p50 << " us, p99 " << p99 << " us, max "
              << micros.back() << " us (write round trip included)\n";
    EXPECT_LT(p50, 100000) << "p50 over the 100 ms design bound";
  }
}

TEST_F(CrossInstance, FlushallEmptiesEveryInstance) {
  auto d = target().direct_client();
  auto ra = a();
  auto rb = b();
  d("SET", "f", "1");
  ASSERT_EQ(ra("GET", "f").to_string(), "\"1\"");
  ASSERT_EQ(rb("GET", "f").to_string(), "\"1\"");
  d("FLUSHALL");
  for (auto* c : {&ra, &rb}) {
    auto took = time_until([&] { return (*c)("GET", "f").to_string(); }, "(nil)");
    ASSERT_TRUE(took.has_value());
    std::cout << "[latency] FLUSHALL: " << took->count() << " us\n";
  }
}

TEST_F(Caching, EntryNeverOutlivesItsKeyInRedis) {
  auto c = target().client();
  ASSERT_EQ(c("SET", "px", "short", "PX", "200").to_string(), "+OK");
  EXPECT_EQ(c("GET", "px").to_string(), "\"short\"");
  EXPECT_EQ(c("GET", "px").to_string(), "\"short\"");
  auto took = time_until([&] { return c("GET", "px").to_string(); }, "(nil)", 3s);
  ASSERT_TRUE(took.has_value()) << "the cached value outlived the key";
}

TEST_F(Caching, LosingTheSubscriberClearsAndRearms) {
  auto c = target().client();
  auto d = target().direct_client();
  d("SET", "sub", "old");
  // Cached: the second read is a hit (the first fill may be discarded if the SET's own
  // invalidation arrives while it is in flight, so read until one hit is counted).
  const auto hits_before = std::stoll(info_field(c, "l1_hits"));
  for (int i = 0; i < 100 && std::stoll(info_field(c, "l1_hits")) == hits_before; ++i) {
    ASSERT_EQ(c("GET", "sub").to_string(), "\"old\"");
  }
  ASSERT_GT(std::stoll(info_field(c, "l1_hits")), hits_before);
  const auto bypass_before = std::stoll(info_field(c, "invalidation_bypass_events"));
  ASSERT_GE(d("CLIENT", "KILL", "TYPE", "pubsub").integer, 1);
  // Whatever state the proxy is in, reads are correct: the write below reaches no subscriber,
  // so only clearing L1 when the loss is noticed can make the new value visible.
  d("SET", "sub", "new");
  auto took = time_until([&] { return c("GET", "sub").to_string(); }, "\"new\"");
  ASSERT_TRUE(took.has_value()) << "stale value served after the subscriber was lost";
  std::cout << "[latency] loss noticed and L1 cleared within " << took->count() << " us\n";
  EXPECT_GT(std::stoll(info_field(c, "invalidation_bypass_events")), bypass_before);
  const auto rearm_start = Clock::now();
  ASSERT_TRUE(wait_armed(c, 5s)) << "not re-armed";
  std::cout
      << "[latency] re-armed within "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - rearm_start).count()
      << " ms of the check\n";
  // Invalidation works again after re-arming.
  ASSERT_EQ(c("GET", "sub").to_string(), "\"new\"");
  d("SET", "sub", "newer");
  ASSERT_TRUE(time_until([&] { return c("GET", "sub").to_string(); }, "\"newer\"").has_value());
}

// 8 clients, 2 instances, SET-then-GET on shared keys: nobody reads back its own older value,
// and no read sent well after a write was acknowledged returns a value written before it.
TEST_F(CrossInstance, ReadYourWritesUnderConcurrency) {
  constexpr int kClients = 8;
  constexpr int kKeys = 4;
  const auto run_for = 10s;
  struct Write {
    long long version;
    Clock::time_point sent, acked;
  };
  std::mutex mu;
  std::map<std::string, std::vector<Write>> writes;  // per key
  struct Read {
    std::string key;
    long long version;
    Clock::time_point sent;
  };
  std::vector<std::vector<Read>> reads(kClients);
  std::atomic<long long> next_version{1};
  std::vector<std::string> own_violation(kClients);
  std::vector<std::thread> threads;
  const auto stop_at = Clock::now() + run_for;
  for (int id = 0; id < kClients; ++id) {
    threads.emplace_back([&, id] {
      RedisClient c("127.0.0.1", id % 2 == 0 ? target().port() : second_->port());
      std::map<std::string, long long> mine;
      for (long long i = 0; Clock::now() < stop_at; ++i) {
        const std::string key = "ryw:" + std::to_string(i % kKeys);
        const long long v = next_version.fetch_add(1);
        const auto sent = Clock::now();
        if (c("SET", key, std::to_string(v)).to_string() != "+OK") continue;
        const auto acked = Clock::now();
        {
          std::lock_guard lock(mu);
          writes[key].push_back({v, sent, acked});
        }
        mine[key] = v;
        const auto read_sent = Clock::now();
        const Reply r = c("GET", key);
        if (r.type != Reply::Type::String) continue;
        const long long got = std::stoll(r.str);
        reads[id].push_back({key, got, read_sent});
        // Our own older value: a version we wrote before our latest write to this key.
        if (got < v && own_violation[id].empty()) {
          std::lock_guard lock(mu);
          for (const auto& w : writes[key]) {
            if (w.version == got && w.acked < sent) {
              own_violation[id] =
                  key + ": wrote " + std::to_string(v) + ", read back older " + std::to_string(got);
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& v : own_violation) EXPECT_TRUE(v.empty()) << v;

  // Staleness: a read sent > 100 ms after write W was acked must not return a value whose
  // write was acked before W was sent (that value was certainly overwritten by W).
  std::size_t checked = 0;
  std::size_t stale = 0;
  for (const auto& per_client : reads) {
    for (const auto& r : per_client) {
      const auto& ws = writes[r.key];
      auto got = std::find_if(ws.begin(), ws.end(),
                              [&](const Write& w) { return w.version == r.version; });
      if (got == ws.end()) continue;
      for (const auto& w : ws) {
        if (w.acked + 100ms < r.sent && got->acked < w.sent) {
          ++stale;
          break;
        }
      }
      ++checked;
    }
  }
  std::cout << "[ryw] " << checked << " reads checked, " << stale << " stale\n";
  EXPECT_GT(checked, 1000u);
  EXPECT_EQ(stale, 0u);
}

class CachingRules : public Caching {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o = Caching::target_options();
    // Tracking off: only writes through frontcache invalidate, so a rule's TTL is what bounds a
    // direct write's staleness here.
    o.frontcache_yaml = R"(
cache:
  max_memory: 1mb
  max_ttl: 10s
  rules:
    - match: "session:*"
      cache: false
    - match: "short:*"
      ttl: 2s
      negative_ttl: 0
    - match: "*"
      ttl: 10s
invalidation:
  tracking: off
)";
    return o;
  }
};

TEST_F(CachingRules, UncachedRuleGoesUpstreamEveryTime) {
  auto c = target().client();
  auto d = target().direct_client();
  d("SET", "session:1", "s");
  d("CONFIG", "RESETSTAT");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c("GET", "session:1").to_string(), "\"s\"");
  EXPECT_EQ(upstream_calls(d, "get"), 10);
}

TEST_F(CachingRules, RuleTtlBoundsStaleness) {
  auto c = target().client();
  auto d = target().direct_client();
  d("SET", "short:1", "old");
  ASSERT_EQ(c("GET", "short:1").to_string(), "\"old\"");
  const auto cached_at = Clock::now();
  d("SET", "short:1", "new");  // invisible to the proxy: tracking is off
  EXPECT_EQ(c("GET", "short:1").to_string(), "\"old\"") << "the entry should still be cached";
  auto took = time_until([&] { return c("GET", "short:1").to_string(); }, "\"new\"", 6s);
  ASSERT_TRUE(took.has_value()) << "the 2 s rule TTL did not expire the entry";
  EXPECT_GE(Clock::now() - cached_at, 1500ms) << "expired well before its TTL";
  // negative_ttl: 0 means nil replies are not cached.
  d("CONFIG", "RESETSTAT");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c("GET", "short:none").to_string(), "(nil)");
  EXPECT_EQ(upstream_calls(d, "get"), 5);
}

// With tracking off only this instance's own invalidation can drop an entry: writes inside a
// transaction and scripts' declared keys must do it, at once.
TEST_F(CachingRules, TransactionsAndScriptsInvalidateTheirKeys) {
  auto reader = target().client();
  auto writer = target().client();
  auto d = target().direct_client();
  d("SET", "tx:k", "old");
  d("SET", "lua:k", "old");
  ASSERT_EQ(reader("GET", "tx:k").to_string(), "\"old\"");
  ASSERT_EQ(reader("GET", "lua:k").to_string(), "\"old\"");
  ASSERT_EQ(writer("MULTI").to_string(), "+OK");
  ASSERT_EQ(writer("SET", "tx:k", "new").to_string(), "+QUEUED");
  ASSERT_EQ(writer("EXEC").to_string(), "[+OK]");
  EXPECT_EQ(reader("GET", "tx:k").to_string(), "\"new\"");
  ASSERT_EQ(writer("EVAL", "redis.call('SET', KEYS[1], ARGV[1])", "1", "lua:k", "new").to_string(),
            "(nil)");
  EXPECT_EQ(reader("GET", "lua:k").to_string(), "\"new\"");
}

TEST_F(CachingRules, MaxMemoryHoldsUnderTwiceItsSize) {
  auto c = target().client();
  auto d = target().direct_client();
  const std::string value(1000, 'x');
  std::vector<std::vector<std::string>> sets;
  std::vector<std::vector<std::string>> gets;
  for (int i = 0; i < 2100; ++i) {  // about 2 MB of values against max_memory 1mb
    sets.push_back({"SET", "big:" + std::to_string(i), value});
    gets.push_back({"GET", "big:" + std::to_string(i)});
  }
  raw_pipeline(target().redis_port(), sets);
  for (int round = 0; round < 2; ++round) raw_pipeline(target().port(), gets);
  const long long used = std::stoll(info_field(c, "l1_used_memory"));
  EXPECT_GT(used, 0);
  EXPECT_LE(used, 1024 * 1024);
  EXPECT_GT(std::stoll(info_field(c, "l1_evictions")) + std::stoll(info_field(c, "l1_rejected")),
            0);
}

}  // namespace
}  // namespace frontcache::integration
