// The dedicated connection. A session whose commands create state in its Redis connection
// (MULTI/WATCH, blocking commands, the SUBSCRIBE family, MONITOR, CLIENT TRACKING) moves onto a
// dedicated upstream connection and sends everything there, in order, until that state is over
// and every reply is in; then the connection is RESET and goes back to the worker.
//
// The connection mirrors the client's Redis state by construction: it is clean when handed
// over (RESET, AUTH), gets the session's database with a SELECT of ours, and from then on only
// the client's own commands. The model (ClientState) follows the replies: the frame at the
// front answers the oldest request (one frame per channel for the SUBSCRIBE family); frames no
// request asked for (pub/sub messages, MONITOR lines) are pushes, placed ahead of the first
// waiting request's reply, which is where Redis put them. What the proxy answers itself while
// pinned (CLIENT, AUTH, HELLO...) waits until every reply is in (router.cpp), so it reads the
// state Redis would have when it ran the command; inside MULTI it is queued and run at EXEC.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <utility>

#include "frontcache/metrics/log_limit.hpp"
#include "frontcache/resp/errors.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::Op;

namespace {

constexpr std::string_view kQueued = "+QUEUED\r\n";
constexpr std::string_view kExecAbort =
    "-EXECABORT Transaction discarded because of previous errors.\r\n";

// Reads the first two elements of a pub/sub reply `*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1`
// (RESP3: `>3` instead of `*3`; the channel may be a null). False when the frame does not have
// that shape.
bool parse_subscription(std::string_view frame, std::string_view& type,
                        std::optional<std::string_view>& channel) {
  auto read_bulk = [&frame](std::optional<std::string_view>& out) {
    if (frame.starts_with("_\r\n")) {  // RESP3 null
      frame.remove_prefix(3);
      out.reset();
      return true;
    }
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
  if (!frame.starts_with("*3\r\n") && !frame.starts_with(">3\r\n")) return false;
  frame.remove_prefix(4);
  std::optional<std::string_view> first;
  if (!read_bulk(first) || !first) return false;
  type = *first;
  return read_bulk(channel);
}

bool is_subscription_op(Op op) {
  return op == Op::Subscribe || op == Op::Psubscribe || op == Op::Ssubscribe ||
         op == Op::Unsubscribe || op == Op::Punsubscribe || op == Op::Sunsubscribe;
}

// Commands Redis runs at once inside MULTI instead of queueing them.
bool runs_inside_multi(Op op) {
  return op == Op::Exec || op == Op::Discard || op == Op::Multi || op == Op::Watch ||
         op == Op::Reset || op == Op::Quit;
}

}  // namespace

void Session::dispatch_pinned(const Classified& c, Args args, std::string_view raw) {
  if (c.op == Op::Quit) {
    // Redis runs QUIT at once, even in MULTI or subscribed; its +OK follows every earlier
    // reply, then the connection closes.
    reply(resp::kOk);
    conn_.stop_reading();
    return;
  }
  if (answered_by_proxy(c, args)) return answer_locally(c, args);
  // Redis ignores MONITOR from a client that is monitoring already: no reply at all.
  if (c.op == Op::Monitor && state_.monitor && !state_.multi) return;
  if (worker_.cluster() != nullptr && !route_pinned_cluster(c, args)) return;
  if (pinned_ == nullptr && !pin()) return;
  send_pinned(c, args, raw);
}

bool Session::pin() {
  auto connection = cluster_pin_node_ != nullptr
                        ? worker_.acquire_pinned(cluster_pin_node_->host, cluster_pin_node_->port,
                                                 cluster_pin_node_->id)
                        : worker_.acquire_pinned();
  if (!connection) {
    reply_error(
        fmt::format("ERR frontcache: no dedicated upstream connection available for this command "
                    "(upstream.max_pinned_per_worker = {} in use on this worker)",
                    worker_.config().upstream.max_pinned_per_worker));
    return false;
  }
  connection->attach(std::weak_ptr<upstream::StreamTarget>(weak_from_this()));
  pinned_ = std::move(connection);
  if (state_.db != 0) {
    const std::string db = std::to_string(state_.db);
    const std::string_view select[] = {"SELECT", db};
    send_internal(select, kInternal);
  }
  if (state_.resp == 3) {
    const std::string_view hello[] = {"HELLO", "3"};
    send_internal(hello, kInternalHello);
  }
  return true;
}

void Session::send_internal(std::span<const std::string_view> args, std::uint64_t kind) {
  encoded_.clear();
  resp::encode_command(encoded_, args);
  pinned_requests_.push_back(kind);
  pinned_->send(encoded_);
}

void Session::send_pinned(const Classified& c, Args args, std::string_view raw) {
  const std::uint64_t seq = take_slot(silent_);
  RequestContext& ctx = conn_.context(seq);
  ctx.op = c.op;
  ctx.blocking = c.blocking();
  if (c.op == Op::Select && args.size() == 2) {
    int db = -1;
    auto [p, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), db);
    if (ec == std::errc() && p == args[1].data() + args[1].size()) ctx.db = db;
  }
  if (c.op == Op::Info) ctx.reply = info_reply_kind(args);
  if (c.op == Op::ClientInfo) ctx.reply = Reply::ClientInfo;
  if (is_subscription_op(c.op)) ctx.frames = static_cast<int>(args.size()) - 1;
  if (c.op == Op::Reset) reset_pending_ = true;
  ctx.write = before_write(c, args, ctx.written, ctx.flush, ctx.fence);
  pinned_requests_.push_back(seq);
  if (c.op == Op::Exec && state_.multi_failed) {
    // The proxy refused a command of this transaction (Redis would have flagged it): EXEC
    // must abort, so the upstream's queue is discarded instead.
    ctx.exec_abort = true;
    const std::string_view discard[] = {"DISCARD"};
    encoded_.clear();
    resp::encode_command(encoded_, discard);
    return pinned_->send(encoded_);
  }
  pinned_->send(raw);
}

