#include "frontcache/upstream/connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <random>
#include <vector>

#include "frontcache/resp/errors.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "frontcache/upstream/connect.hpp"
#include "frontcache/upstream/data_tracking.hpp"
#include "frontcache/upstream/stats.hpp"
#include "frontcache/upstream/stream.hpp"

namespace frontcache::upstream {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kMinBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepBufferBytes = 1 << 20;  // larger read buffers are freed when idle

// "closed by upstream" for an orderly close, with or without TLS's close_notify.
std::string read_error(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ? "closed by upstream"
                                                                            : ec.message();
}

std::chrono::milliseconds jittered(std::chrono::milliseconds base) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<long> dist(base.count() / 2, base.count());
  return std::chrono::milliseconds(dist(rng));
}

struct Pending {
  std::shared_ptr<ReplyTarget> target;  // null: our own command (tag: Own), its reply is ours
  std::uint64_t tag;
  std::chrono::steady_clock::time_point sent;
  bool db_bound = false;  // sent for a database (send() with db >= 0)
};

// The tag of a request the connection sent for itself.
enum Own : std::uint64_t { kSelect, kTracking, kPing };

}  // namespace

Stats& stats() {
  static Stats instance;
  return instance;
}

class Connection::Impl : public std::enable_shared_from_this<Connection::Impl> {
 public:
  Impl(asio::io_context& io, Settings settings, std::size_t index)
      : io_(io),
        stream_(io.get_executor()),
        signal_(io),
        timer_(io),
        settings_(std::move(settings)),
        index_(index) {}

  void start();
  void stop();
  bool send(int db, std::string_view request, std::shared_ptr<ReplyTarget> target,
            std::uint64_t tag);
  bool tracked() const {
    return !settings_.tracking || (pointed_ && gen_ == settings_.tracking->generation());
  }

  State state_ = State::Connecting;
  std::string last_error_ = "not connected yet";
  std::uint64_t reconnects_ = 0;
  std::deque<Pending> pending_;

 private:
  awaitable<void> run(std::shared_ptr<Impl> self);
  awaitable<bool> serve_once();
  awaitable<bool> connect();
  awaitable<bool> handshake();
  awaitable<bool> read_reply(std::string_view& reply, resp::ReplyKind& kind);
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<bool> gather_batch();
  awaitable<void> timeout_loop();
  void prepare_read_buffer();
  void close_socket();
  // Why the serving loops ended: the first loop to end says it; the others, cancelled by it,
  // would only say "Operation canceled".
  void failed(std::string what) {
    if (last_error_.empty()) last_error_ = std::move(what);
  }
  bool deliver(std::string_view reply, resp::ReplyKind kind);
  void fail_pending();
  void queue_own(std::string_view request, Own kind, std::chrono::steady_clock::time_point now);
  void point(std::chrono::steady_clock::time_point now);
  void tracking_ended();

  asio::io_context& io_;
  Stream stream_;
  asio::steady_timer signal_;  // wakes write_loop when out_ gains bytes
  asio::steady_timer timer_;   // connect deadline, backoff and timeout checks
  Settings settings_;
  std::size_t index_;
  int db_ = 0;  // database the upstream is in, as of the last queued request (-1: unknown)
  // A SELECT was refused as BUSY, and no SELECT since has been confirmed: the requests behind
  // it were written for a database Redis is not in (deliver()).
  bool select_refused_ = false;
  std::chrono::steady_clock::time_point last_read_{};  // when the upstream last sent bytes
  std::string out_;                                    // requests not yet handed to the socket
  std::string writing_;                                // requests being written
  bool writer_waiting_ = false;
  bool stopped_ = false;
  std::string failure_reply_;  // error for pending requests when the connection ends
  std::vector<char> rbuf_;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  resp::ReplyFramer framer_;
  // Data tracking (settings_.tracking): this connection's slot, the generation last pointed at
  // (or seen without a subscriber to point at), and whether CLIENT TRACKING was queued for it.
  std::shared_ptr<DataTracking::Slot> slot_;
  std::uint64_t gen_ = 0;
  bool pointed_ = false;
  std::chrono::steady_clock::time_point last_sent_{};
};

