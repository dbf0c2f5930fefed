// Routing of parsed requests (forward, answer locally, refuse) and the commands the proxy
// answers itself. Error texts are Redis's own wherever Redis has one.
#include <fmt/format.h>

#include <charconv>

#include "frontcache/resp/errors.hpp"
#include "frontcache/upstream/stats.hpp"
#include "reload.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::iequals;
using command::Route;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_int(std::string_view text, long long& value) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// XREAD / XREADGROUP block only with a BLOCK option (before STREAMS).
bool has_block_option(std::span<const std::string_view> args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (iequals(args[i], "STREAMS")) return false;
    if (iequals(args[i], "BLOCK")) return true;
  }
  return false;
}

}  // namespace

void Session::reply_error(std::string_view message) { reply(resp::error_reply(message)); }

void Session::dispatch(Args args, std::string_view raw) {
  auto& stats = worker_.shared().stats;
  stats.total_commands.fetch_add(1, std::memory_order_relaxed);
  last_command_ = std::chrono::steady_clock::now();
  silent_ = reply_off_ || skip_next_;
  skip_next_ = false;

  const command::CommandInfo* info = worker_.shared().commands.find(args[0]);
  if (!authenticated_ && !allowed_before_auth(info)) {
    // Redis checks the name and the arity before authentication; it can be matched only when
    // the command table came from the upstream's COMMAND (names and arities of every command).
    if (worker_.shared().commands_from_upstream) {
      if (info == nullptr) return reply(resp::unknown_command_error(args[0], args.subspan(1)));
      const auto argc = static_cast<int>(args.size());
      if ((info->arity > 0 && info->arity != argc) || (info->arity < 0 && argc < -info->arity)) {
        return reply(resp::wrong_arity_error(info->name));
      }
    }
    return reply_error("NOAUTH Authentication required.");
  }
  Route route = info != nullptr ? info->route : Route::Forward;
  if (info != nullptr && (info->name == "xread" || info->name == "xreadgroup") &&
      has_block_option(args)) {
    route = Route::Stateful;
  }
  if (route == Route::Admin && !admin_allowed(*info, args)) {
    stats.refused_commands.fetch_add(1, std::memory_order_relaxed);
    return reply_error(fmt::format(
        "ERR frontcache: '{}' is an admin command and admin_commands is 'deny'", info->name));
  }
  if (route == Route::Never) {
    stats.refused_commands.fetch_add(1, std::memory_order_relaxed);
    return reply_error(
        fmt::format("ERR frontcache: '{}' is never forwarded to the shared upstream", info->name));
  }
  if (pinned_ != nullptr || route == Route::Stateful) {
    return dispatch_pinned(info, route, args, raw);
  }
  switch (route) {
    case Route::Forward:
    case Route::Admin:
    case Route::Script:
      if (info == nullptr || worker_.shared().l1 == nullptr) {
        forward(raw, 0);
      } else if (info->has(command::kCacheable) && !silent_) {
        read_cached(*info, args, raw);
      } else if (info->has(command::kWrite) || route == Route::Script) {
        forward_write(command::CommandTable::resolve(*info, args), args, raw);
      } else {
        forward(raw, 0);
      }
      return;
    case Route::Local:
      handle_local(*info, args);
      return;
    case Route::Stateful:
    case Route::Never:
      return;
  }
}

bool Session::admin_allowed(const command::CommandInfo& info, Args args) const {
  return worker_.config().admin_commands == config::AdminCommands::Forward ||
         (info.name == "config" && args.size() >= 2 && iequals(args[1], "GET"));
}

void Session::forward(std::string_view request, std::uint64_t flags) {
  if (silent_) flags |= kSilentFlag;  // CLIENT REPLY OFF/SKIP: the slot completes empty
  forward_into(replies_.push(), request, flags);
}

upstream::Connection* Session::upstream_connection() {
  // A session keeps one connection while it has requests in flight, so the upstream runs its
  // commands in the order it sent them; when idle it moves to the least loaded one.
  if (in_upstream_ == 0 || upstream_ == nullptr) upstream_ = worker_.pool().least_loaded();
  return upstream_;
}

