// What a SIGHUP reload applies now and what it leaves for a restart.
#include "reload.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace frontcache::proxy {
namespace {

bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(PlanReload, NothingChanged) {
  const config::Config running;
  auto plan = plan_reload(running, running);
  EXPECT_TRUE(plan.applied.empty());
  EXPECT_TRUE(plan.restart_needed.empty());
  EXPECT_TRUE(*plan.effective == running);
}

TEST(PlanReload, LiveSettingsApply) {
  const config::Config running;
  config::Config loaded = running;
  loaded.cache.rules[0].ttl = config::Duration{5000};
  loaded.limits.max_pipeline = 16;
  loaded.log_level = "debug";
  loaded.shutdown_timeout = config::Duration{1000};
  auto plan = plan_reload(running, loaded);
  EXPECT_TRUE(has(plan.applied, "cache.rules"));
  EXPECT_TRUE(has(plan.applied, "limits"));
  EXPECT_TRUE(has(plan.applied, "log.level"));
  EXPECT_TRUE(has(plan.applied, "shutdown_timeout"));
  EXPECT_TRUE(plan.restart_needed.empty());
  EXPECT_TRUE(*plan.effective == loaded);
}

TEST(PlanReload, RestartOnlySettingsKeepTheirRunningValue) {
  const config::Config running;
  config::Config loaded = running;
  loaded.listen.port = 7777;
  loaded.workers = 9;
  loaded.upstream.address.port = 6000;
  loaded.cache.max_memory = 1;
  loaded.metrics.listen = config::Endpoint{"127.0.0.1", 9999};
  loaded.limits.max_clients = 5;
  loaded.cache.max_value_size = 7;
  loaded.cache.commands = {"GET"};
  auto plan = plan_reload(running, loaded);
  for (auto key : {"listen", "workers", "upstream", "cache.max_memory", "metrics.listen",
                   "cache.max_value_size", "cache.commands"}) {
    EXPECT_TRUE(has(plan.restart_needed, key)) << key;
  }
  EXPECT_EQ(plan.effective->listen.port, running.listen.port);
  EXPECT_EQ(plan.effective->workers, running.workers);
  EXPECT_EQ(plan.effective->upstream, running.upstream);
  EXPECT_EQ(plan.effective->cache.max_memory, running.cache.max_memory);
  EXPECT_EQ(plan.effective->metrics, running.metrics);
  EXPECT_EQ(plan.effective->cache.max_value_size, running.cache.max_value_size);
  EXPECT_EQ(plan.effective->cache.commands, running.cache.commands);
  EXPECT_EQ(plan.effective->limits.max_clients, 5u);  // limits apply
}

TEST(PlanReload, TlsSettingsApplyButTheTlsPortNeedsARestart) {
  config::Config running;
  running.tls.listen = config::Endpoint{"127.0.0.1", 6443};
  running.tls.cert_file = "/a.pem";
  config::Config loaded = running;
  loaded.tls.cert_file = "/b.pem";
  loaded.tls.min_version = config::TlsVersion::Tls13;
  loaded.tls.listen->port = 6444;
  auto plan = plan_reload(running, loaded);
  EXPECT_TRUE(has(plan.applied, "tls"));
  EXPECT_TRUE(has(plan.restart_needed, "tls.listen"));
  EXPECT_EQ(plan.effective->tls.listen->port, 6443);
  EXPECT_EQ(plan.effective->tls.cert_file, "/b.pem");
  EXPECT_EQ(plan.effective->tls.min_version, config::TlsVersion::Tls13);
}

TEST(PlanReload, TlsAddedOrPlainPortDroppedNeedsARestart) {
  const config::Config running;
  config::Config loaded = running;
  loaded.tls.listen = config::Endpoint{"127.0.0.1", 6443};
  loaded.tls.cert_file = "/a.pem";
  loaded.plain_listener = false;
  auto plan = plan_reload(running, loaded);
  EXPECT_TRUE(has(plan.restart_needed, "tls"));
  EXPECT_TRUE(has(plan.restart_needed, "listen (plain port on or off)"));
  EXPECT_FALSE(has(plan.applied, "tls"));
  EXPECT_TRUE(*plan.effective == running);
}

}  // namespace
}  // namespace frontcache::proxy
