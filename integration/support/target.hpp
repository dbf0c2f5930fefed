// What a test talks to. FRONTCACHE_TARGET=direct|proxy picks it (default: proxy when
// FRONTCACHE_BIN, or the binary built next to the tests, exists; direct otherwise). A test
// written against Target sees the same Redis protocol either way: in direct mode the address is
// the redis-server itself, in proxy mode a frontcache in front of it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "net.hpp"
#include "process.hpp"
#include "servers.hpp"

namespace frontcache::integration {

enum class TargetKind { Direct, Proxy };

TargetKind target_kind();
const char* target_name(TargetKind kind);
// Path of the frontcache binary: $FRONTCACHE_BIN, else the one CMake built (may be empty).
std::string frontcache_binary();
// Source directory of the node scripts (integration/node).
std::string node_dir();

struct TargetOptions {
  std::vector<std::string> redis_args;
  std::string frontcache_yaml;  // extra YAML for the proxy config
  std::string upstream_yaml;    // extra `upstream:` keys for the proxy config ("  key: value\n")
  int workers = 2;
};

// One redis-server, plus a frontcache in front of it in proxy mode, in a private temp dir.
class Target {
 public:
  explicit Target(TargetOptions options = {});
  ~Target();

  TargetKind kind() const { return kind_; }
  bool is_proxy() const { return kind_ == TargetKind::Proxy; }
  const std::string host() const { return "127.0.0.1"; }
  // The address under test.
  uint16_t port() const { return proxy_ ? proxy_->port() : redis_->port(); }
  // The redis-server, bypassing the proxy.
  uint16_t redis_port() const { return redis_->port(); }

  RedisClient client(std::chrono::milliseconds timeout = 5s) const {
    return RedisClient(host(), port(), timeout);
  }
  RedisClient direct_client(std::chrono::milliseconds timeout = 5s) const {
    return RedisClient(host(), redis_port(), timeout);
  }

  RedisServer& redis() { return *redis_; }
  Frontcache* proxy() { return proxy_.get(); }
  TempDir& dir() { return dir_; }
  // Logs of every process, for failure reports.
  std::string logs() const;

 private:
  TargetKind kind_;
  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<Frontcache> proxy_;
};

// Waits (up to 5 s) until a command forwarded through the target gets a non-error reply: the
// proxy answers PING before its upstream connections are ready.
void wait_for_upstream(const Target& target);

// Base fixture: builds a Target in SetUp (override target_options() to change it) and prints
// the process logs when the test failed.
class TargetTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual TargetOptions target_options() const { return {}; }
  Target& target() { return *target_; }

  std::unique_ptr<Target> target_;
};

}  // namespace frontcache::integration
