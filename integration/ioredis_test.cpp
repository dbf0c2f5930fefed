// ioredis (Node) with default options against the target; the scripts live in integration/node
// and exit 0 on success (see integration/README.md for `npm install`).
#include <gtest/gtest.h>

#include <filesystem>

#include "target.hpp"

namespace frontcache::integration {
namespace {

class Ioredis : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    if (run_command({"node", "--version"}, target().dir().path(), 10s).exit_code != 0) {
      GTEST_SKIP() << "node is not installed";
    }
    ASSERT_TRUE(std::filesystem::exists(node_dir() + "/node_modules/ioredis"))
        << "ioredis is missing: run `npm install` in " << node_dir()
        << " (scripts/install-deps.sh does it)";
  }

  void run_script(const std::string& script, std::vector<std::string> extra_args = {}) {
    std::vector<std::string> argv = {"node", node_dir() + "/" + script, target().host(),
                                     std::to_string(target().port())};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    RunResult r = run_command(argv, target().dir().path(), 120s);
    EXPECT_FALSE(r.timed_out) << script << " timed out";
    EXPECT_EQ(r.exit_code, 0) << script << " failed\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    EXPECT_EQ(r.out.rfind("OK", 0), 0u) << r.out;
    std::cout << script << ": " << r.out;
  }
};

TEST_F(Ioredis, SetGetBinaryAndLargeValues) { run_script("basic.js"); }

TEST_F(Ioredis, PipelineOfTenThousandMatchesRedis) {
  RedisServer reference(target().dir().path());
  run_script("pipeline.js", {"127.0.0.1", std::to_string(reference.port())});
}

// ioredis 6 (the `ioredis6` npm alias) asks for RESP3 by default (HELLO 3 on connect):
// node/resp3.js runs one script with its two reply mappings and with protocol 2, against the
// target and against a reference Redis, and fails on any difference (maps, doubles, XREAD,
// CLIENT INFO resp=3, pipelines, MULTI, pub/sub mixed with commands on a RESP3 connection).
TEST_F(Ioredis, Ioredis6Resp3MatchesRedis) {
  if (run_command({"node", "-e", "process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)"},
                  target().dir().path(), 10s)
          .exit_code != 0) {
    GTEST_SKIP() << "ioredis 6 needs node 20 or later";
  }
  ASSERT_TRUE(std::filesystem::exists(node_dir() + "/node_modules/ioredis6"))
      << "ioredis 6 is missing: run `npm install` in " << node_dir();
  RedisServer reference(target().dir().path());
  run_script("resp3.js", {"127.0.0.1", std::to_string(reference.port())});
}

TEST_F(Ioredis, TwoHundredConcurrentConnections) {
  run_script("concurrent.js");
  // Nothing is left behind: every connection was closed by QUIT.
  auto d = target().data_client();
  EXPECT_EQ(d("GET", "shared").to_string(), "\"10000\"");
}

}  // namespace
}  // namespace frontcache::integration
