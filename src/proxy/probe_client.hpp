// The startup probe's connection to the upstream: blocking request/reply over the same
// upstream::Stream as every other upstream connection (plain TCP, or TLS with upstream.tls), run
// on an io_context of its own, before the workers start. Replies are decoded by hiredis's
// socket-free redisReader (RESP2), as hiredis's blocking client did before TLS.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "frontcache/upstream/connection.hpp"

struct redisReply;

namespace frontcache::proxy {

class ProbeClient {
 public:
  explicit ProbeClient(upstream::Settings settings);
  ~ProbeClient();
  ProbeClient(const ProbeClient&) = delete;
  ProbeClient& operator=(const ProbeClient&) = delete;

  // Connects (and completes the TLS handshake) within connect_timeout; false with error() set.
  bool connect();
  // Sends one command and waits up to command_timeout for its reply. Null with error() set;
  // otherwise the caller frees the reply with freeReplyObject(). After a write or read failed,
  // every later command fails at once: the stream is not used again.
  redisReply* command(const std::vector<std::string>& args);
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frontcache::proxy
