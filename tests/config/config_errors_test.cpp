// Bad input: each case names the exact YAML path the error must start with.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "config_test_support.hpp"

namespace frontcache::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_without_position;
using ::testing::HasSubstr;
using testing::load;
using ::testing::SizeIs;
using ::testing::StartsWith;

struct BadCase {
  std::string yaml;
  std::string error;  // the error, without "t.yaml:line:col: ", starts with this
};

const BadCase kBadCases[] = {
    // Top level.
    {"- a\n- b\n", "(top level): expected a mapping of keys, got a list"},
    {"just text\n", "(top level): expected a mapping of keys, got a value"},
    {"lisen: 1.2.3.4:5\n", "lisen: unknown key (did you mean listen?)"},
    {"bogus: 1\n", "bogus: unknown key"},
    {"listen: 1.2.3.4:5\nlisten: 1.2.3.4:6\n", "listen: duplicate key"},
    {"[a]: 1\n", "(top level): keys must be plain names"},
    // listen / workers.
    {"listen: 127.0.0.1\n", "listen: expected host:port like 127.0.0.1:6379"},
    {"listen: 127.0.0.1:0\n", "listen: expected host:port"},
    {"listen: 127.0.0.1:65536\n", "listen: expected host:port"},
    {"listen: \"::1:6380\"\n", "listen: expected host:port"},
    {"listen: 300.1.1.1:80\n", "listen: expected host:port"},
    {"listen: {host: a}\n",
     "listen: expected host:port like 127.0.0.1:6379, [::1]:6379 or "
     "localhost:6379 (port 1-65535), got a mapping"},
    {"listen:\n",
     "listen: expected host:port like 127.0.0.1:6379, [::1]:6379 or localhost:6379 "
     "(port 1-65535), got an empty value"},
    {"workers: 0\n", "workers: expected auto or a whole number from 1 to 1024, got \"0\""},
    {"workers: 1025\n", "workers: expected auto or a whole number"},
    {"workers: -1\n", "workers: expected auto or a whole number"},
    {"workers: Auto\n", "workers: expected auto or a whole number"},
    {"workers: [1]\n", "workers: expected auto or a whole number from 1 to 1024, got a list"},
    {"shutdown_timeout: 5\n", "shutdown_timeout: expected a duration like 30s"},
    // upstream.
    {"upstream: 5\n", "upstream: expected a mapping of keys, got a value"},
    {"upstream: [a]\n", "upstream: expected a mapping of keys, got a list"},
    {"upstream: {adress: 1.2.3.4:5}\n", "upstream.adress: unknown key (did you mean address?)"},
    {"upstream: {address: nope}\n", "upstream.address: expected host:port"},
    {"upstream: {connections_per_worker: 0}\n",
     "upstream.connections_per_worker: expected a whole number from 1 to 256, got \"0\""},
    {"upstream: {connections_per_worker: 257}\n", "upstream.connections_per_worker: expected"},
    {"upstream: {connections_per_worker: two}\n", "upstream.connections_per_worker: expected"},
    {"upstream: {connect_timeout: 0}\n",
     "upstream.connect_timeout: must be greater than 0, got \"0\""},
    {"upstream: {command_timeout: 2}\n",
     "upstream.command_timeout: expected a duration like 30s (whole number + ms, s, m or h; or "
     "0), got \"2\""},
    {"upstream: {username: bob}\n", "upstream.username: needs a password to go with it"},
    {"upstream: {password: a, password_env: B}\n",
     "upstream: set only one of password, password_env, password_file"},
    {"upstream: {password: {a: 1}}\n", "upstream.password: expected a string, got a mapping"},
    {"upstream: {mode: sharded}\n",
     "upstream.mode: expected one of standalone, cluster, got \"sharded\""},
    {"upstream: {seeds: [\"a:1\"]}\n", "upstream.seeds: is only used with upstream.mode: cluster"},
    {"upstream: {topology_refresh: 1s}\n",
     "upstream.topology_refresh: is only used with upstream.mode: cluster"},
    {"upstream: {mode: cluster, seeds: [nope]}\n", "upstream.seeds[0]: expected host:port"},
    {"upstream: {mode: cluster, seeds: [\"a:1\", {b: 2}]}\n",
     "upstream.seeds[1]: expected host:port"},
    {"upstream: {mode: cluster, seeds: \"a:1\"}\n", "upstream.seeds: expected a list"},
    {"upstream: {mode: cluster, topology_refresh: 10ms}\n", "upstream.topology_refresh: must be"},
    {"upstream: {mode: cluster, tls: true}\n",
     "upstream.tls: is not supported with upstream.mode: cluster yet"},
    // cache.
    {"cache: maybe\n", "cache: expected true or false, got \"maybe\""},
    {"cache: [a]\n", "cache: expected a mapping of keys, got a list"},
    {"cache: {ruls: []}\n", "cache.ruls: unknown key (did you mean rules?)"},
    {"cache: {max_memory: 1zb}\n", "cache.max_memory: expected a size like 64kb"},
    {"cache: {max_memory: -1}\n", "cache.max_memory: expected a size like 64kb"},
    {"cache: {max_memory: 1.5gb}\n", "cache.max_memory: expected a size like 64kb"},
    {"cache: {max_memory: 99999999999999999999}\n", "cache.max_memory: expected a size"},
    {"cache: {max_ttl: 0}\n", "cache.max_ttl: must be greater than 0, got \"0\""},
    {"cache: {max_value_size: 0}\n", "cache.max_value_size: must be greater than 0, got \"0\""},
    {"cache: {max_memory: 1mb, max_value_size: 2mb}\n",
     "cache.max_value_size: 2mb is above cache.max_memory (1mb)"},
    {"cache: {rules: {}}\n", "cache.rules: expected a list, got a mapping"},
    {"cache: {rules: []}\n",
     "cache.rules: must list at least one rule (use cache: false to disable caching)"},
    {"cache: {rules: [5]}\n", "cache.rules[0]: expected a mapping of keys, got a value"},
    {"cache: {rules: [~]}\n", "cache.rules[0]: expected a mapping of keys, got an empty value"},
    {"cache: {rules: [{ttl: 5s}]}\n", "cache.rules[0]: needs a match pattern"},
    {"cache: {rules: [{match: \"\"}]}\n", "cache.rules[0].match: must not be empty"},
    {"cache: {rules: [{match: a, ttle: 5s}]}\n",
     "cache.rules[0].ttle: unknown key (did you mean ttl?)"},
    {"cache: {rules: [{match: a}, {match: b, ttl: abc}]}\n",
     "cache.rules[1].ttl: expected a duration like 30s (whole number + ms, s, m or h; or 0), got "
     "\"abc\""},
    {"cache: {rules: [{match: a, ttl: 1.5s}]}\n", "cache.rules[0].ttl: expected a duration"},
    {"cache: {rules: [{match: a, ttl: -1s}]}\n", "cache.rules[0].ttl: expected a duration"},
    {"cache: {rules: [{match: a, ttl: 0}]}\n",
     "cache.rules[0].ttl: must be greater than 0 (use cache: false to not cache these keys)"},
    {"cache: {rules: [{match: a, ttl: 10m}]}\n",
     "cache.rules[0].ttl: 10m is above cache.max_ttl (the default 300s); lower it or raise "
     "max_ttl"},
    {"cache: {max_ttl: 10s, rules: [{match: a}]}\n",
     "cache.rules[0].ttl: the default 60s is above cache.max_ttl (10s)"},
    {"cache: {rules: [{match: a, negative_ttl: 1h}]}\n",
     "cache.rules[0].negative_ttl: 1h is above cache.max_ttl (the default 300s)"},
    // Durations and sizes are quoted as the file wrote them, never re-spelt (60s is not 1m).
    {"cache: {max_ttl: 30s, rules: [{match: a, ttl: 60s}]}\n",
     "cache.rules[0].ttl: 60s is above cache.max_ttl (30s)"},
    {"cache: {max_ttl: 1m, rules: [{match: a, ttl: 120000ms}]}\n",
     "cache.rules[0].ttl: 120000ms is above cache.max_ttl (1m)"},
    {"cache: {max_memory: 1024kb, max_value_size: 2mb}\n",
     "cache.max_value_size: 2mb is above cache.max_memory (1024kb)"},
    // cache.commands: only read-only single-key commands whose reply depends on that key alone.
    {"cache: {commands: [GET, SET]}\n",
     "cache.commands[1]: SET cannot be cached: only read-only commands on a single key"},
    {"cache: {commands: [KEYS]}\n", "cache.commands[0]: KEYS cannot be cached"},
    {"cache: {commands: [foo]}\n", "cache.commands[0]: FOO cannot be cached"},
    {"cache: {commands: [GET, SRANDMEMBER]}\n", "cache.commands[1]: SRANDMEMBER cannot be cached"},
    {"cache: {commands: [TTL]}\n", "cache.commands[0]: TTL cannot be cached"},
    {"cache: {commands: [GET, MGET]}\n",
     "cache.commands[1]: MGET is served from GET's entries: list GET instead"},
    {"cache: {rules: [{match: a, cache: yes}]}\n",
     "cache.rules[0].cache: expected true or false, got \"yes\""},
    {"cache: {rules: [{match: \"*\"}, {match: \"a:*\"}]}\n",
     "cache.rules[1].match: unreachable: cache.rules[0] (\"*\") already matches"},
    {"cache: {rules: [{match: a}, {match: b}, {match: a}]}\n",
     "cache.rules[2].match: unreachable: cache.rules[0] (\"a\")"},
    {"cache: {commands: []}\n", "cache.commands: must list at least one command"},
    {"cache: {commands: GET}\n", "cache.commands: expected a list, got a value"},
    {"cache: {commands: [get, GET]}\n", "cache.commands[1]: GET is listed twice"},
    {"cache: {commands: [\"GET X\"]}\n",
     "cache.commands[0]: expected a command name like GET, got \"GET X\""},
    {"cache: {commands: [[GET]]}\n", "cache.commands[0]: expected a command name like GET"},
    // invalidation.
    {"invalidation: {tracking: on}\n",
     "invalidation.tracking: expected one of bcast, default, off, got \"on\""},
    {"invalidation: {tracking: BCAST}\n",
     "invalidation.tracking: expected one of bcast, default, off"},
    {"upstream: {mode: cluster}\ninvalidation: {tracking: default}\n",
     "invalidation.tracking: default is not supported with upstream.mode: cluster yet"},
    {"invalidation: {channel: \"\"}\n", "invalidation.channel: must not be empty"},
    {"invalidation: {ping_interval: 0}\n", "invalidation.ping_interval: must be greater than 0"},
    {"invalidation: {pings: 1s}\n", "invalidation.pings: unknown key"},
    // limits.
    {"limits: {max_clients: 0}\n",
     "limits.max_clients: expected a whole number of at least 1, got \"0\""},
    {"limits: {max_bulk_length: 0}\n", "limits.max_bulk_length: must be greater than 0"},
    {"limits: {max_arguments: 1kb}\n", "limits.max_arguments: expected a whole number"},
    {"limits: {max_inline_length: 0}\n", "limits.max_inline_length: must be greater than 0"},
    {"limits: {max_pipeline: 0}\n", "limits.max_pipeline: expected a whole number of at least 1"},
    {"limits: {max_output_buffer: 12q}\n", "limits.max_output_buffer: expected a size"},
    {"limits: {idle_timeout: -1s}\n", "limits.idle_timeout: expected a duration"},
    {"limits: {max_pipline: 5}\n", "limits.max_pipline: unknown key (did you mean max_pipeline?)"},
    // auth.
    {"auth: {password_env: FRONTCACHE_TEST_SURELY_UNSET}\n",
     "auth.password_env: environment variable FRONTCACHE_TEST_SURELY_UNSET is not set"},
    {"auth: {password_env: \"\"}\n", "auth.password_env: must not be empty"},
    {"auth: {password_file: /nonexistent/frontcache/secret}\n",
     "auth.password_file: cannot read \"/nonexistent/frontcache/secret\": No such file"},
    {"auth: {password: a, password_file: b}\n",
     "auth: set only one of password, password_env, password_file"},
    {"auth: {users: {}}\n", "auth.users: expected a list, got a mapping"},
    {"auth: {users: [{name: a}]}\n",
     "auth.users[0]: needs one of password, password_env, password_file"},
    {"auth: {users: [{password: x}]}\n", "auth.users[0]: needs a name"},
    {"auth: {users: [{name: \"\", password: x}]}\n", "auth.users[0].name: must not be empty"},
    {"auth: {users: [{name: a, password: \"\"}]}\n", "auth.users[0].password: must not be empty"},
    {"auth: {users: [{name: a, password: x}, {name: a, password: y}]}\n",
     "auth.users[1].name: user \"a\" is listed twice"},
    {"auth: {users: [{name: a, password: x, pasword: x}]}\n",
     "auth.users[0].pasword: unknown key (did you mean password?)"},
    {"auth: {permissions: \"+@all -@admn\"}\n",
     "auth.permissions: unknown category \"@admn\" (Redis 7 has @keyspace, @read"},
    {"auth: {permissions: \"+@all &chan\"}\n",
     "auth.permissions: \"&chan\": pub/sub channel permissions are not supported"},
    {"auth: {permissions: [a]}\n", "auth.permissions: expected a string, got a list"},
    {"auth: {users: [{name: a, password: x, permissions: \"+get >pw\"}]}\n",
     "auth.users[0].permissions: \">pw\": passwords are set with password"},
    {"auth: {users: [{name: a, password: x, permissions: \"+a|b|c\"}]}\n",
     "auth.users[0].permissions: \"a|b|c\" is not a command name"},
    // The rest.
    {"admin_commands: allow\n", "admin_commands: expected one of forward, deny, got \"allow\""},
    {"metrics: {listen: nope}\n", "metrics.listen: expected host:port"},
    {"metrics: {port: 9121}\n", "metrics.port: unknown key"},
    {"metrics: 127.0.0.1:9121\n", "metrics: expected a mapping of keys, got a value"},
    {"log: info\n", "log: expected a mapping of keys, got a value"},
    {"log: {level: verbose}\n",
     "log.level: expected one of trace, debug, info, warn, error, critical, off, got \"verbose\""},
    {"log: {level: INFO}\n", "log.level: expected one of"},
    {"log: {lvl: info}\n", "log.lvl: unknown key (did you mean level?)"},
    // Control characters are escaped so a message stays on one line.
    {"log: {level: \"a\\nb\"}\n",
     "log.level: expected one of trace, debug, info, warn, error, "
     "critical, off, got \"a\\x0ab\""},
};

