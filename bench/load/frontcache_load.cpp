// frontcache-load: a small Redis load generator for the benchmarks (bench/run.sh).
//
// Unlike redis-benchmark it draws keys from a Zipf distribution, mixes reads and writes, runs
// open-loop (requests sent on a schedule, latency measured from the scheduled time, so a
// stalled server is not hidden by coordinated omission) or closed-loop (each client sends its
// pipeline and waits), and can hold thousands of idle connections open while the working
// clients run. One thread, one io_context, plain callbacks: nothing is allocated per request.
//
// The result is one JSON line on stdout (and a human summary on stderr).
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using frontcache::bench::Histogram;

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "6379";
  int clients = 50;
  int pipeline = 1;
  double seconds = 5;
  double warmup = 1;
  bool open_loop = false;
  double rate = 10000;           // open loop: requests per second, all clients together
  std::string workload = "get";  // get | set | mix
  double read_ratio = 0.9;
  std::size_t keys = 100000;
  std::string key_prefix = "key:";
  int key_width = 12;  // zero-padded like redis-benchmark's __rand_int__; 0 = no padding
  bool zipf = false;
  double zipf_s = 0.99;
  std::size_t value_size = 100;
  bool populate = false;
  bool populate_only = false;
  bool sweep_only = false;
  std::string upstream_port;  // Redis behind the target: its connected_clients are reported
  int idle = 0;
  int rss_pid = 0;
  std::vector<int> cpu_pids;  // processes whose CPU time per operation is reported
  unsigned long long seed = 1;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "frontcache-load: %s\n"
               "usage: frontcache-load [--host H] [--port P] [--clients N] [--pipeline P]\n"
               "  [--seconds S] [--warmup S] [--closed | --open --rate R]\n"
               "  [--workload get|set|mix] [--read-ratio F] [--keys N] [--key-prefix S]\n"
               "  [--key-width W] [--uniform | --zipf [--zipf-s S]] [--value-size B]\n"
               "  [--populate] [--populate-only] [--sweep-only] [--idle N] [--rss-pid PID]\n"
               "  [--cpu-pid PID]... [--upstream-port P] [--seed N]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (a == "--host")
      o.host = value();
    else if (a == "--port")
      o.port = value();
    else if (a == "--clients")
      o.clients = std::stoi(value());
    else if (a == "--pipeline")
      o.pipeline = std::stoi(value());
    else if (a == "--seconds")
      o.seconds = std::stod(value());
    else if (a == "--warmup")
      o.warmup = std::stod(value());
    else if (a == "--closed")
      o.open_loop = false;
    else if (a == "--open")
      o.open_loop = true;
    else if (a == "--rate")
      o.rate = std::stod(value());
    else if (a == "--workload")
      o.workload = value();
    else if (a == "--read-ratio")
      o.read_ratio = std::stod(value());
    else if (a == "--keys")
      o.keys = std::stoul(value());
    else if (a == "--key-prefix")
      o.key_prefix = value();
    else if (a == "--key-width")
      o.key_width = std::stoi(value());
    else if (a == "--uniform")
      o.zipf = false;
    else if (a == "--zipf")
      o.zipf = true;
    else if (a == "--zipf-s")
      o.zipf_s = std::stod(value());
    else if (a == "--value-size")
      o.value_size = std::stoul(value());
    else if (a == "--populate")
      o.populate = true;
    else if (a == "--populate-only")
      o.populate = o.populate_only = true;
    else if (a == "--sweep-only")
      o.sweep_only = true;
    else if (a == "--upstream-port")
      o.upstream_port = value();
    else if (a == "--idle")
      o.idle = std::stoi(value());
    else if (a == "--rss-pid")
      o.rss_pid = std::stoi(value());
    else if (a == "--cpu-pid")
      o.cpu_pids.push_back(std::stoi(value()));
    else if (a == "--seed")
      o.seed = std::stoull(value());
    else
      usage(("unknown option " + std::string(a)).c_str());
  }
  if (o.clients < 1 || o.pipeline < 1 || o.keys < 1 || o.seconds <= 0) usage("bad numbers");
  if (o.workload != "get" && o.workload != "set" && o.workload != "mix") usage("bad workload");
  if (o.open_loop && o.rate <= 0) usage("--open needs --rate > 0");
  return o;
}

