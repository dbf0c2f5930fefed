// Loopback networking helpers for the integration suite: free ports, a hiredis client with
// timeouts that returns owned reply trees, and a raw socket client for arbitrary bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace frontcache::integration {

using namespace std::chrono_literals;

// Binds 127.0.0.1:0, reads the port the kernel chose and closes the socket. Callers retry on
// a bind failure: another process may take the port between this call and their bind.
uint16_t free_port();

// An owned copy of a hiredis reply (RESP2). `IoError` stands for "no reply": connection
// refused, closed, timed out or unparsable; `str` then holds hiredis's error text.
struct Reply {
  enum class Type { String, Array, Integer, Nil, Status, Error, IoError };
  Type type = Type::IoError;
  std::string str;
  long long integer = 0;
  std::vector<Reply> elements;

  bool is_error() const { return type == Type::Error; }
  bool is_io_error() const { return type == Type::IoError; }
  // RESP-like rendering for assertion messages and for comparing two reply streams.
  std::string to_string() const;
  bool operator==(const Reply& other) const = default;
};

std::ostream& operator<<(std::ostream& os, const Reply& reply);

// A blocking hiredis connection whose every call has a deadline (`timeout` for connect, each
// read and each write). After an IoError the connection is unusable; call reconnect().
class RedisClient {
 public:
  RedisClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = 5s);
  RedisClient(RedisClient&&) noexcept;
  RedisClient& operator=(RedisClient&&) noexcept;
  ~RedisClient();

  bool connected() const;
  const std::string& error() const { return error_; }
  bool reconnect();

  Reply command(const std::vector<std::string>& argv);
  template <typename... Args>
  Reply operator()(Args&&... args) {
    return command({std::string(std::forward<Args>(args))...});
  }
  // Sends every command in one write, then reads one reply per command.
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  Reply read_reply();

  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
  std::string error_;
};

// A plain TCP connection for sending arbitrary bytes and reading raw replies.
class RawClient {
 public:
  // `source`: the local IPv4 address to connect from (any of 127.0.0.0/8 on loopback), or ""
  // for the kernel's choice.
  RawClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout = 5s,
            const std::string& source = "");
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient();

  bool connected() const { return fd_ >= 0; }
  // Writes all of `bytes` before `timeout`; false when the peer closed or reset the connection
  // (the replies it sent before closing can still be read with read_*).
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = 5s);
  // Reads whatever arrives until `n` bytes are buffered in total, the peer closes, or the
  // deadline passes. Returns everything received so far on this connection.
  const std::string& read_at_least(size_t n, std::chrono::milliseconds timeout = 5s);
  // Reads until one complete RESP reply is buffered after `consumed()`, then consumes it.
  // nullopt on timeout or close.
  std::optional<std::string> read_reply(std::chrono::milliseconds timeout = 5s);
  // Reads until the peer closes (true) or the deadline passes (false).
  bool read_until_closed(std::chrono::milliseconds timeout);
  // Reads for `duration` whatever arrives (for "nothing must arrive" checks).
  void read_for(std::chrono::milliseconds duration);
  // Reads whatever has already arrived, without waiting. Returns everything received so far.
  const std::string& read_available();

  const std::string& received() const { return buffer_; }
  bool closed_by_peer() const { return peer_closed_; }
  // Half-closes: the peer reads end-of-file after what was sent; replies can still be read.
  void shutdown_send();
  void close();

 private:
  // One poll+recv step; false on deadline.
  bool read_some(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  size_t consumed_ = 0;
  bool peer_closed_ = false;
};

// Length of the complete RESP2/RESP3 value at the start of `data`, or 0 when incomplete.
size_t resp_value_length(std::string_view data);

}  // namespace frontcache::integration