TEST(LoadErrors, EachBadInputNamesItsPath) {
  for (const auto& c : kBadCases) {
    const LoadResult result = load(c.yaml);
    EXPECT_FALSE(result.config.has_value()) << c.yaml;
    EXPECT_THAT(errors_without_position(result), ElementsAre(StartsWith(c.error))) << c.yaml;
  }
}

TEST(LoadErrors, EveryErrorIsPrefixedWithSourceAndPosition) {
  for (const auto& c : kBadCases) {
    for (const auto& error : load(c.yaml).errors) {
      EXPECT_THAT(error, ::testing::MatchesRegex("t\\.yaml:[0-9]+:[0-9]+: .*")) << c.yaml;
    }
  }
}

TEST(LoadErrors, ExactMessageWithLineAndColumn) {
  const auto result = load(
      "cache:\n"
      "  rules:\n"
      "    - match: \"*\"\n"
      "      ttl: abc\n");
  EXPECT_THAT(result.errors,
              ElementsAre("t.yaml:4:12: cache.rules[0].ttl: expected a duration like 30s "
                          "(whole number + ms, s, m or h; or 0), got \"abc\""));
}

TEST(LoadErrors, CollectsEveryErrorAtOnce) {
  const auto result = load(
      "listen: nowhere\n"
      "workers: 0\n"
      "upstream:\n"
      "  connect_timeout: soon\n"
      "cache:\n"
      "  ruls: []\n"
      "  rules:\n"
      "    - match: a\n"
      "      ttl: 1.5s\n"
      "    - match: b\n"
      "      ttl: 1h\n"
      "limits:\n"
      "  max_pipeline: 0\n"
      "log:\n"
      "  level: loud\n");
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(
      errors_without_position(result),
      ElementsAre(StartsWith("listen: expected host:port"), StartsWith("workers: expected auto"),
                  StartsWith("upstream.connect_timeout: expected a duration"),
                  StartsWith("cache.ruls: unknown key"),
                  StartsWith("cache.rules[0].ttl: expected a duration"),
                  StartsWith("cache.rules[1].ttl: 1h is above cache.max_ttl"),
                  StartsWith("limits.max_pipeline: expected a whole number"),
                  StartsWith("log.level: expected one of")));
  EXPECT_THAT(result.errors[0], StartsWith("t.yaml:1:9: "));
  EXPECT_THAT(result.errors[7], StartsWith("t.yaml:15:10: "));
}

