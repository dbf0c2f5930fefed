// Configuration: the YAML file (DESIGN.md §5) parsed into plain structs, then validated.
// Loading collects every error with its path (`cache.rules[1].ttl: ...`) instead of stopping
// at the first; nothing here touches the network or starts a thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::config {

using Duration = std::chrono::milliseconds;

struct Endpoint {
  std::string host = "127.0.0.1";  // IPv4, IPv6 without brackets, or a host name
  std::uint16_t port = 0;

  bool operator==(const Endpoint&) const = default;
};

// TLS to the upstream (upstream.tls): on for `tls: true` or a mapping of these keys.
struct UpstreamTlsConfig {
  bool enabled = false;
  std::string ca_file;      // empty: the system's trusted CAs
  std::string cert_file;    // client certificate for mutual TLS; empty: none
  std::string key_file;     // set together with cert_file
  std::string server_name;  // SNI and certificate name; empty: the host of upstream.address
  bool verify = true;       // false: any certificate is accepted

  bool operator==(const UpstreamTlsConfig&) const = default;
};

// upstream.mode: one Redis server, or a Redis Cluster whose nodes `address` and `seeds` name.
enum class UpstreamMode { Standalone, Cluster };

struct UpstreamConfig {
  UpstreamMode mode = UpstreamMode::Standalone;
  Endpoint address{"127.0.0.1", 6379};  // cluster mode: the first seed node
  std::vector<Endpoint> seeds;          // cluster mode: more seed nodes, tried after `address`
  // Cluster mode: how often the slot map is read again when nothing asked for it sooner (a
  // MOVED reply, a lost node connection and a degraded map do).
  Duration topology_refresh{5000};
  std::string username;  // empty: AUTH <password> only
  std::string password;  // empty: no AUTH
  std::size_t connections_per_worker = 2;
  Duration connect_timeout{1000};
  Duration command_timeout{2000};
  // Dedicated connections for pinned sessions (MULTI, blocking commands, SUBSCRIBE...).
  std::size_t max_pinned_per_worker = 256;
  UpstreamTlsConfig tls;

  bool operator==(const UpstreamConfig&) const = default;
};

struct CacheRule {
  std::string match = "*";  // glob, Redis STRINGMATCH syntax
  bool cache = true;
  Duration ttl{60000};
  Duration negative_ttl{1000};  // 0: nil replies are not cached

  bool operator==(const CacheRule&) const = default;
};

struct CacheConfig {
  bool enabled = true;  // false when the file says `cache: false` or max_memory is 0
  std::size_t max_memory = 256ull << 20;
  Duration max_ttl{300000};
  std::size_t max_value_size = 1ull << 20;
  // Absent from the file: one rule `*` with ttl 60s, negative_ttl 1s. First match wins; a key
  // that matches no rule is not cached.
  std::vector<CacheRule> rules{CacheRule{}};
  // Read-only single-key commands whose replies are cached under their key (upper case).
  std::vector<std::string> commands{"GET",       "HGET",     "HMGET",  "HGETALL", "HEXISTS",
                                    "HLEN",      "LRANGE",   "LLEN",   "LINDEX",  "SMEMBERS",
                                    "SISMEMBER", "SCARD",    "ZRANGE", "ZSCORE",  "ZCARD",
                                    "STRLEN",    "GETRANGE", "EXISTS", "TYPE"};

  bool operator==(const CacheConfig&) const = default;
};

// bcast: CLIENT TRACKING BCAST on a tracker connection (every write reported). default:
// default-mode CLIENT TRACKING on the shared connections, REDIRECTed to the subscriber (writes
// reported for keys an instance read). off: the channel only.
enum class TrackingMode { Bcast, Default, Off };

struct InvalidationConfig {
  std::string channel = "frontcache:invalidate";
  TrackingMode tracking = TrackingMode::Bcast;
  Duration ping_interval{1000};  // a fence round unanswered this long: invalidation lost
  // L1 answers only while a fence round started this recently has come back: the bound on how
  // long a write made elsewhere can go unseen, whatever fails.
  Duration max_staleness{100};

  bool operator==(const InvalidationConfig&) const = default;
};

