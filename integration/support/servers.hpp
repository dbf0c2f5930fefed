// The processes under test: a redis-server and a frontcache proxy, each on a free loopback port,
// each owned by an RAII object that kills and reaps it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net.hpp"
#include "process.hpp"

namespace frontcache::integration {

// A redis-server listening on a TLS port only (`--port 0 --tls-port P`).
struct RedisTls {
  std::string cert_file, key_file, ca_file;
  bool auth_clients = false;            // --tls-auth-clients yes: clients need a certificate
  std::string client_cert, client_key;  // what the readiness check presents when they do
};

// `redis-server --port P --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir DIR`.
class RedisServer {
 public:
  // Starts at once; throws std::runtime_error when it cannot get a server answering PING.
  explicit RedisServer(std::string dir, std::vector<std::string> extra_args = {});
  // TLS only: port() is the TLS port, and readiness is a PING over TLS.
  RedisServer(std::string dir, RedisTls tls, std::vector<std::string> extra_args = {});
  // On `port` (taken over from a killed server: retried while its socket lingers).
  RedisServer(std::string dir, uint16_t port, std::vector<std::string> extra_args = {});
  ~RedisServer() = default;

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }
  std::string log() const;

  // SIGKILL, as when the host dies; the port stays reserved for restart().
  void kill() { process_.kill(); }
  // Starts again on the same port (retrying while the old socket lingers).
  void restart();

 private:
  bool start_on(uint16_t port, std::chrono::milliseconds ready_timeout);

  std::string dir_;
  std::vector<std::string> extra_args_;
  std::optional<RedisTls> tls_;
  uint16_t port_ = 0;
  int starts_ = 0;
  Process process_;
};

struct FrontcacheOptions {
  std::string binary;
  uint16_t upstream_port = 0;
  int workers = 2;
  std::string extra_yaml;     // appended to the generated config as is
  std::string upstream_yaml;  // more `upstream:` keys, each line indented by two spaces
  // upstream.command_timeout: tests that hold requests upstream on purpose raise it, so that
  // a slow machine cannot turn their wait into a timeout.
  std::string command_timeout = "2s";
  int connections_per_worker = 2;  // upstream.connections_per_worker
  // Prepended to the command line (e.g. {"taskset", "-c", "0"}); workers 0 writes `auto`.
  std::vector<std::string> launcher{};
  // Extra environment variables for the process ("NAME=value").
  std::vector<std::string> environment{};
};

// `frontcache --config DIR/frontcache.yaml`, stderr captured to DIR/frontcache.log.
class Frontcache {
 public:
  Frontcache(std::string dir, FrontcacheOptions options);
  ~Frontcache();

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }
  std::string log() const;
  std::string config_path() const { return dir_ + "/frontcache.yaml"; }
  // VmRSS from /proc/<pid>/status, in kB (0 when unreadable).
  long rss_kb() const;
  void signal(int sig) const { process_.signal(sig); }
  // SIGTERM, SIGKILL after `grace`; returns the exit code.
  std::optional<int> stop(std::chrono::milliseconds grace = 5s);
  // Waits up to `timeout` for the process to exit on its own; its exit code, or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    return process_.wait_for(timeout);
  }
  // Waits until the log (stderr) contains `text`; false after `timeout`.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout = 30s) const;

 private:
  std::string dir_;
  FrontcacheOptions options_;
  uint16_t port_ = 0;
  Process process_;
};

// True once a PING on host:port answers +PONG, polling until `timeout`.
bool wait_for_pong(uint16_t port, std::chrono::milliseconds timeout, Process* process = nullptr);

}  // namespace frontcache::integration
