// Operating the proxy (issue 7): /metrics scraped under load and checked with promtool, its
// counters against INFO; SIGHUP reloads under a 50-client pipelined load, an invalid file is
// rejected; SIGTERM under load drains in-flight requests and exits 0 within shutdown_timeout.
// Proxy mode only.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "target.hpp"

namespace frontcache::integration {
namespace {

using Clock = std::chrono::steady_clock;

#define SKIP_UNLESS_PROXY()                                      \
  if (target_kind() != TargetKind::Proxy) {                      \
    GTEST_SKIP() << "needs the proxy (FRONTCACHE_TARGET=proxy)"; \
  }

std::string http_get(uint16_t port, const std::string& path) {
  RawClient c("127.0.0.1", port);
  if (!c.connected()) return {};
  c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  c.read_until_closed(5s);
  return c.received();
}

std::string http_body(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

// The value of `name value` (a sample line without labels); -1 when absent.
long long metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(name + " ")) {
      return static_cast<long long>(std::stod(line.substr(name.size() + 1)));
    }
  }
  return -1;
}

// `field:value` from INFO text; empty when absent.
std::string info_field(const std::string& info, const std::string& field) {
  const auto at = info.find("\r\n" + field + ":");
  if (at == std::string::npos) return {};
  const auto start = at + field.size() + 3;
  return info.substr(start, info.find("\r\n", start) - start);
}

