// frontcache-relay: a TCP relay that holds every byte for a set time in each direction, to put
// "one network hop" between a client and Redis on a machine that has only loopback (and no
// netem). With the default 250 µs each way, a request/reply pays a 0.5 ms round trip, like a
// same-zone hop. Bandwidth is not limited; only latency is added. Byte order is kept.
//
//   frontcache-relay --listen 127.0.0.1:7000 --upstream 127.0.0.1:6379 [--delay-us 250]
//
// One thread, plain callbacks. Prints "ready" on stdout once it listens.
#include <sys/resource.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxQueued = 16u << 20;  // reading pauses past this many held bytes

struct Held {
  Clock::time_point due;
  std::vector<char> bytes;
};

class Link;

// One direction of a link: read from `from`, hold each chunk until its due time, write to `to`.
class Pipe {
 public:
  // Every pending operation holds a reference to the link, so the link (and its pipes) lives
  // until the last callback has run.
  Pipe(Link& link, tcp::socket& from, tcp::socket& to, Clock::duration delay)
      : link_(link), from_(from), to_(to), delay_(delay), timer_(from.get_executor()) {}

  void start() { read(); }
  void stop() { timer_.cancel(); }

 private:
  void read();
  void on_due();
  void fail();

  std::shared_ptr<Link> keep() const;

  Link& link_;
  tcp::socket& from_;
  tcp::socket& to_;
  Clock::duration delay_;
  asio::steady_timer timer_;
  std::deque<Held> held_;
  std::size_t held_bytes_ = 0;
  std::vector<char> buf_ = std::vector<char>(kChunk);
  std::vector<asio::const_buffer> gather_;
  std::size_t writing_count_ = 0;
  bool writing_ = false;
  bool timer_armed_ = false;
  bool reading_ = false;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(tcp::socket client, tcp::socket server, Clock::duration delay)
      : client_(std::move(client)), server_(std::move(server)), delay_(delay) {}
  void start() {
    up_ = std::make_unique<Pipe>(*this, client_, server_, delay_);
    down_ = std::make_unique<Pipe>(*this, server_, client_, delay_);
    up_->start();
    down_->start();
  }
  // Either side closed or failed: close both; pending operations end with operation_aborted.
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    up_->stop();
    down_->stop();
  }

 private:
  tcp::socket client_;
  tcp::socket server_;
  Clock::duration delay_;
  std::unique_ptr<Pipe> up_;
  std::unique_ptr<Pipe> down_;
  bool closed_ = false;
};

std::shared_ptr<Link> Pipe::keep() const { return link_.shared_from_this(); }

void Pipe::read() {
  if (reading_ || held_bytes_ > kMaxQueued) return;
  reading_ = true;
  from_.async_read_some(
      asio::buffer(buf_), [this, k = keep()](boost::system::error_code ec, std::size_t n) {
        reading_ = false;
        if (ec) return fail();
        held_.push_back(Held{Clock::now() + delay_,
                             std::vector<char>(buf_.begin(), buf_.begin() + static_cast<long>(n))});
        held_bytes_ += n;
        if (!writing_ && !timer_armed_) {
          timer_armed_ = true;
          timer_.expires_at(held_.front().due);
          timer_.async_wait([this, k = keep()](boost::system::error_code tec) {
            timer_armed_ = false;
            if (!tec) on_due();
          });
        }
        read();
      });
}

// Writes every chunk that is due, in one gathered write, then waits for the next one.
void Pipe::on_due() {
  if (held_.empty() || writing_) return;
  const auto now = Clock::now();
  if (held_.front().due > now) {
    timer_armed_ = true;
    timer_.expires_at(held_.front().due);
    timer_.async_wait([this, k = keep()](boost::system::error_code ec) {
      timer_armed_ = false;
      if (!ec) on_due();
    });
    return;
  }
  gather_.clear();
  for (const auto& h : held_) {
    if (h.due > now) break;
    gather_.push_back(asio::buffer(h.bytes));
  }
  writing_count_ = gather_.size();
  writing_ = true;
  asio::async_write(to_, gather_, [this, k = keep()](boost::system::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return fail();
    for (std::size_t i = 0; i < writing_count_; ++i) {
      held_bytes_ -= held_.front().bytes.size();
      held_.pop_front();
    }
    read();
    on_due();
  });
}

void Pipe::fail() { link_.close(); }

struct Options {
  std::string listen_host = "127.0.0.1";
  std::string listen_port;
  std::string up_host = "127.0.0.1";
  std::string up_port;
  long delay_us = 250;
};

void split(std::string_view hp, std::string& host, std::string& port) {
  const auto colon = hp.rfind(':');
  if (colon == std::string_view::npos) {
    port = std::string(hp);
    return;
  }
  host = std::string(hp.substr(0, colon));
  port = std::string(hp.substr(colon + 1));
}

void accept_loop(tcp::acceptor& acceptor, const tcp::resolver::results_type& upstream,
                 Clock::duration delay) {
  acceptor.async_accept(
      [&acceptor, &upstream, delay](boost::system::error_code ec, tcp::socket client) {
        if (!ec) {
          tcp::socket server(acceptor.get_executor());
          boost::system::error_code cec;
          asio::connect(server, upstream, cec);
          if (!cec) {
            client.set_option(tcp::no_delay(true));
            server.set_option(tcp::no_delay(true));
            std::make_shared<Link>(std::move(client), std::move(server), delay)->start();
          }
        }
        if (ec != asio::error::operation_aborted) accept_loop(acceptor, upstream, delay);
      });
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--listen")
      split(argv[i + 1], o.listen_host, o.listen_port);
    else if (a == "--upstream")
      split(argv[i + 1], o.up_host, o.up_port);
    else if (a == "--delay-us")
      o.delay_us = std::strtol(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "frontcache-relay: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (o.listen_port.empty() || o.up_port.empty()) {
    std::fprintf(
        stderr, "usage: frontcache-relay --listen HOST:PORT --upstream HOST:PORT [--delay-us N]\n");
    return 2;
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  asio::io_context io(1);
  tcp::resolver resolver(io);
  const auto upstream = resolver.resolve(o.up_host, o.up_port);
  const auto local = *resolver.resolve(o.listen_host, o.listen_port).begin();
  tcp::acceptor acceptor(io, local.endpoint(), true);
  accept_loop(acceptor, upstream, std::chrono::microseconds(o.delay_us));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  std::printf("ready\n");
  std::fflush(stdout);
  io.run();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "frontcache-relay: %s\n", e.what());
  return 1;
}