TEST(LoadErrors, SyntaxErrorHasLineAndColumn) {
  const auto result = load("listen: 127.0.0.1:6380\ncache:\n  rules: [a, b\nlog: x\n");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0],
              ::testing::MatchesRegex("t\\.yaml:[34]:[0-9]+: YAML syntax error: .+"));
  const auto tabs = load("a:\n\tb: 1\n");
  ASSERT_THAT(tabs.errors, SizeIs(1));
  EXPECT_THAT(tabs.errors[0], HasSubstr("YAML syntax error"));
}

TEST(LoadErrors, EnvironmentVariableSetButEmpty) {
  ::setenv("FRONTCACHE_TEST_EMPTY", "", 1);
  EXPECT_THAT(errors_without_position(load("auth: {password_env: FRONTCACHE_TEST_EMPTY}\n")),
              ElementsAre("auth.password_env: environment variable FRONTCACHE_TEST_EMPTY is "
                          "empty"));
  ::unsetenv("FRONTCACHE_TEST_EMPTY");
}

TEST(LoadErrors, MissingFileNamesThePath) {
  const auto result = load_from_file("/nonexistent/frontcache.yaml");
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(result.errors, ElementsAre("/nonexistent/frontcache.yaml: cannot open config file: "
                                         "No such file or directory"));
}