bool Session::is_push(std::string_view frame, resp::ReplyKind kind) const {
  if (kind == resp::ReplyKind::Push) {
    // RESP3: everything out of band is a push, and so are the subscription replies, which
    // answer a request.
    std::string_view type;
    std::optional<std::string_view> channel;
    return !(parse_subscription(frame, type, channel) && type.ends_with("subscribe"));
  }
  if (kind == resp::ReplyKind::Array && state_.subscribed()) {
    return frame.starts_with("*3\r\n$7\r\nmessage\r\n") ||
           frame.starts_with("*4\r\n$8\r\npmessage\r\n") ||
           frame.starts_with("*3\r\n$8\r\nsmessage\r\n");
  }
  return state_.monitor && kind == resp::ReplyKind::Status && frame.size() > 1 &&
         std::isdigit(static_cast<unsigned char>(frame[1])) != 0;
}

// A pub/sub message reaches the client whatever CLIENT REPLY says (Redis marks it a push); a
// MONITOR line does not.
// It goes before the reply of the first client request still waiting on the dedicated
// connection: the HELLO or SELECT the proxy sent itself has no reply slot, and appending behind
// it would put the push after replies of requests already queued (a MONITOR line after the
// reply to the RESET that ended the monitoring).
void Session::push_frame(std::string_view frame) {
  if (frame[0] == '+' && state_.reply_mode == ReplyMode::Off) return;
  for (const std::uint64_t seq : pinned_requests_) {
    if (seq < kInternalHello) return conn_.add(seq, frame);
  }
  if (!conn_.reading_stopped()) conn_.append(frame);
}

