// The command table: how the proxy routes each Redis command and which keys a write touches.
// Routes are ours (built in); key positions and the write flag come from the upstream's
// `COMMAND` reply at startup (Redis 7 first/last/step and flags), with a built-in fallback
// table when it cannot be read. Commands the table does not know are forwarded unchanged, so
// the upstream answers them (with its own "unknown command" error for names it does not know).
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
  Forward,   // over a shared upstream connection
  Local,     // answered by the proxy (PING, HELLO, SELECT, CLIENT, ...)
  Stateful,  // changes the connection's state upstream: needs a dedicated connection
  Admin,     // forwarded or refused by `admin_commands`
  Never,     // never forwarded (SHUTDOWN): it would act on the shared upstream
  Script,    // forwarded like Forward, but may write the keys it declares (EVAL, FCALL)
};

enum Flag : std::uint32_t {
  kWrite = 1u << 0,  // modifies its keys: invalidate them
  kReadonly = 1u << 1,
  kMovableKeys = 1u << 2,  // key positions depend on the arguments
  kCacheable = 1u << 3,    // a read whose reply L1 may keep (cache.commands)
  kFlush = 1u << 4,        // FLUSHDB / FLUSHALL / SWAPDB: invalidates everything
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

  bool has(Flag f) const { return (flags & f) != 0; }
};

class CommandTable {
 public:
  // Built-in routes and a fallback table of common write commands.
  CommandTable();

  // Flags, arity and key positions of every command the upstream reported; routes stay ours.
  void merge(std::vector<CommandInfo> upstream);
  // Marks these commands (any case) cacheable reads, replacing the previous set.
  void set_cacheable(std::span<const std::string> names);

  // Case-insensitive; null when unknown (route: Forward).
  const CommandInfo* find(std::string_view name) const;
  // The subcommand's entry when `info` has subcommands and args[1] names one, else `info`.
  static const CommandInfo& resolve(const CommandInfo& info,
                                    std::span<const std::string_view> args);
  // Appends the keys a write command touches (every key it names, for movable-key commands
  // too: EVAL's declared keys, SORT ... STORE, LMPOP/ZMPOP).
  static void write_keys(const CommandInfo& info, std::span<const std::string_view> args,
                         std::vector<std::string_view>& out);
  std::size_t size() const { return map_.size(); }

 private:
  CommandInfo& entry(std::string_view lower_name);
  std::unordered_map<std::string, CommandInfo> map_;
};

// True when `a` equals the upper-case ASCII `upper`, ignoring case.
bool iequals(std::string_view a, std::string_view upper);

}  // namespace frontcache::command
