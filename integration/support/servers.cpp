#include "servers.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tls.hpp"

namespace frontcache::integration {

bool wait_for_pong(uint16_t port, std::chrono::milliseconds timeout, Process* process) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (process && !process->running()) return false;
    RawClient c("127.0.0.1", port, 200ms);
    if (c.connected() && c.send("PING\r\n", 200ms)) {
      auto reply = c.read_reply(500ms);
      // A proxy requiring AUTH answers NOAUTH: up all the same.
      if (reply && (*reply == "+PONG\r\n" || reply->starts_with("-NOAUTH"))) return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

RedisServer::RedisServer(std::string dir, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start_on(free_port(), 10s)) return;
  }
  throw std::runtime_error("redis-server did not start; last log:\n" + log());
}

RedisServer::RedisServer(std::string dir, RedisTls tls, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)), tls_(std::move(tls)) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start_on(free_port(), 10s)) return;
  }
  throw std::runtime_error("redis-server (TLS) did not start; last log:\n" + log());
}

RedisServer::RedisServer(std::string dir, uint16_t port, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (start_on(port, 5s)) return;
    std::this_thread::sleep_for(50ms);  // retry interval while the old socket lingers
  }
  throw std::runtime_error("redis-server did not start on port " + std::to_string(port));
}

namespace {

bool wait_for_tls_pong(uint16_t port, const RedisTls& tls, std::chrono::milliseconds timeout,
                       Process& process) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const TlsClientOptions options{tls.ca_file, tls.client_cert, tls.client_key};
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process.running()) return false;
    TlsClient c(port, options, 500ms);
    if (c.connected() && c.command({"PING"}) == "+PONG\r\n") return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

bool RedisServer::start_on(uint16_t port, std::chrono::milliseconds ready_timeout) {
  port_ = port;
  ++starts_;
  std::vector<std::string> argv = {"redis-server",
                                   "--port",
                                   std::to_string(port),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--daemonize",
                                   "no",
                                   "--dir",
                                   dir_,
                                   "--logfile",
                                   ""};
  if (tls_) {
    argv[2] = "0";
    argv.insert(argv.end(), {"--tls-port", std::to_string(port), "--tls-cert-file", tls_->cert_file,
                             "--tls-key-file", tls_->key_file, "--tls-ca-cert-file", tls_->ca_file,
                             "--tls-auth-clients", tls_->auth_clients ? "yes" : "no"});
  }
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  const std::string log_path = dir_ + "/redis-" + std::to_string(port) + ".log";
  SpawnOptions spawn;
  spawn.argv = argv;
  spawn.stdout_path = spawn.stderr_path = log_path;
  spawn.append = true;
  process_ = Process(spawn);
  const bool ready = tls_ ? wait_for_tls_pong(port, *tls_, ready_timeout, process_)
                          : wait_for_pong(port, ready_timeout, &process_);
  if (ready) return true;
  process_.kill();
  return false;
}

void RedisServer::restart() {
  process_.kill();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (start_on(port_, 5s)) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_));
}

std::string RedisServer::log() const {
  return read_file(dir_ + "/redis-" + std::to_string(port_) + ".log");
}

Frontcache::Frontcache(std::string dir, FrontcacheOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    std::ostringstream yaml;
    yaml << "listen: 127.0.0.1:" << port_ << "\n"
         << "workers: "
         << (options_.workers == 0 ? std::string("auto") : std::to_string(options_.workers)) << "\n"
         << "upstream:\n"
         << "  address: 127.0.0.1:" << options_.upstream_port << "\n"
         << "  connections_per_worker: " << options_.connections_per_worker << "\n"
         << (options_.upstream_yaml.find("command_timeout:") == std::string::npos
                 ? "  command_timeout: " + options_.command_timeout + "\n"
                 : std::string())
         << options_.upstream_yaml << "log:\n"
         << "  level: info\n"
         << options_.extra_yaml;
    write_file(config_path(), yaml.str());
    std::vector<std::string> argv = options_.launcher;
    argv.insert(argv.end(), {options_.binary, "--config", config_path()});
    SpawnOptions spawn;
    spawn.argv = argv;
    spawn.stdout_path = dir_ + "/frontcache.stdout.log";
    spawn.stderr_path = dir_ + "/frontcache.log";
    spawn.environment = options_.environment;
    process_ = Process(spawn);
    if (wait_for_pong(port_, 15s, &process_)) return;
    // Exited: maybe the port was taken in between; anything else repeats and is reported.
    process_.kill();
  }
  throw std::runtime_error("frontcache did not become ready; config:\n" + read_file(config_path()) +
                           "\nlog:\n" + log());
}

Frontcache::~Frontcache() { stop(); }

std::optional<int> Frontcache::stop(std::chrono::milliseconds grace) {
  if (!process_.valid()) return process_.exit_code();
  return process_.terminate(grace);
}

std::string Frontcache::log() const { return read_file(dir_ + "/frontcache.log"); }

bool Frontcache::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

long Frontcache::rss_kb() const {
  std::ifstream in("/proc/" + std::to_string(process_.pid()) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

}  // namespace frontcache::integration
