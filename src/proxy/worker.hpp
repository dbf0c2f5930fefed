// One worker thread: its io_context, its SO_REUSEPORT listener, the sessions it accepted and
// the upstream connections they share. Everything here runs on the worker's own thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <atomic>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "frontcache/upstream/pool.hpp"
#include "shared.hpp"

namespace frontcache::proxy {

class Session;

class Worker {
 public:
  Worker(Shared& shared, std::size_t index);
  ~Worker();

  // Opens the listening socket; throws std::runtime_error when it cannot.
  void bind(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  // Thread-safe: stops accepting, closes sessions and upstream connections.
  void stop();
  void join();
  // Ends the event loop now, abandoning whatever is still running (after a grace period).
  void force_stop() { io_.stop(); }
  bool finished() const { return finished_.load(); }

  boost::asio::io_context& io() { return io_; }
  Shared& shared() { return shared_; }
  upstream::Pool& pool() { return pool_; }
  std::size_t index() const { return index_; }

  // Sessions of this worker, for CLIENT LIST and shutdown. Returns the position for remove().
  std::list<Session*>::iterator add(Session* session);
  void remove(std::list<Session*>::iterator it);
  const std::list<Session*>& sessions() const { return sessions_; }

  // Keys written through this worker, published on the invalidation channel once per event
  // loop turn (many writes, one PUBLISH).
  void publish(std::span<const std::string_view> keys);
  void publish_all();

 private:
  boost::asio::awaitable<void> accept_loop();
  void schedule_publish();
  void flush_publish();

  Shared& shared_;
  std::size_t index_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  upstream::Pool pool_;
  std::list<Session*> sessions_;
  std::string publish_body_;  // <len>:<key>... of the keys waiting to be published
  bool publish_all_ = false;
  bool publish_scheduled_ = false;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace frontcache::proxy
