// frontcache-echo: the physical limit of a RESP server on this machine. It parses nothing but
// the request framing and answers every request with fixed reply bytes: a bulk string of
// --value-size bytes (what a GET of a bench key returns), "+OK" for SET, "+PONG" for PING. No
// keys, no cache, no allocation per request: what is left is the kernel's work (epoll_wait,
// read, write on loopback) and the least user-space work any server must do. bench/run.sh
// measures its CPU per request next to Redis's and frontcache's.
//
//   frontcache-echo --listen 127.0.0.1:7001 [--value-size 100]
//
// One thread, level-triggered epoll, as Redis: per wake-up, each readable connection gets one
// read(), its complete requests are answered with one write(). Prints "ready" once it listens.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "frontcache-echo: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Conn {
  int fd = -1;
  std::string in;   // an incomplete request carried over to the next read
  std::string out;  // reply bytes the socket did not take yet
  bool want_write = false;
};

// Length of the complete multibulk request at the start of `s`; 0 when incomplete, npos when
// it is not a multibulk request. `first` is set to its first argument.
std::size_t frame_request(std::string_view s, std::string_view& first) {
  if (s.empty()) return 0;
  if (s[0] != '*') return std::string_view::npos;
  std::size_t pos = 0;
  auto line = [&](long long& n) {
    const std::size_t nl = s.find("\r\n", pos);
    if (nl == std::string_view::npos) return false;
    std::from_chars(s.data() + pos + 1, s.data() + nl, n);
    pos = nl + 2;
    return true;
  };
  long long argc = 0;
  if (!line(argc)) return 0;
  for (long long i = 0; i < argc; ++i) {
    if (pos >= s.size()) return 0;
    if (s[pos] != '$') return std::string_view::npos;
    long long len = 0;
    if (!line(len)) return 0;
    if (s.size() < pos + static_cast<std::size_t>(len) + 2) return 0;
    if (i == 0) first = s.substr(pos, static_cast<std::size_t>(len));
    pos += static_cast<std::size_t>(len) + 2;
  }
  return pos;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

class Server {
 public:
  Server(int listen_fd, std::size_t value_size) : listen_fd_(listen_fd) {
    bulk_ = "$" + std::to_string(value_size) + "\r\n" + std::string(value_size, 'x') + "\r\n";
    epfd_ = epoll_create1(0);
    if (epfd_ < 0) die("epoll_create1");
    watch(listen_fd_, EPOLLIN, nullptr);
  }

  void run() {
    std::vector<epoll_event> events(1024);
    std::vector<char> buf(kReadChunk);
    for (;;) {
      const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr);
        if (c == nullptr) {
          accept_all();
          continue;
        }
        const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
        if ((ev & EPOLLOUT) != 0 && !flush(*c)) continue;
        if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) serve(*c, buf);
      }
    }
  }

 private:
  void watch(int fd, std::uint32_t events, Conn* c) {
    epoll_event e{};
    e.events = events;
    e.data.ptr = c;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl");
  }

  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (conns_.size() <= static_cast<std::size_t>(fd))
        conns_.resize(static_cast<std::size_t>(fd) + 1);
      conns_[static_cast<std::size_t>(fd)] = std::make_unique<Conn>();
      Conn& c = *conns_[static_cast<std::size_t>(fd)];
      c.fd = fd;
      watch(fd, EPOLLIN, &c);
    }
  }

  void serve(Conn& c, std::vector<char>& buf) {
    const ssize_t got = read(c.fd, buf.data(), buf.size());
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return close_conn(c);
    if (got < 0) return;
    std::string_view data(buf.data(), static_cast<std::size_t>(got));
    if (!c.in.empty()) {
      c.in.append(data);
      data = c.in;
    }
    std::size_t used = 0;
    for (;;) {
      std::string_view first;
      const std::size_t n = frame_request(data.substr(used), first);
      if (n == std::string_view::npos) return close_conn(c);
      if (n == 0) break;
      used += n;
      if (iequals(first, "GET")) {
        c.out += bulk_;
      } else if (iequals(first, "SET")) {
        c.out += "+OK\r\n";
      } else if (iequals(first, "PING")) {
        c.out += "+PONG\r\n";
      } else {
        c.out += "-ERR frontcache-echo answers GET, SET and PING only\r\n";
      }
    }
    if (c.in.empty()) {
      c.in.assign(data.substr(used));
    } else {
      c.in.erase(0, used);
    }
    if (!c.want_write) flush(c);
  }

  // Writes what is pending; false when the connection was closed.
  bool flush(Conn& c) {
    while (!c.out.empty()) {
      const ssize_t n = write(c.fd, c.out.data(), c.out.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          close_conn(c);
          return false;
        }
        break;
      }
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    const bool want = !c.out.empty();
    if (want != c.want_write) {
      c.want_write = want;
      epoll_event e{};
      e.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      e.data.ptr = &c;
      epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &e);
    }
    return true;
  }

  void close_conn(Conn& c) {
    const int fd = c.fd;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_[static_cast<std::size_t>(fd)].reset();
  }

  int listen_fd_;
  int epfd_ = -1;
  std::string bulk_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:7001";
  std::size_t value_size = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--listen") {
      listen = argv[i + 1];
    } else if (a == "--value-size") {
      value_size = std::strtoul(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: frontcache-echo --listen HOST:PORT [--value-size N]\n");
      return 2;
    }
  }
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "frontcache-echo: --listen needs HOST:PORT\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(listen.c_str() + colon + 1)));
  if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "frontcache-echo: bad address %s\n", listen.c_str());
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("bind");
  if (::listen(fd, 1024) < 0) die("listen");
  Server server(fd, value_size);
  std::printf("ready\n");
  std::fflush(stdout);
  server.run();
}
