// The invalidation channel's message format (docs/invalidation.md). Binary-safe:
//
//   fc1 <instance id, 16 hex digits> K<len>:<key><len>:<key>...   keys written
//   fc1 <instance id, 16 hex digits> *                            everything (FLUSHALL ...)
//
// Any other payload is taken as one key, so another application can invalidate a key with a
// plain `PUBLISH frontcache:invalidate <key>`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::invalidation {

enum class PayloadKind { Keys, All, Own, Malformed };

// Appends the payload for `keys` to `out`.
void encode_keys(std::string& out, std::uint64_t instance, std::span<const std::string_view> keys);
void encode_all(std::string& out, std::uint64_t instance);

// Decodes `payload`; keys are views into it. Own: published by `instance` itself (ignore).
PayloadKind decode(std::string_view payload, std::uint64_t instance,
                   std::vector<std::string_view>& keys);

}  // namespace frontcache::invalidation
