// scripts/run.sh as a newcomer runs it (issue 17), with the built binary (FRONTCACHE_BIN skips
// install and build): it starts a redis-server when nothing listens on the upstream address,
// reads that address from the binary (a quoted YAML value works), stops frontcache and that
// redis-server when it is killed, and refuses clearly, without hanging, when the address is held
// by something that is not a working Redis. Proxy mode only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "target.hpp"

namespace frontcache::integration {
namespace {

// A socket on 127.0.0.1:port: bound only, listening but never accepting, or answering every
// connection with an HTTP error, as some other service would.
class PortHolder {
 public:
  enum class Kind { BoundOnly, Silent, Http };
  PortHolder(uint16_t port, Kind kind) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (ok_ && kind != Kind::BoundOnly) ok_ = ::listen(fd_, 16) == 0;
    if (ok_ && kind == Kind::Http) {
      thread_ = std::thread([this] {
        while (!stop_) {
          const int c = ::accept(fd_, nullptr, nullptr);
          if (c < 0) return;
          char buf[256];
          (void)::recv(c, buf, sizeof buf, 0);
          static constexpr char kReply[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
          (void)::send(c, kReply, sizeof kReply - 1, MSG_NOSIGNAL);
          ::close(c);
        }
      });
    }
  }
  ~PortHolder() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class RunScript : public ::testing::Test {
 protected:
  void SetUp() override {
    if (target_kind() != TargetKind::Proxy) GTEST_SKIP() << "needs the frontcache binary";
    redis_port_ = free_port();
    proxy_port_ = free_port();
    config_ = dir_.file("run.yaml");
    // Quoted, with a comment: the script must read it as frontcache does.
    write_file(config_, "listen: \"127.0.0.1:" + std::to_string(proxy_port_) +
                            "\"\nworkers: 1\nupstream:\n  address: \"127.0.0.1:" +
                            std::to_string(redis_port_) + "\"   # the local Redis\n");
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- run.sh stdout ---\n"
                << read_file(dir_.file("run.out")) << "--- run.sh stderr ---\n"
                << read_file(dir_.file("run.err"));
    }
  }
  // Starts scripts/run.sh in its own process group (killed whole when the test ends).
  Process start(std::vector<std::string> flags = {}, std::vector<std::string> environment = {}) {
    SpawnOptions spawn;
    spawn.argv = {"bash", std::string(FRONTCACHE_SOURCE_DIR) + "/scripts/run.sh"};
    spawn.argv.insert(spawn.argv.end(), flags.begin(), flags.end());
    spawn.argv.push_back(config_);
    spawn.stdout_path = dir_.file("run.out");
    spawn.stderr_path = dir_.file("run.err");
    spawn.environment = {"FRONTCACHE_BIN=" + frontcache_binary(),
                         "FRONTCACHE_RUN_DIR=" + dir_.path()};
    spawn.environment.insert(spawn.environment.end(), environment.begin(), environment.end());
    return Process(spawn);
  }
  static bool answers(uint16_t port) { return RawClient("127.0.0.1", port, 5s).connected(); }
  // Once a SET travels through the proxy to the Redis the script uses; false at once when the
  // script has exited.
  bool serves(Process& run) const {
    bool served = false;
    wait_until(
        [&] {
          RedisClient c("127.0.0.1", proxy_port_, 5s);
          served = c("SET", "k", "v").to_string() == "+OK";
          return served || !run.running();
        },
        120s, 20ms);
    return served;
  }

