// The proxy: `workers` threads, each with its own io_context, SO_REUSEPORT listener, client
// sessions and upstream connections (DESIGN.md §1). The forwarding path has no cross-thread
// locks; what workers share is read-only config and relaxed atomic counters.
#pragma once

#include <memory>

#include "frontcache/config/config.hpp"

namespace frontcache::proxy {

class Server {
 public:
  explicit Server(config::Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's listening socket. Throws std::runtime_error naming the address when
  // it cannot, before any thread starts.
  void bind();
  // Runs until SIGINT/SIGTERM or stop(); returns when every worker thread has ended.
  void run();
  // Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frontcache::proxy
