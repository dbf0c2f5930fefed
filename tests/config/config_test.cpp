// Good input, defaults, the shipped file, and the known-keys table against the loader and docs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config_test_support.hpp"

namespace frontcache::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::errors_without_position;
using ::testing::IsEmpty;
using testing::load;
using ::testing::StartsWith;

const std::string kSourceDir = FRONTCACHE_SOURCE_DIR;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Config load_ok(const std::string& yaml) {
  LoadResult result = load(yaml);
  EXPECT_THAT(result.errors, IsEmpty()) << yaml;
  EXPECT_TRUE(result.config.has_value());
  return result.config.value_or(Config{});
}

using testing::TempDir;

void expect_defaults(const Config& c, const Config& d) {
  EXPECT_EQ(c.listen.host, d.listen.host);
  EXPECT_EQ(c.listen.port, d.listen.port);
  EXPECT_EQ(c.workers, d.workers);
  EXPECT_EQ(c.upstream.address.host, d.upstream.address.host);
  EXPECT_EQ(c.upstream.address.port, d.upstream.address.port);
  EXPECT_EQ(c.upstream.username, d.upstream.username);
  EXPECT_EQ(c.upstream.password, d.upstream.password);
  EXPECT_EQ(c.upstream.connections_per_worker, d.upstream.connections_per_worker);
  EXPECT_EQ(c.upstream.connect_timeout, d.upstream.connect_timeout);
  EXPECT_EQ(c.upstream.command_timeout, d.upstream.command_timeout);
  EXPECT_EQ(c.cache.enabled, d.cache.enabled);
  EXPECT_EQ(c.cache.max_memory, d.cache.max_memory);
  EXPECT_EQ(c.cache.max_ttl, d.cache.max_ttl);
  EXPECT_EQ(c.cache.max_value_size, d.cache.max_value_size);
  ASSERT_EQ(c.cache.rules.size(), d.cache.rules.size());
  for (std::size_t i = 0; i < c.cache.rules.size(); ++i) {
    EXPECT_EQ(c.cache.rules[i].match, d.cache.rules[i].match);
    EXPECT_EQ(c.cache.rules[i].cache, d.cache.rules[i].cache);
    EXPECT_EQ(c.cache.rules[i].ttl, d.cache.rules[i].ttl);
    EXPECT_EQ(c.cache.rules[i].negative_ttl, d.cache.rules[i].negative_ttl);
  }
  EXPECT_EQ(c.cache.commands, d.cache.commands);
  EXPECT_EQ(c.invalidation.channel, d.invalidation.channel);
  EXPECT_EQ(c.invalidation.tracking, d.invalidation.tracking);
  EXPECT_EQ(c.invalidation.ping_interval, d.invalidation.ping_interval);
  EXPECT_EQ(c.limits.max_clients, d.limits.max_clients);
  EXPECT_EQ(c.limits.max_bulk_length, d.limits.max_bulk_length);
  EXPECT_EQ(c.limits.max_arguments, d.limits.max_arguments);
  EXPECT_EQ(c.limits.max_inline_length, d.limits.max_inline_length);
  EXPECT_EQ(c.limits.max_pipeline, d.limits.max_pipeline);
  EXPECT_EQ(c.limits.max_output_buffer, d.limits.max_output_buffer);
  EXPECT_EQ(c.limits.idle_timeout, d.limits.idle_timeout);
  EXPECT_EQ(c.auth.password, d.auth.password);
  EXPECT_EQ(c.auth.users.size(), d.auth.users.size());
  EXPECT_EQ(c.admin_commands, d.admin_commands);
  EXPECT_EQ(c.shutdown_timeout, d.shutdown_timeout);
  EXPECT_EQ(c.log_level, d.log_level);
}

TEST(Load, EmptyDocumentGivesDefaults) {
  for (const char* yaml : {"", "\n", "# only a comment\n", "~\n"}) {
    const Config c = load_ok(yaml);
    expect_defaults(c, Config{});
    EXPECT_FALSE(c.metrics.listen.has_value());
    EXPECT_FALSE(c.auth.required());
  }
}

TEST(Load, HeaderDefaultsMatchTheDesign) {
  const Config d;
  ASSERT_EQ(d.cache.rules.size(), 1u);
  EXPECT_EQ(d.cache.rules[0].match, "*");
  EXPECT_EQ(d.cache.rules[0].ttl, 60s);
  EXPECT_EQ(d.cache.rules[0].negative_ttl, 1s);
  EXPECT_EQ(d.listen.port, 6380);
  EXPECT_EQ(d.upstream.address.port, 6379);
}