Connection::Connection(asio::io_context& io, Settings settings, std::size_t index)
    : impl_(std::make_shared<Impl>(io, std::move(settings), index)) {}

Connection::~Connection() { impl_->stop(); }

void Connection::start() { impl_->start(); }
void Connection::stop() { impl_->stop(); }
State Connection::state() const { return impl_->state_; }
const std::string& Connection::last_error() const { return impl_->last_error_; }
std::size_t Connection::pending() const { return impl_->pending_.size(); }
std::uint64_t Connection::reconnects() const { return impl_->reconnects_; }
bool Connection::tracked() const { return impl_->tracked(); }
bool Connection::send(int db, std::string_view request, std::shared_ptr<ReplyTarget> target,
                      std::uint64_t tag) {
  return impl_->send(db, request, std::move(target), tag);
}

void Connection::Impl::start() {
  asio::co_spawn(io_, run(shared_from_this()), [index = index_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("upstream connection {} loop ended: {}", index, ex.what());
    }
  });
}

// Connect, serve, and reconnect with jittered exponential backoff until stop(). `self` keeps
// the connection alive for as long as the loop runs (a parameter, so it lives in the frame).
awaitable<void> Connection::Impl::run([[maybe_unused]] std::shared_ptr<Impl> self) {
  auto backoff = kMinBackoff;
  while (!stopped_) {
    bool served = false;
    try {
      served = co_await serve_once();
    } catch (const std::exception& e) {
      last_error_ = e.what();
    }
    if (state_ == State::Ready) {  // left by an exception
      state_ = State::Connecting;
      stats().connections_ready.fetch_sub(1, std::memory_order_relaxed);
    }
    close_socket();
    fail_pending();
    tracking_ended();
    if (stopped_) break;
    state_ = State::Connecting;
    ++reconnects_;
    stats().reconnects.fetch_add(1, std::memory_order_relaxed);
    if (served) backoff = kMinBackoff;
    timer_.expires_after(jittered(backoff));
    co_await timer_.async_wait(kNoThrow);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  state_ = State::Closed;
}

void Connection::Impl::stop() {
  stopped_ = true;
  close_socket();
  timer_.cancel();
  signal_.cancel();
}

void Connection::Impl::close_socket() {
  stream_.close();
  signal_.cancel();
  timer_.cancel();
}

awaitable<bool> Connection::Impl::serve_once() {
  state_ = State::Connecting;
  db_ = 0;
  select_refused_ = false;
  framer_.reset();
  rbegin_ = rend_ = 0;
  out_.clear();
  failure_reply_ = "";
  const bool connected = co_await connect();
  if (!connected) co_return false;
  const bool accepted = co_await handshake();
  if (!accepted) co_return false;

  state_ = State::Ready;
  stats().connections_ready.fetch_add(1, std::memory_order_relaxed);
  if (reconnects_ > 0) {
    spdlog::info("upstream connection {} to {}:{} ready again", index_, settings_.host,
                 settings_.port);
  } else {
    spdlog::debug("upstream connection {} to {}:{} ready", index_, settings_.host, settings_.port);
  }
  last_error_.clear();
  co_await (read_loop() || write_loop() || timeout_loop());
  if (last_error_.empty()) last_error_ = "closed";
  state_ = State::Connecting;
  stats().connections_ready.fetch_sub(1, std::memory_order_relaxed);
  if (!stopped_) {
    spdlog::warn("upstream connection {} to {}:{} lost: {}", index_, settings_.host, settings_.port,
                 last_error_);
  }
  co_return true;
}

awaitable<bool> Connection::Impl::connect() {
  const std::string error = co_await stream_.connect(timer_, settings_);
  if (!error.empty()) {
    last_error_ = error;
    co_return false;
  }
  // Plain TCP: the loops try reads and writes before waiting for readiness.
  stream_.socket().non_blocking(true);
  co_return true;
}

// AUTH (when configured) and CLIENT SETNAME, read back before the connection is offered to
// sessions: a refused AUTH must not turn into a stream of NOAUTH replies to clients.
awaitable<bool> Connection::Impl::handshake() {
  std::string request;
  const std::size_t auth = static_cast<std::size_t>(append_auth(request, settings_));
  std::size_t expected = auth + 1;
  if (settings_.protocol == 3) {
    const std::string_view hello[] = {"HELLO", "3"};
    resp::encode_command(request, hello);
    ++expected;
  }
  constexpr std::size_t kNoCheck = static_cast<std::size_t>(-1);
  std::size_t myid = kNoCheck;  // the index of CLUSTER MYID's reply
  if (append_identity_check(request, settings_) > 0) {
    myid = expected - 1;  // CLIENT SETNAME, counted in `expected` from the start, comes last
    ++expected;
  }
  // Data tracking: the connection's CLIENT ID, by which fence rounds ask Redis whether it is
  // still there (data_tracking.hpp). Right before SETNAME, which stays last.
  std::size_t client_id = kNoCheck;
  if (settings_.tracking) {
    const std::string_view ask[] = {"CLIENT", "ID"};
    resp::encode_command(request, ask);
    client_id = expected - 1;
    ++expected;
  }
  const std::string_view setname[] = {"CLIENT", "SETNAME", "frontcache"};
  resp::encode_command(request, setname);

  auto [wec, written] = co_await stream_.write(asio::buffer(request));
  if (wec) {
    last_error_ = wec.message();
    co_return false;
  }
  for (std::size_t i = 0; i < expected; ++i) {
    std::string_view reply;
    resp::ReplyKind kind{};
    const bool got = co_await read_reply(reply, kind);
    if (!got) co_return false;
    if (i == client_id) {
      std::uint64_t id = 0;
      if (kind == resp::ReplyKind::Integer) {
        std::from_chars(reply.data() + 1, reply.data() + reply.size(), id);
      }
      if (!slot_) slot_ = settings_.tracking->attach();
      slot_->client_id.store(id, std::memory_order_relaxed);
      continue;
    }
    if (i == myid) {
      last_error_ = identity_error(settings_, reply);
      if (last_error_.empty()) continue;
      spdlog::warn("upstream {}:{}: {}", settings_.host, settings_.port, last_error_);
      co_return false;
    }
    if (!resp::is_error(kind)) continue;
    if (i < auth) {
      last_error_ = fmt::format("AUTH refused: {}", reply.substr(1, reply.size() - 3));
      spdlog::error("upstream {}:{}: {}", settings_.host, settings_.port, last_error_);
      co_return false;
    }
    if (i == auth && settings_.protocol == 3) {
      last_error_ = fmt::format("HELLO 3 refused: {}", reply.substr(1, reply.size() - 3));
      co_return false;
    }
  }
  co_return true;
}

// Reads one reply during the handshake (the pipelined loops are not running yet).
awaitable<bool> Connection::Impl::read_reply(std::string_view& reply, resp::ReplyKind& kind) {
  timer_.expires_after(settings_.command_timeout);
  for (;;) {
    if (rend_ > rbegin_) {
      std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
      auto status = framer_.frame(data);
      if (status == resp::FrameStatus::Error) {
        last_error_ = "protocol error in upstream reply";
        co_return false;
      }
      if (status == resp::FrameStatus::Complete) {
        reply = data.substr(0, framer_.consumed());
        kind = framer_.kind();
        rbegin_ += framer_.consumed();
        co_return true;
      }
    }
    prepare_read_buffer();
    auto result =
        co_await (stream_.read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_)) ||
                  timer_.async_wait(kNoThrow));
    if (result.index() == 1) {
      last_error_ = "handshake timeout";
      co_return false;
    }
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      last_error_ = read_error(ec);
      co_return false;
    }
    rend_ += n;
  }
}

