// Pinning: a session whose commands change its connection's state upstream (MULTI/WATCH,
// blocking commands, SUBSCRIBE, MONITOR, CLIENT TRACKING) moves onto a dedicated upstream
// connection from its worker's bounded set, and sends everything there until that state is
// over; then the connection goes back to the worker and the session to the shared ones.
//
// The dedicated connection is a stream of reply frames. Each request sent on it is recorded in
// pinned_requests_ with the number of frames that answer it (one, or one per channel for the
// SUBSCRIBE family); frames no request asked for (pub/sub messages, MONITOR lines) are pushes,
// placed ahead of the first waiting request's reply, which is where the upstream put them.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>

#include "frontcache/resp/errors.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::iequals;
using command::Route;

namespace {

// Reads the first two elements of a RESP2 pub/sub reply `*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1`
// (the channel may be a null bulk). False when the frame does not have that shape.
bool parse_subscription(std::string_view frame, std::string_view& type,
                        std::optional<std::string_view>& channel) {
  auto read_bulk = [&frame](std::optional<std::string_view>& out) {
    if (frame.empty() || frame[0] != '$') return false;
    const auto eol = frame.find("\r\n");
    if (eol == std::string_view::npos) return false;
    long long len = 0;
    auto [p, ec] = std::from_chars(frame.data() + 1, frame.data() + eol, len);
    if (ec != std::errc()) return false;
    frame.remove_prefix(eol + 2);
    if (len < 0) {
      out.reset();
      return true;
    }
    if (frame.size() < static_cast<std::size_t>(len) + 2) return false;
    out = frame.substr(0, static_cast<std::size_t>(len));
    frame.remove_prefix(static_cast<std::size_t>(len) + 2);
    return true;
  };
  if (!frame.starts_with("*3\r\n")) return false;
  frame.remove_prefix(4);
  std::optional<std::string_view> first;
  if (!read_bulk(first) || !first) return false;
  type = *first;
  return read_bulk(channel);
}

bool starts_with_ci(std::string_view a, std::string_view upper) {
  return a.size() >= upper.size() && iequals(a.substr(0, upper.size()), upper);
}

}  // namespace

bool Session::needs_pin(Args args) const {
  const command::CommandInfo* info = worker_.shared().commands.find(args[0]);
  if (info == nullptr) return false;
  if (info->route == Route::Stateful) return true;
  if (info->name == "xread" || info->name == "xreadgroup") {
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (iequals(args[i], "STREAMS")) return false;
      if (iequals(args[i], "BLOCK")) return true;
    }
    return false;
  }
  return info->name == "client" && args.size() >= 2 && iequals(args[1], "TRACKING");
}

bool Session::subscribe_mode() const {
  return subscribe_pending_ > 0 || !channels_.empty() || !patterns_.empty() ||
         !shard_channels_.empty();
}

bool Session::pin() {
  auto connection = worker_.acquire_pinned();
  if (!connection) {
    reply_error(
        fmt::format("ERR frontcache: no dedicated upstream connection available for this command "
                    "(upstream.max_pinned_per_worker = {} in use on this worker)",
                    worker_.config().upstream.max_pinned_per_worker));
    return false;
  }
  connection->attach(std::weak_ptr<upstream::StreamTarget>(weak_from_this()));
  pinned_ = std::move(connection);
  pinned_db_ = -1;
  return true;
}

void Session::release_pinned(bool reusable) {
  if (pinned_ == nullptr) return;
  worker_.release_pinned(std::move(pinned_), reusable);
  pinned_.reset();
}

void Session::dispatch_pinned(const command::CommandInfo* info, Route route, Args args,
                              std::string_view raw) {
  const std::string_view name = info != nullptr ? info->name : std::string_view();
  if (name == "quit") return handle_local(*info, args);
  if (pinned_ != nullptr && name == "reset") {
    // RESET runs upstream too (unsubscribes, discards, unwatches, tracking off); the session's
    // own part is reset here.
    reset_session_state();
    return send_pinned(args, raw);
  }
  const bool upstream_decides = multi_queued_ || subscribe_mode();
  const bool proxy_only = name == "auth" || name == "hello";
  if (route == Route::Local && (proxy_only || !upstream_decides)) {
    return handle_local(*info, args);
  }
  if (pinned_ == nullptr && !pin()) return;
  if (name == "select" && multi_queued_ && args.size() == 2) {
    // Queued in the transaction: from EXEC on, the connection is in that database.
    long long db = 0;
    auto [p, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), db);
    if (ec == std::errc() && db >= 0 && db < worker_.shared().databases) {
      db_ = static_cast<int>(db);
      pinned_db_ = db_;
    }
  }
  send_pinned(args, raw);
}

