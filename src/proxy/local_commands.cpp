// Commands the proxy answers itself (PING, ECHO, QUIT, HELLO, SELECT, CLIENT, INFO, AUTH,
// RESET, FRONTCACHE), from the session's ClientState and with Redis's checks in Redis's order:
// unknown subcommand and arity, refusal, the RESP2 subscriber context, then MULTI queueing.
// Error texts are Redis 7.0's.
#include <fmt/format.h>

#include <charconv>

#include "frontcache/cluster/redirect.hpp"
#include "frontcache/resp/errors.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "reload.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::iequals;
using command::Op;

namespace {

// Redis's string2ll: optional '-', digits, no leading zero, no '+', no spaces.
bool parse_ll(std::string_view text, long long& value) {
  if (text.empty() || text.size() > 20) return false;
  if (text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'))) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool valid_name(std::string_view name) {
  for (unsigned char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

constexpr std::string_view kBadName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

}  // namespace

void Session::answer_locally(const Classified& c, Args args) {
  const std::string rejection = c.rejection(args);
  if (!rejection.empty()) {
    if (state_.multi) state_.multi_failed = true;
    return reply(rejection);
  }
  std::string error;
  if (refused(c, args, error)) {
    count_refusal();
    if (state_.multi) state_.multi_failed = true;
    return reply_error(error);
  }
  if (state_.subscribe_context() && c.op != Op::Ping && c.op != Op::Quit && c.op != Op::Reset) {
    return reply_error(fmt::format(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context",
        c.spec->fullname));
  }
  if (state_.multi) {
    if (switches_protocol(c, args)) {
      // The dedicated connection would switch in the middle of EXEC's reply.
      state_.multi_failed = true;
      return reply_error("ERR frontcache: HELLO switching protocols cannot be queued in MULTI");
    }
    if (c.op == Op::ClientList || c.op == Op::ClientKill || c.op == Op::ClientUnblock) {
      // Their answer gathers every worker's sessions (or Redis's), which EXEC cannot wait for.
      state_.multi_failed = true;
      return reply_error(
          fmt::format("ERR frontcache: '{}' cannot be queued in a transaction", c.spec->fullname));
    }
    QueuedCommand& q = multi_queue_.emplace_back();
    q.local = true;
    q.args.assign(args.begin(), args.end());
    ++state_.queued;
    return reply("+QUEUED\r\n");
  }
  switch (c.op) {
    case Op::Quit:
      reply(resp::kOk);
      return conn_.stop_reading();
    case Op::Info:
      // The upstream's INFO with our section appended; `INFO frontcache` alone is ours only.
      if (args.size() == 2 && iequals(args[1], "FRONTCACHE")) {
        return reply(resp::verbatim_reply(info_section(), "txt", protocol()));
      }
      if (args.size() == 2 && iequals(args[1], "FRONTCACHE_COMMANDSTATS")) {
        return reply(resp::verbatim_reply(command_stats_section(), "txt", protocol()));
      }
      encoded_.clear();
      resp::encode_command(encoded_, args);
      return forward(encoded_, info_reply_kind(args));
    case Op::ClientInfo:
      if (pinned_ != nullptr) {
        // The dedicated connection's flags are the client's (d: a WATCHed key was touched...);
        // the rest of the line is the client's own.
        encoded_.clear();
        resp::encode_command(encoded_, args);
        return send_pinned(c, args, std::string(encoded_));
      }
      break;
    case Op::ClientList:
      return client_list();
    case Op::ClientKill:
      return client_kill(args);
    case Op::ClientUnblock:
      return client_unblock(args);
    default:
      break;
  }
  if (checks_password(c, args)) return answer_auth(c, args);
  const std::string out = run_local(c, args);
  if (!out.empty()) reply(out);
}

// Runs a local command now and returns its reply (empty: none, as CLIENT REPLY OFF).
std::string Session::run_local(const Classified& c, Args args) {
  switch (c.op) {
    case Op::Ping:
      if (args.size() > 2) return resp::wrong_arity_error("ping");
      return args.size() == 2 ? resp::bulk_reply(args[1]) : std::string(resp::kPong);
    case Op::Echo:
      return resp::bulk_reply(args[1]);
    case Op::Quit:
      return std::string(resp::kOk);
    case Op::Hello:
      return hello(args);
    case Op::Select:
      return select(args);
    case Op::Auth:
      return auth(args);
    case Op::Reset:
      if (state_.tracking.on) worker_.shared().tracking.disable(id_);
      state_.reset(worker_.config().auth.required());
      user_changed();
      conn_.parser_.set_authenticated(state_.authenticated);
      return "+RESET\r\n";
    case Op::AclWhoami:
      return resp::bulk_reply(state_.user);
    case Op::Frontcache:
      return frontcache(args);
    case Op::Info:
      return resp::verbatim_reply(args.size() == 2 && iequals(args[1], "FRONTCACHE_COMMANDSTATS")
                                      ? command_stats_section()
                                      : info_section(),
                                  "txt", protocol());
    default:
      return client(c, args);
  }
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]: options applied in order,
// as Redis does; the reply is in the protocol switched to. HELLO 3 gets NOPROTO only when the
// upstream does not speak RESP3 (Redis < 6).
std::string Session::hello(Args args) {
  long long version = 0;
  if (args.size() >= 2) {
    if (!parse_ll(args[1], version)) {
      return resp::error_reply("ERR Protocol version is not an integer or out of range");
    }
    if (version < 2 || version > 3 || (version == 3 && !worker_.shared().resp3)) {
      return resp::error_reply("NOPROTO unsupported protocol version");
    }
  }
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::size_t more = args.size() - 1 - i;
    if (iequals(args[i], "AUTH") && more >= 2) {
      if (!check_credentials(args[i + 1], args[i + 2])) {
        auth_failed();
        return resp::error_reply("WRONGPASS invalid username-password pair or user is disabled.");
      }
      state_.authenticated = true;
      state_.user.assign(args[i + 1]);
      user_changed();
      conn_.parser_.set_authenticated(true);
      i += 2;
    } else if (iequals(args[i], "SETNAME") && more >= 1) {
      if (!valid_name(args[i + 1])) return resp::error_reply(kBadName);
      state_.name.assign(args[i + 1]);
      i += 1;
    } else {
      return resp::error_reply(fmt::format("ERR Syntax error in HELLO option '{}'", args[i]));
    }
  }
  if (!state_.authenticated) {
    return resp::error_reply(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
        "protocol version at the same time");
  }
  if (version != 0 && version != state_.resp) {
    state_.resp = static_cast<int>(version);
    if (pinned_ != nullptr) {
      // The dedicated connection mirrors the client: it switches too (nothing is in flight on
      // it: HELLO waited for every reply).
      const std::string v = std::to_string(version);
      const std::string_view request[] = {"HELLO", v};
      encoded_.clear();
      resp::encode_command(encoded_, request);
      pinned_requests_.push_back(kInternalHello);
      pinned_->send(encoded_);
    }
  }
  const auto& shared = worker_.shared();
  std::string out = resp::map_header(7, protocol());
  out += resp::bulk_reply("server") + resp::bulk_reply("redis");
  out += resp::bulk_reply("version") + resp::bulk_reply(shared.upstream_version);
  out += resp::bulk_reply("proto") + resp::integer_reply(state_.resp);
  out += resp::bulk_reply("id") + resp::integer_reply(static_cast<long long>(id_));
  out += resp::bulk_reply("mode") + resp::bulk_reply("standalone");
  out += resp::bulk_reply("role") + resp::bulk_reply("master");
  out += resp::bulk_reply("modules") + "*0\r\n";
  return out;
}

// SELECT on the shared connections: the session's database travels with each forwarded
// request, and the upstream connection switches only when the request's differs from its own.
std::string Session::select(Args args) {
  long long db = 0;
  if (!parse_ll(args[1], db) || db < INT32_MIN || db > INT32_MAX) {
    return resp::error_reply("ERR value is not an integer or out of range");
  }
  // A cluster node refuses every database but 0, before the range check (db.c).
  if (worker_.shared().topology != nullptr && db != 0) {
    return std::string(cluster::kSelectNotAllowed);
  }
  if (db < 0 || db >= worker_.shared().databases) {
    return resp::error_reply("ERR DB index is out of range");
  }
  state_.db = static_cast<int>(db);
  return std::string(resp::kOk);
}

std::string Session::client(const Classified& c, Args args) {
  switch (c.op) {
    case Op::ClientId:
      return resp::integer_reply(static_cast<long long>(id_));
    case Op::ClientGetname:
      return state_.name.empty() ? std::string(resp::null_reply(protocol()))
                                 : resp::bulk_reply(state_.name);
    case Op::ClientSetname:
      if (!valid_name(args[2])) return resp::error_reply(kBadName);
      state_.name.assign(args[2]);
      return std::string(resp::kOk);
    case Op::ClientInfo:
      return resp::verbatim_reply(describe() + "\n", "txt", protocol());
    case Op::ClientReply:
      return client_reply(args);
    case Op::ClientTracking:
      return client_tracking(args);
    case Op::ClientCaching:
      return client_caching(args);
    case Op::ClientGetredir:
      return resp::integer_reply(
          state_.tracking.on ? static_cast<long long>(state_.tracking.redirect) : -1);
    case Op::ClientTrackinginfo:
      return tracking_info();
    case Op::ClientNoEvict:
      if (!iequals(args[2], "ON") && !iequals(args[2], "OFF")) {
        return resp::error_reply("ERR syntax error");
      }
      return std::string(resp::kOk);
    case Op::ClientHelp:
      return "*12\r\n"
             "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
             "+GETNAME\r\n+    Return the name of the current connection.\r\n"
             "+ID\r\n+    Return the ID of the current connection.\r\n"
             "+INFO\r\n+    Return information about the current client connection.\r\n"
             "+LIST\r\n+    Return information about client connections.\r\n"
             "+HELP\r\n+    Print this help.\r\n";
    default:
      return resp::error_reply(fmt::format("ERR unknown subcommand '{}'. Try CLIENT HELP.",
                                           args.size() > 1 ? args[1] : ""));
  }
}

// CLIENT REPLY ON|OFF|SKIP: ON is answered, OFF and SKIP are not (their own reply is the first
// one they silence); SKIP does nothing while OFF.
std::string Session::client_reply(Args args) {
  if (iequals(args[2], "ON")) {
    state_.reply_mode = ReplyMode::On;
    silent_ = false;
    return std::string(resp::kOk);
  }
  if (iequals(args[2], "OFF")) {
    state_.reply_mode = ReplyMode::Off;
    return {};
  }
  if (iequals(args[2], "SKIP")) {
    if (state_.reply_mode != ReplyMode::Off) state_.reply_mode = ReplyMode::Skip;
    return {};
  }
  return resp::error_reply("ERR syntax error");
}

// FRONTCACHE <subcommand>: introspection of the proxy itself (the upstream never sees it).
std::string Session::frontcache(Args args) {
  if (args.size() < 2) return resp::wrong_arity_error("frontcache");
  const std::string_view sub = args[1];
  if (iequals(sub, "CONFIG")) {
    if (args.size() != 2) return resp::wrong_arity_error("frontcache|config");
    // The worker's copy: what this connection is being served with.
    return resp::bulk_reply(config::to_yaml(worker_.config()));
  }
  if (iequals(sub, "HELP")) {
    return "*3\r\n+FRONTCACHE <subcommand> [<arg> ...]. Subcommands are:\r\n"
           "+CONFIG -- the configuration in effect, as YAML (secrets hidden)\r\n"
           "+HELP\r\n";
  }
  return resp::error_reply(fmt::format("ERR unknown subcommand '{}'. Try FRONTCACHE HELP.", sub));
}

std::string Session::describe() {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto now = std::chrono::steady_clock::now();
  const std::size_t obuf = conn_.buffered_bytes();
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} "
      "multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} "
      "tot-mem={} events=r cmd={} user={} redir={} resp={}",
      id_, addr(), laddr(), conn_.fd(), state_.name, duration_cast<seconds>(now - created_).count(),
      duration_cast<seconds>(now - last_command_).count(), state_.flags(blocked()), state_.db,
      state_.channels.size(), state_.patterns.size(), state_.shard_channels.size(),
      state_.multi ? state_.queued : -1, conn_.query_buffer(), conn_.query_buffer_free(), obuf,
      obuf + conn_.query_buffer() + conn_.query_buffer_free(), state_.last_command, state_.user,
      state_.tracking.on ? static_cast<long long>(state_.tracking.redirect) : -1, state_.resp);
}

}  // namespace frontcache::proxy
