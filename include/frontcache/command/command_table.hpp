// The command table and the one classification of each request. Routes and ops are ours
// (built in); arity, key positions, the read/write flags and the ACL categories come from the
// upstream's `COMMAND` reply at startup (Redis 7 first/last/step, flags, categories, key specs
// and subcommands), with a built-in fallback table when it cannot be read. classify() is the only
// place that looks a request's name up: the proxy's router switches on what it returns. Built once
// before the workers start; read-only afterwards, so lookups take no lock.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace frontcache::command {

enum class Route : std::uint8_t {
  Forward,   // over a shared upstream connection (L1 first for cacheable reads)
  Local,     // answered by the proxy (PING, HELLO, SELECT, CLIENT, ...)
  Stateful,  // changes the connection's state upstream: needs a dedicated connection
  Never,     // never forwarded (SHUTDOWN): it would act on the shared upstream
  Script,    // forwarded like Forward, but may write keys it does not declare (EVAL, FCALL)
};

// The commands (and CLIENT subcommands) the proxy treats one by one. Everything else is None
// and handled by its route and flags alone.
enum class Op : std::uint8_t {
  None,
  // Answered by the proxy.
  Ping,
  Echo,
  Quit,
  Hello,
  Select,
  Client,  // CLIENT with no (known) subcommand
  Info,
  Auth,
  Reset,
  Frontcache,
  ClientId,
  ClientGetname,
  ClientSetname,
  ClientInfo,
  ClientList,
  ClientKill,
  ClientReply,
  ClientTracking,
  ClientTrackinginfo,
  ClientGetredir,
  ClientCaching,
  ClientNoEvict,
  ClientPause,
  ClientUnpause,
  ClientUnblock,
  ClientHelp,
  AclWhoami,  // the session's user, not the proxy's upstream account
  ConfigGet,  // forwarded; save/appendonly/databases need no permission
  // Connection state upstream (dedicated connection).
  Multi,
  Exec,
  Discard,
  Watch,
  Unwatch,
  Subscribe,
  Psubscribe,
  Ssubscribe,
  Unsubscribe,
  Punsubscribe,
  Sunsubscribe,
  Monitor,
  Blocking,   // BLPOP, BRPOP, ..., WAIT: blocks until answered
  XreadLike,  // XREAD / XREADGROUP: blocking only with a BLOCK option
  Mget,       // served key by key from GET's L1 entries
};

enum Flag : std::uint32_t {
  kWrite = 1u << 0,  // modifies its keys: invalidate them
  kReadonly = 1u << 1,
  kMovableKeys = 1u << 2,  // key positions depend on the arguments
  kCacheable = 1u << 3,    // a read whose reply L1 may keep (cache.commands)
  kFlush = 1u << 4,        // FLUSHDB / FLUSHALL / SWAPDB: invalidates everything
  kAdmin = 1u << 5,        // Redis flags it `admin`
  kAllowBusy = 1u << 6,    // Redis runs it while a script is busy (`allow_busy`)
  kNoMulti = 1u << 7,      // Redis refuses it inside MULTI (`no_multi`: SHUTDOWN, SYNC, ...)
};

// Redis's ACL categories (acl.c), one bit each, in Redis's order.
enum Category : std::uint32_t {
  kCatKeyspace = 1u << 0,
  kCatRead = 1u << 1,
  kCatWrite = 1u << 2,
  kCatSet = 1u << 3,
  kCatSortedset = 1u << 4,
  kCatList = 1u << 5,
  kCatHash = 1u << 6,
  kCatString = 1u << 7,
  kCatBitmap = 1u << 8,
  kCatHyperloglog = 1u << 9,
  kCatGeo = 1u << 10,
  kCatStream = 1u << 11,
  kCatPubsub = 1u << 12,
  kCatAdmin = 1u << 13,
  kCatFast = 1u << 14,
  kCatSlow = 1u << 15,
  kCatBlocking = 1u << 16,
  kCatDangerous = 1u << 17,
  kCatConnection = 1u << 18,
  kCatTransaction = 1u << 19,
  kCatScripting = 1u << 20,
};

// Category names without '@', index i naming bit i.
inline constexpr std::array<std::string_view, 21> kCategoryNames = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};

// The bit of a category name ("read", no '@', any case); 0 when Redis has no such category.
std::uint32_t category_bit(std::string_view name);

// Where a command's keys are, as a Redis 7 key specification (COMMAND's element 8; Redis's
// getKeysUsingKeySpecs): a begin search (an argument index, or the argument after a keyword)
// and a find-keys rule (a range, or a count argument followed by that many keys).
struct KeySpec {
  enum class Begin : std::uint8_t { Index, Keyword, Unknown };
  enum class Find : std::uint8_t { Range, Keynum, Unknown };
  Begin begin = Begin::Unknown;
  int index = 0;        // Begin::Index
  std::string keyword;  // Begin::Keyword, upper case
  int startfrom = 0;    // Begin::Keyword: where the search starts (negative: from the end)
  Find find = Find::Unknown;
  int lastkey = 0;  // Find::Range: relative to the first key; negative counts from the end
  int keystep = 1;
  int limit = 0;            // Find::Range with lastkey -1: 0, or a divisor of the remaining args
  int keynumidx = 0;        // Find::Keynum: the count's index, relative to the begin
  int firstkey = 0;         // Find::Keynum: the first key's index, relative to the begin
  bool incomplete = false;  // Redis's INCOMPLETE flag: some keys may be elsewhere
  bool not_key = false;     // Redis's NOT_KEY flag: a name that is not a key

  bool operator==(const KeySpec&) const = default;
};