void Session::send_pinned(Args args, std::string_view raw) {
  on_write_keys(args);
  PinnedRequest request;
  const std::string_view name = args[0];
  if (iequals(name, "MULTI")) {
    request.kind = PinKind::Multi;
    multi_queued_ = true;
  } else if (iequals(name, "EXEC")) {
    request.kind = PinKind::Exec;
    multi_queued_ = false;
  } else if (iequals(name, "DISCARD")) {
    request.kind = PinKind::Discard;
    multi_queued_ = false;
  } else if (iequals(name, "WATCH")) {
    request.kind = PinKind::Watch;
  } else if (iequals(name, "UNWATCH")) {
    request.kind = PinKind::Unwatch;
  } else if (iequals(name, "MONITOR")) {
    request.kind = PinKind::Monitor;
  } else if (iequals(name, "RESET")) {
    request.kind = PinKind::Reset;
    multi_queued_ = false;
  } else if (iequals(name, "CLIENT") && args.size() >= 3 && iequals(args[1], "TRACKING")) {
    request.kind = iequals(args[2], "ON") ? PinKind::TrackingOn : PinKind::TrackingOff;
  } else if (iequals(name, "SUBSCRIBE") || iequals(name, "PSUBSCRIBE") ||
             iequals(name, "SSUBSCRIBE")) {
    request.kind = PinKind::Subscribe;
    request.remaining = std::max<int>(1, static_cast<int>(args.size()) - 1);
  } else if (iequals(name, "UNSUBSCRIBE") || iequals(name, "PUNSUBSCRIBE") ||
             iequals(name, "SUNSUBSCRIBE")) {
    request.kind = PinKind::Unsubscribe;
    request.remaining = args.size() > 1 ? static_cast<int>(args.size()) - 1 : -1;
    request.set = starts_with_ci(name, "P")   ? SubSet::Patterns
                  : starts_with_ci(name, "S") ? SubSet::Shard
                                              : SubSet::Channels;
  }
  if (request.kind == PinKind::Subscribe || request.kind == PinKind::Unsubscribe) {
    ++subscribe_pending_;
  }
  const bool multi_internal = multi_queued_ && request.kind != PinKind::Multi;
  if (pinned_db_ != db_ && !subscribe_mode() && !multi_internal) {
    const std::string db_text = std::to_string(db_);
    const std::string_view select[] = {"SELECT", db_text};
    std::string bytes;
    resp::encode_command(bytes, select);
    pinned_->send(bytes);
    pinned_requests_.push_back(PinnedRequest{kNoSlot, PinKind::Internal, 1, SubSet::Channels});
    pinned_db_ = db_;
  }
  if (!silent_) request.seq = replies_.push();
  pinned_requests_.push_back(request);
  pinned_->send(raw);
}

bool Session::is_push(std::string_view frame, resp::ReplyKind kind) const {
  if (kind == resp::ReplyKind::Array && subscribe_mode()) {
    return frame.starts_with("*3\r\n$7\r\nmessage\r\n") ||
           frame.starts_with("*4\r\n$8\r\npmessage\r\n") ||
           frame.starts_with("*3\r\n$8\r\nsmessage\r\n");
  }
  return monitor_ && kind == resp::ReplyKind::Status && frame.size() > 1 &&
         std::isdigit(static_cast<unsigned char>(frame[1])) != 0;
}

void Session::track_subscription(std::string_view frame) {
  std::string_view type;
  std::optional<std::string_view> channel;
  if (!parse_subscription(frame, type, channel) || !channel) return;
  const std::string name(*channel);
  if (type == "subscribe")
    channels_.insert(name);
  else if (type == "unsubscribe")
    channels_.erase(name);
  else if (type == "psubscribe")
    patterns_.insert(name);
  else if (type == "punsubscribe")
    patterns_.erase(name);
  else if (type == "ssubscribe")
    shard_channels_.insert(name);
  else if (type == "sunsubscribe")
    shard_channels_.erase(name);
}

