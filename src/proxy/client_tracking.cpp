// CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO, served by the proxy: the client hears of
// the keys it read (default mode) or of every key under its prefixes (BCAST) from the proxy's
// own invalidations (tracking.hpp), with Redis's option checks, error texts and messages: a
// RESP3 push `>2 invalidate [keys]`, or through REDIRECT a `__redis__:invalidate` message to a
// subscribed RESP2 client; null when everything must go.
#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <charconv>

#include "frontcache/resp/errors.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::iequals;

namespace {

std::string keys_value(const Invalidation& message, resp::Protocol protocol) {
  if (message.all) return std::string(resp::null_reply(protocol));
  std::string out = fmt::format("*{}\r\n", message.keys.size());
  for (const auto& k : message.keys) out += resp::bulk_reply(k);
  return out;
}

}  // namespace

// CLIENT TRACKING (on|off) [REDIRECT id] [BCAST] [PREFIX p]... [OPTIN] [OPTOUT] [NOLOOP]
std::string Session::client_tracking(Args args) {
  if (worker_.shared().l1 == nullptr) {
    return resp::error_reply(
        "ERR frontcache: CLIENT TRACKING is served from the L1's invalidations; the cache is off");
  }
  TrackingState next = state_.tracking;
  long long redirect = 0;
  bool bcast = false, optin = false, optout = false, noloop = false;
  std::vector<std::string> prefixes;
  for (std::size_t j = 3; j < args.size(); ++j) {
    const bool more = j + 1 < args.size();
    if (iequals(args[j], "REDIRECT") && more) {
      ++j;
      if (redirect != 0) {
        return resp::error_reply("ERR A client can only redirect to a single other client");
      }
      auto [p, ec] = std::from_chars(args[j].data(), args[j].data() + args[j].size(), redirect);
      if (ec != std::errc() || p != args[j].data() + args[j].size()) {
        return resp::error_reply("ERR value is not an integer or out of range");
      }
      if (worker_.shared().tracking.worker_of(static_cast<std::uint64_t>(redirect)) < 0) {
        return resp::error_reply("ERR The client ID you want redirect to does not exist");
      }
    } else if (iequals(args[j], "BCAST")) {
      bcast = true;
    } else if (iequals(args[j], "OPTIN")) {
      optin = true;
    } else if (iequals(args[j], "OPTOUT")) {
      optout = true;
    } else if (iequals(args[j], "NOLOOP")) {
      noloop = true;
    } else if (iequals(args[j], "PREFIX") && more) {
      prefixes.emplace_back(args[++j]);
    } else {
      return resp::error_reply("ERR syntax error");
    }
  }
  if (iequals(args[2], "OFF")) {
    state_.tracking = {};
    worker_.shared().tracking.disable(id_);
    return std::string(resp::kOk);
  }
  if (!iequals(args[2], "ON")) return resp::error_reply("ERR syntax error");
  if (!bcast && !prefixes.empty()) {
    return resp::error_reply("ERR PREFIX option requires BCAST mode to be enabled");
  }
  if (next.on && next.bcast != bcast) {
    return resp::error_reply(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
        "then re-enabling it with a different mode.");
  }
  if (bcast && (optin || optout)) {
    return resp::error_reply("ERR OPTIN and OPTOUT are not compatible with BCAST");
  }
  if (optin && optout) {
    return resp::error_reply("ERR You can't specify both OPTIN mode and OPTOUT mode");
  }
  if ((optin && next.optout) || (optout && next.optin)) {
    return resp::error_reply(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
        "then re-enabling it with a different mode.");
  }
  if (bcast) {
    // Redis refuses prefixes that overlap each other or those already registered.
    std::vector<std::string> all = next.prefixes;
    for (const auto& p : prefixes) {
      for (const auto& q : all) {
        if (p.starts_with(q) || q.starts_with(p)) {
          const std::string& existing = q.size() <= p.size() ? q : p;
          const std::string& added = q.size() <= p.size() ? p : q;
          if (std::find(next.prefixes.begin(), next.prefixes.end(), q) != next.prefixes.end()) {
            return resp::error_reply(fmt::format(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single "
                "client must not overlap.",
                p, q));
          }
          return resp::error_reply(
              fmt::format("ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes "
                          "for a single client must not overlap.",
                          added, existing));
        }
      }
      all.push_back(p);
    }
  }
  next.on = true;
  next.bcast = bcast;
  next.optin = optin;
  next.optout = optout;
  next.noloop = noloop;
  next.redirect = static_cast<std::uint64_t>(redirect);
  next.broken_redirect = false;
  for (auto& p : prefixes) next.prefixes.push_back(std::move(p));
  state_.tracking = next;
  worker_.shared().tracking.enable(id_, worker_.index(), bcast, next.prefixes, noloop);
  return std::string(resp::kOk);
}