TEST(Load, EmptySectionsGiveDefaults) {
  const Config c = load_ok("upstream:\ncache:\ninvalidation:\nlimits:\nauth:\nmetrics:\nlog:\n");
  expect_defaults(c, Config{});
  EXPECT_FALSE(c.metrics.listen.has_value());
}

TEST(Load, TheDesignExample) {
  ::setenv("FRONTCACHE_TEST_PASSWORD", "s3cret", 1);
  const Config c = load_ok(R"(
listen: 127.0.0.1:6380
workers: auto
upstream:
  address: 127.0.0.1:6379
  password: ""
  connections_per_worker: 2
  connect_timeout: 1s
  command_timeout: 2s
cache:
  max_memory: 256mb
  max_ttl: 300s
  max_value_size: 1mb
  rules:
    - match: "session:*"
      cache: false
    - match: "user:*"
      ttl: 30s
      negative_ttl: 5s
    - match: "*"
      ttl: 60s
invalidation:
  channel: frontcache:invalidate
  tracking: bcast
limits:
  max_clients: 10000
  max_bulk_length: 512mb
  max_arguments: 1048576
  max_pipeline: 1024
  max_output_buffer: 64mb
  idle_timeout: 0s
auth:
  password_env: FRONTCACHE_TEST_PASSWORD
admin_commands: deny
metrics:
  listen: 127.0.0.1:9121
log:
  level: info
)");
  ::unsetenv("FRONTCACHE_TEST_PASSWORD");
  ASSERT_EQ(c.cache.rules.size(), 3u);
  EXPECT_EQ(c.cache.rules[0].match, "session:*");
  EXPECT_FALSE(c.cache.rules[0].cache);
  EXPECT_EQ(c.cache.rules[1].match, "user:*");
  EXPECT_EQ(c.cache.rules[1].ttl, 30s);
  EXPECT_EQ(c.cache.rules[1].negative_ttl, 5s);
  EXPECT_EQ(c.cache.rules[2].ttl, 60s);
  EXPECT_EQ(c.cache.rules[2].negative_ttl, 1s);  // unset in the rule: the default
  EXPECT_EQ(c.auth.password, "s3cret");
  EXPECT_TRUE(c.auth.required());
  ASSERT_TRUE(c.metrics.listen.has_value());
  EXPECT_EQ(c.metrics.listen->port, 9121);
}

TEST(Load, EveryValueRead) {
  const Config c = load_ok(R"(
listen: "[::1]:7000"
workers: 6
upstream:
  address: redis.internal:7001
  username: app
  password: pw
  connections_per_worker: 4
  connect_timeout: 250ms
  command_timeout: 1m
cache:
  max_memory: 1GB
  max_ttl: 1h
  max_value_size: 512KB
  rules:
    - match: "a:*"
      ttl: 2m
      negative_ttl: 0
  commands: [get, Hget, ZRANGE]
invalidation:
  channel: other
  tracking: "off"
  ping_interval: 500ms
limits:
  max_clients: 5
  max_bulk_length: 1mb
  max_arguments: 100
  max_inline_length: 4kb
  max_pipeline: 16
  max_output_buffer: 2mb
  idle_timeout: 5m
auth:
  password: top
  users:
    - name: alice
      password: wonder
admin_commands: forward
shutdown_timeout: 0
log:
  level: critical
)");
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.listen.port, 7000);
  EXPECT_EQ(c.workers, 6u);
  EXPECT_EQ(c.upstream.address.host, "redis.internal");
  EXPECT_EQ(c.upstream.address.port, 7001);
  EXPECT_EQ(c.upstream.username, "app");
  EXPECT_EQ(c.upstream.password, "pw");
  EXPECT_EQ(c.upstream.connections_per_worker, 4u);
  EXPECT_EQ(c.upstream.connect_timeout, 250ms);
  EXPECT_EQ(c.upstream.command_timeout, 1min);
  EXPECT_TRUE(c.cache.enabled);
  EXPECT_EQ(c.cache.max_memory, 1ull << 30);
  EXPECT_EQ(c.cache.max_ttl, 1h);
  EXPECT_EQ(c.cache.max_value_size, 512u << 10);
  ASSERT_EQ(c.cache.rules.size(), 1u);
  EXPECT_EQ(c.cache.rules[0].match, "a:*");
  EXPECT_TRUE(c.cache.rules[0].cache);
  EXPECT_EQ(c.cache.rules[0].ttl, 2min);
  EXPECT_EQ(c.cache.rules[0].negative_ttl, 0ms);
  EXPECT_THAT(c.cache.commands, ElementsAre("GET", "HGET", "ZRANGE"));
  EXPECT_EQ(c.invalidation.channel, "other");
  EXPECT_EQ(c.invalidation.tracking, TrackingMode::Off);
  EXPECT_EQ(c.invalidation.ping_interval, 500ms);
  EXPECT_EQ(c.limits.max_clients, 5u);
  EXPECT_EQ(c.limits.max_bulk_length, 1u << 20);
  EXPECT_EQ(c.limits.max_arguments, 100u);
  EXPECT_EQ(c.limits.max_inline_length, 4u << 10);
  EXPECT_EQ(c.limits.max_pipeline, 16u);
  EXPECT_EQ(c.limits.max_output_buffer, 2u << 20);
  EXPECT_EQ(c.limits.idle_timeout, 5min);
  EXPECT_EQ(c.auth.password, "top");
  ASSERT_EQ(c.auth.users.size(), 1u);
  EXPECT_EQ(c.auth.users[0].name, "alice");
  EXPECT_EQ(c.auth.users[0].password, "wonder");
  EXPECT_EQ(c.admin_commands, AdminCommands::Forward);
  EXPECT_FALSE(c.metrics.listen.has_value());
  EXPECT_EQ(c.shutdown_timeout, 0ms);
  EXPECT_EQ(c.log_level, "critical");
}

