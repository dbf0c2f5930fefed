// The byte stream of one upstream connection: a TCP socket, with a TLS session over it when
// upstream.tls is on (Settings::tls). Every upstream connection (shared, pinned, subscriber,
// tracker, the startup probe) connects through connect() and reads and writes through
// read_some() / write(), so TLS is decided in one place. socket() is the TCP layer, for options,
// readiness waits and close; on a TLS stream, bytes must only go through read_some() / write().
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>

#include "frontcache/upstream/connection.hpp"

namespace frontcache::upstream {

class Stream {
 public:
  using Result = std::tuple<boost::system::error_code, std::size_t>;

  explicit Stream(const boost::asio::any_io_executor& executor) : socket_(executor) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Connects to settings.host:port and, with settings.tls, completes the TLS handshake (a fresh
  // session each time), all within settings.connect_timeout. Returns "" or why it could not
  // ("connect timeout after 1000ms", "TLS handshake with 127.0.0.1:6379 failed: certificate
  // verify failed: unable to get local issuer certificate"). No operation may be pending.
  boost::asio::awaitable<std::string> connect(boost::asio::steady_timer& timer,
                                              const Settings& settings);

  bool tls() const { return tls_ != nullptr; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

  // At most one read_some and one write at a time (they may overlap).
  template <typename MutableBuffers>
  boost::asio::awaitable<Result> read_some(const MutableBuffers& buffers) {
    constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);
    if (tls_) return tls_->async_read_some(buffers, kNoThrow);
    return socket_.async_read_some(buffers, kNoThrow);
  }
  template <typename ConstBuffers>
  boost::asio::awaitable<Result> write(const ConstBuffers& buffers) {
    constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);
    if (tls_) return boost::asio::async_write(*tls_, buffers, kNoThrow);
    return boost::asio::async_write(socket_, buffers, kNoThrow);
  }

  // Shuts the socket down and closes it; pending operations complete with an error. The TLS
  // session is kept until the next connect(), since those operations may still refer to it.
  void close();

 private:
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
};

}  // namespace frontcache::upstream