// xorshift64*: fast and good enough to pick keys.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// Key ids 0..n-1; id 0 is the most popular under Zipf.
class KeyPicker {
 public:
  KeyPicker(std::size_t n, bool zipf, double s) : n_(n) {
    if (!zipf) return;
    cdf_.resize(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
      cdf_[i] = sum;
    }
    for (auto& c : cdf_) c /= sum;
  }
  std::size_t pick(Rng& rng) const {
    if (cdf_.empty()) return static_cast<std::size_t>(rng.next() % n_);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), rng.unit());
    return std::min(static_cast<std::size_t>(it - cdf_.begin()), n_ - 1);
  }

 private:
  std::size_t n_;
  std::vector<double> cdf_;
};

// Pre-encoded request pieces: "$<len>\r\n<key>\r\n" per key, and the SET value argument.
struct Requests {
  std::vector<std::string> key_args;
  std::string value_arg;

  explicit Requests(const Options& o) {
    key_args.reserve(o.keys);
    char digits[32];
    for (std::size_t i = 0; i < o.keys; ++i) {
      const int len = std::snprintf(digits, sizeof digits, "%0*zu", o.key_width, i);
      std::string key = o.key_prefix + std::string(digits, static_cast<std::size_t>(len));
      key_args.push_back("$" + std::to_string(key.size()) + "\r\n" + key + "\r\n");
    }
    value_arg =
        "$" + std::to_string(o.value_size) + "\r\n" + std::string(o.value_size, 'x') + "\r\n";
  }
  void append_get(std::string& out, std::size_t key) const {
    out.append("*2\r\n$3\r\nGET\r\n");
    out.append(key_args[key]);
  }
  void append_set(std::string& out, std::size_t key) const {
    out.append("*3\r\n$3\r\nSET\r\n");
    out.append(key_args[key]);
    out.append(value_arg);
  }
};

enum class Reply { NeedMore, Ok, Nil, Error, Bad };

