#include "client_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "frontcache/metrics/log_limit.hpp"
#include "frontcache/resp/errors.hpp"
#include "frontcache/tls/context.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepBufferBytes = 64 * 1024;  // larger idle buffers are given back
// Reading pauses while this many reply bytes wait for the client to read them, so a client
// that pipelines without reading is slowed down by TCP rather than disconnected.
constexpr std::size_t kSoftOutputBytes = 1 << 20;
// Whether the plain-TCP reader yields to the worker's queue before reading, instead of waiting
// for readiness (see read_loop). After a yield whose read found nothing, the next kMinSkip waits
// go to readiness at once; doubled after each such yield up to kMaxSkip, back to kMinSkip after
// one that found bytes.
class ReadYield {
 public:
  // Before waiting for bytes. `replies_pending`: the client still waits for a reply (from Redis),
  // so it will not send more soon.
  bool yield_now(bool replies_pending) {
    const bool may = !yielded_ && !replies_pending;
    if (may && skip_ == 0) {
      yielded_ = true;
      return true;
    }
    if (may) --skip_;
    yielded_ = false;
    return false;
  }
  void read_nothing() {
    if (!yielded_) return;
    skip_ = backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxSkip);
  }
  void read_bytes() {
    if (yielded_) backoff_ = kMinSkip;
    yielded_ = false;
  }

 private:
  static constexpr unsigned kMinSkip = 2;
  static constexpr unsigned kMaxSkip = 256;
  bool yielded_ = false;  // since the last read that got bytes
  unsigned skip_ = 0;     // waits that go to readiness at once
  unsigned backoff_ = kMinSkip;
};
// After the last reply of a TLS connection, how long its close_notify waits for the client's.
constexpr std::chrono::milliseconds kTlsShutdownGrace{1000};

// Reads land here first; connections of one worker thread take turns, each parsing and
// dispatching synchronously before the next one runs.
std::vector<char>& read_scratch() {
  thread_local std::vector<char> scratch(64 * 1024);
  return scratch;
}

std::string endpoint_text(const asio::ip::tcp::endpoint& e) {
  if (e.address().is_v6()) return fmt::format("[{}]:{}", e.address().to_string(), e.port());
  return fmt::format("{}:{}", e.address().to_string(), e.port());
}

}  // namespace

struct ClientConnection::TlsLayer {
  TlsLayer(asio::ip::tcp::socket& socket, std::shared_ptr<asio::ssl::context> c)
      : context(std::move(c)), stream(socket, *context) {}
  std::shared_ptr<asio::ssl::context> context;  // outlives `stream`, whatever a reload does
  asio::ssl::stream<asio::ip::tcp::socket&> stream;
  bool counted = false;   // in ProxyStats::tls_clients
  bool shutdown = false;  // every reply written: close_notify, then close
};

ClientConnection::ClientConnection(Worker& worker, asio::ip::tcp::socket socket, Handler& handler,
                                   std::shared_ptr<asio::ssl::context> tls)
    : worker_(worker),
      socket_(std::move(socket)),
      tls_(tls ? std::make_unique<TlsLayer>(socket_, std::move(tls)) : nullptr),
      handler_(handler),
      write_signal_(worker.io()),
      read_signal_(worker.io()),
      parser_(resp::ParserLimits{worker.config().limits.max_bulk_length,
                                 worker.config().limits.max_arguments,
                                 worker.config().limits.max_inline_length}) {
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) addr_ = endpoint_text(remote);
  auto local = socket_.local_endpoint(ec);
  if (!ec) laddr_ = endpoint_text(local);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // reads and writes are tried before waiting for readiness
}

ClientConnection::~ClientConnection() {
  if (flush_deferred_) worker_.forget_flush(this);
  release_bytes();
  if (tls_ && tls_->counted) {
    worker_.shared().stats.tls_clients.fetch_sub(1, std::memory_order_relaxed);
  }
}

int ClientConnection::fd() { return socket_.is_open() ? socket_.native_handle() : -1; }

awaitable<void> ClientConnection::run() {
  if (tls_) {
    const bool established = co_await tls_handshake();
    if (!established) {
      close();
      co_return;
    }
  }
  co_await (read_loop() && write_loop());
  if (tls_ && tls_->shutdown && !closed_) co_await tls_shutdown();
  close();
}

