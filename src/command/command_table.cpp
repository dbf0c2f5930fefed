#include "frontcache/command/command_table.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstring>

#include "builtin_commands.hpp"
#include "frontcache/resp/errors.hpp"

namespace frontcache::command {

namespace {

struct RouteEntry {
  std::string_view name;
  Route route;
};

struct OpEntry {
  std::string_view name;
  Route route;
  Op op;
};

constexpr std::array kRoutes = {
    // Answered locally.
    OpEntry{"ping", Route::Local, Op::Ping},
    OpEntry{"echo", Route::Local, Op::Echo},
    OpEntry{"quit", Route::Local, Op::Quit},
    OpEntry{"hello", Route::Local, Op::Hello},
    OpEntry{"select", Route::Local, Op::Select},
    OpEntry{"client", Route::Local, Op::Client},
    OpEntry{"info", Route::Local, Op::Info},
    OpEntry{"auth", Route::Local, Op::Auth},
    OpEntry{"reset", Route::Local, Op::Reset},
    OpEntry{"frontcache", Route::Local, Op::Frontcache},
    // Connection state upstream: transactions, blocking commands, pub/sub, monitor.
    OpEntry{"multi", Route::Stateful, Op::Multi},
    OpEntry{"exec", Route::Stateful, Op::Exec},
    OpEntry{"discard", Route::Stateful, Op::Discard},
    OpEntry{"watch", Route::Stateful, Op::Watch},
    OpEntry{"unwatch", Route::Stateful, Op::Unwatch},
    OpEntry{"blpop", Route::Stateful, Op::Blocking},
    OpEntry{"brpop", Route::Stateful, Op::Blocking},
    OpEntry{"blmove", Route::Stateful, Op::Blocking},
    OpEntry{"brpoplpush", Route::Stateful, Op::Blocking},
    OpEntry{"blmpop", Route::Stateful, Op::Blocking},
    OpEntry{"bzpopmin", Route::Stateful, Op::Blocking},
    OpEntry{"bzpopmax", Route::Stateful, Op::Blocking},
    OpEntry{"bzmpop", Route::Stateful, Op::Blocking},
    OpEntry{"wait", Route::Stateful, Op::Blocking},
    OpEntry{"waitaof", Route::Stateful, Op::Blocking},
    OpEntry{"subscribe", Route::Stateful, Op::Subscribe},
    OpEntry{"psubscribe", Route::Stateful, Op::Psubscribe},
    OpEntry{"ssubscribe", Route::Stateful, Op::Ssubscribe},
    OpEntry{"unsubscribe", Route::Stateful, Op::Unsubscribe},
    OpEntry{"punsubscribe", Route::Stateful, Op::Punsubscribe},
    OpEntry{"sunsubscribe", Route::Stateful, Op::Sunsubscribe},
    OpEntry{"monitor", Route::Stateful, Op::Monitor},
    // Blocking only with BLOCK (classify() checks the arguments).
    OpEntry{"xread", Route::Forward, Op::XreadLike},
    OpEntry{"xreadgroup", Route::Forward, Op::XreadLike},
    OpEntry{"mget", Route::Forward, Op::Mget},
    // Scripts and functions: forwarded; their declared keys are invalidated.
    OpEntry{"eval", Route::Script, Op::None},
    OpEntry{"evalsha", Route::Script, Op::None},
    OpEntry{"fcall", Route::Script, Op::None},
    // Never forwarded.
    OpEntry{"shutdown", Route::Never, Op::None},
    OpEntry{"sync", Route::Never, Op::None},
    OpEntry{"psync", Route::Never, Op::None},
};

// Subcommands the proxy treats one by one (Redis 7.0): arity, and what the proxy does with
// each. The upstream's COMMAND replaces the arities; the routes and ops stay.
struct SubEntry {
  std::string_view container;
  std::string_view name;
  int arity;
  Route route;
  Op op;
};

constexpr std::array kSubcommands = {
    SubEntry{"client", "id", 2, Route::Local, Op::ClientId},
    SubEntry{"client", "getname", 2, Route::Local, Op::ClientGetname},
    SubEntry{"client", "setname", 3, Route::Local, Op::ClientSetname},
    SubEntry{"client", "info", 2, Route::Local, Op::ClientInfo},
    SubEntry{"client", "list", -2, Route::Local, Op::ClientList},
    SubEntry{"client", "kill", -3, Route::Local, Op::ClientKill},
    SubEntry{"client", "reply", 3, Route::Local, Op::ClientReply},
    SubEntry{"client", "no-evict", 3, Route::Local, Op::ClientNoEvict},
    SubEntry{"client", "help", 2, Route::Local, Op::ClientHelp},
    // Client-side caching is served by the proxy from its own invalidations.
    SubEntry{"client", "tracking", -3, Route::Local, Op::ClientTracking},
    SubEntry{"client", "trackinginfo", 2, Route::Local, Op::ClientTrackinginfo},
    SubEntry{"client", "getredir", 2, Route::Local, Op::ClientGetredir},
    SubEntry{"client", "caching", 3, Route::Local, Op::ClientCaching},
    // Pausing acts on the whole shared upstream (@admin: for users granted it).
    SubEntry{"client", "pause", -3, Route::Forward, Op::ClientPause},
    SubEntry{"client", "unpause", 2, Route::Forward, Op::ClientUnpause},
    // Blocked clients run on dedicated connections: Redis unblocks the connection by its id.
    SubEntry{"client", "unblock", -3, Route::Local, Op::ClientUnblock},
    // Upstream, it would name the proxy's own upstream account.
    SubEntry{"acl", "whoami", 2, Route::Local, Op::AclWhoami},
    // Forwarded; its harmless parameters need no permission (proxy/permissions.cpp).
    SubEntry{"config", "get", -3, Route::Forward, Op::ConfigGet},
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

// ASCII only, as Redis's case-insensitive command dictionary compares names.
bool to_lower_buffer(std::string_view name, char (&buf)[kMaxName]) {
  if (name.size() > kMaxName) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buf[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
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

// A key spec's keys in `args` (Redis's getKeysUsingKeySpecs for one spec). False when the spec
// is unknown or the arguments do not fit it.
bool spec_keys(const KeySpec& spec, std::span<const std::string_view> args,
               std::vector<std::string_view>& out) {
  const int argc = static_cast<int>(args.size());
  int first = 0;
  switch (spec.begin) {
    case KeySpec::Begin::Index:
      first = spec.index;
      break;
    case KeySpec::Begin::Keyword: {
      const int start = spec.startfrom > 0 ? spec.startfrom : argc + spec.startfrom;
      const int end = spec.startfrom > 0 ? argc - 1 : 1;
      for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (iequals(args[static_cast<std::size_t>(i)], spec.keyword)) {
          first = i + 1;
          break;
        }
      }
      if (first == 0) return true;  // keyword absent: no keys from this spec
      break;
    }
    case KeySpec::Begin::Unknown:
      return false;
  }
  int last = 0;
  int step = spec.keystep;
  switch (spec.find) {
    case KeySpec::Find::Range:
      if (spec.lastkey >= 0) {
        last = first + spec.lastkey;
      } else if (spec.limit == 0) {
        last = argc + spec.lastkey;
      } else {
        last = first + ((argc - first) / spec.limit + spec.lastkey);
      }
      break;
    case KeySpec::Find::Keynum: {
      const int at = first + spec.keynumidx;
      long long n = 0;
      if (at >= argc || !parse_count(args[static_cast<std::size_t>(at)], n) || n > argc) {
        return false;
      }
      first += spec.firstkey;
      last = first + static_cast<int>(n) - 1;
      break;
    }
    case KeySpec::Find::Unknown:
      return false;
  }
  if (last >= argc || last < first || first >= argc || step <= 0) return false;
  for (int i = first; i <= last; i += step) out.push_back(args[static_cast<std::size_t>(i)]);
  return true;
}

KeySpec to_key_spec(const BuiltinKeySpec& b) {
  KeySpec k;
  k.begin = b.begin;
  k.index = b.index;
  k.keyword = b.keyword;
  k.startfrom = b.startfrom;
  k.find = b.find;
  k.lastkey = b.lastkey;
  k.keystep = b.keystep;
  k.limit = b.limit;
  k.keynumidx = b.keynumidx;
  k.firstkey = b.firstkey;
  k.incomplete = b.incomplete;
  k.not_key = b.not_key;
  return k;
}

// Fills in what an upstream entry lacks from our fallback entry: categories (Redis < 6), key
// specs (Redis 6 reports keys but no specs) and subcommands (Redis 6 has none in COMMAND).
void inherit(CommandInfo& upstream, CommandInfo& fallback) {
  if (upstream.categories == 0) upstream.categories = fallback.categories;
  if (upstream.key_specs.empty() && upstream.first_key > 0) {
    upstream.key_specs = std::move(fallback.key_specs);
  }
  if (upstream.subcommands.empty()) {
    upstream.subcommands = std::move(fallback.subcommands);
    return;
  }
  for (auto& sub : upstream.subcommands) {
    for (auto& ours : fallback.subcommands) {
      if (ours.name == sub.name) inherit(sub, ours);
    }
  }
}

}  // namespace

std::uint32_t category_bit(std::string_view name) {
  for (std::size_t i = 0; i < kCategoryNames.size(); ++i) {
    const std::string_view c = kCategoryNames[i];
    if (c.size() != name.size()) continue;
    bool same = true;
    for (std::size_t j = 0; j < c.size() && same; ++j) {
      same = std::tolower(static_cast<unsigned char>(name[j])) == c[j];
    }
    if (same) return 1u << i;
  }
  return 0;
}

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
  for (const auto& s : kSubcommands) {
    entry(s.container).arity = -2;
    sub_entry(s.container, s.name).arity = s.arity;
  }
  auto at = [this](std::string_view fullname) -> CommandInfo& {
    const auto bar = fullname.find('|');
    if (bar == std::string_view::npos) return entry(fullname);
    return sub_entry(fullname.substr(0, bar), fullname.substr(bar + 1));
  };
  for (const auto& b : builtin_commands()) at(b.fullname).categories = b.categories;
  for (const auto& b : builtin_key_specs()) at(b.fullname).key_specs.push_back(to_key_spec(b));
  // Ours, not Redis's: FRONTCACHE CONFIG shows the proxy's settings, upstream address and users.
  entry("frontcache").categories = kCatAdmin | kCatDangerous | kCatSlow;
  assign_ops();
}

// Routes and ops by name, on the commands and on CLIENT's subcommands, and the full names
// Redis prints in errors ("client|id"). Run again after merge() replaced entries.
void CommandTable::assign_ops() {
  for (const auto& r : kRoutes) {
    CommandInfo& e = entry(r.name);
    e.route = r.route;
    e.op = r.op;
  }
  std::uint32_t id = 0;
  for (auto& [name, info] : map_) {
    info.fullname = info.name;
    info.id = id++;
    for (auto& sub : info.subcommands) {
      sub.fullname = info.name + "|" + sub.name;
      sub.route = info.route;
      sub.id = id++;
    }
  }
  ids_ = id;
  for (const auto& s : kSubcommands) {
    CommandInfo& sub = sub_entry(s.container, s.name);
    sub.route = s.route;
    sub.op = s.op;
  }
}

CommandInfo& CommandTable::entry(std::string_view lower_name) {
  auto [it, inserted] = map_.try_emplace(std::string(lower_name));
  if (inserted) it->second.name = lower_name;
  return it->second;
}

CommandInfo& CommandTable::sub_entry(std::string_view lower_name, std::string_view lower_sub) {
  CommandInfo& container = entry(lower_name);
  for (auto& sub : container.subcommands) {
    if (sub.name == lower_sub) return sub;
  }
  CommandInfo& sub = container.subcommands.emplace_back();
  sub.name = lower_sub;
  return sub;
}

void CommandTable::merge(std::vector<CommandInfo> upstream) {
  for (auto& u : upstream) {
    auto& e = entry(to_lower(u.name));
    // Ours: cacheable/flush, and write for entries our fallback table marks as writes (EVAL,
    // EVALSHA and FCALL carry no `write` flag upstream, yet their declared keys may be written).
    const std::uint32_t ours = e.flags & (kCacheable | kFlush | kWrite);
    const bool fallback_movable = e.has(kMovableKeys);
    const std::string name = e.name;
    inherit(u, e);
    e = std::move(u);
    e.name = name;
    e.flags |= ours;
    if (fallback_movable) e.flags |= kMovableKeys;
  }
  complete_ = true;
  assign_ops();
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
  auto it = map_.find(std::string_view(lower, name.size()));
  return it == map_.end() ? nullptr : &it->second;
}

const CommandInfo* CommandTable::find_full(std::string_view fullname) const {
  const auto bar = fullname.find('|');
  const CommandInfo* info = find(fullname.substr(0, bar));
  if (info == nullptr || bar == std::string_view::npos) return info;
  char lower[kMaxName];
  const std::string_view sub = fullname.substr(bar + 1);
  if (!to_lower_buffer(sub, lower)) return nullptr;
  for (const auto& s : info->subcommands) {
    if (s.name == std::string_view(lower, sub.size())) return &s;
  }
  return nullptr;
}

namespace {

// The subcommand entry named by args[1], or null.
const CommandInfo* find_subcommand(const CommandInfo& info, std::string_view name) {
  char lower[kMaxName];
  if (!to_lower_buffer(name, lower)) return nullptr;
  const std::string_view sub(lower, name.size());
  for (const auto& s : info.subcommands) {
    if (s.name == sub) return &s;
  }
  return nullptr;
}

}  // namespace

const CommandInfo& CommandTable::resolve(const CommandInfo& info,
                                         std::span<const std::string_view> args) {
  if (info.subcommands.empty() || args.size() < 2) return info;
  const CommandInfo* sub = find_subcommand(info, args[1]);
  return sub != nullptr ? *sub : info;
}

Classified CommandTable::classify(std::span<const std::string_view> args) const {
  NameMemo memo;
  return classify(args, memo);
}

Classified CommandTable::classify(std::span<const std::string_view> args, NameMemo& memo) const {
  Classified c;
  if (args.empty()) return c;
  const std::string_view name = args[0];
  if (name.size() == memo.size && std::memcmp(name.data(), memo.name, name.size()) == 0) {
    c.info = memo.info;
  } else {
    c.info = find(name);
    if (name.size() <= NameMemo::kMaxBytes) {
      std::memcpy(memo.name, name.data(), name.size());
      memo.size = name.size();
      memo.info = c.info;
    }
  }
  if (c.info == nullptr) {
    c.arity_ok = true;
    c.unknown_to_redis = complete_;
    return c;
  }
  // As Redis's lookupCommand: a container named alone is the container itself (whose arity
  // then fails); with arguments it must name a subcommand.
  c.spec =
      c.info->subcommands.empty() || args.size() < 2 ? c.info : find_subcommand(*c.info, args[1]);
  if (c.spec == nullptr) {
    c.route = c.info->route;
    c.op = c.info->op;
    return c;
  }
  c.route = c.spec->route;
  c.op = c.spec->op != Op::None ? c.spec->op : c.info->op;
  c.arity_ok = c.spec->arity_ok(args.size());
  if (c.op == Op::XreadLike) {
    // XREAD / XREADGROUP block only with a BLOCK option (before STREAMS).
    for (std::size_t i = 1; i < args.size() && !iequals(args[i], "STREAMS"); ++i) {
      if (iequals(args[i], "BLOCK")) {
        c.route = Route::Stateful;
        break;
      }
    }
  }
  return c;
}

std::string Classified::rejection(std::span<const std::string_view> args) const {
  if (info == nullptr) {
    return unknown_to_redis ? resp::unknown_command_error(args[0], args.subspan(1)) : "";
  }
  if (spec == nullptr) {
    std::string container(args[0]);
    for (auto& ch : container) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const std::string_view sub = args[1].substr(0, std::min<std::size_t>(args[1].size(), 128));
    return resp::error_reply(
        fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", sub, container));
  }
  if (!arity_ok) return resp::wrong_arity_error(spec->fullname);
  return "";
}

bool CommandTable::write_keys(const CommandInfo& info, std::span<const std::string_view> args,
                              std::vector<std::string_view>& out) {
  const std::string_view name = info.name;
  if (name == "eval" || name == "evalsha" || name == "fcall") {
    numkeys_at(args, 2, out);
    return true;  // the declared keys; what a script writes beyond them is the caller's matter
  }
  if (name == "lmpop" || name == "zmpop") {
    numkeys_at(args, 1, out);
    return true;
  }
  if (name == "sort") {
    if (args.size() > 1) out.push_back(args[1]);
    for (std::size_t i = 2; i + 1 < args.size(); ++i) {
      if (iequals(args[i], "STORE")) out.push_back(args[i + 1]);
    }
    return true;
  }
  if (info.first_key > 0 && info.key_step > 0) {
    const auto n = static_cast<long long>(args.size());
    long long last = info.last_key >= 0 ? info.last_key : n + info.last_key;
    if (last >= n) last = n - 1;
    for (long long i = info.first_key; i <= last; i += info.key_step) {
      out.push_back(args[static_cast<std::size_t>(i)]);
    }
  }
  return !info.has(kMovableKeys);
}

bool CommandTable::access_keys(const CommandInfo& info, std::span<const std::string_view> args,
                               std::vector<std::string_view>& out) {
  bool complete = true;
  const bool sort = info.fullname == "sort" || info.fullname == "sort_ro";
  for (const auto& spec : info.key_specs) {
    if (spec.not_key) continue;
    if (sort && spec.begin == KeySpec::Begin::Unknown) continue;  // STORE, BY and GET: below
    if (spec.incomplete) complete = false;
    if (!spec_keys(spec, args, out)) complete = false;
  }
  if (sort) {
    // STORE's key is ours to find; BY and GET name keys derived from the data (Redis too
    // refuses them to a user without access to every key).
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (iequals(args[i], "BY") || iequals(args[i], "GET")) complete = false;
      if (iequals(args[i], "STORE") && i + 1 < args.size()) out.push_back(args[i + 1]);
    }
  }
  return complete;
}

bool iequals(std::string_view a, std::string_view upper) {
  if (a.size() != upper.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != upper[i]) return false;
  }
  return true;
}

}  // namespace frontcache::command
