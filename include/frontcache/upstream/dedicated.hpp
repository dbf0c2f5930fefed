// A dedicated upstream connection for one pinned session (MULTI/WATCH, blocking commands,
// SUBSCRIBE, MONITOR, CLIENT TRACKING). Unlike the shared Connection it is a plain byte stream:
// requests go out in order and every reply frame comes back to the target as it arrives,
// including frames no request asked for (pub/sub messages, MONITOR lines). The target matches
// frames to requests. No command timeout (a BLPOP may block for minutes) and no reconnect: when
// it drops, the connection state upstream is gone and the target is told once.
//
//   send() ─► out_ ─► write_loop ─► socket ─► read_loop ─► ReplyFramer ─► target.on_frame
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "frontcache/resp/reply_framer.hpp"
#include "frontcache/upstream/connection.hpp"

namespace boost::asio {
class io_context;
}

namespace frontcache::upstream {

class StreamTarget {
 public:
  virtual ~StreamTarget() = default;
  // One complete reply frame, valid during the call only.
  virtual void on_frame(std::string_view frame, resp::ReplyKind kind) = 0;
  // The connection failed or was closed by the upstream; called at most once.
  virtual void on_stream_closed(const std::string& reason) = 0;
};

class DedicatedConnection {
 public:
  DedicatedConnection(boost::asio::io_context& io, Settings settings);
  ~DedicatedConnection();
  DedicatedConnection(const DedicatedConnection&) = delete;
  DedicatedConnection& operator=(const DedicatedConnection&) = delete;

  // Connects (AUTH, CLIENT SETNAME, CLIENT ID) in the background; requests sent meanwhile are held
  // and written once the handshake is done.
  void start();
  // Points frames at `target` (a session taking this connection from the idle list).
  void attach(std::weak_ptr<StreamTarget> target);
  // Detaches the target: later frames and the close notice are dropped.
  void detach();
  // Closes the socket; the target (if any) is not notified.
  void stop();
  // False once the connection failed or was stopped.
  bool alive() const;
  // Its CLIENT ID upstream (asked in the handshake); 0 until the handshake's reply came.
  std::uint64_t upstream_id() const;
  // The server it connects to (a cluster has one per master).
  const std::string& host() const;
  std::uint16_t port() const;
  const std::string& node_id() const;  // Settings::node_id (cluster mode), checked on connect
  // Queues one complete RESP request.
  void send(std::string_view request);
  // Makes the connection fit for another session (detaching the current target): sends RESET,
  // then AUTH and CLIENT SETNAME again, and calls `done(true)` once all three were answered as
  // expected; `done(false)` when anything else came back or the connection failed (it is then
  // stopped). Frames that arrive before +RESET (pub/sub messages, MONITOR lines) are dropped.
  void recycle(std::function<void(bool)> done);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace frontcache::upstream