awaitable<bool> ClientConnection::tls_handshake() {
  auto& stats = worker_.shared().stats;
  asio::steady_timer deadline(worker_.io());
  deadline.expires_after(worker_.config().tls.handshake_timeout);
  auto result = co_await (tls_->stream.async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                          deadline.async_wait(kNoThrow));
  // Closed or drained meanwhile: not the client's doing, not counted.
  if (closed_ || read_done_) co_return false;
  if (result.index() == 1) {
    stats.tls_handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("client {} closed: no TLS handshake within tls.handshake_timeout", addr_);
    co_return false;
  }
  const auto [ec] = std::get<0>(result);
  if (ec) {
    const std::string why = tls::handshake_error(ec, tls_->stream.native_handle());
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
        ec == asio::error::connection_reset) {
      // Port scanners and TCP health checks: counted, not worth a warning.
      stats.tls_handshake_closed.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("client {}: {}", addr_, why);
    } else {
      stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      static metrics::LogLimit log_limit;
      log_limit.warn("TLS handshake with client {} failed: {}", addr_, why);
    }
    co_return false;
  }
  tls_->counted = true;
  stats.tls_clients.fetch_add(1, std::memory_order_relaxed);
  stats.tls_connections.fetch_add(1, std::memory_order_relaxed);
  co_return true;
}

// Like Redis, the close_notify is sent; the client's answer is waited for only briefly (the read
// side is already shut down when the client closed first, and then this ends at once).
awaitable<void> ClientConnection::tls_shutdown() {
  asio::steady_timer grace(worker_.io());
  grace.expires_after(kTlsShutdownGrace);
  co_await (tls_->stream.async_shutdown(kNoThrow) || grace.async_wait(kNoThrow));
}

void ClientConnection::close() {
  if (closed_) return;
  closed_ = true;
  read_done_ = true;
  if (tls_ && tls_->counted) {
    tls_->counted = false;
    worker_.shared().stats.tls_clients.fetch_sub(1, std::memory_order_relaxed);
  }
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  write_signal_.cancel();
  read_signal_.cancel();
  replies_.drop_bytes();
  // A write under way still reads wbuf_ (an SSL write is many socket writes, and the next one
  // may already be queued as a completion): the writer frees it when the write has ended.
  if (!writing_) std::string().swap(wbuf_);
  release_bytes();
}

void ClientConnection::stop_reading() {
  if (closed_ || read_done_) return;
  read_done_ = true;
  // The pending readiness wait completes; a reader paused on a hold wakes and stops.
  read_signal_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
  wake_writer();
}

bool ClientConnection::paused() const {
  return handler_.holding() ||
         replies_.in_flight() >= std::min(window_, worker_.config().limits.max_pipeline) ||
         replies_.buffered_bytes() > kSoftOutputBytes;
}

void ClientConnection::resume_reading() {
  if (!reader_waiting_) return;
  if (read_done_ || (!paused() && !(awaiting_replies_ && replies_.in_flight() > 0))) {
    reader_waiting_ = false;
    read_signal_.cancel();
  }
}

void ClientConnection::wake_writer() {
  if (writer_waiting_) {
    writer_waiting_ = false;
    write_signal_.cancel();
  }
}

void ClientConnection::complete(std::uint64_t seq, std::string_view bytes) {
  if (closed_) bytes = {};
  replies_.complete(seq, bytes);
  if (window_ < worker_.config().limits.max_pipeline) ++window_;
  replied();
}

void ClientConnection::append(std::string_view bytes) {
  if (closed_) bytes = {};
  replies_.append(bytes);
  replied();
}

void ClientConnection::replied() {
  if (closed_ || !account()) return;
  if (!processing_) defer_flush();  // during a batch, the reader's flush() writes it
  resume_reading();                 // one more slot is answered: below the pipeline limit again?
}

void ClientConnection::add(std::uint64_t seq, std::string_view bytes) {
  if (closed_) return;
  replies_.add(seq, bytes);
  if (!account()) return;
  if (!processing_) defer_flush();
}

void ClientConnection::defer_flush() {
  if (flush_deferred_) return;
  flush_deferred_ = true;
  worker_.defer_flush(this);
}

void ClientConnection::deferred_flush() {
  flush_deferred_ = false;
  flush();
}

