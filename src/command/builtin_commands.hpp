// Internal to frontcache_command: what Redis 7.0 says about its commands that the proxy needs
// even when the upstream's COMMAND cannot be read (ACL categories, key specs), generated from
// Redis's own command files by tools/gen_builtin_commands.py.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "frontcache/command/command_table.hpp"

namespace frontcache::command {

struct BuiltinCommand {
  std::string_view fullname;  // "get", "config|get"
  std::uint32_t categories;   // Category bits
};

struct BuiltinKeySpec {
  std::string_view fullname;
  KeySpec::Begin begin;
  int index;
  std::string_view keyword;
  int startfrom;
  KeySpec::Find find;
  int lastkey, keystep, limit, keynumidx, firstkey;
  bool incomplete, not_key;
};

std::span<const BuiltinCommand> builtin_commands();
// Grouped by command, in the order Redis lists them.
std::span<const BuiltinKeySpec> builtin_key_specs();

}  // namespace frontcache::command
