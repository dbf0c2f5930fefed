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

#define SKIP_UNLESS_PROXY()                                      \
  if (target_kind() != TargetKind::Proxy) {                      \
    GTEST_SKIP() << "needs the proxy (FRONTCACHE_TARGET=proxy)"; \
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
  void start(const std::string& yaml, TargetOptions options = {}) {
    options.frontcache_yaml = yaml;
    target_ = std::make_unique<Target>(options);
    // PING is answered by the proxy itself: wait until a forwarded command works too.
    ASSERT_TRUE(wait_for_upstream(*target_));
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
  ASSERT_NO_FATAL_FAILURE(
      start("metrics:\n  listen: 127.0.0.1:" + std::to_string(metrics_port) + "\n"));
  const std::string scrape_file = target_->dir().file("scrape.txt");

  {
    Load load(*target_, 8, 20);
    for (int i = 0; i < 5; ++i) {
      // Each scrape happens while the load is running: after it has made progress since the last.
      const long seen = load.answered;
      ASSERT_TRUE(wait_until([&] { return load.answered > seen; })) << load.first_problem();
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
  std::string text;
  ASSERT_TRUE(wait_until([&] {
    text = http_body(http_get(metrics_port, "/metrics"));
    return metric(text, "frontcache_connected_clients") == 1;
  })) << text;
  const std::string info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(metric(text, "frontcache_commands_processed_total") + 1,
            std::stoll(info_field(info_text, "frontcache_total_commands_processed")));
  EXPECT_EQ(metric(text, "frontcache_connections_received_total"),
            std::stoll(info_field(info_text, "frontcache_total_connections_received")));
  EXPECT_EQ(metric(text, "frontcache_connected_clients"),
            std::stoll(info_field(info_text, "frontcache_connected_clients")));
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
  // 2 workers x 2 connections x 2 protocols (RESP2 and RESP3 clients each have their own).
  EXPECT_NE(text.find("frontcache_upstream_connections{state=\"ready\"} 8\n"), std::string::npos)
      << text;

  // The standard process metrics, as every Prometheus client exports them.
  EXPECT_GT(metric(text, "process_resident_memory_bytes"), 0) << text;
  EXPECT_GE(metric(text, "process_virtual_memory_bytes"),
            metric(text, "process_resident_memory_bytes"));
  EXPECT_GE(metric(text, "process_cpu_seconds_total"), 0) << text;
  // At least the listeners, this client and the upstream connections.
  EXPECT_GE(metric(text, "process_open_fds"), 2 + 1 + 4) << text;
  EXPECT_GT(metric(text, "process_max_fds"), metric(text, "process_open_fds"));
  EXPECT_GT(metric(text, "process_start_time_seconds"), 1000000000) << text;

  EXPECT_NE(http_get(metrics_port, "/nope").find("HTTP/1.1 404"), std::string::npos);
}

constexpr const char* kRulesYaml =
    "invalidation:\n  tracking: off\n  ping_interval: 60s\n  max_staleness: 60s\n"
    "cache:\n  rules:\n"
    "    - match: \"ttl:*\"\n      ttl: 45s\n"
    "    - match: \"*\"\n      ttl: 30s\n"
    "shutdown_timeout: 3s\n"
    "admin_commands: forward\n";  // FRONTCACHE CONFIG is @admin

TEST_F(Operations, SighupReloadsUnderPipelinedLoadWithoutErrors) {
  SKIP_UNLESS_PROXY();
  ASSERT_NO_FATAL_FAILURE(start(kRulesYaml));
  Frontcache& fc = *target_->proxy();
  auto client = target_->client();
  const std::string before = client("FRONTCACHE", "CONFIG").str;
  ASSERT_NE(before.find("match: \"ttl:*\"\n      cache: true\n      ttl: 45s"), std::string::npos)
      << before;

  // Before the reload, `ttl:*` keys are cached. Tracking is off in this config, so a write made
  // directly on Redis stays invisible while the entry lives.
  auto direct = target_->direct_client();
  ASSERT_TRUE(wait_until([&] {
    return info_field(client("INFO", "frontcache").str, "l1_state") == "armed";
  })) << "invalidation never armed";
  ASSERT_EQ(direct("SET", "ttl:reload", "old").to_string(), "+OK");
  ASSERT_EQ(client("GET", "ttl:reload").to_string(), "\"old\"");
  ASSERT_EQ(direct("SET", "ttl:reload", "new").to_string(), "+OK");
  ASSERT_EQ(client("GET", "ttl:reload").to_string(), "\"old\"") << "the read should be cached";

  Load load(*target_, 50, 10);
  // Every client has had a full pipeline answered before the reload.
  ASSERT_TRUE(wait_until([&] { return load.answered >= 50 * 10 * 2; })) << load.first_problem();
  std::string yaml = read_file(fc.config_path());
  replace_all(yaml, "ttl: 45s", "cache: false");
  replace_all(yaml, "level: info", "level: debug");
  write_file(fc.config_path(), yaml);
  ASSERT_EQ(::kill(fc.pid(), SIGHUP), 0);
  ASSERT_TRUE(fc.wait_for_log("config reloaded from " + fc.config_path())) << fc.log();
  load.mark = true;
  EXPECT_TRUE(wait_until([&] { return load.rounds_after_mark >= 100 || load.disconnects > 0; }))
      << "clients stalled after the reload";
  load.stop();

  EXPECT_EQ(load.first_problem(), "");
  EXPECT_EQ(load.error_replies, 0);
  EXPECT_EQ(load.wrong_replies, 0);
  EXPECT_EQ(load.disconnects, 0);
  EXPECT_GE(load.rounds_after_mark, 100) << "clients stalled after the reload";
  EXPECT_TRUE(fc.running());

  // Each worker switches to the new config between two requests, after the log line: this
  // client's worker has once FRONTCACHE CONFIG shows it.
  std::string after;
  EXPECT_TRUE(wait_until([&] {
    after = client("FRONTCACHE", "CONFIG").str;
    return after.find("match: \"ttl:*\"\n      cache: false") != std::string::npos;
  })) << after;
  EXPECT_NE(after.find("level: debug"), std::string::npos);
  const std::string info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(info_field(info_text, "config_reloads"), "1");
  EXPECT_EQ(info_field(info_text, "config_reload_failures"), "0");
  EXPECT_EQ(info_field(info_text, "config_last_reload"), "ok");
  EXPECT_EQ(info_field(info_text, "frontcache_config_file"), fc.config_path());

  // The reloaded rule applies to reads at once: `ttl:*` is not cached any more, so the read goes
  // upstream and sees the direct write the cached entry hid.
  EXPECT_EQ(client("GET", "ttl:reload").to_string(), "\"new\"");
  ASSERT_EQ(direct("SET", "ttl:reload", "newer").to_string(), "+OK");
  EXPECT_EQ(client("GET", "ttl:reload").to_string(), "\"newer\"");
}

TEST_F(Operations, SighupWithInvalidFileKeepsTheRunningConfig) {
  SKIP_UNLESS_PROXY();
  ASSERT_NO_FATAL_FAILURE(start(kRulesYaml));
  Frontcache& fc = *target_->proxy();
  auto client = target_->client();
  const std::string before = client("FRONTCACHE", "CONFIG").str;
  const std::string good = read_file(fc.config_path());

  std::string bad = good;
  replace_all(bad, "ttl: 45s", "ttl: banana");
  write_file(fc.config_path(), bad);
  ASSERT_EQ(::kill(fc.pid(), SIGHUP), 0);
  ASSERT_TRUE(fc.wait_for_log("rejected")) << fc.log();
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
  ASSERT_TRUE(fc.wait_for_log("only apply after a restart")) << fc.log();
  // Each worker switches to the new config between two requests, after the log line.
  std::string after;
  ASSERT_TRUE(wait_until([&] {
    after = client("FRONTCACHE", "CONFIG").str;
    return after.find("ttl: 2s") != std::string::npos;
  })) << after;
  EXPECT_NE(after.find("workers: 2\n"), std::string::npos) << after;
  EXPECT_NE(after.find("ttl: 2s"), std::string::npos) << after;
  info_text = client("INFO", "frontcache").str;
  EXPECT_EQ(info_field(info_text, "config_last_reload"), "ok");
  EXPECT_EQ(info_field(info_text, "config_restart_pending"), "1");
}

// One command's counters in INFO frontcache_commandstats ("calls" ... "upstream_usec"); -1 when
// the command has no line.
long long command_stat(const std::string& section, const std::string& command,
                       const std::string& field) {
  const std::string line_start = "fc_cmdstat_" + command + ":";
  const auto line = section.find(line_start);
  if (line == std::string::npos) return -1;
  const auto end = section.find("\r\n", line);
  const std::string text = "," + section.substr(line + line_start.size(), end - line) + ",";
  const auto at = text.find("," + field + "=");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + field.size() + 2));
}

// Per-command statistics (Redis's INFO commandstats, seen from the proxy): what the proxy says
// it sent upstream per command equals what Redis counted, hits plus upstream calls add up to
// the calls, and /metrics carries the same figures.
TEST_F(Operations, CommandStatsMatchRedisCommandstats) {
  SKIP_UNLESS_PROXY();
  const uint16_t metrics_port = free_port();
  ASSERT_NO_FATAL_FAILURE(
      start("metrics:\n  listen: 127.0.0.1:" + std::to_string(metrics_port) + "\n"));
  auto client = target_->client();
  auto direct = target_->direct_client();
  ASSERT_TRUE(wait_until([&] { return info_field(info(), "l1_state") == "armed"; }));
  ASSERT_EQ(direct("CONFIG", "RESETSTAT").str, "OK");

  for (int i = 0; i < 5; ++i) ASSERT_EQ(client("SET", "stats:" + std::to_string(i), "v").str, "OK");
  // GETs of one key until one of them is an L1 hit (the first fills L1; an invalidation of the
  // SET racing the fill may discard it once).
  int gets = 0;
  ASSERT_TRUE(wait_until([&] {
    ++gets;
    EXPECT_EQ(client("GET", "stats:0").str, "v");
    return std::stoll(info_field(info(), "l1_hits")) > 0;
  }));
  ASSERT_EQ(client("MGET", "stats:1", "stats:2").type, Reply::Type::Array);
  ASSERT_EQ(client("CLIENT", "ID").type, Reply::Type::Integer);

  const std::string section = client("INFO", "frontcache_commandstats").str;
  ASSERT_TRUE(section.starts_with("# frontcache_commandstats\r\n")) << section;
  EXPECT_EQ(command_stat(section, "set", "calls"), 5) << section;
  EXPECT_EQ(command_stat(section, "set", "upstream_calls"), 5) << section;
  EXPECT_EQ(command_stat(section, "set", "l1_hits"), 0) << section;
  EXPECT_EQ(command_stat(section, "get", "calls"), gets) << section;
  EXPECT_GE(command_stat(section, "get", "l1_hits"), 1) << section;
  EXPECT_EQ(
      command_stat(section, "get", "l1_hits") + command_stat(section, "get", "upstream_calls"),
      gets)
      << section;
  EXPECT_EQ(command_stat(section, "mget", "calls"), 1) << section;
  EXPECT_EQ(command_stat(section, "client|id", "calls"), 1) << section;
  EXPECT_EQ(command_stat(section, "client|id", "upstream_calls"), 0) << section;

  // What Redis counted (the proxy's fills send a PTTL with each GET, not a second GET).
  const std::string redis = direct("INFO", "commandstats").str;
  auto redis_calls = [&](const std::string& command) {
    const std::string key = "cmdstat_" + command + ":calls=";
    const auto at = redis.find(key);
    return at == std::string::npos ? 0 : std::stoll(redis.substr(at + key.size()));
  };
  EXPECT_EQ(redis_calls("set"), 5) << redis;
  EXPECT_EQ(redis_calls("get"), command_stat(section, "get", "upstream_calls")) << redis;
  EXPECT_EQ(redis_calls("mget"), command_stat(section, "mget", "upstream_calls")) << redis;

  // INFO commandstats through the proxy: Redis's section, then ours.
  const std::string both = client("INFO", "commandstats").str;
  EXPECT_NE(both.find("# Commandstats\r\n"), std::string::npos) << both;
  EXPECT_NE(both.find("# frontcache_commandstats\r\nfc_cmdstat_"), std::string::npos) << both;
  EXPECT_EQ(client("INFO", "server").str.find("frontcache_commandstats"), std::string::npos);

  const std::string text = http_body(http_get(metrics_port, "/metrics"));
  EXPECT_EQ(metric(text, "frontcache_command_calls_total{command=\"set\"}"), 5) << text;
  EXPECT_EQ(metric(text, "frontcache_command_upstream_calls_total{command=\"set\"}"), 5) << text;
  EXPECT_EQ(metric(text, "frontcache_command_l1_hits_total{command=\"get\"}"),
            command_stat(section, "get", "l1_hits"))
      << text;
  EXPECT_NE(text.find("# TYPE frontcache_command_upstream_seconds_total counter\n"),
            std::string::npos);
}

// /healthz answers while the process lives; /readyz only while an upstream connection is ready
// and invalidation is armed, and not once draining has begun. Each change is waited for.
TEST_F(Operations, HealthzAndReadyzFollowTheUpstreamAndShutdown) {
  SKIP_UNLESS_PROXY();
  const uint16_t metrics_port = free_port();
  TargetOptions options;
  options.command_timeout = "300s";  // the held request must not time out, however slow we are
  ASSERT_NO_FATAL_FAILURE(start("metrics:\n  listen: 127.0.0.1:" + std::to_string(metrics_port) +
                                    "\nshutdown_timeout: 300s\n",
                                options));
  Frontcache& fc = *target_->proxy();
  std::string ready;
  const auto readyz = [&](const char* status) {
    return wait_until([&] {
      ready = http_get(metrics_port, "/readyz");
      return ready.starts_with(std::string("HTTP/1.1 ") + status);
    });
  };
  ASSERT_TRUE(readyz("200")) << ready;
  EXPECT_EQ(http_body(ready), "ready\n");
  const std::string health = http_get(metrics_port, "/healthz");
  EXPECT_TRUE(health.starts_with("HTTP/1.1 200")) << health;
  EXPECT_EQ(http_body(health), "ok\n");

  target_->redis().kill();
  ASSERT_TRUE(readyz("503")) << ready;
  EXPECT_TRUE(http_body(ready).starts_with("not ready: ")) << ready;
  EXPECT_TRUE(http_get(metrics_port, "/healthz").starts_with("HTTP/1.1 200"))
      << "liveness must not follow the upstream";
  target_->redis().restart();
  ASSERT_TRUE(readyz("200")) << ready;
  // /readyz needs one ready upstream connection; the held SET below lands on any worker, and one
  // still reconnecting would answer it with an error at once (this failed a CI run): wait for
  // all of them.
  auto c = target_->client();
  std::string info;
  ASSERT_TRUE(wait_until([&] {
    info = c("INFO", "frontcache").str;
    return info_field(info, "upstream_state") == "up";
  })) << info;

  // Draining: not ready any more while the process still finishes what it holds.
  auto direct = target_->direct_client();
  ASSERT_EQ(direct("CLIENT", "PAUSE", "300000", "WRITE").to_string(), "+OK");
  RawClient held("127.0.0.1", target_->port(), 300s);
  ASSERT_TRUE(held.send("*3\r\n$3\r\nSET\r\n$4\r\nheld\r\n$1\r\n1\r\n"));
  ASSERT_TRUE(wait_until([&] { return blocked_clients(direct) >= 1; }));
  fc.signal(SIGTERM);
  ASSERT_TRUE(readyz("503")) << ready;
  EXPECT_EQ(http_body(ready), "not ready: draining (shutting down)\n");
  EXPECT_TRUE(http_get(metrics_port, "/healthz").starts_with("HTTP/1.1 200"));
  ASSERT_EQ(direct("CLIENT", "UNPAUSE").to_string(), "+OK");
  EXPECT_EQ(held.read_reply(30s).value_or("<none>"), "+OK\r\n");
  EXPECT_EQ(fc.wait_exit(300s), 0);
}

// The requests in flight when SIGTERM arrives are held upstream on purpose, with CLIENT PAUSE
// WRITE on Redis: SETs and EVAL wait inside Redis, while the reads the test itself needs (INFO,
// CLIENT LIST, CLIENT UNPAUSE) still run. Each step waits for the event it needs (the load is
// running, the EVAL is held in Redis, the proxy has begun draining), so no amount of machine
// slowness changes what is tested.
TEST_F(Operations, SigtermUnderLoadDrainsAndExitsZero) {
  SKIP_UNLESS_PROXY();
  TargetOptions options;
  options.command_timeout = "300s";  // the held requests must not time out, however slow we are
  // (admin_commands: forward: the test reads the proxy's CLIENT LIST.)
  ASSERT_NO_FATAL_FAILURE(start("shutdown_timeout: 300s\nadmin_commands: forward\n", options));
  Frontcache& fc = *target_->proxy();
  auto direct = target_->direct_client();

  Load load(*target_, 20, 20);
  load.tolerate_disconnect = true;
  ASSERT_TRUE(wait_until([&] { return load.answered > 0; })) << load.first_problem();

  RawClient slow("127.0.0.1", target_->port(), 300s);
  ASSERT_TRUE(slow.send("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$4\r\nslow\r\n"));
  ASSERT_EQ(slow.read_reply().value_or(""), "+OK\r\n");
  ASSERT_EQ(direct("CLIENT", "PAUSE", "300000", "WRITE").to_string(), "+OK");
  ASSERT_TRUE(slow.send("*3\r\n$4\r\nEVAL\r\n$8\r\nreturn 7\r\n$1\r\n0\r\n"));
  // The proxy's own CLIENT LIST (answered locally) shows the EVAL taken from the socket and
  // dispatched: its reply slot waiting (oll=1), or, since the session rewrite, cmd=eval.
  auto observer = target_->client();
  std::string clients;
  ASSERT_TRUE(wait_until([&] {
    clients = observer("CLIENT", "LIST").str;
    const auto at = clients.find(" name=slow ");
    if (at == std::string::npos) return false;
    const std::string line = clients.substr(at, clients.find('\n', at) - at);
    return line.find(" oll=1 ") != std::string::npos ||
           line.find(" cmd=eval ") != std::string::npos;
  })) << "the EVAL was never forwarded: "
      << clients;

  fc.signal(SIGTERM);
  // Draining has begun on every worker once none of them accepts connections any more.
  ASSERT_TRUE(wait_until([&] { return !RawClient("127.0.0.1", target_->port()).connected(); }))
      << fc.log();
  EXPECT_TRUE(fc.running()) << "exited with requests still held upstream";
  ASSERT_EQ(direct("CLIENT", "UNPAUSE").to_string(), "+OK");

  const auto code = fc.wait_exit(300s);
  load.stop();
  EXPECT_EQ(code, 0) << fc.log();
  EXPECT_EQ(fc.log().find("passed with requests still in flight"), std::string::npos)
      << "requests were cut off instead of drained: " << fc.log();
  EXPECT_EQ(load.first_problem(), "") << "a reply was wrong";
  EXPECT_EQ(load.error_replies, 0);
  EXPECT_EQ(load.wrong_replies, 0);
  const auto reply = slow.read_reply(30s);
  ASSERT_TRUE(reply.has_value()) << "the in-flight EVAL was not answered: " << slow.received();
  EXPECT_EQ(*reply, ":7\r\n");
  EXPECT_NE(fc.log().find("frontcache stopped"), std::string::npos);
}

}  // namespace
}  // namespace frontcache::integration