std::string Session::client_caching(Args args) {
  const TrackingState& t = state_.tracking;
  if (!t.on) {
    return resp::error_reply(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
        "OPTOUT mode enabled");
  }
  if (iequals(args[2], "YES")) {
    if (!t.optin) {
      return resp::error_reply(
          "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    }
  } else if (iequals(args[2], "NO")) {
    if (!t.optout) {
      return resp::error_reply(
          "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    }
  } else {
    return resp::error_reply("ERR syntax error");
  }
  state_.tracking.caching = true;
  return std::string(resp::kOk);
}

std::string Session::tracking_info() {
  const TrackingState& t = state_.tracking;
  std::vector<std::string_view> flags{t.on ? "on" : "off"};
  if (t.bcast) flags.push_back("bcast");
  if (t.optin) flags.push_back("optin");
  if (t.optin && t.caching) flags.push_back("caching-yes");
  if (t.optout) flags.push_back("optout");
  if (t.optout && t.caching) flags.push_back("caching-no");
  if (t.noloop) flags.push_back("noloop");
  if (t.broken_redirect) flags.push_back("broken_redirect");
  std::string out = resp::map_header(3, protocol());
  out += resp::bulk_reply("flags") + resp::set_header(flags.size(), protocol());
  for (auto f : flags) out += resp::bulk_reply(f);
  out += resp::bulk_reply("redirect") +
         resp::integer_reply(t.on ? static_cast<long long>(t.redirect) : -1);
  out += resp::bulk_reply("prefixes") + fmt::format("*{}\r\n", t.prefixes.size());
  std::vector<std::string> sorted = t.prefixes;  // Redis lists them from a radix tree
  std::sort(sorted.begin(), sorted.end());
  for (const auto& p : sorted) out += resp::bulk_reply(p);
  return out;
}

// Default-mode tracking, subject to OPTIN/OPTOUT and CLIENT CACHING: the keys of a read-only
// command run by this client; of a script (EVAL, FCALL and their _RO forms), its declared
// keys: Redis remembers those when the script runs a read-only command (they are the caller's
// keys). Whether it will the proxy cannot see, so it remembers them for every script: a
// write-only script costs the client an extra invalidation, where not remembering them left its
// near-cache stale (Redis's test suite, unit/tracking).
void Session::remember_tracked(const Classified& c, Args args) {
  const TrackingState& t = state_.tracking;
  if ((t.optin && !t.caching) || (t.optout && t.caching)) return;
  keys_.clear();
  command::CommandTable::access_keys(*c.spec, args, keys_);
  if (!keys_.empty()) worker_.shared().tracking.remember(id_, keys_);
}

void Session::on_tracking(const Invalidation& message, bool redirected) {
  if (conn_.closed()) return;
  if (redirected) {
    // The message of a client that REDIRECTs here: a push in RESP3, a pub/sub message on
    // __redis__:invalidate if this client is subscribed (to anything) in RESP2, else nothing.
    if (state_.resp == 3) {
      return conn_.append(resp::push_header(2, resp::Protocol::Resp3) +
                          resp::bulk_reply("invalidate") + keys_value(message, protocol()));
    }
    if (state_.subscribed()) {
      return conn_.append("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" +
                          keys_value(message, resp::Protocol::Resp2));
    }
    return;
  }
  const TrackingState& t = state_.tracking;
  if (!t.on) return;
  if (t.redirect == 0) {
    // Only a RESP3 client can be told on its own connection.
    if (state_.resp == 3) {
      conn_.append(resp::push_header(2, resp::Protocol::Resp3) + resp::bulk_reply("invalidate") +
                   keys_value(message, protocol()));
    }
    return;
  }
  const long long target = worker_.shared().tracking.worker_of(t.redirect);
  if (target < 0) {
    state_.tracking.broken_redirect = true;
    if (state_.resp == 3) {
      conn_.append(resp::push_header(2, resp::Protocol::Resp3) +
                   resp::bulk_reply("tracking-redir-broken") +
                   resp::integer_reply(static_cast<long long>(t.redirect)));
    }
    return;
  }
  Worker* w = worker_.shared().all_workers[static_cast<std::size_t>(target)];
  boost::asio::post(w->io(), [w, id = t.redirect, copy = message] {
    if (Session* s = w->find(id)) s->on_tracking(copy, /*redirected=*/true);
  });
}

}  // namespace frontcache::proxy
