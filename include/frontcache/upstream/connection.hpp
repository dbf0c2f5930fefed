// Upstream: one pipelined connection to Redis, shared by every client session of a worker.
// Requests are appended as raw RESP bytes and written in batches; replies are framed in the
// byte stream and handed back, as raw bytes, in FIFO order to whoever sent each request.
//
//   send() ─► out_ ─► write_loop ─► socket ─► read_loop ─► ReplyFramer ─► pending_.front()
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "frontcache/resp/reply_framer.hpp"

namespace boost::asio {
class io_context;
}
namespace frontcache::tls {
struct Client;
}

namespace frontcache::upstream {

class DataTracking;

// Receives the reply to one request. Called on the connection's executor, once per request:
// with the upstream's reply bytes, or with an error reply the connection made up when the
// request was lost (timeout, connection reset). The bytes are valid during the call only.
class ReplyTarget {
 public:
  virtual ~ReplyTarget() = default;
  virtual void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) = 0;
};

struct Settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string username;
  std::string password;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
  int protocol = 2;  // 3: HELLO 3 in the handshake, replies in RESP3 (for RESP3 clients)
  // Cluster mode: the id the slot map gives the node at host:port. When set, the handshake asks
  // CLUSTER MYID and refuses a server that answers another id or is no cluster node (a dead
  // master's address can be taken by another Redis while the map still names it). Empty: no
  // check (standalone, or a node known only from a MOVED/ASK).
  std::string node_id;
  // TLS over every connection (upstream.tls); null: plain TCP. Shared by all connections.
  std::shared_ptr<const tls::Client> tls;
  // invalidation.tracking: default, shared connections only: CLIENT TRACKING on REDIRECT <the
  // invalidation subscriber> before the first request of each generation (data_tracking.hpp).
  std::shared_ptr<DataTracking> tracking;
};

enum class State { Connecting, Ready, Closed };

// A handle on one upstream connection. All state lives in Impl (in the .cpp), so Asio stays out
// of this header; the handle must be used on the io_context's thread only.
class Connection {
 public:
  Connection(boost::asio::io_context& io, Settings settings, std::size_t index);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the connect / serve / reconnect loop.
  void start();
  // Closes the socket, fails what is pending, and stops reconnecting.
  void stop();

  State state() const;
  bool ready() const { return state() == State::Ready; }
  // Why the connection is not ready ("connection refused", ...), for error replies and INFO.
  const std::string& last_error() const;
  std::size_t pending() const;
  std::uint64_t reconnects() const;
  // A read sent now may be cached: no data tracking (Settings::tracking), or the connection is
  // pointed at the current invalidation subscriber (requests queued from now on are tracked).
  bool tracked() const;

  // Queues `request` (one complete RESP command) to run in database `db` (-1: any, for
  // commands such as PUBLISH that do not depend on it). Returns false when
  // the connection is not ready: nothing was queued and the caller answers the client itself.
  // The reply reaches target->on_reply(tag, ...) exactly once.
  bool send(int db, std::string_view request, std::shared_ptr<ReplyTarget> target,
            std::uint64_t tag);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with the connection's coroutines
};

}  // namespace frontcache::upstream