// Frames one RESP2 reply at `p`; sets `used` to its length.
Reply frame(const char* p, const char* end, std::size_t& used) {
  if (p >= end) return Reply::NeedMore;
  const char* nl =
      static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  if (nl == nullptr) return Reply::NeedMore;
  const char* line_end = nl + 1;
  switch (*p) {
    case '+':
    case ':':
      used = static_cast<std::size_t>(line_end - p);
      return Reply::Ok;
    case '-':
      used = static_cast<std::size_t>(line_end - p);
      return Reply::Error;
    case '$': {
      long long len = 0;
      std::from_chars(p + 1, nl - 1, len);
      if (len < 0) {
        used = static_cast<std::size_t>(line_end - p);
        return Reply::Nil;
      }
      const std::size_t total =
          static_cast<std::size_t>(line_end - p) + static_cast<std::size_t>(len) + 2;
      if (static_cast<std::size_t>(end - p) < total) return Reply::NeedMore;
      used = total;
      return Reply::Ok;
    }
    case '*': {
      long long n = 0;
      std::from_chars(p + 1, nl - 1, n);
      std::size_t off = static_cast<std::size_t>(line_end - p);
      for (long long i = 0; i < n; ++i) {
        std::size_t part = 0;
        const Reply r = frame(p + off, end, part);
        if (r == Reply::NeedMore || r == Reply::Bad) return r;
        off += part;
      }
      used = off;
      return n < 0 ? Reply::Nil : Reply::Ok;
    }
    default:
      return Reply::Bad;
  }
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

struct Totals {
  Histogram latency;
  Histogram read_latency;
  Histogram write_latency;
  std::uint64_t ops = 0;
  std::uint64_t reads = 0;
  std::uint64_t nils = 0;
  std::uint64_t errors = 0;
  std::uint64_t sent = 0;
  std::uint64_t sent_reads = 0;  // warm-up included: to compare with the upstream's GET count
};

struct Run {
  const Options& opt;
  const Requests& req;
  const KeyPicker& keys;
  asio::io_context& io;
  std::uint64_t measure_from = 0;  // replies to requests sent before this are not recorded
  std::uint64_t stop_at = 0;       // no request is sent from this time on
  Totals totals;
  int live = 0;
  bool failed = false;
  std::function<void()> on_idle;  // every client has finished
};

// One working client. Closed loop: send `pipeline` requests, wait for all replies, repeat.
// Open loop: send every request whose scheduled time has come, whatever is outstanding.
class Client {
 public:
  Client(Run& run, tcp::socket socket, std::uint64_t seed)
      : run_(run), socket_(std::move(socket)), timer_(run.io), rng_{seed | 1} {
    in_.resize(64 * 1024);
    ring_.resize(1024);
  }

  void start() {
    ++run_.live;
    if (run_.opt.open_loop) {
      interval_ns_ = static_cast<std::uint64_t>(1e9 * run_.opt.clients / run_.opt.rate);
      next_due_ = now_ns() + rng_.next() % std::max<std::uint64_t>(interval_ns_, 1);
      schedule();
    } else {
      send_batch();
    }
    read();
  }

 private:
  struct InFlight {
    std::uint64_t sent;
    bool read;
  };

  void add_request(std::uint64_t sent) {
    const std::size_t key = run_.keys.pick(rng_);
    bool read = true;
    if (run_.opt.workload == "set") {
      read = false;
    } else if (run_.opt.workload == "mix") {
      read = rng_.unit() < run_.opt.read_ratio;
    }
    if (read)
      run_.req.append_get(out_, key);
    else
      run_.req.append_set(out_, key);
    if (count_ == ring_.size()) grow_ring();
    ring_[(head_ + count_) & (ring_.size() - 1)] = InFlight{sent, read};
    ++count_;
    ++run_.totals.sent;
    if (read) ++run_.totals.sent_reads;
  }

  void grow_ring() {
    std::vector<InFlight> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(bigger);
    head_ = 0;
  }

  void send_batch() {
    const std::uint64_t now = now_ns();
    if (now >= run_.stop_at) return stop();
    for (int i = 0; i < run_.opt.pipeline; ++i) add_request(now);
    flush();
  }

  void schedule() {
    const std::uint64_t now = now_ns();
    if (now >= run_.stop_at) return stop();
    while (next_due_ <= now) {
      add_request(next_due_);
      next_due_ += interval_ns_;
    }
    flush();
    timer_.expires_at(Clock::time_point(std::chrono::nanoseconds(next_due_)));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) schedule();
    });
  }

  void flush() {
    if (writing_ || out_.empty()) return;
    writing_ = true;
    wbuf_.swap(out_);
    asio::async_write(socket_, asio::buffer(wbuf_),
                      [this](boost::system::error_code ec, std::size_t) {
                        writing_ = false;
                        wbuf_.clear();
                        if (ec) return fail(ec);
                        flush();
                      });
  }

  void read() {
    if (end_ == in_.size()) {
      if (begin_ > 0) {
        std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      } else {
        in_.resize(in_.size() * 2);
      }
    }
    socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                            [this](boost::system::error_code ec, std::size_t n) {
                              if (ec) return fail(ec);
                              end_ += n;
                              on_bytes();
                            });
  }

  void on_bytes() {
    const std::uint64_t now = now_ns();
    auto& t = run_.totals;
    while (begin_ < end_) {
      std::size_t used = 0;
      const Reply r = frame(in_.data() + begin_, in_.data() + end_, used);
      if (r == Reply::NeedMore) break;
      if (r == Reply::Bad || count_ == 0) {
        std::fprintf(stderr, "frontcache-load: unexpected reply bytes\n");
        run_.failed = true;
        return finish();
      }
      begin_ += used;
      const InFlight f = ring_[head_];
      head_ = (head_ + 1) & (ring_.size() - 1);
      --count_;
      if (f.sent >= run_.measure_from && f.sent < run_.stop_at) {
        const std::uint64_t lat = now > f.sent ? now - f.sent : 0;
        t.latency.record(lat);
        (f.read ? t.read_latency : t.write_latency).record(lat);
        ++t.ops;
        if (f.read) ++t.reads;
        if (r == Reply::Nil) ++t.nils;
        if (r == Reply::Error) ++t.errors;
      }
    }
    if (begin_ == end_) begin_ = end_ = 0;
    if (stopping_ && count_ == 0) return finish();
    if (!run_.opt.open_loop && count_ == 0) send_batch();
    if (!done_) read();
  }

  // No more requests; the client ends once every reply it waits for has arrived.
  void stop() {
    stopping_ = true;
    if (count_ == 0) finish();
  }

  void fail(boost::system::error_code ec) {
    if (done_) return;
    std::fprintf(stderr, "frontcache-load: connection error: %s\n", ec.message().c_str());
    run_.failed = true;
    finish();
  }

  void finish() {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (--run_.live == 0 && run_.on_idle) run_.on_idle();
  }

  Run& run_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  Rng rng_;
  std::string out_;
  std::string wbuf_;
  bool writing_ = false;
  bool done_ = false;
  bool stopping_ = false;
  std::vector<char> in_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::vector<InFlight> ring_;  // power-of-two ring of requests awaiting replies
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint64_t interval_ns_ = 0;
  std::uint64_t next_due_ = 0;
};