void Session::on_frame(std::string_view frame, resp::ReplyKind kind) {
  if (conn_.closed() || pinned_ == nullptr) return;
  std::string redirect;  // cluster mode: MOVED / ASK become TRYAGAIN (cluster_pinned.cpp)
  if (kind == resp::ReplyKind::Error && worker_.cluster() != nullptr &&
      cluster_redirect_frame(frame, redirect)) {
    frame = redirect;
  }
  if (is_push(frame, kind) || pinned_requests_.empty()) return push_frame(frame);
  const std::uint64_t seq = pinned_requests_.front();
  if (seq == kInternalHello) {
    pinned_requests_.pop_front();
    if (resp::is_error(kind)) {
      spdlog::warn("client {}: dedicated connection refused HELLO: {}", id_,
                   frame.substr(0, frame.size() - 2));
      return fail_dedicated("ERR frontcache: dedicated connection refused HELLO");
    }
    return maybe_resume();
  }
  if (seq == kInternal) {
    pinned_requests_.pop_front();
    if (resp::is_busy(frame, kind) && !state_.multi && worker_.cluster() == nullptr) {
      // Redis refuses SELECT while a script runs past busy-reply-threshold, and the client's
      // requests behind it too: their -BUSY is Redis's answer to them, relayed below. The
      // connection is released once they are answered (RESET brings it back to database 0).
      pinned_select_busy_ = true;
      unpin_if_idle();
      return maybe_resume();
    }
    if (frame != resp::kOk) {
      // The hand-off SELECT failed: the connection is not in the client's database. (Or, in a
      // cluster, the MULTI that moved a transaction to its keys' master.)
      static metrics::LogLimit log_limit;
      const std::string what = state_.multi ? "MULTI" : fmt::format("SELECT {}", state_.db);
      log_limit.warn("client {}: dedicated connection refused {}: {}", id_, what,
                     frame.substr(0, frame.size() - 2));
      return fail_dedicated(fmt::format("ERR frontcache: dedicated connection refused {}", what));
    }
    return maybe_resume();
  }
  if (pinned_select_busy_ && !resp::is_busy(frame, kind)) {
    // It ran (the script ended in between, or Redis runs it while busy: WATCH, MULTI), in
    // database 0 instead of the client's: the session cannot go on.
    static metrics::LogLimit log_limit;
    log_limit.warn(
        "client {}: a request ran after the dedicated connection's SELECT {} was refused", id_,
        state_.db);
    return fail_dedicated(
        fmt::format("ERR frontcache: dedicated connection refused SELECT {}", state_.db));
  }
  RequestContext& ctx = conn_.context(seq);
  if (is_subscription_op(ctx.op) && !subscription_frame(seq, frame, kind)) return;
  std::string rewritten;
  std::string_view out = frame;
  if (is_subscription_op(ctx.op) &&
      (kind == resp::ReplyKind::Array || kind == resp::ReplyKind::Push)) {
    out = {};  // every confirmation was added to the slot as it came
  } else {
    rewritten = confirm(ctx, frame, kind);
    out = rewritten.empty() ? frame : std::string_view(rewritten);
  }
  pinned_requests_.pop_front();
  count_upstream(conn_.context(seq));
  conn_.complete(seq, conn_.context(seq).silent ? std::string_view() : out);
  unpin_if_idle();
  maybe_resume();
}

// One confirmation of a (P|S)(UN)SUBSCRIBE: applied to the model and given to the client at
// once, whatever CLIENT REPLY says (as Redis's pushes). True when it was the last one the
// request gets, or when the frame is not a confirmation at all (an error, +QUEUED).
bool Session::subscription_frame(std::uint64_t seq, std::string_view frame, resp::ReplyKind kind) {
  std::string_view type;
  std::optional<std::string_view> channel;
  if ((kind != resp::ReplyKind::Array && kind != resp::ReplyKind::Push) ||
      !parse_subscription(frame, type, channel)) {
    return true;
  }
  RequestContext& ctx = conn_.context(seq);
  if (ctx.frames <= 0) {
    // UNSUBSCRIBE with no argument: one reply per subscription it ends, or one with a null
    // channel when there was none; counted against the model, which is Redis's state now.
    const auto& set = type == "punsubscribe"   ? state_.patterns
                      : type == "sunsubscribe" ? state_.shard_channels
                                               : state_.channels;
    ctx.frames = std::max<int>(1, static_cast<int>(set.size()));
  }
  if (channel) state_.apply_subscription(type, *channel);
  conn_.add(seq, frame);
  return --ctx.frames == 0;
}

