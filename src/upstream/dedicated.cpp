#include "frontcache/upstream/dedicated.hpp"

#include <spdlog/spdlog.h>

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
#include <functional>
#include <vector>

#include "frontcache/resp/request_parser.hpp"
#include "frontcache/upstream/connect.hpp"
#include "frontcache/upstream/stats.hpp"
#include "frontcache/upstream/stream.hpp"

namespace frontcache::upstream {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepBufferBytes = 256 * 1024;
}  // namespace

class DedicatedConnection::Impl : public std::enable_shared_from_this<DedicatedConnection::Impl> {
 public:
  Impl(asio::io_context& io, Settings settings)
      : io_(io),
        stream_(io.get_executor()),
        signal_(io),
        timer_(io),
        settings_(std::move(settings)) {}

  void start() {
    asio::co_spawn(io_, run(shared_from_this()), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::warn("pinned upstream connection ended by an exception: {}", ex.what());
      }
    });
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    stream_.close();
    signal_.cancel();
    timer_.cancel();
  }

  // RESET, then AUTH and CLIENT SETNAME again (RESET logs the connection back in as the
  // default user and clears its name); `done` learns whether every reply was as expected.
  void recycle(std::function<void(bool)> done) {
    target_.reset();
    recycle_done_ = std::move(done);
    std::string request;
    const std::string_view reset[] = {"RESET"};
    resp::encode_command(request, reset);
    recycle_oks_ = append_auth(request, settings_) + 1;
    const std::string_view setname[] = {"CLIENT", "SETNAME", "frontcache-pinned"};
    resp::encode_command(request, setname);
    recycle_seen_reset_ = false;
    send(request);
  }

  void send(std::string_view request) {
    out_.append(request);
    if (writer_waiting_) {
      writer_waiting_ = false;
      signal_.cancel();
    }
  }

  std::weak_ptr<StreamTarget> target_;
  std::function<void(bool)> recycle_done_;  // set while a recycle() waits for its replies
  int recycle_oks_ = 0;
  bool recycle_seen_reset_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  std::uint64_t upstream_id_ = 0;  // the connection's CLIENT ID upstream; 0 until known
  const Settings& settings() const { return settings_; }

 private:
  awaitable<void> run([[maybe_unused]] std::shared_ptr<Impl> self) {
    std::string reason;
    const bool ok = co_await connect(reason);
    if (ok && !stopped_) {
      ready_ = true;
      co_await (read_loop(reason) || write_loop(reason));
    }
    failed_ = true;
    const bool was_stopped = stopped_;
    stop();
    if (recycle_done_) {
      auto done = std::move(recycle_done_);
      recycle_done_ = nullptr;
      done(false);
    }
    if (!was_stopped) {
      spdlog::debug("pinned upstream connection closed: {}", reason);
      if (auto t = target_.lock()) t->on_stream_closed(reason);
    }
  }

  awaitable<bool> connect(std::string& reason) {
    reason = co_await stream_.connect(timer_, settings_);
    if (!reason.empty()) co_return false;
    // AUTH and CLIENT SETNAME go first, ahead of whatever the session queued; their replies
    // are read (and checked) by read_loop before any frame reaches the target. In cluster mode
    // AUTH and CLUSTER MYID are answered first: nothing of the session goes to a server that
    // is not the node the slot map names (one round trip more per new pinned connection).
    std::string hello;
    const int auth = append_auth(hello, settings_);
    if (append_identity_check(hello, settings_) > 0) {
      const bool same = co_await confirm_node(hello, auth, reason);
      if (!same) co_return false;
      hello.clear();
    } else {
      handshake_replies_ += auth;
    }
    const std::string_view setname[] = {"CLIENT", "SETNAME", "frontcache-pinned"};
    resp::encode_command(hello, setname);
    // Last: its reply is the last of the handshake (CLIENT UNBLOCK names the connection by it).
    const std::string_view id[] = {"CLIENT", "ID"};
    resp::encode_command(hello, id);
    handshake_replies_ += 2;
    out_.insert(0, hello);
    co_return true;
  }

  // Writes `request` (AUTH when `auth`, then CLUSTER MYID) and reads its replies.
  awaitable<bool> confirm_node(const std::string& request, int auth, std::string& reason) {
    auto [wec, written] = co_await stream_.write(asio::buffer(request));
    if (wec) {
      reason = wec.message();
      co_return false;
    }
    timer_.expires_after(settings_.command_timeout);
    for (int i = 0; i <= auth;) {
      if (rend_ > rbegin_) {
        std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
        const auto status = framer_.frame(data);
        if (status == resp::FrameStatus::Error) {
          reason = "protocol error in upstream reply";
          co_return false;
        }
        if (status == resp::FrameStatus::Complete) {
          const std::string_view frame = data.substr(0, framer_.consumed());
          rbegin_ += framer_.consumed();
          if (i < auth && framer_.kind() == resp::ReplyKind::Error) {
            reason = fmt::format("AUTH refused: {}", frame.substr(1, frame.size() - 3));
            co_return false;
          }
          if (i == auth) {
            reason = identity_error(settings_, frame);
            if (!reason.empty()) {
              spdlog::warn("pinned upstream {}:{}: {}", settings_.host, settings_.port, reason);
              co_return false;
            }
          }
          ++i;
          continue;
        }
      }
      if (rbuf_.size() - rend_ < kReadChunk / 2) rbuf_.resize(rend_ + kReadChunk);
      auto result =
          co_await (stream_.read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_)) ||
                    timer_.async_wait(kNoThrow));
      if (result.index() == 1) {
        reason = "handshake timeout";
        co_return false;
      }
      auto [ec, got] = std::get<0>(result);
      if (ec) {
        reason = ec.message();
        co_return false;
      }
      rend_ += got;
    }
    co_return true;
  }

  awaitable<void> read_loop(std::string& reason) {
    for (;;) {
      while (rend_ > rbegin_) {
        std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
        const auto status = framer_.frame(data);
        if (status == resp::FrameStatus::NeedMore) break;
        if (status == resp::FrameStatus::Error) {
          reason = "protocol error in upstream reply";
          co_return;
        }
        const std::size_t n = framer_.consumed();
        rbegin_ += n;
        const std::string_view frame = data.substr(0, n);
        if (handshake_replies_ > 0) {
          --handshake_replies_;
          if (handshake_replies_ == 0 && framer_.kind() == resp::ReplyKind::Integer) {
            std::from_chars(frame.data() + 1, frame.data() + frame.size() - 2, upstream_id_);
          }
          if (framer_.kind() == resp::ReplyKind::Error && handshake_replies_ > 1) {
            reason = fmt::format("AUTH refused: {}", frame.substr(1, frame.size() - 3));
            co_return;
          }
          continue;
        }
        if (recycle_done_) {
          if (!recycled_frame(frame, framer_.kind())) {
            reason = "unexpected reply while recycling";
            co_return;
          }
          continue;
        }
        if (auto t = target_.lock()) t->on_frame(frame, framer_.kind());
        if (stopped_) co_return;
      }
      if (rbegin_ == rend_) {
        rbegin_ = rend_ = 0;
        if (rbuf_.size() > kKeepBufferBytes) std::vector<char>(kReadChunk).swap(rbuf_);
      } else if (rbegin_ > 0) {
        std::copy(rbuf_.begin() + static_cast<long>(rbegin_),
                  rbuf_.begin() + static_cast<long>(rend_), rbuf_.begin());
        rend_ -= rbegin_;
        rbegin_ = 0;
      }
      if (rbuf_.size() - rend_ < kReadChunk / 2) {
        rbuf_.resize(std::max(rbuf_.size() * 2, rend_ + kReadChunk));
      }
      auto [ec, got] =
          co_await stream_.read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_));
      if (ec) {
        reason = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                     ? "closed by upstream"
                     : ec.message();
        co_return;
      }
      rend_ += got;
    }
  }

  // Frames before +RESET are what the last session left in flight (pub/sub messages, MONITOR
  // lines): dropped. After it, exactly the +OKs of AUTH and CLIENT SETNAME.
  bool recycled_frame(std::string_view frame, resp::ReplyKind kind) {
    if (!recycle_seen_reset_) {
      if (kind == resp::ReplyKind::Error) return false;
      recycle_seen_reset_ = frame == "+RESET\r\n";
      return true;
    }
    if (frame != "+OK\r\n") return false;
    if (--recycle_oks_ > 0) return true;
    auto done = std::move(recycle_done_);
    recycle_done_ = nullptr;
    done(true);
    return true;
  }

  awaitable<void> write_loop(std::string& reason) {
    for (;;) {
      while (out_.empty()) {
        writer_waiting_ = true;
        signal_.expires_at(asio::steady_timer::time_point::max());
        co_await signal_.async_wait(kNoThrow);
        writer_waiting_ = false;
        if (stopped_) {
          reason = "stopped";
          co_return;
        }
      }
      writing_.swap(out_);
      auto [ec, n] = co_await stream_.write(asio::buffer(writing_));
      writing_.clear();
      if (ec) {
        reason = ec.message();
        co_return;
      }
    }
  }

  asio::io_context& io_;
  Stream stream_;
  asio::steady_timer signal_;
  asio::steady_timer timer_;
  Settings settings_;
  bool ready_ = false;
  bool writer_waiting_ = false;
  int handshake_replies_ = 0;
  std::string out_;
  std::string writing_;
  std::vector<char> rbuf_;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  resp::ReplyFramer framer_;
};

DedicatedConnection::DedicatedConnection(asio::io_context& io, Settings settings)
    : impl_(std::make_shared<Impl>(io, std::move(settings))) {}

DedicatedConnection::~DedicatedConnection() { impl_->stop(); }

void DedicatedConnection::start() { impl_->start(); }
void DedicatedConnection::attach(std::weak_ptr<StreamTarget> target) {
  impl_->target_ = std::move(target);
}
void DedicatedConnection::detach() { impl_->target_.reset(); }
void DedicatedConnection::stop() { impl_->stop(); }
bool DedicatedConnection::alive() const { return !impl_->stopped_ && !impl_->failed_; }
std::uint64_t DedicatedConnection::upstream_id() const { return impl_->upstream_id_; }
const std::string& DedicatedConnection::host() const { return impl_->settings().host; }
std::uint16_t DedicatedConnection::port() const { return impl_->settings().port; }
const std::string& DedicatedConnection::node_id() const { return impl_->settings().node_id; }
void DedicatedConnection::send(std::string_view request) { impl_->send(request); }
void DedicatedConnection::recycle(std::function<void(bool)> done) {
  impl_->recycle(std::move(done));
}

}  // namespace frontcache::upstream
