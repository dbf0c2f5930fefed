#include "net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace frontcache::integration {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::Error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::Nil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::IoError;
      out.str = "unknown hiredis reply type " + std::to_string(r->type);
  }
  return out;
}

// Parses "<digits>\r\n" at data[pos]; returns the number and moves pos past the CRLF.
std::optional<long long> parse_line_number(std::string_view data, size_t& pos) {
  size_t end = data.find("\r\n", pos);
  if (end == std::string_view::npos) return std::nullopt;
  long long value = 0;
  auto [ptr, ec] = std::from_chars(data.data() + pos, data.data() + end, value);
  if (ec != std::errc() || ptr != data.data() + end) return std::nullopt;
  pos = end + 2;
  return value;
}

size_t value_end(std::string_view data, size_t pos);

size_t aggregate_end(std::string_view data, size_t pos, long long count) {
  for (long long i = 0; i < count; ++i) {
    pos = value_end(data, pos);
    if (pos == 0) return 0;
  }
  return pos;
}

// Offset one past the RESP value starting at `pos`, 0 when incomplete or malformed.
size_t value_end(std::string_view data, size_t pos) {
  if (pos >= data.size()) return 0;
  const char type = data[pos];
  size_t p = pos + 1;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case '#':
    case ',':
    case '(': {
      size_t end = data.find("\r\n", p);
      return end == std::string_view::npos ? 0 : end + 2;
    }
    case '$':
    case '!':
    case '=': {
      auto len = parse_line_number(data, p);
      if (!len) return 0;
      if (*len < 0) return p;
      size_t end = p + static_cast<size_t>(*len) + 2;
      return end <= data.size() ? end : 0;
    }
    case '*':
    case '~':
    case '>': {
      auto count = parse_line_number(data, p);
      if (!count) return 0;
      if (*count < 0) return p;
      return aggregate_end(data, p, *count);
    }
    case '%':
    case '|': {
      auto count = parse_line_number(data, p);
      if (!count) return 0;
      size_t end = aggregate_end(data, p, *count * 2);
      // An attribute is followed by the value it annotates.
      return (type == '|' && end != 0) ? value_end(data, end) : end;
    }
    default:
      return 0;
  }
}

}  // namespace

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind to 127.0.0.1:0 failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Reply::to_string() const {
  switch (type) {
    case Type::String:
      return "\"" + str + "\"";
    case Type::Status:
      return "+" + str;
    case Type::Error:
      return "-" + str;
    case Type::Integer:
      return ":" + std::to_string(integer);
    case Type::Nil:
      return "(nil)";
    case Type::IoError:
      return "<io error: " + str + ">";
    case Type::Array: {
      std::string s = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i) s += ", ";
        s += elements[i].to_string();
      }
      return s + "]";
    }
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const Reply& reply) { return os << reply.to_string(); }

RedisClient::RedisClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {
  reconnect();
}

RedisClient::RedisClient(RedisClient&& other) noexcept
    : host_(std::move(other.host_)),
      port_(other.port_),
      timeout_(other.timeout_),
      ctx_(other.ctx_),
      error_(std::move(other.error_)) {
  other.ctx_ = nullptr;
}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    if (ctx_) redisFree(ctx_);
    host_ = std::move(other.host_);
    port_ = other.port_;
    timeout_ = other.timeout_;
    ctx_ = other.ctx_;
    error_ = std::move(other.error_);
    other.ctx_ = nullptr;
  }
  return *this;
}

RedisClient::~RedisClient() {
  if (ctx_) redisFree(ctx_);
}

bool RedisClient::connected() const { return ctx_ != nullptr && ctx_->err == 0; }

bool RedisClient::reconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(timeout_));
  if (ctx_ == nullptr) {
    error_ = "cannot allocate redis context";
    return false;
  }
  if (ctx_->err) {
    error_ = ctx_->errstr;
    return false;
  }
  redisSetTimeout(ctx_, to_timeval(timeout_));
  error_.clear();
  return true;
}

Reply RedisClient::read_reply() {
  Reply out;
  if (!connected()) {
    out.str = error_.empty() ? "not connected" : error_;
    return out;
  }
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
    error_ = ctx_->errstr;
    out.str = error_;
    if (ctx_->err == 0) ctx_->err = REDIS_ERR_IO;  // keep connected() false from now on
    return out;
  }
  out = convert(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return out;
}

Reply RedisClient::command(const std::vector<std::string>& argv) {
  return pipeline({argv}).front();
}

std::vector<Reply> RedisClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  if (connected()) {
    for (const auto& argv : commands) {
      std::vector<const char*> ptrs;
      std::vector<size_t> lens;
      for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    }
  }
  for (size_t i = 0; i < commands.size(); ++i) replies.push_back(read_reply());
  return replies;
}

RawClient::RawClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                     const std::string& source) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      close();
      return;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  int rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd pfd{fd_, POLLOUT, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
    }
  }
  if (rc != 0) {
    close();
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() { close(); }

void RawClient::shutdown_send() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!bytes.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Drain replies while waiting so that a peer blocked on writing to us cannot deadlock.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLOUT | POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
      if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!read_some(std::chrono::steady_clock::now()) && peer_closed_) return false;
      }
      continue;
    }
    return false;  // EPIPE / ECONNRESET
  }
  return bytes.empty();
}

bool RawClient::read_some(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0 || peer_closed_) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd pfd{fd_, POLLIN, 0};
  int pr = ::poll(&pfd, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
  if (pr <= 0) return false;
  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n > 0) {
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  peer_closed_ = true;  // orderly close (0) or reset
  return false;
}

const std::string& RawClient::read_at_least(size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffer_.size() < n && std::chrono::steady_clock::now() < deadline && !peer_closed_) {
    read_some(deadline);
  }
  return buffer_;
}

std::optional<std::string> RawClient::read_reply(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string_view rest(buffer_);
    rest.remove_prefix(consumed_);
    if (size_t len = resp_value_length(rest)) {
      consumed_ += len;
      return std::string(rest.substr(0, len));
    }
    if (peer_closed_ || fd_ < 0 || std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    read_some(deadline);
  }
}

bool RawClient::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!peer_closed_ && fd_ >= 0 && std::chrono::steady_clock::now() < deadline) {
    read_some(deadline);
  }
  return peer_closed_;
}

void RawClient::read_for(std::chrono::milliseconds duration) { read_until_closed(duration); }

const std::string& RawClient::read_available() {
  // read_some polls with the deadline already passed: it takes what is there and never waits.
  while (read_some(std::chrono::steady_clock::now())) {
  }
  return buffer_;
}

size_t resp_value_length(std::string_view data) { return value_end(data, 0); }

}  // namespace frontcache::integration