// What a reply confirms, applied to the model; returns the bytes for the client when they
// differ from the frame (EXEC with commands the proxy answers, INFO), else empty.
std::string Session::confirm(RequestContext& ctx, std::string_view frame, resp::ReplyKind kind) {
  if (ctx.exec_abort) {
    end_transaction();
    return std::string(kExecAbort);
  }
  if (state_.multi && frame == kQueued && !runs_inside_multi(ctx.op)) {
    QueuedCommand& q = multi_queue_.emplace_back();
    q.op = ctx.op;
    q.db = ctx.db;
    q.write = ctx.write;
    q.flush = ctx.flush;
    q.fence = ctx.fence;
    q.keys = std::move(ctx.written);
    ++state_.queued;
    return {};
  }
  if (ctx.write) after_write(ctx.written, ctx.flush, ctx.fence);
  const bool ok = frame == resp::kOk;
  switch (ctx.op) {
    case Op::Multi:
      if (ok) {
        state_.multi = true;
        state_.multi_failed = false;
        state_.queued = 0;
        multi_queue_.clear();
      }
      break;
    case Op::Exec:
      return exec_reply(frame, kind);
    case Op::Discard:
      if (ok) end_transaction();
      break;
    case Op::Reset:
      if (frame == "+RESET\r\n") {
        if (state_.tracking.on) worker_.shared().tracking.disable(id_);
        state_.reset(worker_.config().auth.required());
        user_changed();
        conn_.parser_.set_authenticated(state_.authenticated);
        multi_queue_.clear();
      }
      reset_pending_ = false;
      break;
    case Op::Info:
      if (kind == resp::ReplyKind::Bulk || kind == resp::ReplyKind::Verbatim) {
        return info_reply(frame, ctx.reply == Reply::Info);
      }
      break;
    case Op::ClientInfo:
      if (kind == resp::ReplyKind::Bulk || kind == resp::ReplyKind::Verbatim) {
        return client_info_merged(frame);
      }
      break;
    default:
      apply_result(ctx.op, frame, ctx.db);
      break;
  }
  return {};
}

// EXEC's reply: whatever it is (the results, a null array after a WATCH abort, EXECABORT),
// the transaction is over. Each result confirms its command's effect in order; commands the
// proxy answers itself run here, at their place, and their results are spliced in.
std::string Session::exec_reply(std::string_view frame, resp::ReplyKind kind) {
  if (!state_.multi) return {};  // EXEC without MULTI: an error, nothing changes
  // While EXEC runs, the client's last command is EXEC (CLIENT INFO inside it says so).
  const std::string dispatched_last = std::exchange(state_.last_command, "exec");
  std::string out;
  if (kind == resp::ReplyKind::Array) {
    std::string_view rest = frame.substr(frame.find("\r\n") + 2);
    std::string elements;
    resp::ReplyFramer framer;
    bool matched = true;
    for (QueuedCommand& q : multi_queue_) {
      if (q.local) {
        apply_queued(q, {}, elements);
        continue;
      }
      if (framer.frame(rest) != resp::FrameStatus::Complete) {
        matched = false;
        break;
      }
      const std::string_view element = rest.substr(0, framer.consumed());
      rest.remove_prefix(framer.consumed());
      apply_queued(q, element, elements);
    }
    if (matched) out = fmt::format("*{}\r\n{}{}", multi_queue_.size(), elements, rest);
  }
  state_.last_command = dispatched_last;
  end_transaction();
  return out;
}

void Session::apply_queued(QueuedCommand& q, std::string_view element, std::string& out) {
  if (q.local) {
    std::vector<std::string_view> args(q.args.begin(), q.args.end());
    const Classified c = worker_.shared().commands.classify(args);
    const std::string result =
        checks_password(c, args) ? run_queued_auth(c, args) : run_local(c, args);
    // CLIENT REPLY OFF/SKIP inside EXEC: Redis cuts its own array short there; the proxy
    // keeps the array whole.
    out += result.empty() ? std::string(resp::kOk) : result;
    return;
  }
  if (q.write) after_write(q.keys, q.flush, q.fence);
  out += element;
  apply_result(q.op, element, q.db);
}

// The state change a command's result confirms, alone or inside EXEC's array.
void Session::apply_result(Op op, std::string_view result, int db) {
  const bool ok = result == resp::kOk;
  switch (op) {
    case Op::Select:
      if (ok) state_.db = db;
      break;
    case Op::Watch:
      if (ok) state_.watching = true;
      break;
    case Op::Unwatch:
      if (ok) state_.watching = false;
      break;
    case Op::Monitor:
      if (ok) state_.monitor = true;
      break;
    default:
      if (is_subscription_op(op)) {
        std::string_view type;
        std::optional<std::string_view> channel;
        if (parse_subscription(result, type, channel) && channel) {
          state_.apply_subscription(type, *channel);
        }
      }
      break;
  }
}