TEST(Load, ClusterMode) {
  const auto result = load(
      "upstream:\n  mode: cluster\n  address: 10.0.0.1:7000\n"
      "  seeds: [\"10.0.0.2:7000\", \"[::1]:7001\", redis-3.internal:7002]\n"
      "  topology_refresh: 2s\n");
  ASSERT_THAT(result.errors, IsEmpty());
  const auto& up = result.config->upstream;
  EXPECT_EQ(up.mode, UpstreamMode::Cluster);
  ASSERT_EQ(up.seeds.size(), 3u);
  EXPECT_EQ(up.seeds[1], (Endpoint{"::1", 7001}));
  EXPECT_EQ(up.seeds[2], (Endpoint{"redis-3.internal", 7002}));
  EXPECT_EQ(up.topology_refresh, Duration{2000});
  // FRONTCACHE CONFIG / --print config shows it, and the text loads back to the same config.
  const std::string text = to_yaml(*result.config);
  EXPECT_NE(text.find("  mode: cluster\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  seeds: [10.0.0.2:7000, \"[::1]:7001\", redis-3.internal:7002]\n"),
            std::string::npos)
      << text;
  const auto back = load(text);
  ASSERT_THAT(back.errors, IsEmpty()) << text;
  EXPECT_EQ(back.config->upstream, up);
  // Standalone is the default and shows no cluster keys.
  const std::string standalone = to_yaml(Config{});
  EXPECT_NE(standalone.find("  mode: standalone\n"), std::string::npos);
  EXPECT_EQ(standalone.find("seeds"), std::string::npos);
}

TEST(Load, DefaultModeTracking) {
  EXPECT_EQ(load_ok("invalidation: {tracking: default}\n").invalidation.tracking,
            TrackingMode::Default);
  EXPECT_NE(to_yaml(load_ok("invalidation: {tracking: default}\n")).find("  tracking: default\n"),
            std::string::npos);
}

TEST(Load, UnquotedOffIsAStringNotABool) {
  EXPECT_EQ(load_ok("invalidation: {tracking: off}\n").invalidation.tracking, TrackingMode::Off);
}

TEST(Load, EveryLogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_EQ(load_ok(std::string("log: {level: ") + level + "}\n").log_level, level);
  }
}

TEST(Load, CacheSwitch) {
  EXPECT_FALSE(load_ok("cache: false\n").cache.enabled);
  EXPECT_TRUE(load_ok("cache: true\n").cache.enabled);
  EXPECT_FALSE(load_ok("cache: {max_memory: 0}\n").cache.enabled);
  EXPECT_TRUE(load_ok("cache: {max_memory: 1kb, max_value_size: 1kb}\n").cache.enabled);
}

