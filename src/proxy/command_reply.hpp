// The parts of the upstream's COMMAND reply (Redis 6/7, RESP2, decoded by hiredis) that the
// command table takes beyond name, arity, flags and first/last/step: the ACL categories
// (element 6) and the key specs (element 8).
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <vector>

#include "frontcache/command/command_table.hpp"

namespace frontcache::proxy {

// ["@read", "@string", ...] to Category bits; unknown names are skipped.
std::uint32_t parse_acl_categories(const redisReply* list);
// Redis 7's key specs: [["flags", [...], "begin_search", [...], "find_keys", [...]], ...].
std::vector<command::KeySpec> parse_key_specs(const redisReply* list);

}  // namespace frontcache::proxy