void Session::apply_pinned_state(PinKind kind, std::string_view frame) {
  const bool ok = frame == "+OK\r\n";
  switch (kind) {
    case PinKind::Multi:
      if (ok) multi_ = true;
      break;
    case PinKind::Exec:
      multi_ = false;
      watching_ = false;
      break;
    case PinKind::Discard:
      if (ok) {
        multi_ = false;
        watching_ = false;
      }
      break;
    case PinKind::Watch:
      if (ok) watching_ = true;
      break;
    case PinKind::Unwatch:
      if (ok && !multi_) watching_ = false;
      break;
    case PinKind::Monitor:
      if (ok) monitor_ = true;
      break;
    case PinKind::TrackingOn:
      if (ok) tracking_ = true;
      break;
    case PinKind::TrackingOff:
      if (ok) tracking_ = false;
      break;
    case PinKind::Reset:
      multi_ = watching_ = monitor_ = tracking_ = false;
      channels_.clear();
      patterns_.clear();
      shard_channels_.clear();
      pinned_db_ = 0;
      break;
    default:
      break;
  }
}

void Session::on_frame(std::string_view frame, resp::ReplyKind kind) {
  if (closed_ || pinned_ == nullptr) return;
  if (is_push(frame, kind) || pinned_requests_.empty()) {
    if (!reply_off_) {
      auto slot = std::find_if(pinned_requests_.begin(), pinned_requests_.end(),
                               [](const PinnedRequest& r) { return r.seq != kNoSlot; });
      if (slot != pinned_requests_.end()) {
        replies_.add(slot->seq, frame);
      } else {
        replies_.append(frame);
      }
    }
    wake_writer();
    return;
  }
  PinnedRequest& request = pinned_requests_.front();
  bool done = true;
  std::string_view final_bytes = frame;
  if (request.kind == PinKind::Internal) {
    if (kind == resp::ReplyKind::Error) {
      spdlog::warn("client {}: pinned connection refused SELECT: {}", id_, frame);
    }
    final_bytes = {};
  } else if ((request.kind == PinKind::Subscribe || request.kind == PinKind::Unsubscribe) &&
             kind != resp::ReplyKind::Error) {
    track_subscription(frame);
    if (request.remaining < 0) {
      const auto& set = request.set == SubSet::Channels   ? channels_
                        : request.set == SubSet::Patterns ? patterns_
                                                          : shard_channels_;
      done = set.empty();
    } else {
      done = --request.remaining <= 0;
    }
    if (!done) {
      if (request.seq != kNoSlot) replies_.add(request.seq, frame);
      final_bytes = {};
    }
  } else {
    apply_pinned_state(request.kind, frame);
  }
  if (done) {
    if (request.kind == PinKind::Subscribe || request.kind == PinKind::Unsubscribe) {
      --subscribe_pending_;
    }
    if (request.seq != kNoSlot) replies_.complete(request.seq, final_bytes);
    pinned_requests_.pop_front();
  }
  unpin_if_idle();
  wake_writer();
}

void Session::unpin_if_idle() {
  if (pinned_ == nullptr || !pinned_requests_.empty() || multi_ || multi_queued_ || watching_ ||
      monitor_ || tracking_ || subscribe_mode()) {
    return;
  }
  release_pinned(true);
}

void Session::on_stream_closed(const std::string& reason) {
  if (pinned_ == nullptr) return;
  worker_.shared().stats.pinned_lost.fetch_add(1, std::memory_order_relaxed);
  const bool had_state =
      multi_ || multi_queued_ || watching_ || monitor_ || tracking_ || subscribe_mode();
  const std::string error =
      resp::error_reply(fmt::format("ERR upstream connection lost ({})", reason));
  for (const auto& request : pinned_requests_) {
    if (request.seq != kNoSlot) replies_.complete(request.seq, error);
  }
  pinned_requests_.clear();
  multi_ = multi_queued_ = watching_ = monitor_ = tracking_ = false;
  subscribe_pending_ = 0;
  channels_.clear();
  patterns_.clear();
  shard_channels_.clear();
  release_pinned(false);
  if (had_state && !closed_) {
    // The connection state the client built (transaction, subscriptions) is gone upstream:
    // close the client connection, as a Redis restart would, once the errors are written.
    spdlog::warn("client {} ({}): dedicated upstream connection lost ({}); closing the client", id_,
                 addr_, reason);
    read_done_ = true;
    read_signal_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_receive, ignored);
  }
  wake_writer();
}

}  // namespace frontcache::proxy
