// The proxy: `workers` threads, each with its own io_context, SO_REUSEPORT listener, client
// sessions and upstream connections (DESIGN.md §1). The forwarding path has no cross-thread
// locks; what workers share is read-only config and relaxed atomic counters.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "frontcache/cache/cache.hpp"
#include "frontcache/config/config.hpp"

namespace frontcache::proxy {

// Builds the TLS contexts `config` asks for (tls.*, upstream.tls) as startup does, reading the
// certificate and key files; returns the errors (`tls.key_file /x.pem: does not match ...`).
// For --check-config.
std::vector<std::string> check_tls(const config::Config& config);

class Server {
 public:
  explicit Server(config::Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Where the config came from, for SIGHUP: the file (empty: built-in defaults, nothing to
  // reload) and the command-line overrides applied on top of it again at each reload.
  void set_config_source(std::string path, config::CommandLine overrides);
  // Sources of the L1 metrics (/metrics), called on the metrics thread; set before run().
  // Unset: the frontcache_l1_* metrics are left out.
  void set_cache_stats_source(std::function<cache::CacheStats()> source);
  void set_l1_bypass_source(std::function<bool()> source);

  // Binds every worker's listening socket and the metrics endpoint. Throws std::runtime_error
  // naming the address when it cannot, before any thread starts.
  void bind();
  // Runs until SIGINT/SIGTERM or stop(), then drains (up to shutdown_timeout); returns when
  // every worker thread has ended. SIGHUP reloads the config file meanwhile.
  void run();
  // Thread-safe: begins the graceful shutdown.
  void stop();
  // Re-reads the config file (what SIGHUP does). Call from one thread at a time.
  void reload();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frontcache::proxy
