#include "fake_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <stdexcept>

namespace frontcache::testing {

void Notification::notify() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

bool Notification::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return done_; });
}

bool Notification::notified() const {
  std::lock_guard lock(mu_);
  return done_;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string resp_array(const std::vector<std::string>& items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const auto& item : items) {
    out += "$" + std::to_string(item.size()) + "\r\n" + item + "\r\n";
  }
  return out;
}

namespace {

// Parses "<digits>\r\n" at data[pos]; moves pos past it.
std::optional<long long> number_line(std::string_view data, std::size_t& pos) {
  const auto end = data.find("\r\n", pos);
  if (end == std::string_view::npos) return std::nullopt;
  long long n = 0;
  const auto [ptr, ec] = std::from_chars(data.data() + pos, data.data() + end, n);
  if (ec != std::errc() || ptr != data.data() + end) return std::nullopt;
  pos = end + 2;
  return n;
}

enum class Parse { Complete, NeedMore, Invalid };

// One command at the start of `data`: its arguments and length.
Parse parse_command(std::string_view data, std::vector<std::string>& args, std::size_t& length) {
  if (data.empty()) return Parse::NeedMore;
  if (data[0] != '*') return Parse::Invalid;
  std::size_t pos = 1;
  const auto count = number_line(data, pos);
  if (!count) return data.find("\r\n") == std::string_view::npos ? Parse::NeedMore : Parse::Invalid;
  args.clear();
  for (long long i = 0; i < *count; ++i) {
    if (pos >= data.size()) return Parse::NeedMore;
    if (data[pos] != '$') return Parse::Invalid;
    ++pos;
    const auto len = number_line(data, pos);
    if (!len) {
      return data.find("\r\n", pos) == std::string_view::npos ? Parse::NeedMore : Parse::Invalid;
    }
    if (pos + static_cast<std::size_t>(*len) + 2 > data.size()) return Parse::NeedMore;
    args.emplace_back(data.substr(pos, static_cast<std::size_t>(*len)));
    pos += static_cast<std::size_t>(*len) + 2;
  }
  length = pos;
  return Parse::Complete;
}

}  // namespace

FakeConnection::FakeConnection(int fd, int index, const std::atomic<bool>& stopping)
    : fd_(fd), index_(index), stopping_(stopping) {}

FakeConnection::~FakeConnection() { close(); }

void FakeConnection::close() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
  }
  fd_ = -1;
}

// Reads what arrives. What has already happened on the socket (data, the peer's close) is
// reported even when the server is stopping; only a wait with nothing to read ends early then.
FakeConnection::Fill FakeConnection::fill(std::chrono::steady_clock::time_point deadline) {
  while (fd_ >= 0) {
    const auto now = std::chrono::steady_clock::now();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::clamp<long long>(left.count(), 0, 50)));
    if (ready < 0 && errno != EINTR) return Fill::Closed;
    if (ready > 0) {
      char chunk[16384];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return Fill::Data;
      }
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return Fill::Closed;  // closed or reset by the peer
    }
    if (stopping_ || std::chrono::steady_clock::now() >= deadline) return Fill::Timeout;
  }
  return Fill::Closed;
}

std::optional<std::vector<std::string>> FakeConnection::read_command(
    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> args;
    std::size_t length = 0;
    switch (parse_command(buffer_, args, length)) {
      case Parse::Complete:
        buffer_.erase(0, length);
        return args;
      case Parse::Invalid:
        return std::nullopt;
      case Parse::NeedMore:
        if (fill(deadline) != Fill::Data) return std::nullopt;
    }
  }
}

bool FakeConnection::write(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return bytes.empty();
}

bool FakeConnection::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    switch (fill(deadline)) {
      case Fill::Data:
        buffer_.clear();
        continue;
      case Fill::Closed:
        return true;
      case Fill::Timeout:
        return false;
    }
  }
}

FakeUpstream::FakeUpstream(Script script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("FakeUpstream: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeUpstream::~FakeUpstream() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void FakeUpstream::accept_loop() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    const int index = accepted_.load();
    connections_.push_back(std::make_unique<FakeConnection>(fd, index, stopping_));
    FakeConnection* connection = connections_.back().get();
    threads_.emplace_back([this, connection] {
      script_(*connection);
      // The script is done with it: the connection stays open until the server goes (a script
      // that wants the peer to see a close calls close()).
    });
    accepted_.fetch_add(1);
  }
}

bool FakeUpstream::wait_accepted(int n, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return accepted_.load() >= n; }, timeout);
}

IoThread::IoThread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

IoThread::~IoThread() {
  work_.reset();
  io_.stop();
  thread_.join();
}

}  // namespace frontcache::testing
