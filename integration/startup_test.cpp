// Starting the proxy as an operator does (issue 17): a second instance on a taken address
// refuses to start, `workers: auto` follows the CPUs the process may use, the binary answers
// scripts' questions about its config (--print), and it tells systemd when it is ready.
// Proxy mode only.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

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
    ASSERT_EQ(
        info_field(c("INFO", "frontcache").str, "frontcache_total_connections_received").empty(),
        false);
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

// A unix datagram socket the test owns, as systemd's notify socket (a path, or '@name' in the
// abstract namespace).
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), size) == 0;
  }
  ~NotifySocket() { ::close(fd_); }
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  // The next datagram, or "" after `timeout` (a hang guard).
  std::string receive(std::chrono::milliseconds timeout = 60s) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool ok_ = false;
};

// Type=notify: READY=1 comes once the proxy serves with Redis reachable and invalidation armed,
// STOPPING=1 when SIGTERM begins the drain.
TEST(Startup, TellsSystemdWhenReadyAndWhenStopping) {
  SKIP_UNLESS_PROXY();
  TempDir dir;
  for (const std::string& name :
       {dir.file("notify.sock"), "@frontcache-it-" + std::to_string(::getpid())}) {
    SCOPED_TRACE(name);
    NotifySocket notify(name);
    ASSERT_TRUE(notify.ok());
    RedisServer redis(dir.path());
    FrontcacheOptions options;
    options.binary = frontcache_binary();
    options.upstream_port = redis.port();
    options.environment = {"NOTIFY_SOCKET=" + name};
    Frontcache fc(dir.path(), options);
    const std::string ready = notify.receive();
    ASSERT_TRUE(ready.starts_with("READY=1\n")) << "got '" << ready << "'\n" << fc.log();
    EXPECT_NE(ready.find("STATUS=serving: upstream ready, invalidation armed"), std::string::npos)
        << ready;
    // Ready means serving: a forwarded command works at once, L1 is armed.
    RedisClient c("127.0.0.1", fc.port());
    EXPECT_EQ(c("SET", "k", "v").to_string(), "+OK");
    EXPECT_EQ(info_field(c("INFO", "frontcache").str, "l1_state"), "armed");
    fc.signal(SIGTERM);
    const std::string stopping = notify.receive();
    EXPECT_TRUE(stopping.starts_with("STOPPING=1")) << stopping;
    EXPECT_EQ(fc.wait_exit(60s), 0);
  }
}

// With Redis down at startup the wait is bounded: READY=1 still comes, saying why it is not ready.
TEST(Startup, ReadinessWaitIsBoundedWhenRedisIsDown) {
  SKIP_UNLESS_PROXY();
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  ASSERT_TRUE(notify.ok());
  const uint16_t nobody = free_port();
  const uint16_t port = free_port();
  write_file(dir.file("fc.yaml"), "listen: 127.0.0.1:" + std::to_string(port) +
                                      "\nupstream:\n  address: 127.0.0.1:" +
                                      std::to_string(nobody) + "\n  connect_timeout: 100ms\n");
  SpawnOptions spawn;
  spawn.argv = {frontcache_binary(), "--config", dir.file("fc.yaml")};
  spawn.stderr_path = dir.file("fc.log");
  spawn.environment = {"NOTIFY_SOCKET=" + notify.name()};
  Process fc(spawn);
  const std::string ready = notify.receive();
  EXPECT_TRUE(ready.starts_with("READY=1\nSTATUS=serving, not ready yet: ")) << ready;
  fc.terminate(60s);
}

}  // namespace
}  // namespace frontcache::integration