std::string Session::unavailable_error() {
  upstream::stats().unavailable_replies.fetch_add(1, std::memory_order_relaxed);
  return resp::error_reply(
      fmt::format("ERR upstream unavailable ({})", worker_.pool().unavailable_reason()));
}

void Session::forward_into(std::uint64_t seq, std::string_view request, std::uint64_t flags) {
  upstream::Connection* conn = upstream_connection();
  if (conn != nullptr && conn->send(db_, request, shared_from_this(), seq | flags)) {
    ++in_upstream_;
    forward_started_.emplace_back(seq, std::chrono::steady_clock::now());
    return;
  }
  if ((flags & kWriteFlag) != 0) written_keys_.pop_back();  // no reply will come for it
  replies_.complete(seq, unavailable_error());
}

void Session::handle_local(const command::CommandInfo& info, Args args) {
  const std::string_view name = info.name;
  if (name == "ping") return handle_ping(args);
  if (name == "echo") {
    if (args.size() != 2) return reply(resp::wrong_arity_error("echo"));
    return reply(resp::bulk_reply(args[1]));
  }
  if (name == "quit") {
    reply(resp::kOk);
    read_done_ = true;
    return;
  }
  if (name == "hello") return handle_hello(args);
  if (name == "select") return handle_select(args);
  if (name == "client") return handle_client(args);
  if (name == "info") return handle_info(args);
  if (name == "auth") return handle_auth(args);
  if (name == "frontcache") return handle_frontcache(args);
  if (name == "reset") {
    reset_session_state();
    return reply("+RESET\r\n");
  }
  reply(resp::unknown_command_error(args[0], args.subspan(1)));
}

// RESET's part on the proxy side: database, name, CLIENT REPLY, and authentication (back to
// the default user, who needs a password when the proxy requires one, as in Redis).
void Session::reset_session_state() {
  db_ = 0;
  name_.clear();
  reply_off_ = false;
  silent_ = false;
  if (worker_.config().auth.required()) {
    authenticated_ = false;
    parser_.set_authenticated(false);
  }
  user_ = "default";
}

void Session::handle_ping(Args args) {
  if (args.size() > 2) return reply(resp::wrong_arity_error("ping"));
  if (args.size() == 2) return reply(resp::bulk_reply(args[1]));
  reply(resp::kPong);
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]: RESP2 only; HELLO 3 gets
// NOPROTO so that clients fall back to RESP2, as they do with Redis 5.
void Session::handle_hello(Args args) {
  if (args.size() >= 2) {
    long long version = 0;
    if (!parse_int(args[1], version)) {
      return reply_error("ERR Protocol version is not an integer or out of range");
    }
    if (version != 2) return reply_error("NOPROTO unsupported protocol version");
  }
  std::string_view user, password, setname;
  bool with_auth = false, with_name = false;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const bool more = i + 1 < args.size();
    if (iequals(args[i], "AUTH") && i + 2 < args.size()) {
      user = args[i + 1];
      password = args[i + 2];
      with_auth = true;
      i += 2;
    } else if (iequals(args[i], "SETNAME") && more) {
      setname = args[i + 1];
      with_name = true;
      i += 1;
    } else {
      return reply_error(fmt::format("ERR Syntax error in HELLO option '{}'", args[i]));
    }
  }
  if (with_auth) {
    if (!check_credentials(user, password)) return auth_failed();
    auth_succeeded(user);
  }
  if (!authenticated_) {
    return reply_error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "AUTH <user> <pass> option can be used to authenticate the client and select "
        "the RESP protocol version at the same time");
  }
  if (with_name && !set_name(setname)) return;
  const auto& shared = worker_.shared();
  std::string out = "*14\r\n";
  out += resp::bulk_reply("server") + resp::bulk_reply("redis");
  out += resp::bulk_reply("version") + resp::bulk_reply(shared.upstream_version);
  out += resp::bulk_reply("proto") + resp::integer_reply(2);
  out += resp::bulk_reply("id") + resp::integer_reply(static_cast<long long>(id_));
  out += resp::bulk_reply("mode") + resp::bulk_reply("standalone");
  out += resp::bulk_reply("role") + resp::bulk_reply("master");
  out += resp::bulk_reply("modules") + "*0\r\n";
  reply(out);
}