struct CommandInfo {
  std::string name;  // lower case, as Redis prints it in errors
  Route route = Route::Forward;
  std::uint32_t flags = 0;
  int arity = 0;      // Redis convention: -N means at least N
  int first_key = 0;  // 0: no keys
  int last_key = 0;   // negative: counted from the end
  int key_step = 0;
  std::vector<CommandInfo> subcommands;  // "xgroup|create", ... (name after the '|')
  Op op = Op::None;
  std::string fullname;          // "client|id" for a subcommand, the name otherwise
  std::uint32_t categories = 0;  // Category bits
  std::vector<KeySpec> key_specs;
  std::uint32_t id = 0;  // dense over commands and subcommands: 0 .. CommandTable::ids() - 1

  bool has(Flag f) const { return (flags & f) != 0; }
  bool arity_ok(std::size_t argc) const {
    const auto n = static_cast<int>(argc);
    return arity > 0 ? n == arity : n >= -arity;
  }
};

// What the proxy must do with one request, decided once from its name and arguments.
struct Classified {
  const CommandInfo* info = nullptr;  // the command's entry; null when the name is unknown
  // The entry that applies: the subcommand's for a container command (CLIENT ID), else `info`.
  // Null when the name is known but the subcommand is not (Redis: "unknown subcommand").
  const CommandInfo* spec = nullptr;
  Route route = Route::Forward;
  Op op = Op::None;
  bool arity_ok = true;  // spec's arity accepts the argument count (true when spec is null)
  bool unknown_to_redis = false;  // no such command, and the table is the upstream's complete one

  bool known() const { return spec != nullptr; }
  bool has(Flag f) const { return spec != nullptr && spec->has(f); }
  // MULTI/WATCH, blocking commands, the SUBSCRIBE family, MONITOR: the request must run on a
  // dedicated upstream connection.
  bool pins() const { return route == Route::Stateful; }
  bool blocking() const { return op == Op::Blocking || (op == Op::XreadLike && pins()); }
  // The error Redis gives before running the request (unknown command or subcommand, wrong
  // number of arguments), or empty when it would run it. `args` as passed to classify().
  std::string rejection(std::span<const std::string_view> args) const;
};

class CommandTable {
 public:
  // Built-in routes, CLIENT's subcommands and a fallback table of common write commands.
  CommandTable();

  // Flags, arity, categories and key positions of every command the upstream reported;
  // routes stay ours. Ids are assigned again: compile permissions after the last merge.
  void merge(std::vector<CommandInfo> upstream);
  // True once merge() was given the upstream's table: every command Redis knows is here, so
  // an unknown name is unknown to Redis too.
  bool complete() const { return complete_; }
  // Marks these commands (any case) cacheable reads, replacing the previous set.
  void set_cacheable(std::span<const std::string> names);

  // Case-insensitive; null when unknown.
  const CommandInfo* find(std::string_view name) const;
  // "get" or "config|get" (any case): the command or subcommand; null when unknown.
  const CommandInfo* find_full(std::string_view fullname) const;
  // Every command, subcommands inside their command, in no particular order.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [name, info] : map_) f(info);
  }
  // Number of ids (CommandInfo::id) in use.
  std::size_t ids() const { return ids_; }
  // The last command name a connection sent (its exact bytes) and its entry: clients repeat
  // names (a pipeline of GETs), and the same bytes skip the case folding and the hash lookup.
  // Owned by the caller (one per connection); valid while this table is not changed.
  struct NameMemo {
    static constexpr std::size_t kMaxBytes = 24;
    char name[kMaxBytes] = {};
    std::size_t size = kMaxBytes + 1;  // no name yet
    const CommandInfo* info = nullptr;
  };
  // The one lookup of a request: entry, subcommand, route and op.
  Classified classify(std::span<const std::string_view> args) const;
  Classified classify(std::span<const std::string_view> args, NameMemo& memo) const;
  // The subcommand's entry when `info` has subcommands and args[1] names one, else `info`.
  static const CommandInfo& resolve(const CommandInfo& info,
                                    std::span<const std::string_view> args);
  // Appends the keys a write command touches (every key it names, for movable-key commands
  // too: EVAL's declared keys, SORT ... STORE, LMPOP/ZMPOP). Returns false when the command
  // may write keys beyond those appended (a movable-key command the table cannot read, such as
  // GEORADIUS ... STORE): the caller must not rely on the list being complete.
  static bool write_keys(const CommandInfo& info, std::span<const std::string_view> args,
                         std::vector<std::string_view>& out);
  // Appends every key `args` names, read or written, from the key specs (as Redis's
  // getKeysUsingKeySpecs). Returns false when the keys cannot be known from the arguments: a
  // spec Redis marks unknown or incomplete (MIGRATE ... KEYS, SORT ... BY/GET, whose keys come
  // from the data), or arguments that do not fit the spec (Redis would reject them).
  static bool access_keys(const CommandInfo& info, std::span<const std::string_view> args,
                          std::vector<std::string_view>& out);
  std::size_t size() const { return map_.size(); }

 private:
  CommandInfo& entry(std::string_view lower_name);
  CommandInfo& sub_entry(std::string_view lower_name, std::string_view lower_sub);
  void assign_ops();
  // Looked up by std::string_view: no std::string per request.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, CommandInfo, NameHash, std::equal_to<>> map_;
  bool complete_ = false;
  std::size_t ids_ = 0;
};

// True when `a` equals the upper-case ASCII `upper`, ignoring case.
bool iequals(std::string_view a, std::string_view upper);

}  // namespace frontcache::command