// Reads take what is there with one non-blocking read. Asio's async_read_some would first try
// a speculative read after every wake-up, which for a client that waits for its reply is an
// EAGAIN: one wasted syscall per request. The edge-triggered reactor only announces new bytes,
// so after any suspension other than the readiness wait itself the socket is read before
// waiting (`maybe_readable`).
//
// After a batch whose replies are all written, the reader does not wait for readiness at once:
// Asio re-arms the descriptor (epoll_ctl) for every readiness wait. It yields to the back of the
// worker's queue instead, and reads when its turn comes back: under load the client's next
// request has arrived while the worker served the other connections, and a request costs one
// recv and one send, as in Redis (measured: epoll_ctl per GET hit 0.944 -> 0.03, c50). A read
// after a yield that finds nothing (a quiet client, or a worker with nothing else to do) sends
// the next waits to readiness directly, 2 of them, then twice as many after each such yield up
// to 256: at low load the yield costs one recv (EAGAIN) in a few hundred requests.
//
// A client whose replies come without its help (Handler::replies_bounded: no dedicated
// connection, so every request in flight is answered within upstream.command_timeout) is not
// watched while they are in flight: the reader sleeps on read_signal_ until the last one is
// complete, writes them, then yields as above. What the client sends meanwhile (a pipelining
// client) is read then; one that waits for its replies sends nothing before them. Measured:
// epoll_ctl per forwarded SET 1.0 -> ~0.15, c50. Clients on a dedicated connection (a blocking
// command, MULTI, SUBSCRIBE) are watched, so one that goes away is noticed at once.
awaitable<void> ClientConnection::read_loop() {
  bool maybe_readable = true;
  ReadYield yield;
  bool client_gone = false;
  for (;;) {
    if (!process(rbuf_.data(), rbegin_, rend_)) break;
    const bool stopped_paused = paused();
    flush();
    if (read_done_ || closed_) break;
    // The flush wrote enough to end the pause: the requests still buffered go on at once.
    if (stopped_paused && !paused()) continue;
    if (paused()) {
      // Complete requests may be buffered: they wait for the hold to end, then go first.
      reader_waiting_ = true;
      read_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await read_signal_.async_wait(kNoThrow);
      reader_waiting_ = false;
      maybe_readable = true;
      continue;
    }
    // Not paused: process() stopped on an incomplete request (or an empty buffer).
    if (tls_) {
      // Decrypted bytes go to the connection's own buffer: the read suspends, and the scratch
      // buffer belongs to whichever connection of this thread runs meanwhile.
      auto [tls_ec, got] = co_await tls_->stream.async_read_some(tls_read_buffer(), kNoThrow);
      if (read_done_ || closed_) break;
      if (tls_ec) {
        client_gone = true;
        break;
      }
      rend_ += got;
      continue;
    }
    if (!maybe_readable && replies_.in_flight() > 0 && handler_.replies_bounded()) {
      // The client waits for its replies: it sends nothing before they are written (a
      // pipelining client's next requests are read then). No readiness wait meanwhile.
      reader_waiting_ = awaiting_replies_ = true;
      read_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await read_signal_.async_wait(kNoThrow);
      reader_waiting_ = awaiting_replies_ = false;
      if (read_done_ || closed_) break;
      continue;  // the replies are written at the top, then the reader yields or waits
    }
    if (!maybe_readable) {
      if (yield.yield_now(replies_.in_flight() > 0)) {
        co_await asio::post(worker_.io(), asio::use_awaitable);
        if (read_done_ || closed_) break;
      } else {
        auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, kNoThrow);
        if (read_done_ || closed_) break;
        if (wait_ec) {
          client_gone = true;
          break;
        }
      }
    }
    boost::system::error_code ec;
    if (rbegin_ == rend_) {
      // Nothing buffered: read into this thread's scratch buffer and dispatch from there;
      // only an incomplete tail is copied into the connection's own buffer. An idle
      // connection holds no read buffer.
      rbegin_ = rend_ = 0;
      if (rbuf_.size() > kKeepBufferBytes) std::vector<char>().swap(rbuf_);
      std::vector<char>& scratch = read_scratch();
      const std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        yield.read_nothing();
        maybe_readable = false;
        continue;
      }
      if (ec) {
        client_gone = ec != asio::error::eof || !handler_.answer_after_eof();
        break;
      }
      maybe_readable = n == scratch.size();
      yield.read_bytes();
      std::size_t begin = 0;
      const bool more = process(scratch.data(), begin, n);
      if (begin < n && more) {
        const std::size_t tail = n - begin;
        if (rbuf_.size() < tail + kReadChunk / 2) rbuf_.resize(tail + kReadChunk);
        std::copy(scratch.data() + begin, scratch.data() + n, rbuf_.data());
        rend_ = tail;
      }
      if (!more) break;
      continue;
    }

    // A partial request is buffered: compact, then grow when it does not fit.
    if (rbegin_ > 0) {
      std::copy(rbuf_.begin() + static_cast<long>(rbegin_),
                rbuf_.begin() + static_cast<long>(rend_), rbuf_.begin());
      rend_ -= rbegin_;
      rbegin_ = 0;
    }
    if (rbuf_.size() - rend_ < kReadChunk / 2) {
      rbuf_.resize(std::max(rbuf_.size() * 2, rend_ + kReadChunk));
    }
    const std::size_t space = rbuf_.size() - rend_;
    const std::size_t n = socket_.read_some(asio::buffer(rbuf_.data() + rend_, space), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      yield.read_nothing();
      maybe_readable = false;
      continue;
    }
    if (ec) {
      client_gone = ec != asio::error::eof || !handler_.answer_after_eof();
      break;
    }
    rend_ += n;
    maybe_readable = n == space;  // a full buffer may have left bytes in the socket
    yield.read_bytes();
  }
  flush();
  read_done_ = true;
  if (client_gone && !closed_) handler_.on_client_gone();
  wake_writer();
}

