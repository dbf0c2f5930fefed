// The router: each request is classified once (command::CommandTable::classify) and sent to
// exactly one of: a local answer, L1, a shared upstream connection, or the session's
// dedicated connection. Error texts are Redis's own wherever Redis has one.
#include <fmt/format.h>

#include "frontcache/resp/errors.hpp"
#include "frontcache/upstream/stats.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::Op;
using command::Route;

void Session::reply_error(std::string_view message) { reply(resp::error_reply(message)); }

// As Redis's resetClient after an empty request: it uses up CLIENT REPLY SKIP and, outside a
// transaction, CLIENT CACHING, though no command ran.
void Session::on_empty_request() {
  if (state_.reply_mode == ReplyMode::Skip) state_.reply_mode = ReplyMode::On;
  if (!state_.multi) state_.tracking.caching = false;
}

bool Session::on_request(Args args, std::string_view raw) {
  const auto& commands = worker_.shared().commands;
  const Classified c = commands.classify(args, command_memo_);
  access_ = permissions().check(c, args, commands.complete(), keys_);
  // Holds that keep this request waiting, unparsed: a write behind reads joined to another
  // session's fill; a pinning request behind shared requests still in flight (so that it runs
  // after them upstream); a local answer behind the dedicated connection's pending replies
  // (the state it reads must be confirmed first).
  if (pinned_ == nullptr) {
    if (must_wait_for_joined(c)) {
      holding_for_joined_ = true;
      return false;
    }
    // (A protocol switch moves the session to other shared connections: the same wait.)
    if ((c.pins() || switches_protocol(c, args)) && (in_upstream_ > 0 || joined_pending_ > 0)) {
      pin_wait_ = true;
      return false;
    }
    if (in_upstream_ > 0 && worker_.cluster() != nullptr && cluster_hold()) {
      cluster_wait_ = true;
      return false;
    }
  } else if (!pinned_requests_.empty() &&
             (pinned_select_busy_ || answered_by_proxy(c, args) || c.op == Op::Monitor ||
              (worker_.cluster() != nullptr && cluster_repin_wait(c, args)))) {
    // (MONITOR too: Redis does not answer it at all when the client is monitoring already.
    // In a cluster, a transaction that may move to its first key's master waits too. Anything
    // behind a hand-off whose SELECT was refused waits for a connection in its database.)
    barrier_ = true;
    return false;
  }

  auto& stats = worker_.shared().stats;
  stats.total_commands.fetch_add(1, std::memory_order_relaxed);
  command_ = c.spec != nullptr ? c.spec->id : CommandStats::kNone;
  worker_.shared().command_stats.call(worker_.index(), command_);
  last_command_ = worker_.now();
  // CLIENT REPLY: OFF silences every reply, SKIP the next command's (as Redis's resetClient).
  silent_ = state_.reply_mode != ReplyMode::On;
  if (state_.reply_mode == ReplyMode::Skip) state_.reply_mode = ReplyMode::On;
  if (silent_ && c.op == Op::Reset && state_.reply_mode == ReplyMode::Off) {
    silent_ = false;  // RESET turns CLIENT REPLY OFF off before it answers
  }
  if (c.spec != nullptr) state_.last_command = c.spec->fullname;

  if (!state_.authenticated && !allowed_before_auth(c)) {
    // Redis checks the name and the arity before authentication.
    const std::string rejection = c.rejection(args);
    return reply(rejection.empty() ? resp::error_reply("NOAUTH Authentication required.")
                                   : rejection),
           true;
  }
  // CLIENT CACHING applies to the next command only (its own reply is not "the next").
  const bool was_caching = state_.tracking.caching;
  if (state_.tracking.on && !state_.tracking.bcast &&
      (c.has(command::kReadonly) || c.route == Route::Script)) {
    remember_tracked(c, args);
  }
  if (pinned_ != nullptr || c.pins()) {
    dispatch_pinned(c, args, raw);
  } else {
    dispatch_shared(c, args, raw);
  }
  if (was_caching && !state_.multi && c.op != Op::ClientCaching && c.info != nullptr &&
      c.info->op != Op::Client) {
    state_.tracking.caching = false;
  }
  return true;
}

