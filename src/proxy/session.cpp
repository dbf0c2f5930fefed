#include "session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "frontcache/resp/errors.hpp"
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

// Reads land here first; sessions of one worker thread take turns, each parsing and
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

Session::Session(Worker& worker, asio::ip::tcp::socket socket)
    : worker_(worker),
      socket_(std::move(socket)),
      write_signal_(worker.io()),
      read_signal_(worker.io()),
      id_(worker.shared().next_client_id.fetch_add(1, std::memory_order_relaxed)),
      created_(std::chrono::steady_clock::now()),
      last_command_(created_),
      parser_(resp::ParserLimits{worker.config().limits.max_bulk_length,
                                 worker.config().limits.max_arguments,
                                 worker.config().limits.max_inline_length}),
      authenticated_(!worker.config().auth.required()),
      auth_timer_(worker.io()) {
  parser_.set_authenticated(authenticated_);
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) addr_ = endpoint_text(remote);
  auto local = socket_.local_endpoint(ec);
  if (!ec) laddr_ = endpoint_text(local);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // reads and writes are tried before waiting for readiness
  registration_ = worker_.add(this);
}

Session::~Session() = default;

void Session::start() {
  auto self = shared_from_this();
  spdlog::debug("client {} connected from {}", id_, addr_);
  asio::co_spawn(worker_.io(), run(self), [self](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::warn("client {} session ended by an exception: {}", self->id_, ex.what());
      }
    }
    self->close();
    self->worker_.remove(self->registration_);
    self->worker_.shared().stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
    spdlog::debug("client {} disconnected", self->id_);
  });
}

// Both loops end before the session is released; `self` (a parameter, so it lives in the
// coroutine frame) keeps the session alive until then.
awaitable<void> Session::run(std::shared_ptr<Session> self) {
  co_await (self->read_loop() && self->write_loop());
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  read_done_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  write_signal_.cancel();
  read_signal_.cancel();
  auth_timer_.cancel();
  pinned_requests_.clear();
  release_pinned(false);
}

void Session::drain() {
  if (closed_ || read_done_) return;
  read_done_ = true;
  // The pending read completes with EOF; a reader paused on the pipeline limit wakes and stops.
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
  read_signal_.cancel();
  wake_writer();
}

bool Session::reading_paused() const {
  return holding_for_joined_ || pin_wait_ || auth_wait_ ||
         replies_.in_flight() >= worker_.config().limits.max_pipeline ||
         replies_.buffered_bytes() > kSoftOutputBytes;
}

// Reads wait for readiness, then take what is there with one non-blocking read. Asio's
// async_read_some would first try a speculative read after every wake-up, which for a client
// that waits for its reply is an EAGAIN: one wasted syscall per request (strace -c: recvfrom
// 2.1 per GET). The edge-triggered reactor only announces new bytes, so after any suspension
// other than the readiness wait itself the socket is read before waiting (`maybe_readable`).
awaitable<void> Session::read_loop() {
  bool maybe_readable = true;
  bool read_failed = false;  // the client closed or reset the connection
  for (;;) {
    if (read_done_) break;  // drained
    if (!process_buffer()) break;
    if (closed_) break;
    if (reading_paused()) {
      // Too many replies outstanding: wait for the writer, then parse what is buffered
      // before reading more.
      reader_waiting_ = true;
      read_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await read_signal_.async_wait(kNoThrow);
      reader_waiting_ = false;
      maybe_readable = true;
      continue;
    }

    if (!maybe_readable) {
      auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, kNoThrow);
      if (wait_ec) {
        read_failed = true;
        break;
      }
    }
    boost::system::error_code ec;
    if (rbegin_ == rend_) {
      // Nothing buffered: read into this thread's scratch buffer and dispatch from there;
      // only an incomplete tail is copied into the session's own buffer. An idle connection
      // holds no read buffer (16 KB each before: scenario e of bench/run.sh).
      rbegin_ = rend_ = 0;
      if (rbuf_.size() > kKeepBufferBytes) std::vector<char>().swap(rbuf_);
      std::vector<char>& scratch = read_scratch();
      const std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        maybe_readable = false;
        continue;
      }
      if (ec) {
        read_failed = true;
        break;
      }
      maybe_readable = n == scratch.size();
      std::size_t begin = 0;
      const bool more = process_input(scratch.data(), begin, n);
      if (begin < n) {
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
      maybe_readable = false;
      continue;
    }
    if (ec) {
      read_failed = true;
      break;
    }
    rend_ += n;
    maybe_readable = n == space;  // a full buffer may have left bytes in the socket
  }
  // A client gone while blocked or subscribed: free its dedicated connection now (Redis
  // unblocks it at once) rather than when the BLPOP times out.
  if (read_failed && pinned_ != nullptr) close();
  read_done_ = true;
  wake_writer();
}

bool Session::process_buffer() { return process_input(rbuf_.data(), rbegin_, rend_); }

