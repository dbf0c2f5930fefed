// Which commands and keys each user may use: the config's permission lists (Redis ACL syntax,
// config::Permissions) compiled against the command table into a bitset over command ids, so
// that the router's check, once per request, is a bit test (plus the key globs for users with
// key patterns). Built once per config (startup, SIGHUP) and read-only after; workers share it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "frontcache/command/command_table.hpp"
#include "frontcache/config/config.hpp"

namespace frontcache::proxy {

enum class Access : std::uint8_t { Allowed, DeniedCommand, DeniedKey };

class Permissions {
 public:
  // Nothing but what every user may run (AUTH, HELLO, QUIT, RESET, as Redis's no-auth flag).
  Permissions() = default;
  // Applies the rules in order. Command names the table does not know are appended to
  // `unknown`; they still count for commands unknown to a fallback table (see check()).
  Permissions(const config::Permissions& list, const command::CommandTable& table,
              std::vector<std::string>& unknown);

  // Redis's order: a request Redis rejects before its ACL check (unknown command, unknown
  // subcommand, wrong arity) is Allowed, since Redis answers it without running anything.
  // `table_complete`: the table is the upstream's, so an unknown name is unknown to Redis.
  // `scratch` holds the request's keys while they are checked.
  Access check(const command::Classified& c, std::span<const std::string_view> args,
               bool table_complete, std::vector<std::string_view>& scratch) const;

  bool allows(const command::CommandInfo& info) const { return bit(info.id); }
  bool all_keys() const { return all_keys_; }

 private:
  bool bit(std::uint32_t id) const {
    return id / 64 < bits_.size() && ((bits_[id / 64] >> (id % 64)) & 1u) != 0;
  }
  void set(std::uint32_t id, bool on);
  void set_command(const command::CommandInfo& info, bool on, bool with_subcommands);
  bool allows_unknown(std::string_view name) const;
  bool key_allowed(std::string_view key) const;

  std::vector<std::uint64_t> bits_;
  // Commands a fallback table does not know: allowed after allcommands (+@all), denied after
  // nocommands, or as the last rule that named them.
  bool others_ = false;
  std::vector<std::pair<std::string, bool>> named_unknown_;
  bool all_keys_ = true;
  std::vector<std::string> key_patterns_;
};

// CONFIG GET of only these parameters needs no `config|get` permission (redis-benchmark asks
// for save and appendonly; clients list databases): they reveal no secret.
bool is_safe_config_get(std::span<const std::string_view> args);

// Every user's compiled permissions for one config.
class AccessControl {
 public:
  AccessControl(const config::Config& config, const command::CommandTable& table,
                std::uint64_t generation);

  // The user's permissions; a user the config no longer has may run nothing (but AUTH...).
  const Permissions& user(std::string_view name) const;
  // Changes with every compile: a session re-reads its user's permissions when it differs.
  std::uint64_t generation() const { return generation_; }
  // "auth.users[0].permissions: unknown command 'foo'" for each name the table did not know.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::unordered_map<std::string, Permissions> users_;
  Permissions none_;
  std::uint64_t generation_;
  std::vector<std::string> warnings_;
};

}  // namespace frontcache::proxy