TEST(Load, RuleTtlMayEqualMaxTtl) {
  const Config c = load_ok(
      "cache: {max_ttl: 2m, rules: [{match: a, ttl: 120s, "
      "negative_ttl: 2m}]}\n");
  EXPECT_EQ(c.cache.rules[0].ttl, 2min);
}

TEST(Load, DisabledRuleNeedsNoValidTtl) {
  // A `cache: false` rule's TTLs are never used, so 0 is fine there.
  const Config c = load_ok("cache: {rules: [{match: a, cache: false, ttl: 0}]}\n");
  EXPECT_FALSE(c.cache.rules[0].cache);
}

TEST(Load, MetricsListenNullMeansDisabled) {
  EXPECT_FALSE(load_ok("metrics: {listen: ~}\n").metrics.listen.has_value());
  EXPECT_FALSE(load_ok("metrics:\n  listen:\n").metrics.listen.has_value());
}

TEST(Load, PasswordsThatLookLikeOtherTypes) {
  EXPECT_EQ(load_ok("auth: {password: 12345}\n").auth.password, "12345");
  EXPECT_EQ(load_ok("auth: {password: \"true\"}\n").auth.password, "true");
}

TEST(Load, EmptyInlinePasswordMeansNoAuth) {
  EXPECT_FALSE(load_ok("auth: {password: \"\", users: []}\n").auth.required());
}

TEST(Secrets, EnvironmentVariables) {
  ::setenv("FRONTCACHE_TEST_USER_PW", "from-env", 1);
  ::setenv("FRONTCACHE_TEST_UPSTREAM_PW", "up", 1);
  const Config c = load_ok(
      "upstream: {password_env: FRONTCACHE_TEST_UPSTREAM_PW}\n"
      "auth: {users: [{name: bob, password_env: FRONTCACHE_TEST_USER_PW}]}\n");
  ::unsetenv("FRONTCACHE_TEST_USER_PW");
  ::unsetenv("FRONTCACHE_TEST_UPSTREAM_PW");
  EXPECT_EQ(c.upstream.password, "up");
  ASSERT_EQ(c.auth.users.size(), 1u);
  EXPECT_EQ(c.auth.users[0].password, "from-env");
  EXPECT_TRUE(c.auth.required());
}

TEST(Secrets, FilesLoseTrailingNewlinesOnly) {
  const TempDir dir;
  const std::string lf = dir.write("lf", "secret\n");
  const std::string crlf = dir.write("crlf", "two words\r\n");
  const std::string none = dir.write("none", " spaced ");
  EXPECT_EQ(load_ok("auth: {password_file: " + lf + "}\n").auth.password, "secret");
  EXPECT_EQ(load_ok("auth: {password_file: " + crlf + "}\n").auth.password, "two words");
  EXPECT_EQ(load_ok("auth: {password_file: \"" + none + "\"}\n").auth.password, " spaced ");
  const Config c = load_ok("auth: {users: [{name: u, password_file: " + lf + "}]}\n");
  EXPECT_EQ(c.auth.users[0].password, "secret");
}

TEST(Secrets, EmptyFileIsAnError) {
  const TempDir dir;
  const std::string empty = dir.write("empty", "\n");
  EXPECT_THAT(errors_without_position(load("auth: {password_file: " + empty + "}\n")),
              ElementsAre("auth.password_file: \"" + empty + "\" is empty"));
}

TEST(Secrets, RelativeFileIsRelativeToTheConfigFile) {
  const TempDir dir;
  dir.write("secret.txt", "relative\n");
  const std::string path = dir.write("frontcache.yaml", "auth:\n  password_file: secret.txt\n");
  const LoadResult result = load_from_file(path);
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->auth.password, "relative");
}

TEST(LoadFromFile, ErrorsArePrefixedWithThePath) {
  const TempDir dir;
  const std::string path = dir.write("bad.yaml", "listen: 1.2.3.4:5\nworkers: none\n");
  const LoadResult result = load_from_file(path);
  EXPECT_THAT(result.errors, ElementsAre(StartsWith(path + ":2:10: workers: expected auto")));
}

TEST(ShippedConfig, LoadsWithoutErrorsAndHoldsTheDefaults) {
  const LoadResult result = load_from_file(kSourceDir + "/config/frontcache.yaml");
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& c = *result.config;
  expect_defaults(c, Config{});
  ASSERT_TRUE(c.metrics.listen.has_value());
  EXPECT_EQ(c.metrics.listen->host, "127.0.0.1");
  EXPECT_EQ(c.metrics.listen->port, 9121);
}

