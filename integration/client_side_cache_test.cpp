// A RESP3 client-side cache through the target (issue 14): node-redis (npm `redis`) with
// `RESP: 3` and `clientSideCache` (node/csc.js) reads through it, so the application's
// near-cache sits in front of frontcache's L1 in front of Redis. Writes come through a second
// frontcache in front of the same Redis and directly on Redis; after each acknowledged write the
// near-cache must be told (the script waits for its `invalidate` event) and the next read must
// return the new value. The invalidation latency (p50/p99) is printed, never asserted.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "target.hpp"

namespace frontcache::integration {
namespace {

// A steady invalidation stream: a fence round missed on a busy machine would flush every
// tracking client (a null invalidation), which is correct but would turn the script's
// "second read is a local hit" checks into noise.
constexpr const char* kSteadyInvalidation =
    "invalidation:\n  ping_interval: 60s\n  max_staleness: 60s\n";

class ClientSideCache : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.frontcache_yaml = kSteadyInvalidation;
    return o;
  }
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    if (run_command({"node", "--version"}, target().dir().path(), 10s).exit_code != 0) {
      GTEST_SKIP() << "node is not installed";
    }
    if (run_command({"node", "-e", "process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)"},
                    target().dir().path(), 10s)
            .exit_code != 0) {
      GTEST_SKIP() << "node-redis 6 needs node 20 or later";
    }
    ASSERT_TRUE(std::filesystem::exists(node_dir() + "/node_modules/redis"))
        << "node-redis is missing: run `npm install` in " << node_dir()
        << " (scripts/install-deps.sh does it)";
    ASSERT_TRUE(wait_for_upstream(target()));
    if (target().is_proxy()) {
      auto c = target().client();
      ASSERT_TRUE(wait_armed(c)) << "invalidation never armed";
    }
  }
  void TearDown() override {
    if (HasFailure() && second_) std::cerr << "--- second frontcache log ---\n" << second_->log();
    second_.reset();
    TargetTest::TearDown();
  }

  // node csc.js <port> <writers...>: the script's stdout ("OK {...}"); its latency lines go to
  // the test's output.
  std::string run_csc(uint16_t port, const std::vector<std::string>& writers) {
    std::vector<std::string> argv = {"node", node_dir() + "/csc.js", "127.0.0.1",
                                     std::to_string(port)};
    argv.insert(argv.end(), writers.begin(), writers.end());
    RunResult r = run_command(argv, target().dir().path(), 200s);
    EXPECT_FALSE(r.timed_out) << "csc.js timed out";
    EXPECT_EQ(r.exit_code, 0) << "csc.js failed\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    EXPECT_EQ(r.out.rfind("OK", 0), 0u) << r.out;
    std::cout << r.err << r.out;
    return r.out;
  }

  TempDir second_dir_;
  std::unique_ptr<Frontcache> second_;
};

TEST_F(ClientSideCache, NodeRedisSeesEveryInvalidation) {
  std::vector<std::string> writers;
  if (target().is_proxy()) {
    FrontcacheOptions options;
    options.binary = frontcache_binary();
    options.upstream_port = target().redis_port();
    options.extra_yaml = kSteadyInvalidation;
    second_ = std::make_unique<Frontcache>(second_dir_.path(), options);
    RedisClient b("127.0.0.1", second_->port());
    ASSERT_TRUE(wait_until([&] { return b("EXISTS", "ready").to_string().starts_with(":"); }))
        << "the second frontcache never reached Redis";
    writers.push_back("via-another-frontcache=127.0.0.1:" + std::to_string(second_->port()));
  }
  writers.push_back("direct-on-redis=127.0.0.1:" + std::to_string(target().redis_port()));
  run_csc(target().port(), writers);
  if (target().is_proxy()) {
    // The same client on Redis itself, for comparison (printed only).
    run_csc(target().redis_port(),
            {"redis-itself=127.0.0.1:" + std::to_string(target().redis_port())});
  }
}

}  // namespace
}  // namespace frontcache::integration
