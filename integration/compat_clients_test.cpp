// Real clients used as applications use them, through the target and directly against Redis in
// the same test, with the outputs compared: ioredis (node/typical.js) and redis-cli (commands
// typed on stdin for every command family, --scan, --bigkeys).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "target.hpp"

namespace frontcache::integration {
namespace {

class CompatClients : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    wait_for_upstream(target());
  }
  RunResult cli(uint16_t port, std::vector<std::string> args, const std::string& stdin_path = "") {
    std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = run_command(argv, target().dir().path(), 60s, stdin_path);
    EXPECT_FALSE(r.timed_out) << r.out << r.err;
    return r;
  }
};

TEST_F(CompatClients, IoredisTypicalUsageMatchesRedis) {
  if (run_command({"node", "--version"}, target().dir().path(), 10s).exit_code != 0) {
    GTEST_SKIP() << "node is not installed";
  }
  ASSERT_TRUE(std::filesystem::exists(node_dir() + "/node_modules/ioredis"));
  auto script = [&](uint16_t port) {
    RunResult r =
        run_command({"node", node_dir() + "/typical.js", "127.0.0.1", std::to_string(port)},
                    target().dir().path(), 120s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.out;
  };
  std::string through = script(target().port());
  std::string direct = script(target().redis_port());
  EXPECT_EQ(through.rfind("OK", 0), 0u) << through;
  if (target().is_cluster()) {
    // PUBLISH's reply counts the subscribers on the one node it ran on, as on a cluster node
    // (docs/compatibility.md); the messages still reach the subscriber and are compared.
    const std::regex counts(R"("publish":\[\d+,\d+\])");
    EXPECT_TRUE(std::regex_search(through, counts)) << through;
    through = std::regex_replace(through, counts, R"("publish":[n,n])");
    direct = std::regex_replace(direct, counts, R"("publish":[n,n])");
  }
  EXPECT_EQ(through, direct);
}

TEST_F(CompatClients, RedisCliEveryFamilyMatchesRedis) {
  const std::string input = target().dir().file("typed.txt");
  {
    std::ofstream out(input);
    out << "set cli:s hello\nget cli:s\nappend cli:s \" world\"\nstrlen cli:s\n"
           "incr cli:n\nincrbyfloat cli:n 1.5\n"
           "rpush cli:l a b c\nlrange cli:l 0 -1\nblpop cli:l 1\nbrpop cli:empty 0.1\n"
           "hset cli:h f1 v1 f2 v2\nhgetall cli:h\n"
           "sadd cli:set x y\nsmembers cli:set\nsismember cli:set x\n"
           "zadd cli:z 1 a 2 b\nzrange cli:z 0 -1 withscores\nbzpopmin cli:z 1\n"
           "xadd cli:x 1-1 f v\nxrange cli:x - +\nxread block 10 streams cli:x 0\n"
           "pfadd cli:hll a b c\npfcount cli:hll\n"
           "geoadd cli:g 13.361389 38.115556 Palermo\ngeopos cli:g Palermo\n"
           "setbit cli:b 7 1\nbitcount cli:b\n"
           "multi\nset cli:t 1\nincr cli:t\nexec\n"
           "watch cli:t\nunwatch\ndiscard\n"
           "eval \"return redis.call('get', KEYS[1])\" 1 cli:s\n"
           "publish cli:chan msg\n"
           "select 3\nset cli:db3 v\nget cli:db3\nselect 0\nget cli:db3\n"
           "client setname cli\nclient getname\nclient reply on\n"
           "type cli:h\nttl cli:s\nexpire cli:s 100\nttl cli:s\npersist cli:s\nexists cli:s "
           "cli:nope\n"
           "echo hi\nping\nnosuchcommand x\nget\nreset\nget cli:s\n";
  }
  auto clean = [&] {
    auto d = target().direct_client();
    d("FLUSHALL");
  };
  clean();
  RunResult through = cli(target().port(), {}, input);
  clean();
  RunResult direct = cli(target().redis_port(), {}, input);
  EXPECT_EQ(through.out, direct.out);
  EXPECT_EQ(through.err, direct.err);
  EXPECT_NE(direct.out.find("hello world"), std::string::npos) << direct.out;
}

TEST_F(CompatClients, RedisCliScanAndBigkeysMatchRedis) {
  // The same keys on the redis-server and (in cluster mode, where that is a reference Redis
  // beside the cluster) through the proxy.
  std::vector<RedisClient> writers;
  writers.push_back(target().direct_client());
  if (target().is_cluster()) writers.push_back(target().client());
  for (auto& d : writers) {
    d("FLUSHALL");
    for (int i = 0; i < 200; ++i) d("SET", "scan:" + std::to_string(i), std::string(i, 'x'));
    d("RPUSH", "biglist", "a", "b", "c");
  }
  auto sorted_lines = [](std::string s) {
    std::vector<std::string> lines;
    std::stringstream in(s);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  RunResult scan_through = cli(target().port(), {"--scan", "--pattern", "scan:*"});
  RunResult scan_direct = cli(target().redis_port(), {"--scan", "--pattern", "scan:*"});
  EXPECT_EQ(sorted_lines(scan_through.out), sorted_lines(scan_direct.out));
  EXPECT_EQ(sorted_lines(scan_direct.out).size(), 200u);
  auto summary = [](const std::string& s) {
    auto pos = s.find("-------- summary -------");
    return pos == std::string::npos ? s : s.substr(pos);
  };
  RunResult big_through = cli(target().port(), {"--bigkeys"});
  RunResult big_direct = cli(target().redis_port(), {"--bigkeys"});
  EXPECT_EQ(big_through.exit_code, 0) << big_through.err;
  EXPECT_EQ(summary(big_through.out), summary(big_direct.out));
  EXPECT_NE(big_direct.out.find("biglist"), std::string::npos);
}

}  // namespace
}  // namespace frontcache::integration
