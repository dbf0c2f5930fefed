#include "frontcache/metrics/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "frontcache/metrics/metrics.hpp"

namespace frontcache::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxRequestBytes = 16 * 1024;

bool is_path(std::string_view target, std::string_view path) {
  return target == path || (target.starts_with(path) && target[path.size()] == '?');
}

http::response<http::string_body> respond(const http::request<http::string_body>& request,
                                          const HttpServer::Render& render,
                                          const HttpServer::Ready& ready) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::server, "frontcache");
  response.set(http::field::content_type, "text/plain");
  const std::string_view target(request.target().data(), request.target().size());
  const bool metrics_path = is_path(target, "/metrics");
  const bool health_path = is_path(target, "/healthz");
  const bool ready_path = is_path(target, "/readyz");
  if (!metrics_path && !health_path && !ready_path) {
    response.result(http::status::not_found);
    response.body() = "not found; try /metrics, /healthz or /readyz\n";
  } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "method not allowed\n";
  } else if (health_path) {
    response.result(http::status::ok);
    response.body() = "ok\n";
  } else if (ready_path) {
    const Readiness r = ready ? ready() : Readiness{};
    response.result(r.ready ? http::status::ok : http::status::service_unavailable);
    response.body() = r.ready ? "ready\n" : "not ready: " + r.reason + "\n";
  } else {
    response.result(http::status::ok);
    response.set(http::field::content_type, kContentType);
    response.body() = render();
  }
  response.prepare_payload();
  if (request.method() == http::verb::head) response.body().clear();
  return response;
}

}  // namespace

struct HttpServer::Impl {
  Impl(std::string h, std::uint16_t p, Render r, Ready y)
      : host(std::move(h)), port(p), render(std::move(r)), ready(std::move(y)), acceptor(io) {}

  static asio::awaitable<void> accept_loop(Impl* self);
  static asio::awaitable<void> serve(Impl* self, tcp::socket socket);

  std::string host;
  std::uint16_t port;
  Render render;
  Ready ready;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  std::thread thread;
};

asio::awaitable<void> HttpServer::Impl::accept_loop(Impl* self) {
  asio::steady_timer backoff(self->io);
  for (;;) {
    auto [ec, socket] = co_await self->acceptor.async_accept(kNoThrow);
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) co_return;
    if (ec) {
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    asio::co_spawn(self->io, serve(self, std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::debug("metrics connection ended by an exception: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> HttpServer::Impl::serve(Impl* self, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(kMaxRequestBytes);
  for (;;) {
    stream.expires_after(kRequestTimeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxRequestBytes);
    parser.body_limit(kMaxRequestBytes);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (rec) break;
    auto response = respond(parser.get(), self->render, self->ready);
    const bool keep_alive = response.keep_alive();
    stream.expires_after(kRequestTimeout);
    auto [wec, wn] = co_await http::async_write(stream, response, kNoThrow);
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

HttpServer::HttpServer(std::string host, std::uint16_t port, Render render, Ready ready)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(render), std::move(ready))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::bind() {
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto results = resolver.resolve(impl_->host, std::to_string(impl_->port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error(fmt::format("metrics.listen {}:{}: cannot resolve: {}", impl_->host,
                                         impl_->port, ec.message()));
  }
  const auto endpoint = results.begin()->endpoint();
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("metrics.listen {}:{}: {}", impl_->host, impl_->port, ec.message()));
  }
}

void HttpServer::start() {
  Impl* impl = impl_.get();
  asio::co_spawn(impl->io, Impl::accept_loop(impl), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("metrics accept loop ended: {}", ex.what());
    }
  });
  impl->thread = std::thread([impl] {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      spdlog::error("metrics thread stopped by an exception: {}", e.what());
    }
  });
}

void HttpServer::stop() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t HttpServer::port() const {
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->port : endpoint.port();
}

}  // namespace frontcache::metrics
