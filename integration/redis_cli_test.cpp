// redis-cli against the target, as a user at a shell would use it.
#include <gtest/gtest.h>

#include <fstream>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

class RedisCli : public TargetTest {
 protected:
  RunResult cli(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s,
                const std::string& stdin_path = "") {
    std::vector<std::string> argv = {"redis-cli", "-h", target().host(), "-p",
                                     std::to_string(target().port())};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = run_command(argv, target().dir().path(), timeout, stdin_path);
    EXPECT_FALSE(r.timed_out) << "redis-cli timed out; stdout: " << r.out << " stderr: " << r.err;
    return r;
  }
};

TEST_F(RedisCli, SetAndGet) {
  RunResult set = cli({"set", "greeting", "hello world"});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "OK\n");
  RunResult get = cli({"get", "greeting"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "hello world\n");
  RunResult missing = cli({"get", "nosuchkey"});
  EXPECT_EQ(missing.out, "\n");  // redis-cli prints nil as an empty line when not a tty
}

TEST_F(RedisCli, PipeLoadsOneHundredThousandSets) {
  constexpr int kCount = 100000;
  const std::string input = target().dir().file("mass-insert.resp");
  {
    std::ofstream out(input, std::ios::binary);
    for (int i = 0; i < kCount; ++i) {
      out << encode_command({"SET", "key:" + std::to_string(i), "value:" + std::to_string(i)});
    }
  }
  RunResult r = cli({"--pipe"}, 120s, input);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("errors: 0, replies: 100000"), std::string::npos) << r.out << r.err;

  auto d = target().data_client();
  EXPECT_EQ(d("DBSIZE").to_string(), ":100000");
  EXPECT_EQ(d("GET", "key:99999").to_string(), "\"value:99999\"");
}

TEST_F(RedisCli, RepeatIncrCountsToOneHundred) {
  RunResult r = cli({"-r", "100", "incr", "counter"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.ends_with("\n100\n")) << r.out;
  RunResult get = cli({"get", "counter"});
  EXPECT_EQ(get.out, "100\n");
}

// redis-cli's interactive mode in a real terminal (tmux): one command of each family — strings,
// hashes, lists, sets, sorted sets, keys, scripts, transactions, WATCH, blocking pops, CLIENT,
// errors, pub/sub — typed at the prompt, and the screen compared with the same session against a
// fresh Redis.
TEST_F(RedisCli, InteractiveModeMatchesRedisForEveryFamily) {
  if (!target().is_proxy()) GTEST_SKIP() << "compares the proxy with Redis";
  if (std::system("command -v tmux >/dev/null 2>&1") != 0) {
    GTEST_FAIL() << "tmux is missing: scripts/install-deps.sh installs it";
  }
  RedisServer reference(target().dir().path());
  const std::string script =
      std::string(FRONTCACHE_SOURCE_DIR) + "/integration/tools/redis_cli_interactive.sh";
  auto screen = [&](uint16_t port) {
    RunResult r = run_command({"bash", script, std::to_string(port), std::to_string(port)},
                              target().dir().path(), 60s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  const std::string via_proxy = screen(target().port());
  const std::string direct = screen(reference.port());
  EXPECT_NE(direct.find("(TX)> exec"), std::string::npos) << direct;
  EXPECT_NE(direct.find("3) \"hello\""), std::string::npos) << "the published message";
  EXPECT_EQ(via_proxy, direct);
}

}  // namespace
}  // namespace frontcache::integration