TEST(LoadErrors, ErrorsAreInFileOrder) {
  const auto result = load(
      "cache:\n"
      "  rules:\n"
      "    - match: \"*\"\n"
      "      ttl: 10m\n"
      "    - match: b\n"
      "  max_memory: lots\n");
  EXPECT_THAT(errors_without_position(result),
              ElementsAre(StartsWith("cache.rules[0].ttl: 10m is above"),
                          StartsWith("cache.rules[1].match: unreachable"),
                          StartsWith("cache.max_memory: expected a size")));
}

// A value that fails to parse is reported once, not again by a cross-key check on the default
// left in its place.
TEST(LoadErrors, NoKnockOnErrorsFromBadValues) {
  EXPECT_THAT(errors_without_position(load("cache: {max_ttl: 10s, rules: [{match: a, ttl: x}]}\n")),
              ElementsAre(StartsWith("cache.rules[0].ttl: expected a duration")));
  EXPECT_THAT(errors_without_position(
                  load("cache: {max_ttl: x, rules: [{match: a, ttl: 1h, negative_ttl: 1h}]}\n")),
              ElementsAre(StartsWith("cache.max_ttl: expected a duration")));
  EXPECT_THAT(errors_without_position(load("cache: {max_memory: x, max_value_size: 1gb}\n")),
              ElementsAre(StartsWith("cache.max_memory: expected a size")));
}