void Connection::Impl::prepare_read_buffer() {
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = 0;
    if (rbuf_.size() > kKeepBufferBytes) {
      rbuf_.resize(kReadChunk);
      rbuf_.shrink_to_fit();
    }
  } else if (rbegin_ > 0 && rbuf_.size() - rend_ < kReadChunk) {
    std::copy(rbuf_.begin() + static_cast<long>(rbegin_), rbuf_.begin() + static_cast<long>(rend_),
              rbuf_.begin());
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  if (rbuf_.size() - rend_ < kReadChunk) {
    rbuf_.resize(std::max(rbuf_.size() * 2, rend_ + kReadChunk));
  }
}

// Like the client sessions: wait for readiness, then one non-blocking read, instead of
// async_read_some's speculative read that returns EAGAIN after every batch of replies. Over TLS
// the socket's readiness says nothing about decrypted bytes: the stream's own read is used.
awaitable<void> Connection::Impl::read_loop() {
  bool maybe_readable = true;  // bytes may be there that no readiness event will announce
  for (;;) {
    while (rend_ > rbegin_) {
      std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
      auto status = framer_.frame(data);
      if (status == resp::FrameStatus::NeedMore) break;
      if (status == resp::FrameStatus::Error) {
        failed("protocol error in upstream reply");
        failure_reply_ = "ERR upstream protocol error";
        co_return;
      }
      const std::size_t n = framer_.consumed();
      rbegin_ += n;
      if (!deliver(data.substr(0, n), framer_.kind())) co_return;
    }
    prepare_read_buffer();
    if (stream_.tls()) {
      auto [ec, n] =
          co_await stream_.read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_));
      if (ec) {
        failed(read_error(ec));
        co_return;
      }
      rend_ += n;
      last_read_ = std::chrono::steady_clock::now();
      continue;
    }
    if (!maybe_readable) {
      auto [wait_ec] = co_await stream_.socket().async_wait(tcp::socket::wait_read, kNoThrow);
      if (wait_ec) {
        failed(wait_ec.message());
        co_return;
      }
    }
    const std::size_t space = rbuf_.size() - rend_;
    boost::system::error_code ec;
    const std::size_t n = stream_.socket().read_some(asio::buffer(rbuf_.data() + rend_, space), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      maybe_readable = false;
      continue;
    }
    if (ec) {
      failed(read_error(ec));
      co_return;
    }
    rend_ += n;
    last_read_ = std::chrono::steady_clock::now();
    maybe_readable = n == space;
  }
}

