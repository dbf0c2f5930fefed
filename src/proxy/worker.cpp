#include "worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "session.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

upstream::Settings upstream_settings(const config::Config& c) {
  upstream::Settings s;
  s.host = c.upstream.address.host;
  s.port = c.upstream.address.port;
  s.username = c.upstream.username;
  s.password = c.upstream.password;
  s.connect_timeout = c.upstream.connect_timeout;
  s.command_timeout = c.upstream.command_timeout;
  return s;
}

}  // namespace

Worker::Worker(Shared& shared, std::size_t index)
    : shared_(shared),
      index_(index),
      io_(1),
      acceptor_(io_),
      pool_(io_, upstream_settings(shared.config), shared.config.upstream.connections_per_worker),
      upstream_settings_(upstream_settings(shared.config)) {}

Worker::~Worker() { join(); }

void Worker::bind(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.set_option(ReusePort(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("listen {}:{}: {}", endpoint.address().to_string(),
                                         endpoint.port(), ec.message()));
  }
}

void Worker::start() {
  pool_.start();
  asio::co_spawn(io_, accept_loop(), [index = index_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("worker {} accept loop ended: {}", index, ex.what());
    }
  });
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("worker {} stopped by an exception: {}", index_, e.what());
    }
    finished_ = true;
  });
}

void Worker::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (Session* s : std::list<Session*>(sessions_)) s->close();
    pool_.stop();
    for (auto& c : idle_pinned_) c->stop();
    pinned_held_ -= idle_pinned_.size();
    idle_pinned_.clear();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

std::list<Session*>::iterator Worker::add(Session* session) {
  return sessions_.insert(sessions_.end(), session);
}

void Worker::remove(std::list<Session*>::iterator it) { sessions_.erase(it); }

namespace {
constexpr std::size_t kMaxIdlePinned = 16;
}

std::shared_ptr<upstream::DedicatedConnection> Worker::acquire_pinned() {
  while (!idle_pinned_.empty()) {
    auto c = std::move(idle_pinned_.back());
    idle_pinned_.pop_back();
    if (c->alive()) return c;
    --pinned_held_;
  }
  if (pinned_held_ >= shared_.config.upstream.max_pinned_per_worker) {
    shared_.stats.pinned_refused.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  ++pinned_held_;
  shared_.stats.pinned_opened.fetch_add(1, std::memory_order_relaxed);
  auto c = std::make_shared<upstream::DedicatedConnection>(io_, upstream_settings_);
  c->start();
  return c;
}

void Worker::release_pinned(std::shared_ptr<upstream::DedicatedConnection> connection,
                            bool reusable) {
  if (!connection) return;
  connection->detach();
  if (reusable && connection->alive() && idle_pinned_.size() < kMaxIdlePinned) {
    idle_pinned_.push_back(std::move(connection));
    return;
  }
  connection->stop();
  --pinned_held_;
}

asio::awaitable<void> Worker::accept_loop() {
  asio::steady_timer backoff(io_);
  auto last_warning = std::chrono::steady_clock::time_point{};
  const std::size_t max_clients = shared_.config.limits.max_clients;
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on a listener that stays readable.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_warning > std::chrono::seconds(10)) {
        spdlog::warn("worker {} accept failed: {} (backing off)", index_, ec.message());
        last_warning = now;
      }
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    shared_.stats.total_connections.fetch_add(1, std::memory_order_relaxed);
    const auto clients = shared_.stats.connected_clients.fetch_add(1, std::memory_order_relaxed);
    if (static_cast<std::size_t>(clients) >= max_clients) {
      shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
      shared_.stats.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(kFull), ignored);
      socket.close(ignored);
      continue;
    }
    std::make_shared<Session>(*this, std::move(socket))->start();
  }
}

}  // namespace frontcache::proxy