// SELECT is answered here: the session's database travels with each forwarded request, and
// the upstream connection switches database only when the request's differs from its own.
void Session::handle_select(Args args) {
  if (args.size() != 2) return reply(resp::wrong_arity_error("select"));
  long long db = 0;
  if (!parse_int(args[1], db)) return reply_error("ERR value is not an integer or out of range");
  if (db < 0 || db >= worker_.shared().databases)
    return reply_error("ERR DB index is out of range");
  db_ = static_cast<int>(db);
  reply(resp::kOk);
}

bool Session::set_name(std::string_view name) {
  for (unsigned char c : name) {
    if (c < '!' || c > '~') {
      reply_error("ERR Client names cannot contain spaces, newlines or special characters.");
      return false;
    }
  }
  name_.assign(name);
  return true;
}

void Session::handle_client(Args args) {
  if (args.size() < 2) return reply(resp::wrong_arity_error("client"));
  const std::string_view sub = args[1];
  if (iequals(sub, "SETNAME")) {
    if (args.size() != 3) return reply(resp::wrong_arity_error("client|setname"));
    if (set_name(args[2])) reply(resp::kOk);
    return;
  }
  if (iequals(sub, "GETNAME")) {
    if (args.size() != 2) return reply(resp::wrong_arity_error("client|getname"));
    return reply(name_.empty() ? std::string(resp::kNullBulk) : resp::bulk_reply(name_));
  }
  if (iequals(sub, "ID")) {
    if (args.size() != 2) return reply(resp::wrong_arity_error("client|id"));
    return reply(resp::integer_reply(static_cast<long long>(id_)));
  }
  if (iequals(sub, "INFO")) {
    if (args.size() != 2) return reply(resp::wrong_arity_error("client|info"));
    return reply(resp::bulk_reply(describe() + "\n"));
  }
  if (iequals(sub, "LIST")) return client_list();
  if (iequals(sub, "KILL")) return client_kill(args);
  if (iequals(sub, "REPLY")) return client_reply(args);
  if (iequals(sub, "TRACKING") || iequals(sub, "TRACKINGINFO") || iequals(sub, "GETREDIR") ||
      iequals(sub, "CACHING")) {
    // Tracking lives on the client's own upstream connection: CLIENT TRACKING pins.
    scratch_.clear();
    resp::encode_command(scratch_, args);
    const std::string request = scratch_;
    if (pinned_ == nullptr && !iequals(sub, "TRACKING")) return forward(request, 0);
    if (pinned_ == nullptr && !pin()) return;
    return send_pinned(args, request);
  }
  if (iequals(sub, "NO-EVICT") || iequals(sub, "NO-TOUCH")) {
    if (args.size() != 3) return reply(resp::wrong_arity_error("client|" + lower(sub)));
    if (!iequals(args[2], "ON") && !iequals(args[2], "OFF")) {
      return reply_error("ERR syntax error");
    }
    return reply(resp::kOk);
  }
  if (iequals(sub, "HELP")) {
    return reply(
        "*6\r\n+CLIENT <subcommand> [<arg> ...]. Subcommands are:\r\n+ID\r\n+INFO\r\n"
        "+LIST\r\n+GETNAME\r\n+SETNAME <name>\r\n");
  }
  if (iequals(sub, "PAUSE") || iequals(sub, "UNPAUSE")) {
    // Pausing acts on the whole shared upstream: an admin command.
    if (worker_.config().admin_commands == config::AdminCommands::Forward) {
      scratch_.clear();
      resp::encode_command(scratch_, args);
      return forward(scratch_, 0);
    }
    worker_.shared().stats.refused_commands.fetch_add(1, std::memory_order_relaxed);
    return reply_error(fmt::format(
        "ERR frontcache: CLIENT {} acts on the shared upstream and admin_commands is 'deny'",
        lower(sub)));
  }
  if (iequals(sub, "UNBLOCK")) {
    worker_.shared().stats.refused_commands.fetch_add(1, std::memory_order_relaxed);
    return reply_error(
        "ERR frontcache: CLIENT UNBLOCK is not supported (blocked clients run on "
        "dedicated upstream connections whose ids are not the proxy's)");
  }
  reply_error(fmt::format("ERR unknown subcommand '{}'. Try CLIENT HELP.", sub));
}