// The writer was woken by the first request of a batch. Requests that other clients of this
// worker have ready (their reads are queued behind this handler) join it when the writer steps
// to the back of the worker's queue before writing: Redis then reads one larger batch instead of
// several small ones. Behind 50 clients sending SETs, one worker: Redis read 9 SETs per read
// without this and ~35 with it, its CPU per SET fell from 2.3 to 1.4 µs and the proxy's from 7.1
// to 6.3 µs (docs/benchmarks.md). Two steps at least (one step: Redis 1.55 µs), more while the
// previous step gained requests, up to kMaxBatchSteps. An idle proxy pays the two steps (no
// syscall; latency of one client unchanged within the noise).
awaitable<bool> Connection::Impl::gather_batch() {
  constexpr int kMinBatchSteps = 2;
  constexpr int kMaxBatchSteps = 8;
  constexpr std::size_t kMaxBatchBytes = 64 * 1024;
  for (int step = 0; step < kMaxBatchSteps && out_.size() < kMaxBatchBytes; ++step) {
    const std::size_t before = out_.size();
    co_await asio::post(stream_.socket().get_executor(), asio::use_awaitable);
    if (!stream_.socket().is_open()) co_return false;
    if (out_.size() == before && step + 1 >= kMinBatchSteps) break;
  }
  co_return true;
}

