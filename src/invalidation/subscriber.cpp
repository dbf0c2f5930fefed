#include "frontcache/invalidation/subscriber.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "frontcache/invalidation/payload.hpp"
#include "frontcache/metrics/log_limit.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "frontcache/upstream/connect.hpp"
#include "frontcache/upstream/stream.hpp"

namespace frontcache::invalidation {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kTrackingChannel = "__redis__:invalidate";

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

std::string_view str(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                          r->type == REDIS_REPLY_ERROR)
             ? std::string_view(r->str, r->len)
             : std::string_view{};
}

std::string command(std::initializer_list<std::string_view> args) {
  std::string out;
  std::vector<std::string_view> v(args);
  resp::encode_command(out, v);
  return out;
}

// One upstream connection that speaks request/reply during its handshake, then streams.
struct Link {
  explicit Link(asio::io_context& io) : stream(io.get_executor()), reader(redisReaderCreate()) {}
  upstream::Stream stream;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::array<char, 16 * 1024> buf{};
  bool ponged = false;  // the current fence round's PING was answered

  // Ends the connection (pending reads and writes fail); open() starts a new one.
  void reset() {
    stream.close();
    reader.reset(redisReaderCreate());
  }
  // A complete reply already buffered, or null.
  ReplyPtr next() {
    void* reply = nullptr;
    if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
      throw std::runtime_error("protocol error from upstream");
    }
    return ReplyPtr(static_cast<redisReply*>(reply));
  }
};

}  // namespace

class Subscriber::Impl : public std::enable_shared_from_this<Subscriber::Impl> {
 public:
  Impl(asio::io_context& io, SubscriberSettings settings, Sink& sink)
      : io_(io), settings_(std::move(settings)), sink_(sink), sub_(io), tracker_(io), timer_(io) {}