// While pinned, what the proxy answers itself (it needs the state Redis would see, so it waits
// for the dedicated connection's replies first). PING, ECHO, SELECT and INFO go upstream
// then, RESET too, and QUIT needs no state.
bool Session::answered_by_proxy(const Classified& c, Args args) const {
  std::string error;
  if (refused(c, args, error)) return true;
  if (c.route != Route::Local) return false;
  return c.op != Op::Quit && c.op != Op::Ping && c.op != Op::Echo && c.op != Op::Select &&
         c.op != Op::Info && c.op != Op::Reset;
}

// HELLO naming the other protocol than the session's, or RESET of a RESP3 session.
bool Session::switches_protocol(const Classified& c, Args args) const {
  if (c.op == Op::Reset) return state_.resp != 2;
  if (c.op != Op::Hello || args.size() < 2) return false;
  return (args[1] == "2" && state_.resp != 2) || (args[1] == "3" && state_.resp != 3);
}

// Commands Redis refuses inside MULTI, the user's permissions do not allow (Redis's NOPERM
// texts), or never forwarded; in Redis's order.
bool Session::refused(const Classified& c, Args args, std::string& error) const {
  if (state_.multi && c.has(command::kNoMulti)) {
    error = "ERR Command not allowed inside a transaction";
    return true;
  }
  if (access_ == Access::DeniedKey) {
    error = "NOPERM this user has no permissions to access one of the keys used as arguments";
    return true;
  }
  if (access_ == Access::DeniedCommand) {
    std::string name;
    if (c.spec != nullptr) {
      name = c.spec->fullname;
    } else if (c.info != nullptr) {
      name = c.info->name;
    } else {
      name = args[0].substr(0, 128);  // unknown to the built-in table
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    error = fmt::format("NOPERM this user has no permissions to run the '{}' command", name);
    return true;
  }
  if (c.route == Route::Never) {
    error = fmt::format("ERR frontcache: '{}' is never forwarded to the shared upstream",
                        c.spec != nullptr ? c.spec->fullname : c.info->name);
    return true;
  }
  return false;
}

void Session::count_refusal() {
  auto& stats = worker_.shared().stats;
  stats.refused_commands.fetch_add(1, std::memory_order_relaxed);
  if (access_ != Access::Allowed) {
    stats.permission_denials.fetch_add(1, std::memory_order_relaxed);
  }
}

const Permissions& Session::permissions() {
  const AccessControl& access = worker_.access();
  if (permissions_ == nullptr || permissions_generation_ != access.generation()) {
    permissions_ = &access.user(state_.user);
    permissions_generation_ = access.generation();
  }
  return *permissions_;
}

void Session::dispatch_shared(const Classified& c, Args args, std::string_view raw) {
  cluster_slot_ = 0xFFFF;  // cluster mode: any master, unless the request's keys say otherwise
  if (c.route == Route::Local) return answer_locally(c, args);
  std::string error;
  if (refused(c, args, error)) {
    count_refusal();
    return reply_error(error);
  }
  if (worker_.cluster() != nullptr && !route_cluster(c, args)) return;
  if (c.has(command::kAllowBusy) && worker_.cluster() == nullptr) return forward_busy_safe(raw);
  if (!c.known() || worker_.shared().l1 == nullptr) return forward(raw);
  if (c.has(command::kCacheable) && !silent_) return read_cached(c, args, raw);
  if (c.has(command::kWrite) || c.route == Route::Script) return forward_write(c, args, raw);
  forward(raw);
}

// A read that joined another session's fill runs upstream on that session's connection, in no
// order with this session's own commands. A write this session sends after it must not
// overtake it, or the read could return the write's value; so while joined reads are
// outstanding, commands that may write wait. Reads (and local commands) go on.
bool Session::must_wait_for_joined(const Classified& c) const {
  if (joined_pending_ == 0) return false;
  if (!c.known()) return true;
  return !(c.has(command::kReadonly) || c.has(command::kCacheable) || c.route == Route::Local);
}

std::uint64_t Session::take_slot(bool silent) {
  const std::uint64_t seq = conn_.push();
  RequestContext& ctx = conn_.context(seq);
  ctx.silent = silent;
  ctx.started = std::chrono::steady_clock::now();
  ctx.command = command_;
  return seq;
}

void Session::count_upstream(const RequestContext& ctx) {
  worker_.shared().command_stats.upstream(worker_.index(), ctx.command,
                                          std::chrono::steady_clock::now() - ctx.started);
}

void Session::forward(std::string_view raw, Reply kind) {
  const std::uint64_t seq = take_slot(silent_);
  conn_.context(seq).reply = kind;
  if (!send_shared(seq, raw)) conn_.complete(seq, unavailable_error());
}

// SCRIPT KILL, FUNCTION KILL, FUNCTION STATS: what Redis runs while a script is busy concerns
// no database. Sent without a SELECT (Redis would refuse it as BUSY), on the connection with the
// fewest requests in flight: not behind the long script's own EVAL, which a connection of this
// worker may be waiting on. Nothing of this session's depends on the order (replies keep it).
void Session::forward_busy_safe(std::string_view raw) {
  const std::uint64_t seq = take_slot(silent_);
  if (!send_busy_safe(seq, raw)) conn_.complete(seq, unavailable_error());
}

bool Session::send_busy_safe(std::uint64_t seq, std::string_view raw) {
  upstream::Connection* conn = worker_.pool(state_.resp).least_loaded();
  if (conn == nullptr || !conn->send(-1, raw, shared_from_this(), seq)) return false;
  ++in_upstream_;
  return true;
}

// A request to one given cluster node, counted as the session's shared requests are.
bool Session::send_to_node(ClusterClient::Node& node, std::uint64_t seq, std::string_view raw) {
  if (!worker_.cluster()->send_to(node, raw, shared_from_this(), seq, id_, state_.resp)) {
    return false;
  }
  ++in_upstream_;
  return true;
}

upstream::Connection* Session::upstream_connection() {
  // A session keeps one connection while it has requests in flight, so the upstream runs its
  // commands in the order it sent them; when idle it picks again (Pool::pick).
  if (in_upstream_ == 0 || upstream_ == nullptr) {
    upstream_ = worker_.pool(state_.resp).pick();
  }
  return upstream_;
}

bool Session::send_shared(std::uint64_t seq, std::string_view raw, int db) {
  if (worker_.cluster() != nullptr) {  // database 0 only
    if (!send_cluster(seq, raw)) return false;
    ++in_upstream_;
    return true;
  }
  upstream::Connection* conn = upstream_connection();
  if (conn == nullptr || !conn->send(db, raw, shared_from_this(), seq)) return false;
  ++in_upstream_;
  return true;
}

std::string Session::unavailable_error() {
  upstream::stats().unavailable_replies.fetch_add(1, std::memory_order_relaxed);
  if (worker_.cluster() != nullptr) return cluster_unavailable_error();
  return resp::error_reply(
      fmt::format("ERR upstream unavailable ({})", worker_.pool(state_.resp).unavailable_reason()));
}

// One of this session's requests on the shared connections has its whole answer.
void Session::shared_reply_done() {
  --in_upstream_;
  if (pin_wait_ || cluster_wait_) maybe_resume();
}

void Session::on_reply(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind) {
  if (!conn_.pending(seq)) return;
  switch (conn_.context(seq).reply) {
    case Reply::Fill:
      return fill_reply(seq, reply, kind);
    case Reply::Mget:
      return mget_reply(seq, reply, kind);
    case Reply::Copy:
    case Reply::Info:
    case Reply::InfoNamed:
    case Reply::ClientInfo:
      return finish_shared(seq, reply, kind);
  }
}

void Session::finish_shared(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind) {
  RequestContext& ctx = conn_.context(seq);
  shared_reply_done();
  if (ctx.write) {
    after_write(ctx.written, ctx.flush, ctx.fence);
    --writes_in_flight_;
  }
  worker_.shared().latency.forward.observe(worker_.index(),
                                           std::chrono::steady_clock::now() - ctx.started);
  count_upstream(ctx);
  if (ctx.silent) return conn_.complete(seq, {});
  if ((ctx.reply == Reply::Info || ctx.reply == Reply::InfoNamed) &&
      (kind == resp::ReplyKind::Bulk || kind == resp::ReplyKind::Verbatim)) {
    return conn_.complete(seq, info_reply(reply, ctx.reply == Reply::Info));
  }
  conn_.complete(seq, reply);
}

}  // namespace frontcache::proxy