awaitable<void> Connection::Impl::write_loop() {
  for (;;) {
    while (out_.empty()) {
      writer_waiting_ = true;
      signal_.expires_at(asio::steady_timer::time_point::max());
      co_await signal_.async_wait(kNoThrow);
      writer_waiting_ = false;
      if (!stream_.socket().is_open()) co_return;
      if (!co_await gather_batch()) co_return;
    }
    writing_.swap(out_);
    stats().writes.fetch_add(1, std::memory_order_relaxed);
    if (stream_.tls()) {
      auto [ec, n] = co_await stream_.write(asio::buffer(writing_));
      writing_.clear();
      if (ec) {
        failed(ec.message());
        co_return;
      }
      continue;
    }
    // Write now; only what the socket does not take waits for writability (an async_write
    // that completes at once still costs a trip through the scheduler).
    boost::system::error_code ec;
    std::size_t sent = stream_.socket().write_some(asio::buffer(writing_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (!ec && sent < writing_.size()) {
      auto [write_ec, n] = co_await asio::async_write(
          stream_.socket(), asio::buffer(writing_.data() + sent, writing_.size() - sent), kNoThrow);
      ec = write_ec;
    }
    writing_.clear();
    if (ec) {
      failed(ec.message());
      co_return;
    }
  }
}

awaitable<void> Connection::Impl::timeout_loop() {
  auto tick = std::clamp(settings_.command_timeout / 4, std::chrono::milliseconds(10),
                         std::chrono::milliseconds(250));
  // Data tracking: an idle connection PINGs so that its proof stays recent (a busy one is
  // proven by its replies).
  const auto prove_every =
      settings_.tracking ? settings_.tracking->prove_every() / 2 : std::chrono::milliseconds::max();
  if (settings_.tracking)
    tick = std::min(tick, std::max(prove_every, std::chrono::milliseconds(1)));
  std::string ping;
  if (settings_.tracking) {
    const std::string_view command[] = {"PING"};
    resp::encode_command(ping, command);
  }
  for (;;) {
    timer_.expires_after(tick);
    auto [ec] = co_await timer_.async_wait(kNoThrow);
    if (ec) co_return;
    if (settings_.tracking && pending_.empty() && tracked()) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_sent_ >= prove_every) queue_own(ping, kPing, now);
    }
    // Silence, not queueing time: a long pipeline of large replies keeps the upstream talking,
    // and only an upstream that sent nothing while it owed replies is given up on.
    // Bytes waiting in the socket are not silence either: this worker was busy elsewhere.
    boost::system::error_code ignored;
    if (!pending_.empty() &&
        std::chrono::steady_clock::now() - std::max(last_read_, pending_.front().sent) >
            settings_.command_timeout &&
        stream_.socket().available(ignored) == 0) {
      failed(fmt::format("no reply within {}ms", settings_.command_timeout.count()));
      stats().timeouts.fetch_add(1, std::memory_order_relaxed);
      failure_reply_ = fmt::format("ERR upstream timeout (no reply within {}ms)",
                                   settings_.command_timeout.count());
      co_return;
    }
  }
}

bool Connection::Impl::deliver(std::string_view reply, resp::ReplyKind kind) {
  // Out of band, never a reply: a tracking connection in RESP3 hears "tracking-redir-broken"
  // when the subscriber it redirects to is gone (the subscriber's loss disarms L1 anyway).
  if (kind == resp::ReplyKind::Push) return true;
  if (pending_.empty()) {
    failed("reply without a request");
    failure_reply_ = "ERR upstream protocol error";
    return false;
  }
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  // Alive when Redis ran it, so still tracking then (data_tracking.hpp).
  if (slot_) slot_->proven.store(p.sent.time_since_epoch().count(), std::memory_order_relaxed);
  if (!p.target) {
    // Our own SELECT refused while Redis runs a long script (SELECT is not one of the commands
    // Redis runs then): Redis stayed in its database. The requests written behind it for the
    // new one get the same BUSY refusal, which is Redis's answer to their clients too, so
    // the connection goes on; deliver() checks that each of them was refused, and the next
    // request sends SELECT again.
    if (p.tag == kSelect && resp::is_busy(reply, kind)) {
      select_refused_ = true;
      db_ = -1;
      return true;
    }
    // Refused otherwise: later requests were written for the wrong database, so the connection
    // cannot be trusted; close it and fail what is queued.
    if (resp::is_error(kind) && p.tag == kSelect) {
      failed(fmt::format("SELECT refused: {}", reply.substr(1, reply.size() - 3)));
      failure_reply_ = "ERR upstream refused SELECT";
      return false;
    }
    // CLIENT TRACKING refused (an ACL without CLIENT, a subscriber gone meanwhile): the reads
    // queued behind it were counted as tracked, so L1 forgets everything (which also keeps
    // their fills out), and this connection fills nothing until the next generation.
    if (resp::is_error(kind) && p.tag == kTracking) {
      spdlog::warn("upstream connection {}: CLIENT TRACKING refused: {}; its reads are not cached",
                   index_, reply.substr(1, reply.size() - 3));
      const std::uint64_t gen = gen_;
      tracking_ended();
      gen_ = gen;
    }
    if (p.tag == kSelect) select_refused_ = false;
    return true;
  }
  if (select_refused_ && p.db_bound && !resp::is_busy(reply, kind)) {
    // It ran, in a database its client is not in (the script ended between the two).
    failed("a request ran after its SELECT was refused");
    failure_reply_ = "ERR upstream refused SELECT";
    stats().failed_requests.fetch_add(1, std::memory_order_relaxed);
    p.target->on_reply(p.tag, resp::error_reply(failure_reply_), resp::ReplyKind::Error);
    return false;
  }
  p.target->on_reply(p.tag, reply, kind);
  return true;
}

