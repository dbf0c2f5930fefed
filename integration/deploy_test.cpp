// The container's contract, checked without a Docker engine (tests/deploy/check_deploy.sh reads
// the files; this runs what they say): the Dockerfile's HEALTHCHECK command against a live
// frontcache (healthy when ready, also with `auth:` set; unhealthy while Redis is down), and its
// ENTRYPOINT with extra arguments, as `docker run IMAGE --upstream ...` would run it. Proxy mode.
#include <gtest/gtest.h>

#include <regex>

#include "target.hpp"

namespace frontcache::integration {
namespace {

const std::string kSourceDir = FRONTCACHE_SOURCE_DIR;

// The elements of the JSON string array that follows `instruction` on one Dockerfile line.
std::vector<std::string> dockerfile_array(const std::string& instruction) {
  const std::string text = read_file(kSourceDir + "/Dockerfile");
  const std::regex line("(^|\\n)\\s*" + instruction + " (\\[.*\\])");
  std::smatch m;
  if (!std::regex_search(text, m, line)) return {};
  std::vector<std::string> out;
  const std::string array = m[2];
  // Strings with \" and \\ escapes only, which is all the Dockerfile uses.
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (array[i] != '"') continue;
    std::string s;
    for (++i; i < array.size() && array[i] != '"'; ++i) {
      if (array[i] == '\\' && i + 1 < array.size()) ++i;
      s += array[i];
    }
    out.push_back(s);
  }
  return out;
}

class Deploy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (target_kind() != TargetKind::Proxy) GTEST_SKIP() << "needs the frontcache binary";
  }
};

TEST_F(Deploy, HealthcheckFollowsReadinessAlsoWithAuth) {
  const auto cmd = dockerfile_array("CMD");  // the HEALTHCHECK's (the only CMD with content)
  ASSERT_EQ(cmd.size(), 3u) << "expected CMD [\"bash\", \"-c\", \"...\"]";
  ASSERT_EQ(cmd[0], "bash");
  std::string script = cmd[2];
  const std::string probe = "/dev/tcp/127.0.0.1/9121";
  const auto at = script.find(probe);
  ASSERT_NE(at, std::string::npos) << script;

  const uint16_t metrics_port = free_port();
  script.replace(at, probe.size(), "/dev/tcp/127.0.0.1/" + std::to_string(metrics_port));
  TargetOptions options;
  // The old healthcheck (redis-cli PING | grep PONG) failed whenever auth was set.
  options.frontcache_yaml =
      "auth:\n  password: s3cret\nmetrics:\n  listen: 127.0.0.1:" + std::to_string(metrics_port) +
      "\n";
  Target target(options);
  const auto healthy = [&] {
    return run_command({"bash", "-c", script}, target.dir().path(), 60s).exit_code == 0;
  };
  EXPECT_TRUE(wait_until(healthy)) << target.logs();
  target.redis().kill();
  EXPECT_TRUE(wait_until([&] { return !healthy(); })) << "still healthy without Redis";
  target.redis().restart();
  EXPECT_TRUE(wait_until(healthy)) << "not healthy again after Redis came back";
}

TEST_F(Deploy, EntrypointKeepsTheConfigWhenArgumentsAreAdded) {
  auto argv = dockerfile_array("ENTRYPOINT");
  ASSERT_GE(argv.size(), 3u);
  ASSERT_EQ(argv[0], "/usr/local/bin/frontcache");
  argv[0] = frontcache_binary();
  for (auto& a : argv) {
    if (a.starts_with("/etc/frontcache/")) a = kSourceDir + "/config/" + a.substr(16);
  }
  // docker run IMAGE --upstream other:6400 --print config
  argv.insert(argv.end(), {"--upstream", "other:6400", "--print", "config"});
  TempDir dir;
  const auto r = run_command(argv, dir.path(), 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("listen: 0.0.0.0:6380\n"), std::string::npos)
      << "the container config was dropped:\n"
      << r.out;
  EXPECT_NE(r.out.find("  address: other:6400\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  listen: 0.0.0.0:9121\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace frontcache::integration