bool Session::process_input(const char* data, std::size_t& begin, std::size_t end) {
  while (end > begin && !reading_paused() && !closed_) {
    std::string_view input(data + begin, end - begin);
    switch (parser_.parse(input)) {
      case resp::ParseStatus::NeedMore:
        flush_replies();
        return true;
      case resp::ParseStatus::Error:
        worker_.shared().stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("client {} protocol error: {}", id_, parser_.error());
        reply_error(parser_.error());
        read_done_ = true;
        wake_writer();
        return false;
      case resp::ParseStatus::Complete:
        break;
    }
    const std::size_t consumed = parser_.consumed();
    auto args = parser_.args();
    if (!args.empty() && must_wait_for_joined(args)) {
      parser_.reset();  // parsed again once the joined reads are in
      holding_for_joined_ = true;
      return true;
    }
    if (!args.empty() && pinned_ == nullptr && in_upstream_ > 0 && needs_pin(args)) {
      // The session moves to a dedicated connection: its shared requests in flight run first
      // (a SET before a MULTI executes before it), so this request waits, unparsed.
      pin_wait_ = true;
      wake_writer();
      return true;
    }
    if (!args.empty()) {
      if (parser_.inline_request()) {
        scratch_.clear();
        resp::encode_command(scratch_, args);
        dispatch(args, scratch_);
      } else {
        dispatch(args, input.substr(0, consumed));
      }
    }
    begin += consumed;
    if (read_done_) {  // QUIT
      wake_writer();
      return false;
    }
  }
  flush_replies();
  return true;
}

// After a batch of requests: when the writer is idle, write the replies that are ready (local
// replies and L1 hits) here, in one write, and spare it a wake-up (a timer cancel, a trip
// through the scheduler and a coroutine resume per batch). Whatever the socket does not take,
// and anything unusual, is left to the writer.
// With nothing ready the writer is not woken at all (it used to be, after every read: a timer
// cancel and re-arm for nothing on the forward path).
void Session::flush_replies() {
  if (!replies_.has_ready()) return;
  if (!writer_waiting_ || closed_ ||
      replies_.buffered_bytes() > worker_.config().limits.max_output_buffer) {
    return wake_writer();
  }
  replies_.take_ready(wbuf_);
  boost::system::error_code ec;
  const std::size_t sent = socket_.write_some(asio::buffer(wbuf_), ec);
  if (!ec && sent == wbuf_.size()) {
    if (wbuf_.capacity() > kKeepBufferBytes) {
      std::string().swap(wbuf_);
    } else {
      wbuf_.clear();
    }
    return;
  }
  replies_.put_back(wbuf_, ec ? 0 : sent);  // the writer retries, or meets the error itself
  wake_writer();
}

awaitable<void> Session::write_loop() {
  for (;;) {
    if (!replies_.has_ready()) {
      if (closed_ || (read_done_ && replies_.in_flight() == 0)) break;
      writer_waiting_ = true;
      write_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await write_signal_.async_wait(kNoThrow);
      writer_waiting_ = false;
      continue;
    }
    if (replies_.buffered_bytes() > worker_.config().limits.max_output_buffer) {
      worker_.shared().stats.output_limit_disconnects.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("client {} ({}) closed: {} reply bytes pending exceed limits.max_output_buffer",
                   id_, addr_, replies_.buffered_bytes());
      break;
    }
    replies_.take_ready(wbuf_);
    wake_reader();
    // Replies nearly always fit in the socket buffer: write them now, without a trip through
    // the scheduler and back into this coroutine; only what the socket does not take waits.
    boost::system::error_code ec;
    std::size_t sent = socket_.write_some(asio::buffer(wbuf_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (!ec && sent < wbuf_.size()) {
      auto [write_ec, n] = co_await asio::async_write(
          socket_, asio::buffer(wbuf_.data() + sent, wbuf_.size() - sent), kNoThrow);
      ec = write_ec;
    }
    if (wbuf_.capacity() > kKeepBufferBytes) {
      std::string().swap(wbuf_);
    } else {
      wbuf_.clear();
    }
    if (ec) break;
    wake_reader();
  }
  // Flushed (or failed): no more requests will be read or answered on this connection.
  close();
}

void Session::wake_writer() {
  if (writer_waiting_) {
    writer_waiting_ = false;
    write_signal_.cancel();
  }
}

void Session::wake_reader() {
  if (reader_waiting_ && !reading_paused()) {
    reader_waiting_ = false;
    read_signal_.cancel();
  }
}

void Session::upstream_reply_done() {
  --in_upstream_;
  if (in_upstream_ == 0 && pin_wait_) {
    pin_wait_ = false;
    wake_reader();
  }
}

void Session::on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) {
  upstream_reply_done();
  if ((tag & (kWriteFlag | kFlushFlag)) != 0) after_write(tag);
  const std::uint64_t seq = tag & ~kTagFlags;
  while (!forward_started_.empty() && forward_started_.front().first < seq) {
    forward_started_.pop_front();
  }
  if (!forward_started_.empty() && forward_started_.front().first == seq) {
    worker_.shared().latency.forward.observe(
        worker_.index(), std::chrono::steady_clock::now() - forward_started_.front().second);
    forward_started_.pop_front();
  }
  if (closed_) return;
  if ((tag & kSilentFlag) != 0) {
    replies_.complete(seq, {});
  } else if ((tag & kInfoFlag) != 0 && kind == resp::ReplyKind::Bulk) {
    replies_.complete(seq, info_reply(reply));
  } else {
    replies_.complete(seq, reply);
  }
  wake_writer();
}

}  // namespace frontcache::proxy
