// to_yaml (FRONTCACHE CONFIG): what it writes loads back to the same config, secrets hidden.
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace frontcache::config {
namespace {

using testing::load;

TEST(Render, DefaultsRoundTrip) {
  const Config defaults;
  auto back = load(to_yaml(defaults));
  ASSERT_TRUE(back.errors.empty()) << back.errors.front() << "\n" << to_yaml(defaults);
  EXPECT_TRUE(*back.config == defaults) << to_yaml(defaults);
}

TEST(Render, ChangedValuesRoundTrip) {
  auto loaded = load(
      "listen: '[::1]:7000'\nworkers: 3\ncache:\n  max_memory: 3000kb\n  rules:\n"
      "    - {match: 'user:*', ttl: 1500ms, negative_ttl: 0}\n    - {match: '*', cache: false}\n"
      "limits: {idle_timeout: 5m, max_pipeline: 7}\nadmin_commands: forward\nlog: {level: "
      "debug}\n");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front();
  const std::string text = to_yaml(*loaded.config);
  auto back = load(text);
  ASSERT_TRUE(back.errors.empty()) << back.errors.front() << "\n" << text;
  EXPECT_TRUE(*back.config == *loaded.config) << text;
  EXPECT_NE(text.find("ttl: 1500ms"), std::string::npos);
  EXPECT_NE(text.find("listen: \"[::1]:7000\""), std::string::npos);
}

TEST(PrintValue, ResolvedSettingsForScripts) {
  auto loaded = load(
      "listen: '[::1]:7000'\nworkers: 3\nupstream: {address: \"redis.example:6400\"}\n"
      "metrics: {listen: 127.0.0.1:9200}\n");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front();
  const Config& c = *loaded.config;
  EXPECT_EQ(print_value(c, "listen"), "[::1]:7000");
  EXPECT_EQ(print_value(c, "upstream"), "redis.example:6400");
  EXPECT_EQ(print_value(c, "metrics"), "127.0.0.1:9200");
  EXPECT_EQ(print_value(c, "workers"), "3");
  EXPECT_EQ(print_value(c, "config"), to_yaml(c));
  EXPECT_EQ(print_value(Config{}, "metrics"), "") << "metrics off";
  EXPECT_EQ(print_value(Config{}, "upstream"), "127.0.0.1:6379");
  EXPECT_NE(print_value(Config{}, "workers"), "0") << "auto is resolved";
}

TEST(Render, PermissionsRoundTrip) {
  auto loaded = load(
      "auth:\n  permissions: \"+@read ~a:*\"\n  users:\n"
      "    - {name: ops, password: x, permissions: \"+@all\"}\n");
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front();
  const std::string text = to_yaml(*loaded.config);
  auto back = load(text);
  ASSERT_TRUE(back.errors.empty()) << back.errors.front() << "\n" << text;
  EXPECT_EQ(back.config->auth.permissions, loaded.config->auth.permissions) << text;
  EXPECT_EQ(back.config->auth.users[0].permissions.text, "+@all") << text;
}

TEST(Render, HidesSecrets) {
  Config c;
  c.upstream.password = "hunter2";
  c.auth.password = "swordfish";
  c.auth.users.push_back({"app", "letmein"});
  const std::string text = to_yaml(c);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("swordfish"), std::string::npos);
  EXPECT_EQ(text.find("letmein"), std::string::npos);
  EXPECT_NE(text.find("password: \"(set)\""), std::string::npos);
}

TEST(Render, Units) {
  EXPECT_EQ(format_duration(Duration{0}), "0");
  EXPECT_EQ(format_duration(Duration{1500}), "1500ms");
  EXPECT_EQ(format_duration(Duration{30000}), "30s");
  // Never minutes or hours: 60s written in a file must not come back as 1m.
  EXPECT_EQ(format_duration(Duration{60000}), "60s");
  EXPECT_EQ(format_duration(Duration{300000}), "300s");
  EXPECT_EQ(format_duration(Duration{7200000}), "7200s");
  EXPECT_EQ(format_size(100), "100");
  EXPECT_EQ(format_size(64 * 1024), "64kb");
  EXPECT_EQ(format_size(256u << 20), "256mb");
  EXPECT_EQ(format_size(1u << 30), "1gb");
}

}  // namespace
}  // namespace frontcache::config