struct LimitsConfig {
  std::size_t max_clients = 10000;
  std::size_t max_bulk_length = 512ull << 20;
  std::size_t max_arguments = 1048576;
  std::size_t max_inline_length = 64ull << 10;
  std::size_t max_pipeline = 1024;
  // Pending reply bytes per client, as Redis's client-output-buffer-limit: normal clients are
  // cut off past max_output_buffer; subscribers past pubsub_output_buffer, or past the soft
  // limit for soft_seconds in a row. 0: no limit.
  std::size_t max_output_buffer = 64ull << 20;
  std::size_t pubsub_output_buffer = 32ull << 20;
  std::size_t pubsub_output_buffer_soft = 8ull << 20;
  Duration pubsub_output_buffer_soft_seconds{60000};
  // Pending reply bytes of all clients together (Redis 7's maxmemory-clients): past it, the
  // client with the most is disconnected. 0: no limit.
  std::size_t max_output_memory = 1ull << 30;
  Duration idle_timeout{0};  // 0: never

  bool operator==(const LimitsConfig&) const = default;
};

enum class AdminCommands { Forward, Deny };

// One rule of a permission list in Redis ACL syntax (ACL SETUSER), applied in order.
struct PermissionRule {
  enum class Kind : std::uint8_t {
    AllCommands,    // +@all, allcommands
    NoCommands,     // -@all, nocommands
    AllowCategory,  // +@read
    DenyCategory,   // -@dangerous
    AllowCommand,   // +get, +config|get
    DenyCommand,    // -debug, -client|kill
    AllKeys,        // allkeys, ~*
    ResetKeys,      // resetkeys
    KeyPattern,     // ~app:*
  };
  Kind kind = Kind::NoCommands;
  std::string name;  // category (no '@'), command in lower case ("config|get"), or key glob

  bool operator==(const PermissionRule&) const = default;
};

// What a user may run: the text as written and its rules. A list without any key rule
// (~pattern, allkeys, resetkeys) allows every key.
struct Permissions {
  std::string text;
  std::vector<PermissionRule> rules;

  bool operator==(const Permissions&) const = default;
};

// Redis 7's ACL category names (no '@'), in Redis's order.
std::span<const std::string_view> acl_categories();
// Parses a permission list ("+@all -@admin ~app:*"); nullopt with `error` naming the token.
std::optional<Permissions> parse_permissions(std::string_view text, std::string& error);
// The list `admin_commands` stands for: deny = "+@all -@admin", forward = "+@all".
Permissions default_permissions(AdminCommands admin);

struct AuthUser {
  std::string name;
  std::string password;
  Permissions permissions = default_permissions(AdminCommands::Deny);

  bool operator==(const AuthUser&) const = default;
};

struct AuthConfig {
  std::string password;         // resolved from password / password_env / password_file
  std::vector<AuthUser> users;  // optional named users (AUTH user pass)
  // The `default` user's: every client when no auth is configured, `AUTH <password>` else.
  Permissions permissions = default_permissions(AdminCommands::Deny);
  bool required() const { return !password.empty() || !users.empty(); }

  bool operator==(const AuthConfig&) const = default;
};

enum class TlsVersion { Tls12, Tls13 };
enum class ClientAuth { None, Optional, Required };

// The TLS listener for clients (tls.*), off unless `listen` is set. File paths are resolved
// against the config file's directory. Certificates are read again on SIGHUP.
struct TlsConfig {
  std::optional<Endpoint> listen;  // unset: no TLS listener
  std::string cert_file;           // PEM certificate chain; required with listen
  std::string key_file;            // PEM private key; required with listen
  std::string ca_file;             // CAs for client certificates; required unless client_auth none
  ClientAuth client_auth = ClientAuth::None;
  TlsVersion min_version = TlsVersion::Tls12;
  std::string ciphers;                // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
  std::string ciphersuites;           // TLS 1.3 suites; empty: OpenSSL's default
  Duration handshake_timeout{10000};  // a client that has not completed the handshake is closed

  bool operator==(const TlsConfig&) const = default;
};
struct MetricsConfig {
  std::optional<Endpoint> listen;  // unset: no HTTP endpoint

  bool operator==(const MetricsConfig&) const = default;
};

struct Config {
  Endpoint listen{"127.0.0.1", 6380};
  // False when the file sets tls.listen but not listen: TLS only, no plain listener.
  bool plain_listener = true;
  TlsConfig tls;
  std::size_t workers = 0;  // 0 = auto (the CPUs the process may use: resolved_workers())
  UpstreamConfig upstream;
  CacheConfig cache;
  InvalidationConfig invalidation;
  LimitsConfig limits;
  AuthConfig auth;
  AdminCommands admin_commands = AdminCommands::Deny;
  MetricsConfig metrics;
  Duration shutdown_timeout{5000};
  std::string log_level = "info";