  TempDir dir_;
  uint16_t redis_port_ = 0;
  uint16_t proxy_port_ = 0;
  std::string config_;
};

TEST_F(RunScript, StartsRedisAndFrontcacheAndKillStopsBoth) {
  Process run = start();
  // Up once a command travels through the proxy to the Redis the script started.
  ASSERT_TRUE(serves(run)) << "never served";
  RedisClient direct("127.0.0.1", redis_port_);
  EXPECT_EQ(direct("GET", "k").to_string(), "\"v\"");
  EXPECT_NE(read_file(dir_.file("run.out")).find("starting a local redis-server"),
            std::string::npos);

  // kill <run.sh>: only the script gets the signal, not its process group.
  ASSERT_EQ(::kill(run.pid(), SIGTERM), 0);
  const auto code = run.wait_for(120s);
  ASSERT_TRUE(code.has_value()) << "run.sh did not exit";
  EXPECT_EQ(*code, 0);
  // Nothing it started is left behind.
  EXPECT_FALSE(answers(proxy_port_)) << "frontcache outlived run.sh";
  EXPECT_FALSE(answers(redis_port_)) << "redis-server outlived run.sh";
}

// --cluster: three cluster nodes on consecutive ports, frontcache in cluster mode in front of
// them (keys land on every master), and a kill of the script stops all of it.
TEST_F(RunScript, ClusterStartsThreeMastersServesThemAllAndKillStopsEverything) {
  // Three consecutive free ports, and their cluster bus ports (+10000), below the ephemeral
  // range that free_port() and outgoing connections of the tests running beside use.
  std::random_device random;
  uint16_t base = 0;
  while (base == 0) {
    const auto p = static_cast<uint16_t>(12000 + random() % 10000);
    bool all_free = true;
    for (uint16_t i = 0; i < 3; ++i) {
      all_free = all_free && !answers(static_cast<uint16_t>(p + i)) &&
                 !answers(static_cast<uint16_t>(p + i + 10000));
    }
    if (all_free) base = p;
  }
  Process run = start({"--cluster"}, {"FRONTCACHE_CLUSTER_PORT=" + std::to_string(base)});
  ASSERT_TRUE(serves(run)) << "never served";
  RedisClient c("127.0.0.1", proxy_port_);
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(c("SET", "key:" + std::to_string(i), "v").to_string(), "+OK");
  EXPECT_EQ(c("DBSIZE").integer, 31);
  for (uint16_t i = 0; i < 3; ++i) {
    RedisClient node("127.0.0.1", static_cast<uint16_t>(base + i));
    EXPECT_NE(node("CLUSTER", "INFO").str.find("cluster_state:ok"), std::string::npos);
    EXPECT_GT(node("DBSIZE").integer, 0) << "master on port " << base + i << " got no key";
  }
  EXPECT_NE(c("INFO", "frontcache").str.find("cluster_masters:3"), std::string::npos);
  EXPECT_EQ(read_file(dir_.file("run.out")).find("starting a local redis-server"),
            std::string::npos);

  ASSERT_EQ(::kill(run.pid(), SIGTERM), 0);
  const auto code = run.wait_for(120s);
  ASSERT_TRUE(code.has_value()) << "run.sh did not exit";
  EXPECT_EQ(*code, 0);
  EXPECT_FALSE(answers(proxy_port_)) << "frontcache outlived run.sh";
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(answers(static_cast<uint16_t>(base + i))) << "a cluster node outlived run.sh";
  }
}

TEST_F(RunScript, UsesARedisThatAlreadyAnswersAndLeavesItRunning) {
  RedisServer redis(dir_.path());
  write_file(config_, "listen: 127.0.0.1:" + std::to_string(proxy_port_) +
                          "\nworkers: 1\nupstream: {address: '127.0.0.1:" +
                          std::to_string(redis.port()) + "'}\n");
  Process run = start();
  ASSERT_TRUE(serves(run));
  ASSERT_EQ(::kill(run.pid(), SIGINT), 0);
  ASSERT_TRUE(run.wait_for(120s).has_value());
  EXPECT_FALSE(answers(proxy_port_));
  EXPECT_TRUE(redis.running()) << "run.sh stopped a Redis it had not started";
}

TEST_F(RunScript, SilentPortHolderIsReportedInsteadOfWaitedOn) {
  PortHolder holder(redis_port_, PortHolder::Kind::Silent);
  ASSERT_TRUE(holder.ok());
  Process run = start();
  const auto code = run.wait_for(120s);
  ASSERT_TRUE(code.has_value()) << "run.sh hangs on a port that never answers";
  EXPECT_EQ(*code, 1);
  EXPECT_NE(read_file(dir_.file("run.err")).find("does not answer PING"), std::string::npos);
  EXPECT_FALSE(answers(proxy_port_)) << "a proxy was started in front of it";
}

TEST_F(RunScript, NonRedisServiceIsReportedAndNotProxied) {
  PortHolder holder(redis_port_, PortHolder::Kind::Http);
  ASSERT_TRUE(holder.ok());
  Process run = start();
  const auto code = run.wait_for(120s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  const std::string err = read_file(dir_.file("run.err"));
  EXPECT_NE(err.find("answers, but not as Redis"), std::string::npos) << err;
  EXPECT_NE(err.find("Protocol error"), std::string::npos) << err;
  EXPECT_EQ(read_file(dir_.file("run.out")).find("frontcache on"), std::string::npos);
  EXPECT_FALSE(answers(proxy_port_)) << "a proxy was started in front of it";
}

TEST_F(RunScript, RedisServerThatCannotStartShowsItsLog) {
  // Bound but not listening: PING is refused, so the script launches redis-server, whose bind
  // then fails.
  PortHolder holder(redis_port_, PortHolder::Kind::BoundOnly);
  ASSERT_TRUE(holder.ok());
  Process run = start();
  const auto code = run.wait_for(120s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  const std::string err = read_file(dir_.file("run.err"));
  EXPECT_NE(err.find("redis-server did not start"), std::string::npos) << err;
  EXPECT_NE(err.find("Address already in use"), std::string::npos) << "no log shown:\n" << err;
  EXPECT_FALSE(answers(proxy_port_));
}

}  // namespace
}  // namespace frontcache::integration
