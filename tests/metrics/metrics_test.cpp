// The metrics table's naming rules, the histogram's buckets, and the exposition's layout.
#include "frontcache/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "frontcache/metrics/histogram.hpp"
#include "frontcache/metrics/process.hpp"

namespace frontcache::metrics {
namespace {

using namespace std::chrono_literals;

TEST(MetricTable, NamesFollowPrometheusConventions) {
  std::set<std::string_view> names;
  for (const auto& m : metric_table()) {
    SCOPED_TRACE(std::string(m.name));
    EXPECT_TRUE(m.name.starts_with("frontcache_") || m.name.starts_with("process_"));
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate";
    EXPECT_FALSE(m.help.empty());
    for (char c : m.name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << c;
    }
    EXPECT_EQ(m.type == Type::Counter, m.name.ends_with("_total"));
    if (m.type == Type::Histogram) {
      EXPECT_TRUE(m.name.ends_with("_seconds"));
    }
  }
  EXPECT_EQ(metric_table().size(), static_cast<std::size_t>(Metric::Count));
}

TEST(MetricTable, EnumMatchesTableOrder) {
  EXPECT_EQ(info(Metric::BuildInfo).name, "frontcache_build_info");
  EXPECT_EQ(info(Metric::CommandsProcessed).name, "frontcache_commands_processed_total");
  EXPECT_EQ(info(Metric::UpstreamConnections).name, "frontcache_upstream_connections");
  EXPECT_EQ(info(Metric::L1Hits).name, "frontcache_l1_hits_total");
  EXPECT_EQ(info(Metric::L1Bypass).name, "frontcache_l1_bypass");
  EXPECT_EQ(info(Metric::ConfigRestartPending).name, "frontcache_config_restart_pending");
  EXPECT_EQ(info(Metric::HitDuration).name, "frontcache_hit_duration_seconds");
  EXPECT_EQ(info(Metric::MissDuration).name, "frontcache_miss_duration_seconds");
  EXPECT_EQ(info(Metric::ForwardDuration).name, "frontcache_forward_duration_seconds");
  EXPECT_EQ(info(Metric::CommandCalls).name, "frontcache_command_calls_total");
  EXPECT_EQ(info(Metric::CommandUpstreamSeconds).name, "frontcache_command_upstream_seconds_total");
  EXPECT_EQ(info(Metric::ProcessCpuSeconds).name, "process_cpu_seconds_total");
  EXPECT_EQ(info(Metric::ProcessStartTime).name, "process_start_time_seconds");
}

TEST(ProcessStats, ParsesProcStatWithAnAwkwardCommandName) {
  // pid (comm) state ppid ... : the command name holds spaces and a ')'.
  const std::string stat =
      "4242 (front cache) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 "
      "123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  ProcessStats s;
  ASSERT_TRUE(parse_proc_stat(stat, 100, 4096, 1700000000, s));
  EXPECT_DOUBLE_EQ(*s.cpu_seconds, 3.0);  // (250 + 50) / 100
  EXPECT_DOUBLE_EQ(*s.start_time_seconds, 1700000000 + 1234.56);
  EXPECT_EQ(*s.virtual_bytes, 104857600u);
  EXPECT_EQ(*s.resident_bytes, 2560u * 4096u);
  ProcessStats bad;
  EXPECT_FALSE(parse_proc_stat("not a stat line", 100, 4096, 0, bad));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2", 100, 4096, 0, bad));
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000u);
  EXPECT_EQ(parse_boot_time("cpu 1\n"), std::nullopt);
}

TEST(ProcessStats, ThisProcess) {
  const ProcessStats s = read_process_stats();
  ASSERT_TRUE(s.cpu_seconds && s.resident_bytes && s.virtual_bytes && s.open_fds && s.max_fds &&
              s.start_time_seconds);
  EXPECT_GT(*s.resident_bytes, 0u);
  EXPECT_GE(*s.virtual_bytes, *s.resident_bytes);
  EXPECT_GE(*s.open_fds, 3u);  // stdin, stdout, stderr
  EXPECT_GE(*s.max_fds, *s.open_fds);
  EXPECT_GT(*s.start_time_seconds, 1e9);
  EXPECT_LE(
      *s.start_time_seconds,
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// The operator's reference cannot drift: every metric of the table has a row there.
TEST(MetricTable, EveryMetricIsDocumentedInOperationsGuide) {
  std::ifstream in(std::string(FRONTCACHE_SOURCE_DIR) + "/docs/operations.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string docs = text.str();
  ASSERT_FALSE(docs.empty());
  for (const auto& m : metric_table()) {
    const std::string row = "| `" + std::string(m.name);
    EXPECT_TRUE(docs.find(row + "` |") != std::string::npos ||
                docs.find(row + "{") != std::string::npos)
        << m.name << " has no row in docs/operations.md";
  }
}

TEST(Histogram, BucketsAreInclusiveUpperBounds) {
  Histogram h(2);
  h.observe(0, 50us);  // le 5e-05
  h.observe(0, 51us);  // le 0.0001
  h.observe(1, 1ms);   // le 0.001
  h.observe(1, 0ns);   // first bucket
  h.observe(7, 20s);   // +Inf, shard folded onto the last
  h.observe(0, -5ns);  // clamped to 0
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.counts[0], 3u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[4], 1u);
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_EQ(s.sum_nanos, 50'000u + 51'000u + 1'000'000u + 20'000'000'000u);
}

TEST(Histogram, ConcurrentObserversLoseNothing) {
  Histogram h(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 100'000; ++i) h.observe(t, std::chrono::microseconds(i % 3000));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.snapshot().count, 400'000u);
}

TEST(Exposition, WritesHelpTypeAndSamplesInTableOrder) {
  Exposition e;
  e.set(Metric::CommandsProcessed, std::uint64_t{42});
  e.set(Metric::ConnectedClients, std::int64_t{3});
  e.set(Metric::UpstreamConnections, "state=\"ready\"", std::uint64_t{4});
  const std::string text = e.text();
  EXPECT_NE(text.find("# HELP frontcache_connected_clients "), std::string::npos);
  EXPECT_NE(text.find("# TYPE frontcache_commands_processed_total counter\n"
                      "frontcache_commands_processed_total 42\n"),
            std::string::npos);
  EXPECT_NE(text.find("frontcache_upstream_connections{state=\"ready\"} 4\n"), std::string::npos);
  EXPECT_LT(text.find("frontcache_connected_clients 3"), text.find("commands_processed_total 42"));
  // Metrics without samples are left out.
  EXPECT_EQ(text.find("frontcache_l1_hits_total"), std::string::npos);
}

TEST(Exposition, HistogramIsCumulativeWithInfSumAndCount) {
  Histogram h;
  h.observe(0, 40us);
  h.observe(0, 2ms);
  h.observe(0, 30s);
  Exposition e;
  e.set(Metric::ForwardDuration, h.snapshot());
  const std::string text = e.text();
  EXPECT_NE(text.find("# TYPE frontcache_forward_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("frontcache_forward_duration_seconds_bucket{le=\"5e-05\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("frontcache_forward_duration_seconds_bucket{le=\"0.0025\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("frontcache_forward_duration_seconds_bucket{le=\"10\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("frontcache_forward_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("frontcache_forward_duration_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("frontcache_forward_duration_seconds_sum 30.00204\n"), std::string::npos);
}

}  // namespace
}  // namespace frontcache::metrics