// CLIENT INFO through the dedicated connection: our line, with the connection's flags (what Redis
// knows of the client's state: d for a touched WATCH...) and last command.
std::string Session::client_info_merged(std::string_view bulk) {
  std::string line = describe();
  for (const std::string_view field : {" flags=", " cmd="}) {
    const std::size_t at = bulk.find(field);
    const std::size_t ours = line.find(field);
    if (at == std::string_view::npos || ours == std::string::npos) continue;
    const std::size_t end = bulk.find(' ', at + 1);
    const std::size_t our_end = line.find(' ', ours + 1);
    line.replace(ours, our_end - ours, bulk.substr(at, end - at));
  }
  return resp::verbatim_reply(line + "\n", "txt", protocol());
}

void Session::end_transaction() {
  state_.multi = false;
  state_.multi_failed = false;
  state_.watching = false;
  state_.queued = 0;
  multi_queue_.clear();
}

void Session::unpin_if_idle() {
  if (pinned_ == nullptr || !pinned_requests_.empty()) return;
  if (pinned_select_busy_ && state_.needs_dedicated()) {
    // (Every reply was a refusal, so the state is what it was before the hand-off, which
    // needed no dedicated connection: not expected.)
    return fail_dedicated(
        fmt::format("ERR frontcache: dedicated connection refused SELECT {}", state_.db));
  }
  if (state_.needs_dedicated()) return;
  release_pinned(true);
}

// The dedicated connection cannot serve this client any more (its hand-off was refused, or a
// request ran in another database than the client's): every request still waiting on it gets
// `message` as an error, in order after the replies before it (or the client gets it next, when
// none is waiting), the connection is dropped (what it still owes goes nowhere) and the client
// is closed once its replies are written, as after QUIT.
void Session::fail_dedicated(std::string_view message) {
  const std::string error = resp::error_reply(message);
  bool told = false;
  for (const std::uint64_t seq : pinned_requests_) {
    if (seq >= kInternalHello) continue;
    conn_.complete(seq, conn_.context(seq).silent ? std::string_view() : std::string_view(error));
    told = true;
  }
  if (!told) conn_.append(error);
  pinned_requests_.clear();
  release_pinned(false);
  conn_.stop_reading();
}

void Session::release_pinned(bool reusable) {
  if (pinned_ == nullptr) return;
  pinned_select_busy_ = false;
  worker_.release_pinned(std::move(pinned_), reusable && !pinned_unblocked_);
  pinned_.reset();
  pinned_unblocked_ = false;
}

void Session::on_stream_closed(const std::string& reason) {
  if (pinned_ == nullptr) return;
  worker_.shared().stats.pinned_lost.fetch_add(1, std::memory_order_relaxed);
  bool had_state = state_.multi || state_.watching || state_.monitor || state_.subscribed();
  // A MULTI not answered yet counts too: the commands the client pipelined behind it were meant
  // for the transaction, and must not run on their own after MULTI's error.
  for (const std::uint64_t seq : pinned_requests_) {
    if (seq < kInternalHello && conn_.context(seq).op == Op::Multi) had_state = true;
  }
  const std::string error =
      resp::error_reply(fmt::format("ERR upstream connection lost ({})", reason));
  for (const std::uint64_t seq : pinned_requests_) {
    if (seq < kInternalHello) conn_.complete(seq, conn_.context(seq).silent ? "" : error);
  }
  pinned_requests_.clear();
  end_transaction();
  state_.monitor = false;
  state_.channels.clear();
  state_.patterns.clear();
  state_.shard_channels.clear();
  reset_pending_ = false;
  release_pinned(false);
  if (had_state) {
    // The connection state the client built (transaction, subscriptions) is gone upstream:
    // close the client connection, as a Redis restart would, once the errors are written.
    // A client can cause this (a subscriber that does not read hits Redis's output limit).
    static metrics::LogLimit log_limit;
    log_limit.warn("client {} ({}): dedicated upstream connection lost ({}); closing the client",
                   id_, addr(), reason);
    conn_.stop_reading();
  }
  maybe_resume();
}

}  // namespace frontcache::proxy
