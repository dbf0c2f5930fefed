#include "frontcache/command/command_table.hpp"

#include <array>
#include <cctype>
#include <charconv>

namespace frontcache::command {

namespace {

struct RouteEntry {
  std::string_view name;
  Route route;
};

constexpr std::array kRoutes = {
    // Answered locally.
    RouteEntry{"ping", Route::Local},
    RouteEntry{"echo", Route::Local},
    RouteEntry{"quit", Route::Local},
    RouteEntry{"hello", Route::Local},
    RouteEntry{"select", Route::Local},
    RouteEntry{"client", Route::Local},
    RouteEntry{"info", Route::Local},
    RouteEntry{"auth", Route::Local},
    RouteEntry{"reset", Route::Local},
    RouteEntry{"frontcache", Route::Local},
    // Connection state upstream: transactions, blocking commands, pub/sub, monitor.
    RouteEntry{"multi", Route::Stateful},
    RouteEntry{"exec", Route::Stateful},
    RouteEntry{"discard", Route::Stateful},
    RouteEntry{"watch", Route::Stateful},
    RouteEntry{"unwatch", Route::Stateful},
    RouteEntry{"blpop", Route::Stateful},
    RouteEntry{"brpop", Route::Stateful},
    RouteEntry{"blmove", Route::Stateful},
    RouteEntry{"brpoplpush", Route::Stateful},
    RouteEntry{"blmpop", Route::Stateful},
    RouteEntry{"bzpopmin", Route::Stateful},
    RouteEntry{"bzpopmax", Route::Stateful},
    RouteEntry{"bzmpop", Route::Stateful},
    RouteEntry{"wait", Route::Stateful},
    RouteEntry{"waitaof", Route::Stateful},
    RouteEntry{"subscribe", Route::Stateful},
    RouteEntry{"psubscribe", Route::Stateful},
    RouteEntry{"ssubscribe", Route::Stateful},
    RouteEntry{"unsubscribe", Route::Stateful},
    RouteEntry{"punsubscribe", Route::Stateful},
    RouteEntry{"sunsubscribe", Route::Stateful},
    RouteEntry{"monitor", Route::Stateful},
    // Scripts and functions: forwarded; their declared keys are invalidated.
    RouteEntry{"eval", Route::Script},
    RouteEntry{"evalsha", Route::Script},
    RouteEntry{"fcall", Route::Script},
    // XREAD / XREADGROUP are Stateful only with BLOCK; the dispatcher checks the arguments.
    // Administration of the shared upstream.
    RouteEntry{"config", Route::Admin},
    RouteEntry{"debug", Route::Admin},
    RouteEntry{"replicaof", Route::Admin},
    RouteEntry{"slaveof", Route::Admin},
    RouteEntry{"failover", Route::Admin},
    RouteEntry{"module", Route::Admin},
    RouteEntry{"acl", Route::Admin},
    RouteEntry{"save", Route::Admin},
    RouteEntry{"bgsave", Route::Admin},
    RouteEntry{"bgrewriteaof", Route::Admin},
    RouteEntry{"slowlog", Route::Admin},
    RouteEntry{"latency", Route::Admin},
    // Never forwarded.
    RouteEntry{"shutdown", Route::Never},
    RouteEntry{"sync", Route::Never},
    RouteEntry{"psync", Route::Never},
};

struct KeyEntry {
  std::string_view name;
  int first, last, step;
};

// Write commands and their keys, used when the upstream's COMMAND cannot be read.
constexpr std::array kFallbackWrites = {
    KeyEntry{"set", 1, 1, 1},
    KeyEntry{"setnx", 1, 1, 1},
    KeyEntry{"setex", 1, 1, 1},
    KeyEntry{"psetex", 1, 1, 1},
    KeyEntry{"append", 1, 1, 1},
    KeyEntry{"incr", 1, 1, 1},
    KeyEntry{"decr", 1, 1, 1},
    KeyEntry{"incrby", 1, 1, 1},
    KeyEntry{"decrby", 1, 1, 1},
    KeyEntry{"incrbyfloat", 1, 1, 1},
    KeyEntry{"getset", 1, 1, 1},
    KeyEntry{"getdel", 1, 1, 1},
    KeyEntry{"getex", 1, 1, 1},
    KeyEntry{"setrange", 1, 1, 1},
    KeyEntry{"del", 1, -1, 1},
    KeyEntry{"unlink", 1, -1, 1},
    KeyEntry{"expire", 1, 1, 1},
    KeyEntry{"pexpire", 1, 1, 1},
    KeyEntry{"expireat", 1, 1, 1},
    KeyEntry{"pexpireat", 1, 1, 1},
    KeyEntry{"persist", 1, 1, 1},
    KeyEntry{"rename", 1, 2, 1},
    KeyEntry{"renamenx", 1, 2, 1},
    KeyEntry{"mset", 1, -1, 2},
    KeyEntry{"msetnx", 1, -1, 2},
    KeyEntry{"hset", 1, 1, 1},
    KeyEntry{"hsetnx", 1, 1, 1},
    KeyEntry{"hmset", 1, 1, 1},
    KeyEntry{"hdel", 1, 1, 1},
    KeyEntry{"hincrby", 1, 1, 1},
    KeyEntry{"hincrbyfloat", 1, 1, 1},
    KeyEntry{"lpush", 1, 1, 1},
    KeyEntry{"rpush", 1, 1, 1},
    KeyEntry{"lpushx", 1, 1, 1},
    KeyEntry{"rpushx", 1, 1, 1},
    KeyEntry{"lpop", 1, 1, 1},
    KeyEntry{"rpop", 1, 1, 1},
    KeyEntry{"linsert", 1, 1, 1},
    KeyEntry{"lset", 1, 1, 1},
    KeyEntry{"lrem", 1, 1, 1},
    KeyEntry{"ltrim", 1, 1, 1},
    KeyEntry{"rpoplpush", 1, 2, 1},
    KeyEntry{"lmove", 1, 2, 1},
    KeyEntry{"sadd", 1, 1, 1},
    KeyEntry{"srem", 1, 1, 1},
    KeyEntry{"spop", 1, 1, 1},
    KeyEntry{"smove", 1, 2, 1},
    KeyEntry{"sinterstore", 1, -1, 1},
    KeyEntry{"sunionstore", 1, -1, 1},
    KeyEntry{"sdiffstore", 1, -1, 1},
    KeyEntry{"zadd", 1, 1, 1},
    KeyEntry{"zincrby", 1, 1, 1},
    KeyEntry{"zrem", 1, 1, 1},
    KeyEntry{"zremrangebyscore", 1, 1, 1},
    KeyEntry{"zremrangebyrank", 1, 1, 1},
    KeyEntry{"zremrangebylex", 1, 1, 1},
    KeyEntry{"zpopmin", 1, 1, 1},
    KeyEntry{"zpopmax", 1, 1, 1},
    KeyEntry{"zunionstore", 1, 1, 1},
    KeyEntry{"zinterstore", 1, 1, 1},
    KeyEntry{"zdiffstore", 1, 1, 1},
    KeyEntry{"zrangestore", 1, 2, 1},
    KeyEntry{"xadd", 1, 1, 1},
    KeyEntry{"xdel", 1, 1, 1},
    KeyEntry{"xtrim", 1, 1, 1},
    KeyEntry{"setbit", 1, 1, 1},
    KeyEntry{"bitop", 2, -1, 1},
    KeyEntry{"bitfield", 1, 1, 1},
    KeyEntry{"pfadd", 1, 1, 1},
    KeyEntry{"pfmerge", 1, -1, 1},
    KeyEntry{"geoadd", 1, 1, 1},
    KeyEntry{"copy", 1, 2, 1},
    KeyEntry{"move", 1, 1, 1},
    KeyEntry{"restore", 1, 1, 1},
    KeyEntry{"sort", 1, 1, 1},
    KeyEntry{"lmpop", 0, 0, 0},
    KeyEntry{"zmpop", 0, 0, 0},
    KeyEntry{"eval", 0, 0, 0},
    KeyEntry{"evalsha", 0, 0, 0},
    KeyEntry{"fcall", 0, 0, 0},
};

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::size_t kMaxName = 32;

bool to_lower_buffer(std::string_view name, char (&buf)[kMaxName]) {
  if (name.size() > kMaxName) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  return true;
}

bool parse_count(std::string_view text, long long& value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && value >= 0;
}

// Keys after a numkeys argument at `at`: EVAL script numkeys k..., LMPOP numkeys k... .
void numkeys_at(std::span<const std::string_view> args, std::size_t at,
                std::vector<std::string_view>& out) {
  long long n = 0;
  if (args.size() <= at || !parse_count(args[at], n)) return;
  for (std::size_t i = at + 1; i < args.size() && static_cast<long long>(i - at) <= n; ++i) {
    out.push_back(args[i]);
  }
}

}  // namespace

CommandTable::CommandTable() {
  for (const auto& k : kFallbackWrites) {
    auto& e = entry(k.name);
    e.flags |= kWrite;
    e.first_key = k.first;
    e.last_key = k.last;
    e.key_step = k.step;
    if (k.first == 0) e.flags |= kMovableKeys;
  }
  for (const auto* name : {"flushdb", "flushall", "swapdb"}) entry(name).flags |= kWrite | kFlush;
  for (const auto& r : kRoutes) entry(r.name).route = r.route;
}

CommandInfo& CommandTable::entry(std::string_view lower_name) {
  auto [it, inserted] = map_.try_emplace(std::string(lower_name));
  if (inserted) it->second.name = lower_name;
  return it->second;
}

void CommandTable::merge(std::vector<CommandInfo> upstream) {
  for (auto& u : upstream) {
    auto& e = entry(to_lower(u.name));
    const Route route = e.route;
    // Ours: cacheable/flush, and write for entries our fallback table marks as writes (EVAL,
    // EVALSHA and FCALL carry no `write` flag upstream, yet their declared keys may be written).
    const std::uint32_t ours = e.flags & (kCacheable | kFlush | kWrite);
    const bool fallback_movable = e.has(kMovableKeys);
    const std::string name = e.name;
    e = std::move(u);
    e.name = name;
    e.route = route;
    e.flags |= ours;
    if (fallback_movable) e.flags |= kMovableKeys;
  }
}

void CommandTable::set_cacheable(std::span<const std::string> names) {
  for (auto& [name, info] : map_) info.flags &= ~static_cast<std::uint32_t>(kCacheable);
  for (const auto& n : names) {
    CommandInfo& e = entry(to_lower(n));
    e.flags |= kCacheable;
    if (e.first_key == 0) {  // not described by the upstream: the key is the first argument
      e.first_key = 1;
      e.last_key = e.name == "exists" || e.name == "mget" ? -1 : 1;
      e.key_step = 1;
    }
  }
}

const CommandInfo* CommandTable::find(std::string_view name) const {
  char lower[kMaxName];
  if (!to_lower_buffer(name, lower)) return nullptr;
  auto it = map_.find(std::string(lower, name.size()));
  return it == map_.end() ? nullptr : &it->second;
}

const CommandInfo& CommandTable::resolve(const CommandInfo& info,
                                         std::span<const std::string_view> args) {
  if (info.subcommands.empty() || args.size() < 2) return info;
  char lower[kMaxName];
  if (!to_lower_buffer(args[1], lower)) return info;
  const std::string_view sub(lower, args[1].size());
  for (const auto& s : info.subcommands) {
    if (s.name == sub) return s;
  }
  return info;
}

void CommandTable::write_keys(const CommandInfo& info, std::span<const std::string_view> args,
                              std::vector<std::string_view>& out) {
  const std::string_view name = info.name;
  if (name == "eval" || name == "evalsha" || name == "fcall") return numkeys_at(args, 2, out);
  if (name == "lmpop" || name == "zmpop") return numkeys_at(args, 1, out);
  if (name == "sort") {
    if (args.size() > 1) out.push_back(args[1]);
    for (std::size_t i = 2; i + 1 < args.size(); ++i) {
      if (iequals(args[i], "STORE")) out.push_back(args[i + 1]);
    }
    return;
  }
  if (info.first_key <= 0 || info.key_step <= 0) return;
  const auto n = static_cast<long long>(args.size());
  long long last = info.last_key >= 0 ? info.last_key : n + info.last_key;
  if (last >= n) last = n - 1;
  for (long long i = info.first_key; i <= last; i += info.key_step) {
    out.push_back(args[static_cast<std::size_t>(i)]);
  }
}

bool iequals(std::string_view a, std::string_view upper) {
  if (a.size() != upper.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != upper[i]) return false;
  }
  return true;
}

}  // namespace frontcache::command