TEST(ShippedConfig, MentionsEveryKey) {
  const std::string text = read_text(kSourceDir + "/config/frontcache.yaml");
  for (std::string_view key : known_keys()) {
    const std::string name(
        key.substr(key.rfind('.') == std::string_view::npos ? 0 : key.rfind('.') + 1));
    EXPECT_NE(text.find(name + ":"), std::string::npos) << key;
  }
}

// Every command cache.commands accepts is listed in the reference.
TEST(Docs, EveryCacheableCommandIsDocumented) {
  const std::string docs = read_text(kSourceDir + "/docs/configuration.md");
  const auto row = docs.find("| `cache.commands` |");
  ASSERT_NE(row, std::string::npos);
  const std::string text = docs.substr(row, docs.find('\n', row) - row);
  for (std::string_view name : cacheable_commands()) {
    EXPECT_NE(text.find(" " + std::string(name) + " "), std::string::npos)
        << name << " is accepted in cache.commands but not listed in docs/configuration.md";
  }
}

// The docs drift test: an accepted key missing from the reference fails here.
TEST(Docs, EveryKnownKeyIsDocumented) {
  const std::string docs = read_text(kSourceDir + "/docs/configuration.md");
  ASSERT_FALSE(docs.empty());
  for (std::string_view key : known_keys()) {
    EXPECT_NE(docs.find("| `" + std::string(key) + "` |"), std::string::npos)
        << key << " is accepted by the loader but has no row in docs/configuration.md";
  }
}

TEST(Docs, EveryDocumentedKeyIsKnown) {
  std::istringstream docs(read_text(kSourceDir + "/docs/configuration.md"));
  const auto keys = known_keys();
  int rows = 0;
  for (std::string line; std::getline(docs, line);) {
    if (!line.starts_with("| `") || line.starts_with("| `-")) continue;
    const std::string key = line.substr(3, line.find('`', 3) - 3);
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end())
        << key << " is documented but the loader does not accept it";
    ++rows;
  }
  EXPECT_EQ(rows, static_cast<int>(keys.size()));
}

// Builds `{a: {b: [{c: <value>}]}}` for the pattern `a.b[].c`.
std::string yaml_for(std::string_view pattern, const std::string& value) {
  const auto dot = pattern.find('.');
  std::string_view head = pattern.substr(0, dot);
  const bool list = head.ends_with("[]");
  if (list) head.remove_suffix(2);
  const std::string inner =
      dot == std::string_view::npos ? value : yaml_for(pattern.substr(dot + 1), value);
  return "{" + std::string(head) + ": " + (list ? "[" + inner + "]" : inner) + "}";
}

// The other half of the table's contract: every key it lists is actually read, so none is
// accepted and then silently ignored.
TEST(KnownKeys, EveryLeafIsReadByTheLoader) {
  const auto keys = known_keys();
  for (std::string_view key : keys) {
    const bool is_section = std::any_of(keys.begin(), keys.end(), [&](std::string_view other) {
      return other.starts_with(std::string(key) + ".") || other.starts_with(std::string(key) + "[");
    });
    if (is_section) continue;
    std::string path(key);
    for (auto at = path.find("[]"); at != std::string::npos; at = path.find("[]")) {
      path.replace(at, 2, "[0]");
    }
    const auto errors = errors_without_position(load(yaml_for(key, "{zz: 1}")));
    EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                            [&](const std::string& e) { return e.starts_with(path + ": "); }))
        << key << " is in known_keys() but a bad value for it raises no error";
  }
}

TEST(KnownKeys, EverySectionRejectsUnknownKeys) {
  const auto keys = known_keys();
  for (std::string_view key : keys) {
    const bool is_section = std::any_of(keys.begin(), keys.end(), [&](std::string_view other) {
      return other.starts_with(std::string(key) + ".");
    });
    if (!is_section) continue;
    std::string path = std::string(key) + ".zz_unknown";
    const std::string yaml = yaml_for(path, "1");
    for (auto at = path.find("[]"); at != std::string::npos; at = path.find("[]")) {
      path.replace(at, 2, "[0]");
    }
    const auto errors = errors_without_position(load(yaml));
    EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
      return e == path + ": unknown key";
    })) << yaml;
  }
  EXPECT_THAT(errors_without_position(load("zz_unknown: 1\n")),
              ElementsAre("zz_unknown: unknown key"));
}

}  // namespace
}  // namespace frontcache::config