void Session::handle_info(Args args) {
  bool with_ours = args.size() == 1;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (iequals(args[i], "FRONTCACHE") && args.size() == 2) {
      return reply(resp::bulk_reply(frontcache_info()));
    }
    if (iequals(args[i], "ALL") || iequals(args[i], "EVERYTHING") || iequals(args[i], "DEFAULT") ||
        iequals(args[i], "FRONTCACHE")) {
      with_ours = true;
    }
  }
  scratch_.clear();
  resp::encode_command(scratch_, args);
  forward(scratch_, with_ours ? kInfoFlag : 0);
}

void Session::handle_auth(Args args) {
  if (args.size() < 2) return reply(resp::wrong_arity_error("auth"));
  if (args.size() > 3) return reply_error("ERR syntax error");
  if (args.size() == 2 && !worker_.config().auth.required()) {
    return reply_error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  const std::string_view user = args.size() == 3 ? args[1] : std::string_view("default");
  if (!check_credentials(user, args.back())) return auth_failed();
  auth_succeeded(user);
  reply(resp::kOk);
}

std::string Session::describe() const {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto now = std::chrono::steady_clock::now();
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} "
      "multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 obl=0 oll={} omem={} tot-mem={} "
      "events=r cmd=NULL user={} redir=-1 resp=2",
      id_, addr_, laddr_, const_cast<Session*>(this)->socket_.native_handle(), name_,
      duration_cast<seconds>(now - created_).count(),
      duration_cast<seconds>(now - last_command_).count(),
      multi_ ? "x" : (subscribe_mode() ? "P" : (monitor_ ? "O" : "N")), db_, channels_.size(),
      patterns_.size(), shard_channels_.size(), multi_ ? 0 : -1, rend_ - rbegin_,
      rbuf_.size() - (rend_ - rbegin_), replies_.in_flight(), replies_.buffered_bytes(),
      rbuf_.size() + replies_.buffered_bytes(), user_);
}

std::string Session::frontcache_info() const {
  const auto& shared = worker_.shared();
  const auto& stats = shared.stats;
  const auto& up = upstream::stats();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - shared.started);
  const auto& cfg = worker_.config();
  const std::int64_t ready = up.connections_ready.load(std::memory_order_relaxed);
  const std::size_t total = shared.workers * cfg.upstream.connections_per_worker;
  const char* state =
      ready == 0 ? "down" : (static_cast<std::size_t>(ready) < total ? "degraded" : "up");
  return fmt::format(
             "# frontcache\r\n"
             "frontcache_version:{}\r\n"
             "uptime_in_seconds:{}\r\n"
             "workers:{}\r\n"
             "connected_clients:{}\r\n"
             "total_connections_received:{}\r\n"
             "rejected_connections:{}\r\n"
             "total_commands_processed:{}\r\n"
             "protocol_errors:{}\r\n"
             "refused_commands:{}\r\n"
             "output_limit_disconnects:{}\r\n"
             "idle_disconnects:{}\r\n"
             "auth_failures:{}\r\n"
             "pinned_opened:{}\r\n"
             "pinned_refused:{}\r\n"
             "pinned_lost:{}\r\n"
             "upstream_address:{}:{}\r\n"
             "upstream_state:{}\r\n"
             "upstream_connections:{}\r\n"
             "upstream_connections_ready:{}\r\n"
             "upstream_reconnects:{}\r\n"
             "upstream_timeouts:{}\r\n"
             "upstream_requests:{}\r\n"
             "upstream_failed_requests:{}\r\n"
             "upstream_unavailable_replies:{}\r\n",
             FRONTCACHE_VERSION, uptime.count(), shared.workers,
             stats.connected_clients.load(std::memory_order_relaxed),
             stats.total_connections.load(std::memory_order_relaxed),
             stats.rejected_connections.load(std::memory_order_relaxed),
             stats.total_commands.load(std::memory_order_relaxed),
             stats.protocol_errors.load(std::memory_order_relaxed),
             stats.refused_commands.load(std::memory_order_relaxed),
             stats.output_limit_disconnects.load(std::memory_order_relaxed),
             stats.idle_disconnects.load(std::memory_order_relaxed),
             stats.auth_failures.load(std::memory_order_relaxed),
             stats.pinned_opened.load(std::memory_order_relaxed),
             stats.pinned_refused.load(std::memory_order_relaxed),
             stats.pinned_lost.load(std::memory_order_relaxed), cfg.upstream.address.host,
             cfg.upstream.address.port, state, total, ready,
             up.reconnects.load(std::memory_order_relaxed),
             up.timeouts.load(std::memory_order_relaxed),
             up.requests.load(std::memory_order_relaxed),
             up.failed_requests.load(std::memory_order_relaxed),
             up.unavailable_replies.load(std::memory_order_relaxed)) +
         l1_info() + config_info_lines(shared);
}