tcp::socket connect(asio::io_context& io, const tcp::resolver::results_type& endpoints) {
  tcp::socket s(io);
  asio::connect(s, endpoints);
  s.set_option(tcp::no_delay(true));
  return s;
}

// SETs (populate) or GETs (sweep) every key once over one connection, in pipelined batches.
void populate(asio::io_context& io, const tcp::resolver::results_type& endpoints, const Options& o,
              const Requests& req, bool sweep = false) {
  tcp::socket s = connect(io, endpoints);
  std::string out;
  std::vector<char> in(1 << 20);
  constexpr std::size_t kBatch = 1000;
  for (std::size_t first = 0; first < o.keys; first += kBatch) {
    const std::size_t last = std::min(o.keys, first + kBatch);
    out.clear();
    for (std::size_t k = first; k < last; ++k) {
      if (sweep)
        req.append_get(out, k);
      else
        req.append_set(out, k);
    }
    asio::write(s, asio::buffer(out));
    std::size_t want = last - first, begin = 0, end = 0;
    while (want > 0) {
      if (end == in.size()) {
        std::memmove(in.data(), in.data() + begin, end - begin);
        end -= begin;
        begin = 0;
      }
      end += s.read_some(asio::buffer(in.data() + end, in.size() - end));
      std::size_t used = 0;
      for (;;) {
        const Reply r = frame(in.data() + begin, in.data() + end, used);
        if (r == Reply::NeedMore) break;
        if (r == Reply::Bad || r == Reply::Error) throw std::runtime_error("populate: error reply");
        begin += used;
        if (--want == 0) break;
      }
    }
  }
}

// connected_clients of the Redis at 127.0.0.1:port (INFO clients), or -1.
long redis_clients(asio::io_context& io, const std::string& host, const std::string& port) {
  if (port.empty()) return -1;
  tcp::resolver resolver(io);
  tcp::socket s(io);
  asio::connect(s, resolver.resolve(host, port));
  static constexpr std::string_view kInfo = "*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n";
  asio::write(s, asio::buffer(kInfo));
  std::string text;
  char buf[4096];
  std::size_t used = 0;
  while (frame(text.data(), text.data() + text.size(), used) == Reply::NeedMore) {
    text.append(buf, s.read_some(asio::buffer(buf)));
  }
  const auto at = text.find("connected_clients:");
  // The probe's own connection is not counted.
  return at == std::string::npos ? -1 : std::strtol(text.c_str() + at + 18, nullptr, 10) - 1;
}

// Time on CPU of every thread of `pid` so far, in ns: the first field of each
// /proc/PID/task/TID/schedstat (user and system time together, as the scheduler counts it).
// Threads that ended before the call are not counted, so a process measured this way should
// keep its threads (frontcache, Redis and twemproxy do).
std::uint64_t cpu_ns(int pid) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream f(task.path() / "schedstat");
    unsigned long long ns = 0;
    if (f >> ns) total += ns;
  }
  return total;
}

long rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse_options(argc, argv);
  raise_fd_limit();
  asio::io_context io(1);
  tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(opt.host, opt.port);
  const Requests req(opt);
  if (opt.populate) populate(io, endpoints, opt, req);
  if (opt.sweep_only) populate(io, endpoints, opt, req, true);
  if (opt.populate_only || opt.sweep_only) {
    std::printf("{\"keys\":%zu}\n", opt.keys);
    return 0;
  }

  // Idle connections first, each proven alive with a PING, so that their memory is in the
  // server's RSS before the working clients start.
  const long rss_before = opt.rss_pid > 0 ? rss_kb(opt.rss_pid) : -1;
  std::vector<tcp::socket> idle;
  idle.reserve(static_cast<std::size_t>(opt.idle));
  static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
  for (int i = 0; i < opt.idle; ++i) {
    idle.push_back(connect(io, endpoints));
    asio::write(idle.back(), asio::buffer(kPing));
    char pong[7];
    asio::read(idle.back(), asio::buffer(pong));
  }
  const long rss_idle = opt.rss_pid > 0 ? rss_kb(opt.rss_pid) : -1;
  const long upstream_clients = redis_clients(io, opt.host, opt.upstream_port);

  const KeyPicker keys(opt.keys, opt.zipf, opt.zipf_s);
  Run run{opt, req, keys, io, 0, 0, Totals{}, 0, false, nullptr};
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < opt.clients; ++i) {
    clients.push_back(
        std::make_unique<Client>(run, connect(io, endpoints),
                                 opt.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(i)));
  }
  const std::uint64_t start = now_ns();
  run.measure_from = start + static_cast<std::uint64_t>(opt.warmup * 1e9);
  run.stop_at = run.measure_from + static_cast<std::uint64_t>(opt.seconds * 1e9);
  for (auto& c : clients) c->start();
  // CPU time of the measured processes over the measured window (requests sent from
  // measure_from to stop_at, the ones `ops` counts).
  std::vector<std::uint64_t> cpu_from(opt.cpu_pids.size()), cpu_to(opt.cpu_pids.size());
  asio::steady_timer cpu_start(io, Clock::time_point(std::chrono::nanoseconds(run.measure_from)));
  asio::steady_timer cpu_stop(io, Clock::time_point(std::chrono::nanoseconds(run.stop_at)));
  if (!opt.cpu_pids.empty()) {
    cpu_start.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      for (std::size_t i = 0; i < opt.cpu_pids.size(); ++i) cpu_from[i] = cpu_ns(opt.cpu_pids[i]);
    });
    cpu_stop.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      for (std::size_t i = 0; i < opt.cpu_pids.size(); ++i) cpu_to[i] = cpu_ns(opt.cpu_pids[i]);
    });
  }
  // A server that stops answering must not hang the benchmark.
  asio::steady_timer deadline(
      io, Clock::time_point(std::chrono::nanoseconds(run.stop_at)) + std::chrono::seconds(10));
  deadline.async_wait([&](boost::system::error_code ec) {
    if (ec) return;
    std::fprintf(stderr, "frontcache-load: replies still missing 10s after the end\n");
    run.failed = true;
    io.stop();
  });
  run.on_idle = [&] { deadline.cancel(); };
  io.run();
  const long rss_after = opt.rss_pid > 0 ? rss_kb(opt.rss_pid) : -1;

  const Totals& t = run.totals;
  // "cpu1_us_per_op" for the first --cpu-pid, "cpu2_us_per_op" for the second, ...
  std::string cpu_json;
  for (std::size_t i = 0; i < opt.cpu_pids.size(); ++i) {
    const double per_op = t.ops > 0 && cpu_to[i] >= cpu_from[i]
                              ? us(cpu_to[i] - cpu_from[i]) / static_cast<double>(t.ops)
                              : 0;
    cpu_json += "\"cpu" + std::to_string(i + 1) + "_us_per_op\":" + std::to_string(per_op) + ",";
  }
  const double rps = static_cast<double>(t.ops) / opt.seconds;
  const auto& h = t.latency;
  const auto& r = t.read_latency;
  std::printf(
      "{\"ops\":%llu,\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
      "\"max_us\":%.1f,\"read_p50_us\":%.1f,\"read_p99_us\":%.1f,\"read_p999_us\":%.1f,"
      "\"reads\":%llu,\"sent_reads\":%llu,\"nils\":%llu,\"errors\":%llu,\"idle\":%d,\"rss_before_"
      "kb\":%ld,"
      "\"rss_idle_kb\":%ld,\"rss_after_kb\":%ld,\"upstream_clients\":%ld,%s\"failed\":%s}\n",
      static_cast<unsigned long long>(t.ops), rps, us(h.quantile(0.5)), us(h.quantile(0.99)),
      us(h.quantile(0.999)), us(h.max()), us(r.quantile(0.5)), us(r.quantile(0.99)),
      us(r.quantile(0.999)), static_cast<unsigned long long>(t.reads),
      static_cast<unsigned long long>(t.sent_reads), static_cast<unsigned long long>(t.nils),
      static_cast<unsigned long long>(t.errors), opt.idle, rss_before, rss_idle, rss_after,
      upstream_clients, cpu_json.c_str(), run.failed ? "true" : "false");
  std::fprintf(stderr, "%llu ops in %.1fs: %.0f ops/s  p50 %.1fus  p99 %.1fus  p99.9 %.1fus\n",
               static_cast<unsigned long long>(t.ops), opt.seconds, rps, us(h.quantile(0.5)),
               us(h.quantile(0.99)), us(h.quantile(0.999)));
  return run.failed || t.ops == 0 ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "frontcache-load: %s\n", e.what());
  return 1;
}
