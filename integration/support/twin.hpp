// Same bytes as Redis: a plain redis-server and a frontcache in front of a second, identical
// one. A test sends the same bytes to both, on as many connections as it needs, and compares
// what comes back byte for byte instead of writing the expected replies by hand.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "net.hpp"
#include "process.hpp"
#include "servers.hpp"

namespace frontcache::integration {

enum class Side { Redis, Proxy };

struct TwinOptions {
  std::string frontcache_yaml;  // extra YAML for the proxy's config
  std::string upstream_yaml;    // extra `upstream:` keys ("  key: value\n")
  int workers = 1;
  int connections_per_worker = 2;  // upstream.connections_per_worker
};

class Twin {
 public:
  explicit Twin(TwinOptions options = {});
  ~Twin();

  // A new connection to the plain redis-server, or to the proxy.
  std::unique_ptr<RawClient> connect(Side side) const;
  // The redis-server behind `side` (for the proxy: its upstream), bypassing the proxy.
  std::unique_ptr<RawClient> connect_redis(Side side) const;
  uint16_t redis_port(Side side) const;
  Frontcache& proxy() { return *proxy_; }
  std::string logs() const;

  // Sends `script` (raw bytes) and then `PING <marker>` on `c`, waits for the marker's reply
  // and returns every byte that came back before it. Fails the test (and returns "") when the
  // marker does not come back.
  // MONITOR lines (`+<timestamp> [...]`) are left out when `drop_monitor_lines`: they carry
  // times, addresses and other clients' traffic.
  static std::string exchange(RawClient& c, std::string_view script,
                              bool drop_monitor_lines = false);
  // exchange() of the same script on a fresh connection to each side.
  std::pair<std::string, std::string> run(std::string_view script,
                                          bool drop_monitor_lines = false) const;

 private:
  TempDir dir_;
  TempDir proxy_dir_;
  std::unique_ptr<RedisServer> plain_;
  std::unique_ptr<RedisServer> upstream_;
  std::unique_ptr<Frontcache> proxy_;
};

// Fixture: a Twin built in SetUp (override twin_options()), its logs printed on failure.
class TwinTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual TwinOptions twin_options() const { return {}; }
  Twin& twin() { return *twin_; }
  // Runs `script` on both sides and expects the same bytes back.
  void expect_same(std::string_view script, bool drop_monitor_lines = false);

  std::unique_ptr<Twin> twin_;
};

// Where two byte strings differ, for assertion messages that stay readable when the strings
// are megabytes long: "" when they are equal.
std::string first_difference(std::string_view expected, std::string_view actual);

// RESP multibulk encoding of one command.
std::string cmd(std::initializer_list<std::string_view> args);

}  // namespace frontcache::integration
