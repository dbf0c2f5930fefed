// The one table of accepted key paths. The loader rejects anything not listed here, and
// tests/config checks that docs/configuration.md documents every entry.
#include <array>

#include "frontcache/config/config.hpp"

namespace frontcache::config {
namespace {

constexpr std::array<std::string_view, 72> kKnownKeys{
    "listen",
    "workers",
    "upstream",
    "upstream.address",
    "upstream.username",
    "upstream.password",
    "upstream.password_env",
    "upstream.password_file",
    "upstream.connections_per_worker",
    "upstream.connect_timeout",
    "upstream.command_timeout",
    "upstream.max_pinned_per_worker",
    "upstream.tls",
    "upstream.tls.ca_file",
    "upstream.tls.cert_file",
    "upstream.tls.key_file",
    "upstream.tls.server_name",
    "upstream.tls.verify",
    "cache",
    "cache.max_memory",
    "cache.max_ttl",
    "cache.max_value_size",
    "cache.rules",
    "cache.rules[].match",
    "cache.rules[].cache",
    "cache.rules[].ttl",
    "cache.rules[].negative_ttl",
    "cache.commands",
    "invalidation",
    "invalidation.channel",
    "invalidation.tracking",
    "invalidation.ping_interval",
    "invalidation.max_staleness",
    "limits",
    "limits.max_clients",
    "limits.max_bulk_length",
    "limits.max_arguments",
    "limits.max_inline_length",
    "limits.max_pipeline",
    "limits.max_output_buffer",
    "limits.pubsub_output_buffer",
    "limits.pubsub_output_buffer_soft",
    "limits.pubsub_output_buffer_soft_seconds",
    "limits.max_output_memory",
    "limits.idle_timeout",
    "auth",
    "auth.password",
    "auth.password_env",
    "auth.password_file",
    "auth.permissions",
    "auth.users",
    "auth.users[].name",
    "auth.users[].password",
    "auth.users[].password_env",
    "auth.users[].password_file",
    "auth.users[].permissions",
    "tls",
    "tls.listen",
    "tls.cert_file",
    "tls.key_file",
    "tls.ca_file",
    "tls.client_auth",
    "tls.min_version",
    "tls.ciphers",
    "tls.ciphersuites",
    "tls.handshake_timeout",
    "admin_commands",
    "metrics",
    "metrics.listen",
    "shutdown_timeout",
    "log",
    "log.level",
};

}  // namespace

std::span<const std::string_view> known_keys() { return kKnownKeys; }

}  // namespace frontcache::config
