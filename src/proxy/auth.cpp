// Proxy-level authentication (`auth` in the config): until a session authenticates, every
// command but AUTH, HELLO, QUIT and RESET gets NOAUTH and nothing (cached or not) reaches it.
// Wrong passwords get Redis's WRONGPASS and count against the client's address
// (AuthLimiter): once an address has failed a few times, its attempts take turns, further apart
// with each failure, however many connections it opens. Without `auth:` nothing is counted.
#include <algorithm>
#include <chrono>

#include "frontcache/metrics/log_limit.hpp"
#include "frontcache/resp/errors.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace {

constexpr std::string_view kAuthRefused =
    "ERR frontcache: too many wrong passwords from this address; try again later";

// Compares without an early exit on the first differing byte.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

}  // namespace

bool Session::checks_password(const Classified& c, Args args) {
  if (c.op == command::Op::Auth) return true;
  if (c.op != command::Op::Hello) return false;
  for (std::size_t i = 2; i + 2 < args.size(); ++i) {
    if (command::iequals(args[i], "AUTH")) return true;
  }
  return false;
}

// With no password configured anywhere (no `auth:`) there is nothing to guess: every attempt is
// answered at once, as Redis answers it, and failures do not count against the address.
AuthLimiter::Turn Session::auth_turn() {
  if (!worker_.config().auth.required()) return {};
  if (!peer_key_) peer_key_ = AuthLimiter::key_of(addr());
  const AuthLimiter::Turn turn =
      worker_.shared().auth_limiter.reserve(*peer_key_, std::chrono::steady_clock::now());
  if (turn.refused) {
    worker_.shared().stats.auth_refused.fetch_add(1, std::memory_order_relaxed);
    static metrics::LogLimit log_limit;
    log_limit.warn("AUTH from {} refused unchecked: too many wrong passwords from that address",
                   addr());
  }
  return turn;
}

// AUTH and HELLO AUTH outside MULTI: the password is checked at once (so a failure counts
// against the address before its next attempt is given a turn), and the reply, right or wrong,
// waits for the address's turn with the session's reading paused.
void Session::answer_auth(const Classified& c, Args args) {
  const AuthLimiter::Turn turn = auth_turn();
  if (turn.refused) return reply_error(kAuthRefused);
  std::string out = run_local(c, args);
  if (turn.at <= std::chrono::steady_clock::now()) return reply(out);
  worker_.shared().stats.auth_delayed.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t seq = take_slot(silent_);
  auth_wait_ = true;
  auth_timer_.expires_at(turn.at);
  auth_timer_.async_wait(
      [weak = weak_from_this(), seq, out = std::move(out)](const boost::system::error_code&) {
        auto self = weak.lock();
        if (!self || self->conn_.closed()) return;
        self->auth_wait_ = false;
        if (self->conn_.pending(seq)) {
          self->conn_.complete(seq, self->conn_.context(seq).silent ? "" : out);
        }
        self->maybe_resume();
      });
}

// AUTH or HELLO AUTH queued in MULTI, run at EXEC: no waiting there, so only an address whose
// turn is now gets its password checked.
std::string Session::run_queued_auth(const Classified& c, Args args) {
  const AuthLimiter::Turn turn = auth_turn();
  if (turn.refused || turn.at > std::chrono::steady_clock::now()) {
    return resp::error_reply(kAuthRefused);
  }
  return run_local(c, args);
}

bool Session::allowed_before_auth(const Classified& c) {
  return c.op == command::Op::Auth || c.op == command::Op::Hello || c.op == command::Op::Quit ||
         c.op == command::Op::Reset;
}

// AUTH [username] password, as Redis 7.0's authCommand.
std::string Session::auth(Args args) {
  if (args.size() > 3) return resp::error_reply("ERR syntax error");
  if (args.size() == 2 && !worker_.config().auth.required()) {
    return resp::error_reply(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  const std::string_view user = args.size() == 3 ? args[1] : std::string_view("default");
  if (!check_credentials(user, args.back())) {
    auth_failed();
    return resp::error_reply("WRONGPASS invalid username-password pair or user is disabled.");
  }
  state_.authenticated = true;
  state_.user.assign(user);
  user_changed();
  conn_.parser_.set_authenticated(true);
  return std::string(resp::kOk);
}

// The default user has the proxy password (`auth.password`), or no password at all when the
// proxy requires none; when only `auth.users` are configured it is disabled.
bool Session::check_credentials(std::string_view user, std::string_view password) const {
  const auto& auth = worker_.config().auth;
  if (user == "default") {
    if (!auth.password.empty()) return same_secret(password, auth.password);
    return !auth.required();
  }
  bool match = false;
  for (const auto& u : auth.users) {
    if (u.name == user) match = same_secret(password, u.password);
  }
  return match;
}

// Whether `auth` knows this user name, as Redis's ACLGetUserByName: `default` always exists.
bool Session::user_exists(std::string_view user) const {
  if (user == "default") return true;
  const auto& users = worker_.config().auth.users;
  return std::any_of(users.begin(), users.end(), [&](const auto& u) { return u.name == user; });
}

void Session::auth_failed() {
  worker_.shared().stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
  if (!worker_.config().auth.required()) return;  // nothing to guess (auth_turn)
  if (!peer_key_) peer_key_ = AuthLimiter::key_of(addr());
  if (worker_.shared().auth_limiter.failed(*peer_key_, std::chrono::steady_clock::now())) {
    static metrics::LogLimit log_limit;
    log_limit.warn(
        "repeated wrong passwords from {}: its AUTH attempts now take turns, spaced out (see "
        "docs/security.md)",
        addr());
  }
}

}  // namespace frontcache::proxy