asio::mutable_buffer ClientConnection::tls_read_buffer() {
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = 0;
    if (rbuf_.size() > kKeepBufferBytes) std::vector<char>().swap(rbuf_);
  } else if (rbegin_ > 0) {
    std::copy(rbuf_.begin() + static_cast<long>(rbegin_), rbuf_.begin() + static_cast<long>(rend_),
              rbuf_.begin());
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  if (rbuf_.size() - rend_ < kReadChunk / 2) {
    rbuf_.resize(std::max(rbuf_.size() * 2, rend_ + kReadChunk));
  }
  return asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_);
}

bool ClientConnection::process(const char* data, std::size_t& begin, std::size_t end) {
  if (end <= begin) return !read_done_ && !closed_;
  worker_.tick();
  // Replies completed during the batch (L1 hits, local replies) are left to flush(), which the
  // reader calls after every batch: one write, without waking the writer.
  processing_ = true;
  struct EndBatch {
    ClientConnection& connection;
    ~EndBatch() {
      connection.processing_ = false;
      connection.worker_.end_batch();
    }
  } end_batch{*this};
  unsigned since_tick = 0;
  while (end > begin && !paused() && !closed_ && !read_done_) {
    if (++since_tick > Worker::kRequestsPerTick) {
      worker_.tick();
      since_tick = 1;
    }
    std::string_view input(data + begin, end - begin);
    switch (parser_.parse(input)) {
      case resp::ParseStatus::NeedMore:
        return true;
      case resp::ParseStatus::Error:
        worker_.shared().stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("client {} protocol error: {}", addr_, parser_.error());
        append(resp::error_reply(parser_.error()));
        stop_reading();
        return false;
      case resp::ParseStatus::Complete:
        break;
    }
    const std::size_t consumed = parser_.consumed();
    const auto args = parser_.args();
    if (!args.empty()) {
      std::string_view raw = input.substr(0, consumed);
      if (parser_.inline_request()) {
        inline_request_.clear();
        resp::encode_command(inline_request_, args);
        raw = inline_request_;
      }
      if (!handler_.on_request(args, raw)) {
        parser_.reset();  // parsed again when the hold ends
        return true;
      }
    } else {
      handler_.on_empty_request();
    }
    begin += consumed;
  }
  return !read_done_ && !closed_;
}

// After a batch of requests: when the writer is idle, write the replies that are ready (local
// replies and L1 hits) here, in one write, and spare it a wake-up. Whatever the socket does
// not take, and anything unusual, is left to the writer.
void ClientConnection::flush() {
  if (!replies_.has_ready()) return;
  // TLS records are written by the writer's async_write only (an SSL write cannot be half-done).
  // Once reading is done, the writer also closes the connection after the last reply.
  if (!writer_waiting_ || closed_ || read_done_ || tls_) return wake_writer();
  replies_.take_ready(wbuf_);
  boost::system::error_code ec;
  const std::size_t sent = socket_.write_some(asio::buffer(wbuf_), ec);
  if (!ec && sent == wbuf_.size()) {
    if (wbuf_.capacity() > kKeepBufferBytes) {
      std::string().swap(wbuf_);
    } else {
      wbuf_.clear();
    }
    account();
    resume_reading();
    return;
  }
  replies_.put_back(wbuf_, ec ? 0 : sent);  // the writer retries, or meets the error itself
  account();
  wake_writer();
}