void Connection::Impl::fail_pending() {
  if (pending_.empty()) return;
  std::string reply = resp::error_reply(
      failure_reply_.empty() ? fmt::format("ERR upstream connection lost ({})", last_error_)
                             : failure_reply_);
  auto pending = std::move(pending_);
  pending_.clear();
  stats().failed_requests.fetch_add(pending.size(), std::memory_order_relaxed);
  for (auto& p : pending) {
    if (p.target) p.target->on_reply(p.tag, reply, resp::ReplyKind::Error);
  }
}

bool Connection::Impl::send(int db, std::string_view request, std::shared_ptr<ReplyTarget> target,
                            std::uint64_t tag) {
  if (state_ != State::Ready) return false;
  const auto now = std::chrono::steady_clock::now();
  if (settings_.tracking && gen_ != settings_.tracking->generation()) point(now);
  if (db >= 0 && db != db_) {
    const std::string db_text = std::to_string(db);
    const std::string_view select[] = {"SELECT", db_text};
    resp::encode_command(out_, select);
    pending_.push_back(Pending{nullptr, kSelect, now});
    db_ = db;
  }
  out_.append(request);
  stats().requests.fetch_add(1, std::memory_order_relaxed);
  pending_.push_back(Pending{std::move(target), tag, now, db >= 0});
  last_sent_ = now;
  if (writer_waiting_) {
    writer_waiting_ = false;
    signal_.cancel();
  }
  return true;
}

void Connection::Impl::queue_own(std::string_view request, Own kind,
                                 std::chrono::steady_clock::time_point now) {
  out_.append(request);
  pending_.push_back(Pending{nullptr, kind, now});
  last_sent_ = now;
  if (writer_waiting_) {
    writer_waiting_ = false;
    signal_.cancel();
  }
}

// A new generation: point the connection at its subscriber before anything else is queued, so
// that every read queued after it is tracked for that subscriber. Its proof starts now: what it
// reads from now on was read after every earlier write. Without a subscriber (lost) nothing is
// sent; the connection's reads are not cached until one is back.
void Connection::Impl::point(std::chrono::steady_clock::time_point now) {
  DataTracking& tracking = *settings_.tracking;
  gen_ = tracking.generation();
  const std::uint64_t id = tracking.redirect();
  pointed_ = id != 0;
  if (!slot_) slot_ = tracking.attach();
  if (!pointed_) {
    slot_->generation.store(0, std::memory_order_release);
    return;
  }
  const std::string id_text = std::to_string(id);
  const std::string_view command[] = {"CLIENT", "TRACKING", "on", "REDIRECT", id_text};
  std::string request;
  resp::encode_command(request, command);
  slot_->proven.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  slot_->generation.store(gen_, std::memory_order_release);
  queue_own(request, kTracking, now);
}

// The connection ended: Redis forgot which keys it read, so L1 forgets what it may have filled
// (before the slot stops counting in fence rounds). A connection of an older generation filled
// nothing L1 still holds (arming cleared it).
void Connection::Impl::tracking_ended() {
  if (!slot_) return;
  // Not when stopped: that is shutdown, after this worker drained (the other workers are
  // draining too, and telling tracking clients would post to workers being destroyed).
  if (pointed_ && !stopped_ && gen_ == settings_.tracking->generation()) {
    settings_.tracking->lost();
  }
  slot_->generation.store(0, std::memory_order_release);
  pointed_ = false;
  gen_ = 0;
}

}  // namespace frontcache::upstream
