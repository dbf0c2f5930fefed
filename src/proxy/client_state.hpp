// The model of one client's Redis connection state: what Redis keeps per client in
// networking.c (database, transaction, WATCH, subscriptions, MONITOR, CLIENT REPLY, tracking,
// protocol, name, user). Nothing else in the session holds any of it. (Tracking is served by
// the proxy, never by the dedicated connection: see tracking.hpp.)
//
// Who may change it: while the session runs on the shared upstream connections the proxy is
// the authority (SELECT, CLIENT SETNAME, AUTH... are answered here and take effect at once).
// While it is pinned to a dedicated connection, that connection mirrors the client's state in
// Redis and the model follows only the replies that confirm a change (`+OK` to SELECT, the
// subscription replies, each result inside EXEC's array, `+RESET`), exactly as Redis changes
// it; commands queued in MULTI change nothing until EXEC succeeds.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::proxy {

enum class ReplyMode : std::uint8_t { On, Off, Skip };

// CLIENT TRACKING, served by the proxy (tracking.hpp); Redis's client flags.
struct TrackingState {
  bool on = false;
  bool bcast = false;
  bool optin = false;
  bool optout = false;
  bool noloop = false;
  bool caching = false;  // CLIENT CACHING yes (OPTIN) / no (OPTOUT) for the next command
  bool broken_redirect = false;
  std::uint64_t redirect = 0;  // a proxy client id; 0: none
  std::vector<std::string> prefixes;
};

struct ClientState {
  int db = 0;
  int resp = 2;
  std::string name;
  std::string user = "default";
  bool authenticated = true;
  ReplyMode reply_mode = ReplyMode::On;
  bool multi = false;         // MULTI confirmed; EXEC, DISCARD or RESET not yet
  bool multi_failed = false;  // a command was refused while queueing: EXEC aborts
  int queued = 0;             // commands queued in the transaction (CLIENT LIST multi=)
  bool watching = false;      // WATCH confirmed, not yet cleared
  bool monitor = false;
  TrackingState tracking;  // served by the proxy
  std::set<std::string, std::less<>> channels, patterns, shard_channels;
  std::string last_command = "NULL";  // full name of the last command run (CLIENT LIST cmd=)

  bool subscribed() const {
    return !channels.empty() || !patterns.empty() || !shard_channels.empty();
  }
  // RESP2 subscriber: Redis allows only the SUBSCRIBE family, PING, QUIT and RESET.
  bool subscribe_context() const { return resp == 2 && subscribed(); }
  // State that lives in a Redis connection, so the session needs its dedicated one.
  bool needs_dedicated() const { return multi || watching || monitor || subscribed(); }

  // RESET, as Redis's clearClientConnectionState(): everything but the connection itself;
  // authentication goes back to the default user (who needs a password when one is required).
  void reset(bool auth_required) {
    db = 0;
    resp = 2;
    name.clear();
    user = "default";
    authenticated = !auth_required;
    reply_mode = ReplyMode::On;
    multi = multi_failed = watching = monitor = false;
    tracking = {};
    queued = 0;
    channels.clear();
    patterns.clear();
    shard_channels.clear();
  }

  // A subscription reply (`subscribe`, `punsubscribe`, ... with its channel) confirmed by Redis.
  void apply_subscription(std::string_view kind, std::string_view channel) {
    const std::string name_copy(channel);
    if (kind == "subscribe") channels.insert(name_copy);
    if (kind == "unsubscribe") channels.erase(name_copy);
    if (kind == "psubscribe") patterns.insert(name_copy);
    if (kind == "punsubscribe") patterns.erase(name_copy);
    if (kind == "ssubscribe") shard_channels.insert(name_copy);
    if (kind == "sunsubscribe") shard_channels.erase(name_copy);
  }

  // The `flags=` letters of CLIENT LIST, in Redis's order. `blocked`: Redis is running a
  // blocking command of the client's now (the oldest it has not answered).
  std::string flags(bool blocked) const {
    std::string f;
    if (monitor) f += 'O';
    if (subscribed()) f += 'P';
    if (multi) f += 'x';
    if (blocked) f += 'b';
    if (tracking.on) f += 't';
    if (tracking.broken_redirect) f += 'R';
    if (tracking.bcast) f += 'B';
    if (f.empty()) f = "N";
    return f;
  }
};

}  // namespace frontcache::proxy
