// The command table and the one classification of each request. Routes and ops are ours
// (built in); arity, key positions and the read/write flags come from the upstream's `COMMAND`
// reply at startup (Redis 7 first/last/step, flags and subcommands), with a built-in fallback
// table when it cannot be read. classify() is the only place that looks a request's name up:
// the proxy's router switches on what it returns.
// Built once before the workers start; read-only afterwards, so lookups take no lock.
#pragma once

#include <cstdint>
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
  Admin,     // forwarded or refused by `admin_commands`
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
  std::string fullname;  // "client|id" for a subcommand, the name otherwise

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

  // Flags, arity and key positions of every command the upstream reported; routes stay ours.
  void merge(std::vector<CommandInfo> upstream);
  // True once merge() was given the upstream's table: every command Redis knows is here, so
  // an unknown name is unknown to Redis too.
  bool complete() const { return complete_; }
  // Marks these commands (any case) cacheable reads, replacing the previous set.
  void set_cacheable(std::span<const std::string> names);

  // Case-insensitive; null when unknown.
  const CommandInfo* find(std::string_view name) const;
  // The one lookup of a request: entry, subcommand, route and op.
  Classified classify(std::span<const std::string_view> args) const;
  // The subcommand's entry when `info` has subcommands and args[1] names one, else `info`.
  static const CommandInfo& resolve(const CommandInfo& info,
                                    std::span<const std::string_view> args);
  // Appends the keys a write command touches (every key it names, for movable-key commands
  // too: EVAL's declared keys, SORT ... STORE, LMPOP/ZMPOP). Returns false when the command
  // may write keys beyond those appended (a movable-key command the table cannot read, such as
  // GEORADIUS ... STORE): the caller must not rely on the list being complete.
  static bool write_keys(const CommandInfo& info, std::span<const std::string_view> args,
                         std::vector<std::string_view>& out);
  std::size_t size() const { return map_.size(); }

 private:
  CommandInfo& entry(std::string_view lower_name);
  void assign_ops();
  std::unordered_map<std::string, CommandInfo> map_;
  bool complete_ = false;
};

// True when `a` equals the upper-case ASCII `upper`, ignoring case.
bool iequals(std::string_view a, std::string_view upper);

}  // namespace frontcache::command
