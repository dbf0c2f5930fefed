#include "frontcache/upstream/stream.hpp"

#include <fmt/format.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "frontcache/tls/context.hpp"
#include "frontcache/upstream/connect.hpp"

namespace frontcache::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<std::string> Stream::connect(asio::steady_timer& timer, const Settings& settings) {
  constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
  tls_.reset();  // a TLS session is not reused across connections
  std::string error = co_await connect_socket(socket_, timer, settings);
  if (!error.empty() || !settings.tls) co_return error;
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *settings.tls->context);
  tls::prepare(tls_->native_handle(), *settings.tls);
  timer.expires_after(settings.connect_timeout);
  auto result = co_await (tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow) ||
                          timer.async_wait(kNoThrow));
  if (result.index() == 1) {
    co_return fmt::format("TLS handshake with {}:{} timed out after {}ms", settings.host,
                          settings.port, settings.connect_timeout.count());
  }
  const auto [ec] = std::get<0>(result);
  if (ec) {
    co_return fmt::format("TLS handshake with {}:{} failed: {}", settings.host, settings.port,
                          tls::handshake_error(ec, tls_->native_handle()));
  }
  co_return std::string();
}

void Stream::close() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace frontcache::upstream