  bool operator==(const Config&) const = default;
};

// Result of loading: either a config or every error found, each naming its YAML path.
struct LoadResult {
  std::optional<Config> config;
  std::vector<std::string> errors;
};

// Parses YAML text. `source` names the file in messages.
LoadResult load_from_string(const std::string& yaml, const std::string& source = "<string>");
LoadResult load_from_file(const std::string& path);

// Unit parsers, exposed for the command-line flags and tests.
std::optional<Duration> parse_duration(const std::string& text);  // "500ms", "30s", "5m", "1h", "0"
std::optional<std::size_t> parse_size(const std::string& text);   // "64kb", "256mb", "1gb", "100"
std::optional<Endpoint> parse_endpoint(const std::string& text);  // "127.0.0.1:6379", "[::1]:6379"

// The commands `cache.commands` may list (upper case): read-only, one key, a reply that depends
// only on that key's value.
std::span<const std::string_view> cacheable_commands();

// Every key path the loader accepts, sequences written `[]` (`cache.rules[].ttl`). The loader's
// unknown-key check reads this table, and a test checks each entry is in docs/configuration.md.
std::span<const std::string_view> known_keys();

// Command-line options (`--listen`, `--upstream`, `--workers`, `--log-level`, `--config`,
// `--check-config`, `--print`, `--help`, `--version`).
struct CommandLine {
  std::string config_path;  // empty: built-in defaults
  bool check_config = false;
  bool help = false;
  bool version = false;
  std::optional<std::string> listen, upstream, workers, log_level;
  // --print WHAT: validate like --check-config, then print one resolved value (print_value()).
  std::optional<std::string> print;
  std::vector<std::string> errors;
};
CommandLine parse_command_line(int argc, const char* const* argv);
std::string usage_text();

// Applies command-line overrides onto a loaded config; errors name the flag.
std::vector<std::string> apply_overrides(Config& config, const CommandLine& cli);

// The config the program runs with: the --config file (or the built-in defaults) with the flags
// applied on top. Every error is reported together: the command line's own, the file's, and the
// flag values' (checked even when the file has errors).
LoadResult load_with_command_line(const CommandLine& cli);

// What --print can show, and the text it prints for `what` (one of print_targets()): `listen`,
// `upstream` (upstream.address) and `metrics` (metrics.listen, empty when off) as host:port
// with IPv6 hosts in brackets, `workers` as the number of worker threads (auto resolved), and
// `config` as FRONTCACHE CONFIG shows it.
std::span<const std::string_view> print_targets();
std::string print_value(const Config& config, std::string_view what);

// The CPUs this process may use (for `workers: auto`): the affinity mask, capped by a cgroup v2
// CPU quota when there is one.
struct CpuBudget {
  std::size_t cpus = 1;              // min(affinity, quota), at least 1
  std::size_t affinity = 1;          // CPUs in sched_getaffinity's mask
  std::optional<std::size_t> quota;  // cpu.max quota / period, rounded up; unset: no quota
};
CpuBudget available_cpus();
// Worker threads for `config`: its `workers`, or available_cpus().cpus for auto (at most 1024).
std::size_t resolved_workers(const Config& config);
// Parses a cgroup v2 `cpu.max` ("150000 100000" -> 2, "max 100000" -> nullopt).
std::optional<std::size_t> cpus_from_cpu_max(std::string_view text);
// The tightest cpu.max quota on the way from the cgroup named in `proc_self_cgroup` (the text
// of /proc/self/cgroup) up to `cgroup_root` (/sys/fs/cgroup); nullopt when none is set.
std::optional<std::size_t> cgroup_cpu_limit(const std::string& cgroup_root,
                                            const std::string& proc_self_cgroup);

// The config as YAML in the shipped file's layout (every key, units spelled out), secrets
// replaced by "(set)". What `FRONTCACHE CONFIG` shows.
std::string to_yaml(const Config& config);
std::string format_duration(Duration duration);  // "1500ms", "30s", "300s", "0" (never m or h)
std::string format_size(std::size_t bytes);      // "64kb", "256mb", "100"

}  // namespace frontcache::config
