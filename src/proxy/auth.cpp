// Proxy-level authentication (`auth` in the config): until a session authenticates, every
// command but AUTH, HELLO, QUIT and RESET gets NOAUTH and nothing (cached or not) reaches it.
// Wrong passwords get Redis's WRONGPASS and pause the session's reading, longer after each
// failure, so a client cannot try passwords at network speed.
#include <algorithm>
#include <chrono>

#include "frontcache/resp/errors.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace {

constexpr std::chrono::milliseconds kFirstPenalty{25};
constexpr std::chrono::milliseconds kMaxPenalty{2000};

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

void Session::auth_failed() {
  worker_.shared().stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
  ++auth_failures_;
  const auto shift = std::min(auth_failures_ - 1, 7u);
  const auto delay = std::min(kMaxPenalty, kFirstPenalty * (1 << shift));
  auth_wait_ = true;
  auth_timer_.expires_after(delay);
  auth_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code&) {
    auto self = weak.lock();
    if (!self) return;
    self->auth_wait_ = false;
    self->maybe_resume();
  });
}

}  // namespace frontcache::proxy
