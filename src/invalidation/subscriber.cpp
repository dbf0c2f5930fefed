#include "frontcache/invalidation/subscriber.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <spdlog/spdlog.h>

#include <algorithm>
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
#include <charconv>
#include <deque>
#include <vector>

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

// A reply as hiredis's reader decodes it, built in the link's Replies arena rather than with one
// allocation per element (hiredis's default objects): a BCAST message carries every key Redis
// changed in one event-loop turn, and allocating and freeing each was a fifth of this thread's
// CPU under a write load. Field names follow redisReply's where they exist.
struct Reply {
  int type = REDIS_REPLY_NIL;
  long long integer = 0;
  std::vector<const Reply*> element;  // an array's elements
  const std::string* bytes = nullptr;
  std::size_t offset = 0;  // the string's bytes: (*bytes)[offset, offset + size)
  std::size_t size = 0;
};

// The replies being decoded on one link. A reply is valid until the next one is asked for;
// slots and their element vectors are reused, so a steady stream allocates nothing.
class Replies {
 public:
  Replies() {
    functions_.createString = &Replies::create_string;
    functions_.createArray = &Replies::create_array;
    functions_.createInteger = &Replies::create_integer;
    functions_.createNil = &Replies::create_nil;
    functions_.freeObject = [](void*) {};  // everything goes when the arena is reset
  }
  Replies(const Replies&) = delete;
  Replies& operator=(const Replies&) = delete;

  redisReader* make_reader() {
    redisReader* reader = redisReaderCreateWithFunctions(&functions_);
    if (reader != nullptr) reader->privdata = this;
    reset();
    return reader;
  }
  // Before decoding the next reply: the previous one is no longer used. What an unusually large
  // reply left (a write of many keys in one event-loop turn) is given back.
  void reset() {
    used_ = 0;
    if (slots_.size() > kKeepSlots) {
      slots_.resize(kKeepSlots);
      slots_.shrink_to_fit();
    }
    if (bytes_.capacity() > kKeepBytes) {
      std::string().swap(bytes_);
    } else {
      bytes_.clear();
    }
  }

 private:
  static Reply* make(const redisReadTask* task, int type) {
    auto* self = static_cast<Replies*>(task->privdata);
    if (self->used_ == self->slots_.size()) self->slots_.emplace_back();
    Reply* r = &self->slots_[self->used_++];
    r->type = type;
    r->integer = 0;
    if (r->element.capacity() > kKeepSlots) {
      std::vector<const Reply*>().swap(r->element);
    } else {
      r->element.clear();
    }
    r->bytes = &self->bytes_;
    r->offset = r->size = 0;
    if (task->parent != nullptr) {
      auto* parent = static_cast<Reply*>(task->parent->obj);
      parent->element[static_cast<std::size_t>(task->idx)] = r;
    }
    return r;
  }
  static void* create_string(const redisReadTask* task, char* str, std::size_t len) {
    auto* self = static_cast<Replies*>(task->privdata);
    Reply* r = make(task, task->type);
    r->offset = self->bytes_.size();
    r->size = len;
    self->bytes_.append(str, len);
    return r;
  }
  static void* create_array(const redisReadTask* task, int elements) {
    Reply* r = make(task, REDIS_REPLY_ARRAY);
    r->element.assign(static_cast<std::size_t>(elements), nullptr);
    return r;
  }
  static void* create_integer(const redisReadTask* task, long long value) {
    Reply* r = make(task, REDIS_REPLY_INTEGER);
    r->integer = value;
    return r;
  }
  static void* create_nil(const redisReadTask* task) { return make(task, REDIS_REPLY_NIL); }

  static constexpr std::size_t kKeepSlots = 4096;
  static constexpr std::size_t kKeepBytes = 1024 * 1024;

  redisReplyObjectFunctions functions_{};
  std::deque<Reply> slots_;  // a deque: slots keep their address as it grows
  std::size_t used_ = 0;
  std::string bytes_;
};

