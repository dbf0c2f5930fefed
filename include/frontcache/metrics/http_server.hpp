// The operator's HTTP endpoint (Boost.Beast): its own thread and io_context, so a slow scraper
// never delays a client request.
//   GET /metrics   Prometheus text: calls `render` on that thread
//   GET /healthz   200 while the process serves HTTP at all (liveness)
//   GET /readyz    200 when `ready` says so, else 503 with its reason (readiness: route traffic
//                  here or not)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace frontcache::metrics {

struct Readiness {
  bool ready = true;
  std::string reason;  // why not ready (empty when ready)
};

class HttpServer {
 public:
  using Render = std::function<std::string()>;
  using Ready = std::function<Readiness()>;

  // `ready` unset: /readyz always answers 200.
  HttpServer(std::string host, std::uint16_t port, Render render, Ready ready = {});
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