awaitable<void> ClientConnection::write_loop() {
  bool failed = false;
  for (;;) {
    if (!replies_.has_ready()) {
      if (closed_ || (read_done_ && replies_.in_flight() == 0)) break;
      writer_waiting_ = true;
      write_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await write_signal_.async_wait(kNoThrow);
      writer_waiting_ = false;
      continue;
    }
    replies_.take_ready(wbuf_);
    boost::system::error_code ec;
    if (tls_) {
      writing_ = true;
      auto [write_ec, n] = co_await asio::async_write(tls_->stream, asio::buffer(wbuf_), kNoThrow);
      writing_ = false;
      ec = write_ec;
      if (wbuf_.capacity() > kKeepBufferBytes) {
        std::string().swap(wbuf_);
      } else {
        wbuf_.clear();
      }
      failed = static_cast<bool>(ec);
      if (ec || closed_) break;
      account();
      resume_reading();
      continue;
    }
    // Replies nearly always fit in the socket buffer: write them now, without a trip through
    // the scheduler and back into this coroutine; only what the socket does not take waits.
    std::size_t sent = socket_.write_some(asio::buffer(wbuf_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (!ec && sent < wbuf_.size()) {
      // The bytes being written still count against the limits until they are gone.
      writing_ = true;
      auto [write_ec, n] = co_await asio::async_write(
          socket_, asio::buffer(wbuf_.data() + sent, wbuf_.size() - sent), kNoThrow);
      writing_ = false;
      ec = write_ec;
    }
    if (wbuf_.capacity() > kKeepBufferBytes) {
      std::string().swap(wbuf_);
    } else {
      wbuf_.clear();
    }
    if (ec || closed_) break;
    account();
    resume_reading();
  }
  // Flushed (or failed): no more requests will be read or answered on this connection.
  if (tls_ && !failed && !closed_) {
    // run() sends close_notify once the reader has stopped (it may still wait for bytes).
    tls_->shutdown = true;
    read_done_ = true;
    read_signal_.cancel();
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    co_return;
  }
  close();
  std::string().swap(wbuf_);  // when close() came during the write, it left wbuf_ to us
}

void ClientConnection::release_bytes() {
  if (accounted_ == 0) return;
  worker_.release_output(accounted_);
  accounted_ = 0;
}

bool ClientConnection::account() {
  const std::size_t before = accounted_;
  const std::size_t after = closed_ ? 0 : replies_.buffered_bytes() + wbuf_.size();
  if (after == before) return !closed_;
  accounted_ = after;
  if (after < before) {
    worker_.release_output(before - after);
    largest_reply_ = std::min(largest_reply_, after);
    return true;
  }
  worker_.charge_output(after - before);
  largest_reply_ = std::max(largest_reply_, after - before);
  if (over_limit(after - largest_reply_)) {
    close();
    return false;
  }
  if (worker_.output_over_budget()) worker_.shed_output();
  return !closed_;
}

// Redis's client-output-buffer-limit semantics, per class: over the hard limit at once, or
// over the soft limit for soft_seconds in a row. One difference, on purpose: the largest single
// reply pending is not counted, so one reply larger than the limit is delivered (a single
// 100 MB GET, as Redis delivers it to a normal client), and a client that stops reading is cut
// off with at most the limit plus its largest reply pending. `pending` excludes that reply.
bool ClientConnection::over_limit(std::size_t pending) {
  const auto& limits = worker_.config().limits;
  const bool pubsub = handler_.output_class() == OutputClass::Pubsub;
  const std::size_t hard = pubsub ? limits.pubsub_output_buffer : limits.max_output_buffer;
  const std::size_t soft = pubsub ? limits.pubsub_output_buffer_soft : 0;
  const auto soft_for = limits.pubsub_output_buffer_soft_seconds;
  const char* reason = nullptr;
  if (hard > 0 && pending > hard) {
    reason = pubsub ? "limits.pubsub_output_buffer" : "limits.max_output_buffer";
  } else if (soft > 0 && pending > soft) {
    const auto now = std::chrono::steady_clock::now();
    if (soft_since_ == std::chrono::steady_clock::time_point{}) soft_since_ = now;
    if (now - soft_since_ >= soft_for) reason = "limits.pubsub_output_buffer_soft";
  } else {
    soft_since_ = {};
  }
  if (reason == nullptr) return false;
  worker_.shared().stats.output_limit_disconnects.fetch_add(1, std::memory_order_relaxed);
  static metrics::LogLimit log_limit;
  log_limit.warn("client {} closed: {} reply bytes pending exceed {}", addr_,
                 pending + largest_reply_, reason);
  return true;
}

}  // namespace frontcache::proxy