std::string_view str(const Reply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                          r->type == REDIS_REPLY_ERROR)
             ? std::string_view(*r->bytes).substr(r->offset, r->size)
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
  explicit Link(asio::io_context& io) : stream(io.get_executor()), reader(replies.make_reader()) {}
  upstream::Stream stream;
  Replies replies;  // before reader: the reader's objects live here
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  bool delivered = false;  // next() returned a reply: the arena may be reset
  std::array<char, 16 * 1024> buf{};
  bool ponged = false;  // the current fence round's PING was answered

  // Ends the connection (pending reads and writes fail); open() starts a new one.
  void reset() {
    stream.close();
    reader.reset(replies.make_reader());
    delivered = false;
  }
  // A complete reply already buffered, or null. It is valid until the next call; a reply
  // decoded in part stays in the arena until it is complete.
  const Reply* next() {
    if (delivered) replies.reset();
    void* reply = nullptr;
    if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
      throw std::runtime_error("protocol error from upstream");
    }
    delivered = reply != nullptr;
    return static_cast<const Reply*>(reply);
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
      // The shared connections stop counting as tracked before L1 is cleared.
      if (settings_.data_tracking) settings_.data_tracking->unpoint();
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
    const Reply* id = co_await read_reply(sub_);
    if (id->type != REDIS_REPLY_INTEGER) co_return "CLIENT ID failed: " + std::string(str(id));
    const auto subscriber_id = static_cast<std::uint64_t>(id->integer);
    const std::string client_id = std::to_string(subscriber_id);
    const std::string subscribe = command({"SUBSCRIBE", kTrackingChannel, settings_.channel});
    co_await write(sub_, subscribe);
    for (int i = 0; i < 2; ++i) {
      const Reply* r = co_await read_reply(sub_);
      if (r->type != REDIS_REPLY_ARRAY) co_return "SUBSCRIBE failed: " + std::string(str(r));
    }
    if (settings_.data_tracking) {
      // No tracking of its own: it asks in each fence round which shared connections are still
      // there (CLIENT LIST ID), so that a busy one's queue does not hold the round back.
      error = co_await open(tracker_);
      if (!error.empty()) co_return "tracker: " + error;
    }
    if (settings_.tracking) {
      error = co_await open(tracker_);
      if (!error.empty()) co_return "tracker: " + error;
      const std::string request = tracking_request(client_id);
      co_await write(tracker_, request);
      const Reply* r = co_await read_reply(tracker_);
      if (r->type == REDIS_REPLY_ERROR) {
        co_return "CLIENT TRACKING refused: " + std::string(str(r));
      }
    }
    if (settings_.data_tracking) {
      // A new generation: the shared connections point themselves at this subscriber before
      // their next request; their fills are cached from then on (after the clear below).
      settings_.data_tracking->point_to(subscriber_id);
      data_generation_ = settings_.data_tracking->generation();
    }
    armed_ = true;
    sink_.set_armed(true, "");
    spdlog::info("invalidation armed: channel {}{}", settings_.channel,
                 settings_.tracking        ? ", CLIENT TRACKING BCAST"
                 : settings_.data_tracking ? ", CLIENT TRACKING on the shared connections"
                                           : "");
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
      const Reply* r = co_await read_reply(link);
      if (r->type == REDIS_REPLY_ERROR) co_return "AUTH refused: " + std::string(str(r));
    }
    std::string ask;
    if (upstream::append_identity_check(ask, settings_.upstream) > 0) {
      co_await write(link, ask);
      const Reply* r = co_await read_reply(link);
      const std::string_view text = str(r);
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

  awaitable<const Reply*> read_reply(Link& link) {
    for (;;) {
      const Reply* r = link.next();
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
    if (!subscriber && !uses_tracker()) {
      // No tracker: wait until the group ends.
      asio::steady_timer forever(io_, asio::steady_timer::time_point::max());
      co_await forever.async_wait(kNoThrow);
      co_return;
    }
    try {
      for (;;) {
        const Reply* r = co_await read_reply(link);
        if (subscriber) {
          handle_message(r);
        } else if (settings_.data_tracking) {
          confirm(r);
          pong(tracker_);
        } else if (str(r) == "PONG") {
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
      const bool requested = fence_requested_.exchange(false, std::memory_order_relaxed);
      sub_.ponged = false;
      tracker_.ponged = !uses_tracker();
      try {
        co_await write(sub_, ping);
        if (settings_.tracking) co_await write(tracker_, ping);
        if (settings_.data_tracking) co_await write(tracker_, alive_request(started, requested));
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
      // With data tracking, writes are reported only while the connection that read the key
      // is alive: current only as of the oldest proof among them (data_tracking.hpp).
      auto as_of = started;
      if (settings_.data_tracking) {
        as_of = std::min(as_of, settings_.data_tracking->proven_as_of(data_generation_, alive_));
      }
      sink_.set_current(as_of);
      const auto next = started + settings_.fence_interval;
      while (!fence_requested_.load(std::memory_order_relaxed) && Clock::now() < next) {
        timer.expires_at(next);
        co_await timer.async_wait(kNoThrow);
      }
    }
  }

  bool uses_tracker() const { return settings_.tracking || settings_.data_tracking != nullptr; }

  // Data tracking: CLIENT LIST ID of the shared connections pointed at this generation (their
  // ids as the round starts). Run after the round's start, its reply names those still
  // connected, so still tracking, then: they were tracking for every write before the start,
  // whatever their own queues hold. Asked only when the round needs it: when a session waits
  // for it (a requested fence must be current as of its start) or when some connection's own
  // proof lags by more than two fence intervals (one queued behind large replies). Otherwise
  // (idle connections PING, busy ones are proven by their replies) a PING: 19 us of Redis CPU
  // per CLIENT LIST ID, 40 rounds a second, saved on every instance whose connections keep up.
  std::string alive_request(Clock::time_point started, bool requested) {
    asked_.clear();
    alive_.clear();
    const auto lag_allowed = 2 * settings_.data_tracking->prove_every();
    if (!requested &&
        settings_.data_tracking->proven_as_of(data_generation_) >= started - lag_allowed) {
      return command({"PING"});
    }
    asked_ = settings_.data_tracking->client_ids(data_generation_);
    if (asked_.empty()) return command({"PING"});
    std::vector<std::string> ids;
    for (auto id : asked_) ids.push_back(std::to_string(id));
    std::vector<std::string_view> args{"CLIENT", "LIST", "ID"};
    args.insert(args.end(), ids.begin(), ids.end());
    std::string request;
    resp::encode_command(request, args);
    return request;
  }

  // The reply to alive_request(): the asked ids whose line says they track (flag t). Anything
  // else (PONG, an error such as a NOPERM or a Redis before 6.2) confirms nothing: those
  // connections count with their own proofs (data_tracking.hpp).
  void confirm(const Reply* r) {
    alive_.clear();
    if (r->type != REDIS_REPLY_STRING) {
      if (r->type == REDIS_REPLY_ERROR) {
        alive_log_.warn(
            "invalidation: CLIENT LIST ID refused ({}): idle shared connections "
            "prove themselves with PINGs",
            str(r));
      }
      return;
    }
    std::string_view text = str(r);
    while (!text.empty()) {
      const auto end = text.find('\n');
      const std::string_view line = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
      std::uint64_t id = 0;
      if (!line.starts_with("id=")) continue;
      std::from_chars(line.data() + 3, line.data() + line.size(), id);
      const auto flags = line.find(" flags=");
      if (flags == std::string_view::npos) continue;
      const std::string_view f = line.substr(flags + 7, line.find(' ', flags + 7) - flags - 7);
      if (f.find('t') != std::string_view::npos &&
          std::binary_search(asked_.begin(), asked_.end(), id)) {
        alive_.push_back(id);
      }
    }
    std::sort(alive_.begin(), alive_.end());
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
  void handle_message(const Reply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->element.size() < 2) return;
    const std::string_view kind = str(r->element[0]);
    if (kind == "pong") {
      pong(sub_);
      return;
    }
    if (kind != "message" || r->element.size() != 3) return;
    const std::string_view channel = str(r->element[1]);
    const Reply* payload = r->element[2];
    keys_.clear();
    if (channel == kTrackingChannel) {
      if (payload->type == REDIS_REPLY_NIL) {
        sink_.invalidate_all(Source::Tracking);
        return;
      }
      if (payload->type == REDIS_REPLY_ARRAY) {
        for (std::size_t i = 0; i < payload->element.size(); ++i)
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
  std::uint64_t data_generation_ = 0;
  std::vector<std::uint64_t> asked_;  // data tracking: the ids this round asks about (sorted)
  std::vector<std::uint64_t> alive_;  // ... and those Redis listed as tracking (sorted)
  metrics::LogLimit alive_log_;
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