TEST(LoadErrors, MoreThanOneDocument) {
  EXPECT_THAT(load("listen: 1.2.3.4:5\n---\nworkers: 2\n").errors,
              ElementsAre("t.yaml: (top level): the file holds 2 YAML documents (separated by "
                          "---); expected one"));
  EXPECT_THAT(load("---\nworkers: 2\n...\n").errors, ::testing::IsEmpty());
}

// The config is trusted input, but odd YAML must still come back as errors, never a throw.
TEST(LoadErrors, OddDocumentsNeverThrow) {
  const char* cases[] = {
      "!!binary aGVsbG8=\n",
      "? [a]\n: 1\n",
      "? {a: 1}\n: 1\n",
      "<<: {listen: 1.2.3.4:5}\n",
      "cache: {rules: [{match: a, <<: {ttl: 1s}}]}\n",
      "listen: !!int 5\n",
      "cache: {rules: [[], {}, ~, 1, \"\"]}\n",
      "auth: {users: [[], ~, 1]}\n",
      "cache: {commands: [~, {}, 1]}\n",
      "a: &x {b: *x}\n",
      "\xff\xfe\x00\n",
      "listen: \"\\0\"\n",
      "%YAML 1.2\n---\nworkers: 2\n",
      "*undefined\n",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
  };
  for (const char* yaml : cases) {
    EXPECT_NO_THROW(load(yaml)) << yaml;
  }
}

TEST(LoadErrors, RuleTtlsAreNotCheckedWhenTheCacheIsOff) {
  const auto result = load("cache: {max_memory: 0, rules: [{match: a, ttl: 1h}]}\n");
  ASSERT_TRUE(result.config.has_value()) << result.errors.front();
  EXPECT_FALSE(result.config->cache.enabled);
}

}  // namespace
}  // namespace frontcache::config