bool wait_for_log(Frontcache& fc, const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (fc.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// Clients that pipeline SET/GET pairs on their own keys and check every reply.
class Load {
 public:
  Load(const Target& target, int clients, int pairs_per_pipeline) {
    for (int id = 0; id < clients; ++id) {
      threads_.emplace_back(
          [this, &target, id, pairs_per_pipeline] { run(target, id, pairs_per_pipeline); });
    }
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Stop at the first connection error instead of counting it (for SIGTERM).
  bool tolerate_disconnect = false;
  std::atomic<bool> stop_{false};
  std::atomic<long> answered{0};
  std::atomic<long> rounds_after_mark{0};
  std::atomic<bool> mark{false};
  std::atomic<int> error_replies{0};
  std::atomic<int> wrong_replies{0};
  std::atomic<int> disconnects{0};
  std::string first_problem() {
    std::lock_guard lock(mutex_);
    return problem_;
  }

 private:
  void note(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (problem_.empty()) problem_ = what;
  }
  void run(const Target& target, int id, int pairs) {
    RedisClient c = target.client(10s);
    for (long round = 0; !stop_; ++round) {
      std::vector<std::vector<std::string>> cmds;
      for (int i = 0; i < pairs; ++i) {
        const std::string key = "op:" + std::to_string(id) + ":" + std::to_string(i);
        cmds.push_back({"SET", key, std::to_string(round)});
        cmds.push_back({"GET", key});
      }
      const bool marked = mark;
      auto replies = c.pipeline(cmds);
      for (std::size_t i = 0; i < replies.size(); ++i) {
        const Reply& r = replies[i];
        if (r.is_io_error()) {
          disconnects++;
          if (!tolerate_disconnect) note("client " + std::to_string(id) + ": " + r.str);
          return;
        }
        if (r.is_error()) {
          error_replies++;
          note("client " + std::to_string(id) + ": " + r.to_string());
          continue;
        }
        const bool ok = i % 2 == 0
                            ? r.type == Reply::Type::Status && r.str == "OK"
                            : r.type == Reply::Type::String && r.str == std::to_string(round);
        if (!ok) {
          wrong_replies++;
          note("client " + std::to_string(id) + " reply " + std::to_string(i) + ": " +
               r.to_string());
        }
        answered++;
      }
      if (marked) rounds_after_mark++;
    }
  }
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::string problem_;
};

class Operations : public ::testing::Test {
 protected:
  void start(const std::string& yaml) {
    TargetOptions options;
    options.frontcache_yaml = yaml;
    target_ = std::make_unique<Target>(options);
    // PING is answered by the proxy itself: wait until a forwarded command works too.
    auto c = target_->client();
    const auto deadline = Clock::now() + 5s;
    while (c("EXISTS", "warmup").is_error() && Clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
  }
  void TearDown() override {
    if (target_ && HasFailure()) std::cerr << target_->logs() << std::endl;
    target_.reset();
  }
  std::string info() {
    auto c = target_->client();
    return c("INFO", "frontcache").str;
  }
  std::unique_ptr<Target> target_;
};

TEST_F(Operations, MetricsScrapedUnderLoadPassPromtoolAndMatchInfo) {
  SKIP_UNLESS_PROXY();
  const uint16_t metrics_port = free_port();
  start("metrics:\n  listen: 127.0.0.1:" + std::to_string(metrics_port) + "\n");
  const std::string scrape_file = target_->dir().file("scrape.txt");

  {
    Load load(*target_, 8, 20);
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(200ms);
      const std::string response = http_get(metrics_port, "/metrics");
      ASSERT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
      ASSERT_NE(response.find("text/plain; version=0.0.4"), std::string::npos) << response;
      write_file(scrape_file, http_body(response));
      auto check =
          run_command({"promtool", "check", "metrics"}, target_->dir().path(), 30s, scrape_file);
      EXPECT_EQ(check.exit_code, 0) << "promtool: " << check.out << check.err;
      EXPECT_EQ(check.out + check.err, "") << "promtool reported problems";
    }
    load.stop();
    EXPECT_EQ(load.first_problem(), "");
    EXPECT_GT(load.answered, 0);
  }

  // Quiet now: the counters of a scrape and of INFO right after it agree (INFO counts itself).
  auto client = target_->client();
  ASSERT_EQ(client("PING").str, "PONG");
  // The load's connections close asynchronously: wait until only this client is left.
  std::string text = http_body(http_get(metrics_port, "/metrics"));
  for (int i = 0; i < 100 && metric(text, "frontcache_connected_clients") != 1; ++i) {
    std::this_thread::sleep_for(20ms);
    text = http_body(http_get(metrics_port, "/metrics"));
  }
  const std::string info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(metric(text, "frontcache_commands_processed_total") + 1,
            std::stoll(info_field(info_text, "total_commands_processed")));
  EXPECT_EQ(metric(text, "frontcache_connections_received_total"),
            std::stoll(info_field(info_text, "total_connections_received")));
  EXPECT_EQ(metric(text, "frontcache_connected_clients"),
            std::stoll(info_field(info_text, "connected_clients")));
  // The INFO itself may or may not be counted yet when its section is written.
  const long long upstream_requests = std::stoll(info_field(info_text, "upstream_requests"));
  EXPECT_GE(metric(text, "frontcache_upstream_requests_total") + 1, upstream_requests);
  EXPECT_LE(metric(text, "frontcache_upstream_requests_total"), upstream_requests);
  EXPECT_EQ(metric(text, "frontcache_protocol_errors_total"), 0);
  if (!info_field(info_text, "l1_hits").empty()) {  // the L1 is wired in
    EXPECT_EQ(metric(text, "frontcache_l1_hits_total"),
              std::stoll(info_field(info_text, "l1_hits")));
    EXPECT_EQ(metric(text, "frontcache_l1_misses_total"),
              std::stoll(info_field(info_text, "l1_misses")));
  }
  // Forwarded latency is recorded: every forwarded SET/GET of the load and the PING-free INFO.
  // (L1 fills and invalidation PUBLISHes are upstream requests too, so no equality here.)
  EXPECT_GT(metric(text, "frontcache_forward_duration_seconds_count"), 0);
  EXPECT_EQ(text.find("frontcache_forward_duration_seconds_sum 0\n"), std::string::npos);
  EXPECT_NE(text.find("frontcache_hit_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(text.find("frontcache_miss_duration_seconds_count"), std::string::npos);
  EXPECT_NE(text.find("frontcache_upstream_connections{state=\"ready\"} 4\n"), std::string::npos)
      << text;

  EXPECT_NE(http_get(metrics_port, "/nope").find("HTTP/1.1 404"), std::string::npos);
}

constexpr const char* kRulesYaml =
    "invalidation:\n  tracking: off\n"
    "cache:\n  rules:\n"
    "    - match: \"ttl:*\"\n      ttl: 45s\n"
    "    - match: \"*\"\n      ttl: 30s\n"
    "shutdown_timeout: 3s\n"
    "admin_commands: forward\n";  // FRONTCACHE CONFIG is @admin

TEST_F(Operations, SighupReloadsUnderPipelinedLoadWithoutErrors) {
  SKIP_UNLESS_PROXY();
  start(kRulesYaml);
  Frontcache& fc = *target_->proxy();
  const std::string before = target_->client()("FRONTCACHE", "CONFIG").str;
  ASSERT_NE(before.find("match: \"ttl:*\"\n      cache: true\n      ttl: 45s"), std::string::npos)
      << before;

  Load load(*target_, 50, 10);
  std::this_thread::sleep_for(700ms);
  std::string yaml = read_file(fc.config_path());
  replace_all(yaml, "ttl: 45s", "ttl: 1s");
  replace_all(yaml, "level: info", "level: debug");
  write_file(fc.config_path(), yaml);
  ASSERT_EQ(::kill(fc.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log(fc, "config reloaded from " + fc.config_path(), 5s)) << fc.log();
  load.mark = true;
  const auto deadline = Clock::now() + 10s;
  while (load.rounds_after_mark < 100 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(300ms);
  load.stop();

  EXPECT_EQ(load.first_problem(), "");
  EXPECT_EQ(load.error_replies, 0);
  EXPECT_EQ(load.wrong_replies, 0);
  EXPECT_EQ(load.disconnects, 0);
  EXPECT_GE(load.rounds_after_mark, 100) << "clients stalled after the reload";
  EXPECT_TRUE(fc.running());

  auto client = target_->client();
  const std::string after = client("FRONTCACHE", "CONFIG").str;
  EXPECT_NE(after.find("match: \"ttl:*\"\n      cache: true\n      ttl: 1s"), std::string::npos)
      << after;
  EXPECT_NE(after.find("level: debug"), std::string::npos);
  const std::string info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(info_field(info_text, "config_reloads"), "1");
  EXPECT_EQ(info_field(info_text, "config_reload_failures"), "0");
  EXPECT_EQ(info_field(info_text, "config_last_reload"), "ok");
  EXPECT_EQ(info_field(info_text, "config_file"), fc.config_path());

  // The new TTL applies to cached reads. Tracking is off in this config, so a write made
  // directly on Redis is seen only when the entry expires: within the new 1 s rule, where the
  // old one would keep the stale value for 45 s.
  auto direct = target_->direct_client();
  ASSERT_EQ(direct("SET", "ttl:reload", "old").to_string(), "+OK");
  for (int i = 0; i < 200 && info_field(client("INFO", "frontcache").str, "l1_state") != "armed";
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(client("GET", "ttl:reload").to_string(), "\"old\"");
  ASSERT_EQ(direct("SET", "ttl:reload", "new").to_string(), "+OK");
  const auto written = Clock::now();
  std::string got = client("GET", "ttl:reload").to_string();
  EXPECT_EQ(got, "\"old\"") << "the read should have been cached";
  while (got != "\"new\"" && Clock::now() - written < 10s) {
    std::this_thread::sleep_for(50ms);
    got = client("GET", "ttl:reload").to_string();
  }
  EXPECT_EQ(got, "\"new\"");
  EXPECT_LT(Clock::now() - written, 10s) << "the reloaded 1 s TTL did not apply";
}

TEST_F(Operations, SighupWithInvalidFileKeepsTheRunningConfig) {
  SKIP_UNLESS_PROXY();
  start(kRulesYaml);
  Frontcache& fc = *target_->proxy();
  auto client = target_->client();
  const std::string before = client("FRONTCACHE", "CONFIG").str;
  const std::string good = read_file(fc.config_path());

  std::string bad = good;
  replace_all(bad, "ttl: 45s", "ttl: banana");
  write_file(fc.config_path(), bad);
  ASSERT_EQ(::kill(fc.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log(fc, "rejected", 5s)) << fc.log();
  const std::string log = fc.log();
  EXPECT_NE(log.find(fc.config_path() + ":"), std::string::npos) << log;
  EXPECT_NE(log.find("cache.rules[0].ttl"), std::string::npos) << log;
  EXPECT_EQ(client("FRONTCACHE", "CONFIG").str, before);
  EXPECT_EQ(client("SET", "k", "v").str, "OK");
  EXPECT_EQ(client("GET", "k").str, "v");
  std::string info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(info_field(info_text, "config_reload_failures"), "1");
  EXPECT_EQ(info_field(info_text, "config_last_reload"), "failed");

  // A restart-only change is reported and not applied; the live part is.
  std::string moved = good;
  replace_all(moved, "workers: 2", "workers: 3");
  replace_all(moved, "ttl: 45s", "ttl: 2s");
  write_file(fc.config_path(), moved);
  ASSERT_EQ(::kill(fc.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log(fc, "only apply after a restart", 5s)) << fc.log();
  const std::string after = client("FRONTCACHE", "CONFIG").str;
  EXPECT_NE(after.find("workers: 2\n"), std::string::npos) << after;
  EXPECT_NE(after.find("ttl: 2s"), std::string::npos) << after;
  info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(info_field(info_text, "config_last_reload"), "ok");
  EXPECT_EQ(info_field(info_text, "config_restart_pending"), "1");
}

TEST_F(Operations, SigtermUnderLoadDrainsAndExitsZero) {
  SKIP_UNLESS_PROXY();
  start("shutdown_timeout: 3s\n");
  Frontcache& fc = *target_->proxy();

  // A request that is still running upstream when SIGTERM arrives is answered.
  RawClient slow("127.0.0.1", target_->port());
  const std::string script = "local i = 0 while i < 20000000 do i = i + 1 end return 7";
  ASSERT_TRUE(slow.send("*3\r\n$4\r\nEVAL\r\n$" + std::to_string(script.size()) + "\r\n" + script +
                        "\r\n$1\r\n0\r\n"));

  Load load(*target_, 20, 20);
  load.tolerate_disconnect = true;
  std::this_thread::sleep_for(500ms);
  ASSERT_GT(load.answered, 0);
  const auto signalled = Clock::now();
  const auto code = fc.stop(10s);  // SIGTERM, then waits (SIGKILL only after 10 s)
  const auto took = Clock::now() - signalled;
  load.stop();

  EXPECT_EQ(code, 0) << fc.log();
  EXPECT_LT(took, 3s + 1s) << "exceeded shutdown_timeout";
  EXPECT_EQ(load.first_problem(), "") << "a reply was wrong";
  EXPECT_EQ(load.error_replies, 0);
  EXPECT_EQ(load.wrong_replies, 0);
  const auto reply = slow.read_reply(1s);
  ASSERT_TRUE(reply.has_value()) << "the in-flight EVAL was not answered: " << slow.received();
  EXPECT_EQ(*reply, ":7\r\n");
  EXPECT_NE(fc.log().find("frontcache stopped"), std::string::npos);
}

}  // namespace
}  // namespace frontcache::integration
