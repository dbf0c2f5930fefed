#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "frontcache/config/config.hpp"

namespace frontcache::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

CommandLine parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"frontcache"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLine, NoArguments) {
  const auto cli = parse({});
  EXPECT_THAT(cli.errors, IsEmpty());
  EXPECT_EQ(cli.config_path, "");
  EXPECT_FALSE(cli.check_config || cli.help || cli.version);
  EXPECT_FALSE(cli.listen || cli.upstream || cli.workers || cli.log_level);
}

TEST(CommandLine, EveryFlagSeparateValue) {
  const auto cli = parse({"--config", "a.yaml", "--check-config", "--listen", "0.0.0.0:7000",
                          "--upstream", "redis:6379", "--workers", "4", "--log-level", "debug"});
  EXPECT_THAT(cli.errors, IsEmpty());
  EXPECT_EQ(cli.config_path, "a.yaml");
  EXPECT_TRUE(cli.check_config);
  EXPECT_EQ(cli.listen, "0.0.0.0:7000");
  EXPECT_EQ(cli.upstream, "redis:6379");
  EXPECT_EQ(cli.workers, "4");
  EXPECT_EQ(cli.log_level, "debug");
}

TEST(CommandLine, EveryFlagWithEquals) {
  const auto cli = parse({"--config=b.yaml", "--listen=[::1]:7000", "--upstream=redis:6379",
                          "--workers=auto", "--log-level=warn"});
  EXPECT_THAT(cli.errors, IsEmpty());
  EXPECT_EQ(cli.config_path, "b.yaml");
  EXPECT_EQ(cli.listen, "[::1]:7000");
  EXPECT_EQ(cli.upstream, "redis:6379");
  EXPECT_EQ(cli.workers, "auto");
  EXPECT_EQ(cli.log_level, "warn");
}

TEST(CommandLine, ShortFlags) {
  const auto cli = parse({"-c", "c.yaml", "-h", "-v"});
  EXPECT_THAT(cli.errors, IsEmpty());
  EXPECT_EQ(cli.config_path, "c.yaml");
  EXPECT_TRUE(cli.help);
  EXPECT_TRUE(cli.version);
}

TEST(CommandLine, LastValueWins) {
  const auto cli = parse({"--workers", "2", "--workers=3"});
  EXPECT_THAT(cli.errors, IsEmpty());
  EXPECT_EQ(cli.workers, "3");
}

TEST(CommandLine, ValueMayStartWithDashOnlyAfterEquals) {
  EXPECT_EQ(parse({"--config=-odd.yaml"}).config_path, "-odd.yaml");
  EXPECT_EQ(parse({"--config", "-"}).config_path, "-");
}

struct BadCase {
  std::vector<const char*> args;
  std::string error;
};