// The L1 lines of the `# frontcache` section.
std::string Session::l1_info() const {
  const L1* l1 = worker_.shared().l1.get();
  if (l1 == nullptr) return "l1_enabled:0\r\n";
  auto& mutable_l1 = const_cast<L1&>(*l1);
  const cache::CacheStats c = mutable_l1.cache().stats();
  auto& s = mutable_l1.stats();
  const auto lookups = c.hits + c.misses;
  const double ratio =
      lookups == 0 ? 0.0 : static_cast<double>(c.hits) / static_cast<double>(lookups);
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return fmt::format(
      "l1_enabled:1\r\n"
      "l1_state:{}\r\n"
      "l1_hits:{}\r\n"
      "l1_misses:{}\r\n"
      "l1_hit_ratio:{:.4f}\r\n"
      "l1_entries:{}\r\n"
      "l1_used_memory:{}\r\n"
      "l1_max_memory:{}\r\n"
      "l1_inserts:{}\r\n"
      "l1_rejected:{}\r\n"
      "l1_evictions:{}\r\n"
      "l1_expirations:{}\r\n"
      "l1_invalidated_entries:{}\r\n"
      "l1_fills:{}\r\n"
      "l1_coalesced_waits:{}\r\n"
      "l1_waiters_refused:{}\r\n"
      "l1_stale_fills_discarded:{}\r\n"
      "l1_failed_fills:{}\r\n"
      "invalidations_channel:{}\r\n"
      "invalidations_tracking:{}\r\n"
      "invalidations_local:{}\r\n"
      "invalidation_flushes:{}\r\n"
      "invalidation_bypass_events:{}\r\n"
      "invalidation_published:{}\r\n"
      "invalidation_publish_dropped:{}\r\n",
      l1->armed() ? "armed" : "bypassed", c.hits, c.misses, ratio, c.entries, c.weighted_size,
      worker_.config().cache.max_memory, c.inserts, c.rejected, c.evictions, c.expirations,
      c.invalidations, c.fills_started, c.coalesced_waiters, c.waiters_refused,
      c.stale_fills_discarded, c.fills_failed, load(s.invalidated_channel),
      load(s.invalidated_tracking), load(s.invalidated_local), load(s.flushes),
      load(s.bypass_events), load(s.published), load(s.publish_dropped));
}

// Appends our section to the upstream's INFO text (a bulk reply).
std::string Session::info_reply(std::string_view upstream_bulk) const {
  const auto header_end = upstream_bulk.find("\r\n");
  std::string_view text = upstream_bulk.substr(header_end + 2);
  text.remove_suffix(2);  // the bulk's trailing CRLF
  std::string combined(text);
  if (!combined.empty() && !combined.ends_with("\r\n")) combined += "\r\n";
  if (!combined.empty()) combined += "\r\n";
  combined += frontcache_info();
  return resp::bulk_reply(combined);
}

}  // namespace frontcache::proxy