  void start() {
    asio::co_spawn(io_, run(shared_from_this()), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("invalidation subscriber ended: {}", ex.what());
      }
    });
  }

  void set_prefixes(std::vector<std::string> prefixes) {
    if (prefixes == settings_.prefixes) return;
    settings_.prefixes = std::move(prefixes);
    spdlog::info("invalidation: tracking prefixes changed, re-arming");
    sub_.reset();  // the loops end; run() reconnects with the new prefixes
    tracker_.reset();
  }

  void stop() {
    stopped_ = true;
    sub_.reset();
    tracker_.reset();
    timer_.cancel();
    round_timer_.cancel();
  }

 private:
  awaitable<void> run([[maybe_unused]] std::shared_ptr<Impl> self) {
    auto backoff = std::chrono::milliseconds(50);
    while (!stopped_) {
      std::string reason;
      try {
        reason = co_await serve_once();
      } catch (const std::exception& e) {
        reason = e.what();
      }
      sub_.reset();
      tracker_.reset();
      if (stopped_) {
        spdlog::debug("invalidation connections closed (shutdown)");
      } else if (armed_) {
        spdlog::warn("invalidation lost ({}): L1 cleared and bypassed until re-armed", reason);
      } else if (reason != last_reason_) {
        spdlog::warn("invalidation not armed ({}): L1 bypassed, retrying", reason);
      }
      last_reason_ = reason;
      armed_ = false;
      sink_.set_armed(false, reason);
      if (stopped_) break;
      timer_.expires_after(backoff);
      co_await timer_.async_wait(kNoThrow);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
      if (reason.empty()) backoff = std::chrono::milliseconds(50);
    }
  }

  // Returns why the connections ended.
  awaitable<std::string> serve_once() {
    std::string error = co_await open(sub_);
    if (!error.empty()) co_return error;
    const std::string client_id_request = command({"CLIENT", "ID"});
    co_await write(sub_, client_id_request);
    ReplyPtr id = co_await read_reply(sub_);
    if (id->type != REDIS_REPLY_INTEGER)
      co_return "CLIENT ID failed: " + std::string(str(id.get()));
    const std::string client_id = std::to_string(id->integer);
    const std::string subscribe = command({"SUBSCRIBE", kTrackingChannel, settings_.channel});
    co_await write(sub_, subscribe);
    for (int i = 0; i < 2; ++i) {
      ReplyPtr r = co_await read_reply(sub_);
      if (r->type != REDIS_REPLY_ARRAY) co_return "SUBSCRIBE failed: " + std::string(str(r.get()));
    }
    if (settings_.tracking) {
      error = co_await open(tracker_);
      if (!error.empty()) co_return "tracker: " + error;
      const std::string request = tracking_request(client_id);
      co_await write(tracker_, request);
      ReplyPtr r = co_await read_reply(tracker_);
      if (r->type == REDIS_REPLY_ERROR) {
        co_return "CLIENT TRACKING refused: " + std::string(str(r.get()));
      }
    }
    armed_ = true;
    sink_.set_armed(true, "");
    spdlog::info("invalidation armed: channel {}{}", settings_.channel,
                 settings_.tracking ? ", CLIENT TRACKING BCAST" : "");
    std::string reason;
    co_await (read_loop(sub_, true, reason) || read_loop(tracker_, false, reason) ||
              fence_loop(reason));
    co_return reason;
  }

  std::string tracking_request(const std::string& client_id) const {
    std::vector<std::string_view> args{"CLIENT", "TRACKING", "on", "REDIRECT", client_id, "BCAST"};
    for (const auto& p : settings_.prefixes) {
      args.push_back("PREFIX");
      args.push_back(p);
    }
    std::string request;
    resp::encode_command(request, args);
    return request;
  }

  awaitable<std::string> open(Link& link) {
    link.reset();
    const std::string error = co_await link.stream.connect(timer_, settings_.upstream);
    if (!error.empty()) co_return error;
    std::string auth;
    if (upstream::append_auth(auth, settings_.upstream) > 0) {
      co_await write(link, auth);
      ReplyPtr r = co_await read_reply(link);
      if (r->type == REDIS_REPLY_ERROR) co_return "AUTH refused: " + std::string(str(r.get()));
    }
    std::string ask;
    if (upstream::append_identity_check(ask, settings_.upstream) > 0) {
      co_await write(link, ask);
      ReplyPtr r = co_await read_reply(link);
      const std::string_view text = str(r.get());
      const std::string frame = r->type == REDIS_REPLY_STRING
                                    ? fmt::format("${}\r\n{}\r\n", text.size(), text)
                                : r->type == REDIS_REPLY_ERROR ? fmt::format("-{}\r\n", text)
                                                               : std::string("(not a string)");
      std::string other = upstream::identity_error(settings_.upstream, frame);
      if (!other.empty()) co_return other;
    }
    co_return "";
  }

  awaitable<void> write(Link& link, std::string_view bytes) {
    auto [ec, n] = co_await link.stream.write(asio::buffer(bytes));
    if (ec) throw std::runtime_error(ec.message());
  }

  awaitable<ReplyPtr> read_reply(Link& link) {
    for (;;) {
      ReplyPtr r = link.next();
      if (r) co_return r;
      auto [ec, n] = co_await link.stream.read_some(asio::buffer(link.buf));
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
        throw std::runtime_error("closed by upstream");
      }
      if (ec) throw std::runtime_error(ec.message());
      redisReaderFeed(link.reader.get(), link.buf.data(), n);
    }
  }

  awaitable<void> read_loop(Link& link, bool subscriber, std::string& reason) {
    if (!subscriber && !settings_.tracking) {
      // No tracker: wait until the group ends.
      asio::steady_timer forever(io_, asio::steady_timer::time_point::max());
      co_await forever.async_wait(kNoThrow);
      co_return;
    }
    try {
      for (;;) {
        ReplyPtr r = co_await read_reply(link);
        if (subscriber) {
          handle_message(r.get());
        } else if (str(r.get()) == "PONG") {
          pong(tracker_);
        }
      }
    } catch (const std::exception& e) {
      // The first loop to end says why; the others end because it did (cancelled).
      if (reason.empty()) {
        reason = fmt::format("{} connection: {}", subscriber ? "subscriber" : "tracker", e.what());
      }
    }
  }

  // Fence rounds: PING on the tracker and the subscriber connection at the same moment T, and
  // wait for both PONGs. The tracker's proves tracking was still on at T (it never comes back on
  // a connection once lost), so every write Redis ran before T had its invalidation queued to
  // the subscriber before the subscriber's PING; that PONG arriving after those messages, a
  // completed round proves L1 holds nothing that Redis changed before T: the sink learns
  // set_current(T). Rounds start every fence_interval, or at once when one is requested; a round
  // that is not answered within ping_interval ends the connections.
  awaitable<void> fence_loop(std::string& reason) {
    const std::string ping = command({"PING"});
    asio::steady_timer& timer = round_timer_;
    for (;;) {
      const auto started = Clock::now();
      fence_requested_.store(false, std::memory_order_relaxed);
      sub_.ponged = false;
      tracker_.ponged = !settings_.tracking;
      try {
        co_await write(sub_, ping);
        if (settings_.tracking) co_await write(tracker_, ping);
      } catch (const std::exception& e) {
        if (reason.empty()) reason = fmt::format("PING failed: {}", e.what());
        co_return;
      }
      const auto deadline = started + settings_.ping_interval;
      while (!(sub_.ponged && tracker_.ponged) && Clock::now() < deadline) {
        timer.expires_at(deadline);
        co_await timer.async_wait(kNoThrow);
      }
      if (!(sub_.ponged && tracker_.ponged)) {
        if (reason.empty()) {
          reason = fmt::format("no PONG within {}ms", settings_.ping_interval.count());
        }
        co_return;
      }
      sink_.set_current(started);
      const auto next = started + settings_.fence_interval;
      while (!fence_requested_.load(std::memory_order_relaxed) && Clock::now() < next) {
        timer.expires_at(next);
        co_await timer.async_wait(kNoThrow);
      }
    }
  }

  void pong(Link& link) {
    link.ponged = true;
    if (sub_.ponged && tracker_.ponged) round_timer_.cancel();
  }

 public:
  // Any thread: starts a fence round now if none is under way (else right after it).
  void request_fence() {
    if (fence_requested_.exchange(true, std::memory_order_relaxed)) return;
    asio::post(io_, [self = shared_from_this()] { self->round_timer_.cancel(); });
  }

 private:
  void handle_message(const redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return;
    const std::string_view kind = str(r->element[0]);
    if (kind == "pong") {
      pong(sub_);
      return;
    }
    if (kind != "message" || r->elements != 3) return;
    const std::string_view channel = str(r->element[1]);
    const redisReply* payload = r->element[2];
    keys_.clear();
    if (channel == kTrackingChannel) {
      if (payload->type == REDIS_REPLY_NIL) {
        sink_.invalidate_all(Source::Tracking);
        return;
      }
      if (payload->type == REDIS_REPLY_ARRAY) {
        for (std::size_t i = 0; i < payload->elements; ++i)
          keys_.push_back(str(payload->element[i]));
      } else {
        keys_.push_back(str(payload));
      }
      sink_.invalidate(keys_, Source::Tracking);
      return;
    }
    if (channel != settings_.channel) return;
    switch (decode(str(payload), settings_.instance, keys_)) {
      case PayloadKind::Keys:
        sink_.invalidate(keys_, Source::Channel);
        break;
      case PayloadKind::All:
        sink_.invalidate_all(Source::Channel);
        break;
      case PayloadKind::Own:
        break;
      case PayloadKind::Malformed:
        malformed_log_.warn("invalidation channel {}: malformed fc1 payload ignored",
                            settings_.channel);
        break;
    }
  }

  asio::io_context& io_;
  SubscriberSettings settings_;
  Sink& sink_;
  Link sub_;
  Link tracker_;
  asio::steady_timer timer_;
  asio::steady_timer round_timer_{io_};
  std::atomic<bool> fence_requested_{false};
  metrics::LogLimit malformed_log_;
  bool stopped_ = false;
  bool armed_ = false;
  std::string last_reason_;
  std::vector<std::string_view> keys_;
};

Subscriber::Subscriber(asio::io_context& io, SubscriberSettings settings, Sink& sink)
    : impl_(std::make_shared<Impl>(io, std::move(settings), sink)) {}

Subscriber::~Subscriber() { impl_->stop(); }

void Subscriber::start() { impl_->start(); }
void Subscriber::stop() { impl_->stop(); }
void Subscriber::request_fence() { impl_->request_fence(); }
void Subscriber::set_prefixes(std::vector<std::string> prefixes) {
  impl_->set_prefixes(std::move(prefixes));
}

}  // namespace frontcache::invalidation
