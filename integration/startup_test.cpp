// Starting the proxy as an operator does (issue 17): a second instance on a taken address
// refuses to start, `workers: auto` follows the CPUs the process may use, the binary answers
// scripts' questions about its config (--print), and it tells systemd when it is ready.
// Proxy mode only.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "target.hpp"

namespace frontcache::integration {
namespace {

#define SKIP_UNLESS_PROXY()                                      \
  if (target_kind() != TargetKind::Proxy) {                      \
    GTEST_SKIP() << "needs the proxy (FRONTCACHE_TARGET=proxy)"; \
  }

TEST(Startup, SecondInstanceOnTheSameAddressRefusesToStart) {
  SKIP_UNLESS_PROXY();
  Target target;
  Frontcache& first = *target.proxy();
  ASSERT_TRUE(wait_for_upstream(target));
  // The same config file: same listen address.
  const auto second =
      run_command({frontcache_binary(), "--config", first.config_path()}, target.dir().path(), 60s);
  EXPECT_FALSE(second.timed_out) << "the second instance started and kept running";
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("address already in use"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
      << second.err;
  // The first one still serves every client.
  EXPECT_TRUE(first.running());
  for (int i = 0; i < 20; ++i) {
    auto c = target.client();
    ASSERT_EQ(c("SET", "k", std::to_string(i)).to_string(), "+OK");
    ASSERT_EQ(info_field(c("INFO", "frontcache").str, "total_connections_received").empty(), false);
  }
}

TEST(Startup, WorkersAutoFollowsTheAffinityMask) {
  SKIP_UNLESS_PROXY();
  TempDir dir;
  RedisServer redis(dir.path());
  FrontcacheOptions options;
  options.binary = frontcache_binary();
  options.upstream_port = redis.port();
  options.workers = 0;  // auto
  options.launcher = {"taskset", "-c", "0"};
  Frontcache fc(dir.path(), options);
  RedisClient c("127.0.0.1", fc.port());
  EXPECT_EQ(info_field(c("INFO", "frontcache").str, "workers"), "1") << fc.log();
  EXPECT_NE(fc.log().find(", 1 workers"), std::string::npos) << fc.log();

  const auto printed = run_command({"taskset", "-c", "0", frontcache_binary(), "--config",
                                    fc.config_path(), "--print", "workers"},
                                   dir.path(), 60s);
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(printed.out, "1\n");
}

TEST(Startup, PrintShowsTheResolvedUpstreamOfAQuotedAddress) {
  SKIP_UNLESS_PROXY();
  TempDir dir;
  const std::string config = dir.file("quoted.yaml");
  write_file(config, "upstream:\n  address: \"127.0.0.1:6400\"   # quoted, with a comment\n");
  auto r = run_command({frontcache_binary(), "--config", config, "--print", "upstream"}, dir.path(),
                       60s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "127.0.0.1:6400\n");
  r = run_command(
      {frontcache_binary(), "--config", config, "--upstream", "[::1]:7000", "--print", "upstream"},
      dir.path(), 60s);
  EXPECT_EQ(r.out, "[::1]:7000\n") << r.err;
  r = run_command({frontcache_binary(), "--config", dir.path(), "--print", "upstream"}, dir.path(),
                  60s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace frontcache::integration
