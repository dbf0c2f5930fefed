// What a test talks to. FRONTCACHE_TARGET=direct|proxy|cluster picks it (default: proxy when
// FRONTCACHE_BIN, or the binary built next to the tests, exists; direct otherwise). A test
// written against Target sees the same Redis protocol either way: in direct mode the address is
// the redis-server itself, in proxy mode a frontcache in front of it, in cluster mode a
// frontcache (upstream.mode: cluster) in front of a local 3-master Redis Cluster.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cluster.hpp"
#include "net.hpp"
#include "process.hpp"
#include "servers.hpp"

namespace frontcache::integration {

enum class TargetKind { Direct, Proxy, Cluster };

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
  std::string command_timeout = "2s";  // upstream.command_timeout of the proxy
  int connections_per_worker = 2;      // upstream.connections_per_worker of the proxy
};

// One redis-server, plus a frontcache in front of it in proxy mode, in a private temp dir. In
// cluster mode the frontcache is in front of a 3-master cluster, and the one redis-server is a
// plain reference Redis beside it (redis_port(), direct_client()) that tests comparing outputs
// with Redis use; it holds none of the keys written through the proxy.
class Target {
 public:
  explicit Target(TargetOptions options = {});
  ~Target();

  TargetKind kind() const { return kind_; }
  // A frontcache is under test (proxy or cluster mode).
  bool is_proxy() const { return kind_ != TargetKind::Direct; }
  bool is_cluster() const { return kind_ == TargetKind::Cluster; }
  const std::string host() const { return "127.0.0.1"; }
  // The address under test.
  uint16_t port() const { return proxy_ ? proxy_->port() : redis_->port(); }
  // The redis-server, bypassing the proxy (in cluster mode the reference Redis).
  uint16_t redis_port() const { return redis_->port(); }

  RedisClient client(std::chrono::milliseconds timeout = 5s) const {
    return RedisClient(host(), port(), timeout);
  }
  RedisClient direct_client(std::chrono::milliseconds timeout = 5s) const {
    return RedisClient(host(), redis_port(), timeout);
  }

  // A client that reads the data as the upstream holds it: the redis-server, or in cluster mode
  // the proxy (no single node holds every key).
  RedisClient data_client(std::chrono::milliseconds timeout = 5s) const {
    return is_cluster() ? client(timeout) : direct_client(timeout);
  }

  RedisServer& redis() { return *redis_; }
  RedisCluster* cluster() { return cluster_.get(); }
  Frontcache* proxy() { return proxy_.get(); }
  TempDir& dir() { return dir_; }
  // Logs of every process, for failure reports.
  std::string logs() const;

 private:
  TargetKind kind_;
  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RedisCluster> cluster_;
  std::unique_ptr<Frontcache> proxy_;
};

// Waits until a command forwarded through the target gets a non-error reply: the proxy answers
// PING before its upstream connections are ready. Records a test failure (and returns false)
// when that does not happen within 30 s, so a test never goes on against a proxy that cannot
// reach its upstream. `password`: AUTH first (a proxy with `auth:` answers NOAUTH itself).
bool wait_for_upstream(const Target& target, const std::string& password = "");

// Polls `done` (every `step`) until it returns true; false when `timeout` passes first. The
// timeout only guards against a hang: tests wait for an event, never for an amount of time.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s,
                std::chrono::milliseconds step = 5ms);

// CLIENT UNBLOCK of a client blocked by `BLPOP <list> 0`, for no reason, TIMEOUT and ERROR: per
// round, `unblocker`'s reply, the blocked client's and a second UNBLOCK's (not blocked any more).
// `blocked` runs the BLPOPs and has CLIENT ID `id`; `is_blocked` says when Redis has it blocked.
// The same transcript on Redis and through the proxy.
std::vector<std::string> unblock_rounds(RedisClient& unblocker, RawClient& blocked,
                                        const std::string& id, const std::string& list,
                                        const std::function<bool()>& is_blocked);

// `field:value` from INFO text; empty when absent.
std::string info_field(const std::string& info, const std::string& field);

// How often the server behind `c` ran `command` ("get", "client|list"): calls=N in its INFO
// commandstats, 0 when never.
long long command_calls(RedisClient& c, const std::string& command);

// Until the proxy's L1 is armed (`l1_state:armed` in INFO frontcache: every invalidation stream
// it needs is up); false when the hang guard passes first.
bool wait_armed(RedisClient& c, std::chrono::milliseconds timeout = 30s);

// One HTTP/1.1 GET on 127.0.0.1:port (Connection: close); the raw response, empty when the
// connection failed.
std::string http_get(uint16_t port, const std::string& path);
// The body of a raw HTTP response.
std::string http_body(const std::string& response);
// The value of `name value` in Prometheus text (a sample without labels); -1 when absent.
long long metric(const std::string& text, const std::string& name);

// Clients blocked in the redis-server (INFO clients blocked_clients), or -1 when unreadable.
long long blocked_clients(RedisClient& direct);

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