TEST(CommandLine, Errors) {
  const BadCase cases[] = {
      {{"--bogus"}, "unknown option --bogus (see --help)"},
      {{"--bogus=1"}, "unknown option --bogus (see --help)"},
      {{"-x"}, "unknown option -x (see --help)"},
      {{"-c=a.yaml"}, "unknown option -c=a.yaml (see --help)"},
      {{"stray"}, "unexpected argument \"stray\" (see --help)"},
      {{"-"}, "unexpected argument \"-\" (see --help)"},
      {{"--config"}, "--config: missing value"},
      {{"-c"}, "-c: missing value"},
      {{"--config="}, "--config: missing value"},
      {{"--config", "--check-config"}, "--config: missing value"},
      {{"--listen"}, "--listen: missing value"},
      {{"--upstream"}, "--upstream: missing value"},
      {{"--workers"}, "--workers: missing value"},
      {{"--log-level"}, "--log-level: missing value"},
      {{"--help=yes"}, "--help: does not take a value"},
      {{"--check-config=1"}, "--check-config: does not take a value"},
  };
  for (const auto& c : cases) {
    std::vector<const char*> argv{"frontcache"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto cli = parse_command_line(static_cast<int>(argv.size()), argv.data());
    EXPECT_THAT(cli.errors, ElementsAre(c.error)) << c.args.front();
  }
}

TEST(CommandLine, CollectsEveryError) {
  const auto cli = parse({"--bogus", "stray", "--workers"});
  EXPECT_EQ(cli.errors.size(), 3u);
}

TEST(CommandLine, UsageMentionsEveryFlag) {
  const std::string usage = usage_text();
  for (const char* flag : {"--config", "-c,", "--check-config", "--print", "--listen", "--upstream",
                           "--workers", "--log-level", "--help", "-h,", "--version", "-v,"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

TEST(ApplyOverrides, AppliesValidValues) {
  Config config;
  const auto cli = parse({"--listen", "[::1]:7000", "--upstream", "localhost:7001", "--workers",
                          "8", "--log-level", "trace"});
  EXPECT_THAT(apply_overrides(config, cli), IsEmpty());
  EXPECT_EQ(config.listen.host, "::1");
  EXPECT_EQ(config.listen.port, 7000);
  EXPECT_EQ(config.upstream.address.host, "localhost");
  EXPECT_EQ(config.upstream.address.port, 7001);
  EXPECT_EQ(config.workers, 8u);
  EXPECT_EQ(config.log_level, "trace");

  EXPECT_THAT(apply_overrides(config, parse({"--workers=auto"})), IsEmpty());
  EXPECT_EQ(config.workers, 0u);
}

TEST(ApplyOverrides, NothingGivenChangesNothing) {
  Config config;
  config.workers = 3;
  EXPECT_THAT(apply_overrides(config, parse({})), IsEmpty());
  EXPECT_EQ(config.workers, 3u);
  EXPECT_EQ(config.listen.port, 6380);
}

TEST(ApplyOverrides, ErrorsNameTheFlagAndKeepTheOldValue) {
  Config config;
  const auto errors = apply_overrides(config, parse({"--listen", "nope", "--upstream", "1.2.3.4:0",
                                                     "--workers", "0", "--log-level", "loud"}));
  EXPECT_THAT(errors, ElementsAre(HasSubstr("--listen: expected host:port"),
                                  HasSubstr("--upstream: expected host:port"),
                                  "--workers: expected auto or a whole number from 1 to 1024, "
                                  "got \"0\"",
                                  "--log-level: expected one of trace, debug, info, warn, error, "
                                  "critical, off, got \"loud\""));
  EXPECT_EQ(config.listen.port, 6380);
  EXPECT_EQ(config.upstream.address.port, 6379);
  EXPECT_EQ(config.workers, 0u);
  EXPECT_EQ(config.log_level, "info");
}

TEST(ApplyOverrides, WorkersRange) {
  for (const char* bad : {"0", "1025", "-1", "two", "4x", " 4", "AUTO"}) {
    Config config;
    const std::string flag = std::string("--workers=") + bad;
    EXPECT_EQ(apply_overrides(config, parse({flag.c_str()})).size(), 1u) << bad;
  }
  for (const char* good : {"1", "1024", "auto"}) {
    Config config;
    EXPECT_THAT(apply_overrides(config, parse({"--workers", good})), IsEmpty()) << good;
  }
}

TEST(CommandLine, PrintTakesAKnownTarget) {
  EXPECT_EQ(parse({"--print", "upstream"}).print, "upstream");
  EXPECT_THAT(parse({"--print=config"}).errors, IsEmpty());
  EXPECT_THAT(parse({"--print", "address"}).errors,
              ElementsAre("--print: expected one of listen, upstream, metrics, workers, config, "
                          "got \"address\""));
}

// A config file in a fresh temp dir, removed afterwards.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& yaml) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fc-cli-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    std::ofstream(path()) << yaml;
  }
  ~ConfigFile() { std::filesystem::remove_all(dir_); }
  std::string dir() const { return dir_; }
  std::string path() const { return dir_ + "/frontcache.yaml"; }

 private:
  std::string dir_;
};

TEST(LoadWithCommandLine, FlagsOverrideTheFile) {
  const ConfigFile file("workers: 2\nupstream: {address: \"127.0.0.1:7000\"}\n");
  const std::string path = file.path();
  const auto result = load_with_command_line(parse({"--config", path.c_str(), "--workers", "5"}));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->workers, 5u);
  EXPECT_EQ(result.config->upstream.address.port, 7000);
}

TEST(LoadWithCommandLine, ReportsFlagAndFileErrorsTogether) {
  const ConfigFile file("workers: none\ncache: {commands: [SET]}\n");
  const std::string path = file.path();
  const auto result = load_with_command_line(
      parse({"--config", path.c_str(), "--bogus", "--listen", "nope", "--workers", "0"}));
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(result.errors, ElementsAre("unknown option --bogus (see --help)",
                                         StartsWith(path + ":1:10: workers: expected auto"),
                                         StartsWith(path + ":2:20: cache.commands[0]: SET"),
                                         HasSubstr("--listen: expected host:port"),
                                         StartsWith("--workers: expected auto")));
}

TEST(LoadWithCommandLine, ConfigThatIsADirectoryIsAnError) {
  const ConfigFile file("workers: 2\n");
  const std::string dir = file.dir();
  const auto result = load_with_command_line(parse({"--config", dir.c_str()}));
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(result.errors,
              ElementsAre(dir + ": is a directory; --config takes a YAML file (e.g. " + dir +
                          "/frontcache.yaml)"));
}

TEST(LoadWithCommandLine, NoFileMeansDefaults) {
  const auto result = load_with_command_line(parse({"--upstream", "redis:6379"}));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->upstream.address.host, "redis");
  EXPECT_EQ(result.config->listen.port, 6380);
}

}  // namespace
}  // namespace frontcache::config
