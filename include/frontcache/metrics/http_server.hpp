// The /metrics HTTP endpoint (Boost.Beast): its own thread and io_context, so a slow scraper
// never delays a client request. Each GET /metrics calls `render` on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace frontcache::metrics {

class HttpServer {
 public:
  using Render = std::function<std::string()>;

  HttpServer(std::string host, std::uint16_t port, Render render);
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds; throws std::runtime_error naming the address when it cannot.
  void bind();
  // Starts the thread (after bind()).
  void start();
  // Thread-safe; idempotent.
  void stop();
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frontcache::metrics
