#include "frontcache/proxy/server.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <thread>

#include "shared.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;

namespace {

// Asks the upstream, once at startup, for what sessions need to answer locally: the number
// of databases (SELECT's range) and its version (HELLO). Defaults stay when it is down or
// CONFIG is renamed away; a failure here is not fatal.
void probe_upstream(Shared& shared) {
  const auto& up = shared.config.upstream;
  const auto timeout_ms = up.connect_timeout.count();
  timeval tv{static_cast<time_t>(timeout_ms / 1000),
             static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  redisContext* c = redisConnectWithTimeout(up.address.host.c_str(), up.address.port, tv);
  if (c == nullptr || c->err != 0) {
    spdlog::warn("upstream {}:{} not reachable at startup ({}); serving errors until it is",
                 up.address.host, up.address.port, c != nullptr ? c->errstr : "out of memory");
    if (c != nullptr) redisFree(c);
    return;
  }
  redisSetTimeout(c, tv);
  auto command = [&](std::vector<std::string> args) -> redisReply* {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  };
  bool authed = true;
  if (!up.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!up.username.empty()) auth.push_back(up.username);
    auth.push_back(up.password);
    redisReply* r = command(auth);
    authed = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
      spdlog::error("upstream {}:{} refused AUTH: {}", up.address.host, up.address.port,
                    r != nullptr ? r->str : c->errstr);
    }
    if (r != nullptr) freeReplyObject(r);
  }
  if (authed) {
    if (redisReply* r = command({"CONFIG", "GET", "databases"}); r != nullptr) {
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[1]->type == REDIS_REPLY_STRING) {
        shared.databases = std::max(1, std::atoi(r->element[1]->str));
      }
      freeReplyObject(r);
    }
    if (redisReply* r = command({"INFO", "server"}); r != nullptr) {
      if (r->type == REDIS_REPLY_STRING) {
        std::string_view text(r->str, r->len);
        constexpr std::string_view kKey = "redis_version:";
        if (auto pos = text.find(kKey); pos != std::string_view::npos) {
          auto end = text.find("\r\n", pos);
          shared.upstream_version = std::string(text.substr(pos + kKey.size(), end - pos - kKey.size()));
        }
      }
      freeReplyObject(r);
    }
  }
  redisFree(c);
}

}  // namespace

struct Server::Impl {
  explicit Impl(config::Config config) : shared(std::move(config)) {}

  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  asio::io_context signals_io{1};
};

Server::Server(config::Config config) : impl_(std::make_unique<Impl>(std::move(config))) {
  auto& shared = impl_->shared;
  shared.workers = shared.config.workers != 0
                       ? shared.config.workers
                       : std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < shared.workers; ++i) {
    impl_->workers.push_back(std::make_unique<Worker>(shared, i));
    shared.all_workers.push_back(impl_->workers.back().get());
  }
}

Server::~Server() = default;

void Server::bind() {
  const auto& listen = impl_->shared.config.listen;
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(impl_->signals_io);
  auto results = resolver.resolve(listen.host, std::to_string(listen.port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error(
        fmt::format("listen {}:{}: cannot resolve: {}", listen.host, listen.port, ec.message()));
  }
  const auto endpoint = results.begin()->endpoint();
  for (auto& w : impl_->workers) w->bind(endpoint);
}

void Server::run() {
  auto& shared = impl_->shared;
  probe_upstream(shared);
  const auto& cfg = shared.config;
  spdlog::info("frontcache {} listening on {}:{}, upstream {}:{}, {} workers", FRONTCACHE_VERSION,
               cfg.listen.host, cfg.listen.port, cfg.upstream.address.host,
               cfg.upstream.address.port, shared.workers);
  for (auto& w : impl_->workers) w->start();

  asio::signal_set signals(impl_->signals_io, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", signal);
    stop();
  });
  impl_->signals_io.run();
  // Workers end once their sessions and upstream connections are closed; past the grace
  // period their loops are stopped where they are.
  const auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_timeout;
  for (auto& w : impl_->workers) {
    while (!w->finished() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!w->finished()) w->force_stop();
    w->join();
  }
  spdlog::info("frontcache stopped");
}

void Server::stop() {
  for (auto& w : impl_->workers) w->stop();
  impl_->signals_io.stop();
}

}  // namespace frontcache::proxy
