// YAML -> Config. Each section reader fills its struct from the tree and records every problem
// through YamlReader; checks that span keys (rule TTLs against max_ttl) run once all are read.
#include "frontcache/config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "value_parsers.hpp"
#include "yaml_reader.hpp"

namespace frontcache::config {
namespace {

using detail::YamlReader;

constexpr std::size_t kMaxConnectionsPerWorker = 256;

// What `cache.commands` may list: read-only commands on one key whose reply depends only on
// that key's value (no cursor, no randomness, no clock), so that invalidating the key is enough.
// Anything else (a write such as SET, KEYS, an unknown name) is an error, not silently ignored.
constexpr std::array<std::string_view, 47> kCacheableCommands{"GET",
                                                              "GETRANGE",
                                                              "SUBSTR",
                                                              "STRLEN",
                                                              "GETBIT",
                                                              "BITCOUNT",
                                                              "BITPOS",
                                                              "EXISTS",
                                                              "TYPE",
                                                              "HGET",
                                                              "HMGET",
                                                              "HGETALL",
                                                              "HEXISTS",
                                                              "HLEN",
                                                              "HKEYS",
                                                              "HVALS",
                                                              "HSTRLEN",
                                                              "LRANGE",
                                                              "LLEN",
                                                              "LINDEX",
                                                              "LPOS",
                                                              "SMEMBERS",
                                                              "SISMEMBER",
                                                              "SMISMEMBER",
                                                              "SCARD",
                                                              "ZRANGE",
                                                              "ZRANGEBYSCORE",
                                                              "ZRANGEBYLEX",
                                                              "ZREVRANGE",
                                                              "ZREVRANGEBYSCORE",
                                                              "ZREVRANGEBYLEX",
                                                              "ZSCORE",
                                                              "ZMSCORE",
                                                              "ZCARD",
                                                              "ZCOUNT",
                                                              "ZLEXCOUNT",
                                                              "ZRANK",
                                                              "ZREVRANK",
                                                              "XLEN",
                                                              "XRANGE",
                                                              "XREVRANGE",
                                                              "GEOPOS",
                                                              "GEODIST",
                                                              "GEOHASH",
                                                              "GEOSEARCH",
                                                              "GEORADIUS_RO",
                                                              "GEORADIUSBYMEMBER_RO"};

bool cacheable(std::string_view name) {
  return std::find(kCacheableCommands.begin(), kCacheableCommands.end(), name) !=
         kCacheableCommands.end();
}

void read_workers(YamlReader& r, const YAML::Node& root, Config& config) {
  std::string text;
  if (!r.scalar(root, "", "workers", detail::kWorkersHint, text)) return;
  if (const auto workers = detail::parse_workers(text)) {
    config.workers = *workers;
  } else {
    r.bad_value(root["workers"], "workers", detail::kWorkersHint, text);
  }
}

// `upstream.tls: true` (system CAs, server name from the address) or a mapping of settings.
void read_upstream_tls(YamlReader& r, const YAML::Node& upstream_node, UpstreamTlsConfig& tls) {
  const std::string path = "upstream.tls";
  const YAML::Node node = upstream_node["tls"];
  if (node.IsDefined() && node.IsScalar()) {
    r.boolean(upstream_node, "upstream", "tls", tls.enabled);
    return;
  }
  if (!r.mapping(node, path)) return;
  tls.enabled = true;
  r.file(node, path, "ca_file", tls.ca_file);
  r.file(node, path, "cert_file", tls.cert_file);
  r.file(node, path, "key_file", tls.key_file);
  r.string(node, path, "server_name", tls.server_name, false);
  r.boolean(node, path, "verify", tls.verify);
  if (node["cert_file"].IsDefined() != node["key_file"].IsDefined()) {
    r.error(node, path,
            fmt::format("cert_file and key_file go together; {} is missing",
                        node["cert_file"].IsDefined() ? "key_file" : "cert_file"));
  }
}

// upstream.seeds: a list of host:port, each read like upstream.address.
void read_seeds(YamlReader& r, const YAML::Node& node, UpstreamConfig& upstream) {
  if (!r.sequence(node, "upstream", "seeds")) return;
  const YAML::Node list = node["seeds"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string text;
    const std::string item_path = YamlReader::element("upstream.seeds", i);
    if (!list[i].IsScalar()) {
      r.error(list[i], item_path, detail::kEndpointHint);
      continue;
    }
    text = list[i].Scalar();
    if (auto endpoint = parse_endpoint(text)) {
      upstream.seeds.push_back(std::move(*endpoint));
    } else {
      r.bad_value(list[i], item_path, detail::kEndpointHint, text);
    }
  }
}

// Cluster mode's keys, and what it does not support yet.
void read_upstream_mode(YamlReader& r, const YAML::Node& node, UpstreamConfig& upstream) {
  r.choice(node, "upstream", "mode",
           {{"standalone", UpstreamMode::Standalone}, {"cluster", UpstreamMode::Cluster}},
           upstream.mode);
  read_seeds(r, node, upstream);
  r.duration(node, "upstream", "topology_refresh", upstream.topology_refresh, Duration{100});
  if (upstream.mode == UpstreamMode::Cluster) {
    if (node["tls"].IsDefined() && upstream.tls.enabled) {
      r.error(node["tls"], "upstream.tls", "is not supported with upstream.mode: cluster yet");
    }
    return;
  }
  for (const std::string_view key : {"seeds", "topology_refresh"}) {
    if (node[std::string(key)].IsDefined()) {
      r.error(node[std::string(key)], YamlReader::child("upstream", key),
              "is only used with upstream.mode: cluster");
    }
  }
}

void read_upstream(YamlReader& r, const YAML::Node& root, UpstreamConfig& upstream) {
  const std::string path = "upstream";
  const YAML::Node node = root[path];
  if (!r.mapping(node, path)) return;
  r.endpoint(node, path, "address", upstream.address);
  r.string(node, path, "username", upstream.username, true);
  r.secret(node, path, false, upstream.password);
  r.count(node, path, "connections_per_worker", upstream.connections_per_worker, 1,
          kMaxConnectionsPerWorker);
  r.duration(node, path, "connect_timeout", upstream.connect_timeout, Duration{1});
  r.duration(node, path, "command_timeout", upstream.command_timeout, Duration{1});
  r.count(node, path, "max_pinned_per_worker", upstream.max_pinned_per_worker, 1, 100000);
  read_upstream_tls(r, node, upstream.tls);
  read_upstream_mode(r, node, upstream);
  const bool has_password = node["password"].IsDefined() || node["password_env"].IsDefined() ||
                            node["password_file"].IsDefined();
  if (!upstream.username.empty() && !has_password) {
    r.error(node["username"], "upstream.username", "needs a password to go with it");
  }
}

// Whether a rule's TTLs were absent or read cleanly: only those are checked against max_ttl, so
// a value that failed to parse gets one error, not a second about the default left in place.
struct RuleTtlsRead {
  bool ttl = true;
  bool negative_ttl = true;
};

std::vector<RuleTtlsRead> read_rules(YamlReader& r, const YAML::Node& cache_node,
                                     CacheConfig& cache) {
  const std::string path = "cache.rules";
  std::vector<RuleTtlsRead> read;
  if (!r.sequence(cache_node, "cache", "rules")) return read;
  const YAML::Node rules = cache_node["rules"];
  if (rules.size() == 0) {
    r.error(rules, path, "must list at least one rule (use cache: false to disable caching)");
    return read;
  }
  cache.rules.clear();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string rule_path = YamlReader::element(path, i);
    const YAML::Node node = rules[i];
    CacheRule rule;
    RuleTtlsRead ok;
    if (r.mapping(node, rule_path)) {
      if (!node["match"].IsDefined()) r.error(node, rule_path, "needs a match pattern");
      r.string(node, rule_path, "match", rule.match, false);
      r.boolean(node, rule_path, "cache", rule.cache);
      ok.ttl = r.duration(node, rule_path, "ttl", rule.ttl) || !node["ttl"].IsDefined();
      ok.negative_ttl = r.duration(node, rule_path, "negative_ttl", rule.negative_ttl) ||
                        !node["negative_ttl"].IsDefined();
    } else if (node.IsNull()) {
      r.error(node, rule_path, "expected a mapping of keys, got an empty value");
    }
    cache.rules.push_back(rule);
    read.push_back(ok);
  }
  return read;
}

// A value as the file wrote it (`60s` stays `60s`), or "the default 60s" when it is not there.
std::string as_written(const YAML::Node& node, const std::string& default_text) {
  if (node.IsDefined() && node.IsScalar()) return node.Scalar();
  return "the default " + default_text;
}

// Rule checks that need max_ttl and the earlier rules. A TTL above max_ttl is an error rather
// than silently capped: the file should say what the proxy will do (docs/configuration.md).
void check_rules(YamlReader& r, const YAML::Node& cache_node, const CacheConfig& cache,
                 const std::vector<RuleTtlsRead>& read) {
  const YAML::Node rules = cache_node["rules"];
  if (!rules.IsDefined() || !rules.IsSequence()) return;
  const std::string max_ttl =
      as_written(cache_node["max_ttl"], detail::format_duration(cache.max_ttl));
  for (std::size_t i = 0; i < read.size() && i < rules.size(); ++i) {
    const CacheRule& rule = cache.rules[i];
    const YAML::Node node = rules[i];
    if (!node.IsMap()) continue;
    const std::string rule_path = YamlReader::element("cache.rules", i);
    for (std::size_t j = 0; j < i; ++j) {
      const std::string& earlier = cache.rules[j].match;
      if (earlier == rule.match || earlier == "*") {
        r.error(node["match"].IsDefined() ? node["match"] : node, rule_path + ".match",
                fmt::format("unreachable: cache.rules[{}] ({}) already matches every key this "
                            "rule matches (first match wins)",
                            j, detail::quoted(earlier)));
        break;
      }
    }
    if (!rule.cache) continue;
    if (node["ttl"].IsDefined() && rule.ttl == Duration{0}) {
      r.error(node["ttl"], rule_path + ".ttl",
              "must be greater than 0 (use cache: false to not cache these keys)");
    }
    if (read[i].ttl && rule.ttl > cache.max_ttl) {
      r.error(node["ttl"].IsDefined() ? node["ttl"] : node, rule_path + ".ttl",
              fmt::format("{} is above cache.max_ttl ({}); lower it or raise max_ttl",
                          as_written(node["ttl"], detail::format_duration(rule.ttl)), max_ttl));
    }
    if (read[i].negative_ttl && rule.negative_ttl > cache.max_ttl) {
      r.error(
          node["negative_ttl"].IsDefined() ? node["negative_ttl"] : node,
          rule_path + ".negative_ttl",
          fmt::format("{} is above cache.max_ttl ({}); lower it or raise max_ttl",
                      as_written(node["negative_ttl"], detail::format_duration(rule.negative_ttl)),
                      max_ttl));
    }
  }
}

void read_commands(YamlReader& r, const YAML::Node& cache_node, CacheConfig& cache) {
  const std::string path = "cache.commands";
  if (!r.sequence(cache_node, "cache", "commands")) return;
  const YAML::Node list = cache_node["commands"];
  if (list.size() == 0) {
    r.error(list, path, "must list at least one command (use cache: false to disable caching)");
    return;
  }
  std::vector<std::string> commands;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item_path = YamlReader::element(path, i);
    const YAML::Node item = list[i];
    if (!item.IsScalar() || item.Scalar().empty()) {
      r.error(item, item_path, "expected a command name like GET");
      continue;
    }
    std::string name = item.Scalar();
    bool valid = true;
    for (char& c : name) {
      const auto u = static_cast<unsigned char>(c);
      if (!std::isalnum(u) && c != '|' && c != '_' && c != '-') valid = false;
      c = static_cast<char>(std::toupper(u));
    }
    if (!valid) {
      r.bad_value(item, item_path, "expected a command name like GET", item.Scalar());
    } else if (name == "MGET") {
      r.error(item, item_path, "MGET is served from GET's entries: list GET instead");
    } else if (!cacheable(name)) {
      r.error(item, item_path,
              fmt::format("{} cannot be cached: only read-only commands on a single key whose "
                          "reply depends on nothing else can (see docs/configuration.md)",
                          name));
    } else if (std::find(commands.begin(), commands.end(), name) != commands.end()) {
      r.error(item, item_path, fmt::format("{} is listed twice", name));
    } else {
      commands.push_back(std::move(name));
    }
  }
  cache.commands = std::move(commands);
}

void read_cache(YamlReader& r, const YAML::Node& root, CacheConfig& cache) {
  const YAML::Node node = root["cache"];
  if (node.IsDefined() &&
      node.IsScalar()) {  // `cache: false` turns the cache off; `cache: true` keeps defaults
    r.boolean(root, "", "cache", cache.enabled);
    return;
  }
  if (!r.mapping(node, "cache")) return;
  const std::string path = "cache";
  // Cross-key checks run only on values that were absent or read cleanly (see RuleTtlsRead).
  const auto read_ok = [&](bool read, const char* key) { return read || !node[key].IsDefined(); };
  const bool memory_ok = read_ok(r.size(node, path, "max_memory", cache.max_memory), "max_memory");
  const bool max_ttl_ok =
      read_ok(r.duration(node, path, "max_ttl", cache.max_ttl, Duration{1}), "max_ttl");
  const bool value_size_ok =
      read_ok(r.size(node, path, "max_value_size", cache.max_value_size, 1), "max_value_size");
  const auto rules_read = read_rules(r, node, cache);
  read_commands(r, node, cache);
  if (cache.max_memory == 0) {
    cache.enabled = false;
    return;
  }
  if (max_ttl_ok) check_rules(r, node, cache, rules_read);
  if (memory_ok && value_size_ok && cache.max_value_size > cache.max_memory) {
    r.error(
        node["max_value_size"].IsDefined() ? node["max_value_size"] : node, "cache.max_value_size",
        fmt::format("{} is above cache.max_memory ({})",
                    as_written(node["max_value_size"], detail::format_size(cache.max_value_size)),
                    as_written(node["max_memory"], detail::format_size(cache.max_memory))));
  }
}

void read_invalidation(YamlReader& r, const YAML::Node& root, InvalidationConfig& inv) {
  const std::string path = "invalidation";
  const YAML::Node node = root[path];
  if (!r.mapping(node, path)) return;
  r.string(node, path, "channel", inv.channel, false);
  r.choice<TrackingMode>(node, path, "tracking",
                         {{"bcast", TrackingMode::Bcast},
                          {"default", TrackingMode::Default},
                          {"off", TrackingMode::Off}},
                         inv.tracking);
  r.duration(node, path, "ping_interval", inv.ping_interval, Duration{1});
  r.duration(node, path, "max_staleness", inv.max_staleness, Duration{4});
}

void read_limits(YamlReader& r, const YAML::Node& root, LimitsConfig& limits) {
  const std::string path = "limits";
  const YAML::Node node = root[path];
  if (!r.mapping(node, path)) return;
  r.count(node, path, "max_clients", limits.max_clients, 1);
  r.size(node, path, "max_bulk_length", limits.max_bulk_length, 1);
  r.count(node, path, "max_arguments", limits.max_arguments, 1);
  r.size(node, path, "max_inline_length", limits.max_inline_length, 1);
  r.count(node, path, "max_pipeline", limits.max_pipeline, 1);
  r.size(node, path, "max_output_buffer", limits.max_output_buffer, 0);
  r.size(node, path, "pubsub_output_buffer", limits.pubsub_output_buffer, 0);
  r.size(node, path, "pubsub_output_buffer_soft", limits.pubsub_output_buffer_soft, 0);
  r.duration(node, path, "pubsub_output_buffer_soft_seconds",
             limits.pubsub_output_buffer_soft_seconds);
  r.size(node, path, "max_output_memory", limits.max_output_memory, 0);
  r.duration(node, path, "idle_timeout", limits.idle_timeout);
}

// `permissions` under `map`; absent: the list `admin_commands` stands for.
void read_permissions(YamlReader& r, const YAML::Node& map, const std::string& path,
                      AdminCommands admin, Permissions& out) {
  out = default_permissions(admin);
  std::string text;
  if (!r.string(map, path, "permissions", text, true)) return;
  std::string error;
  if (auto parsed = parse_permissions(text, error)) {
    out = std::move(*parsed);
  } else {
    r.error(map["permissions"], YamlReader::child(path, "permissions"), error);
  }
}

void read_auth(YamlReader& r, const YAML::Node& root, AdminCommands admin, AuthConfig& auth) {
  const std::string path = "auth";
  const YAML::Node node = root[path];
  auth.permissions = default_permissions(admin);
  if (!r.mapping(node, path)) return;
  r.secret(node, path, false, auth.password);
  read_permissions(r, node, path, admin, auth.permissions);
  if (!r.sequence(node, path, "users")) return;
  const YAML::Node users = node["users"];
  for (std::size_t i = 0; i < users.size(); ++i) {
    const std::string user_path = YamlReader::element("auth.users", i);
    const YAML::Node user_node = users[i];
    if (!r.mapping(user_node, user_path)) {
      if (user_node.IsNull())
        r.error(user_node, user_path, "expected a mapping of keys, got an empty value");
      continue;
    }
    AuthUser user;
    if (!user_node["name"].IsDefined()) {
      r.error(user_node, user_path, "needs a name");
    } else if (r.string(user_node, user_path, "name", user.name, false)) {
      const bool taken = std::any_of(auth.users.begin(), auth.users.end(),
                                     [&](const AuthUser& u) { return u.name == user.name; });
      if (taken) {
        r.error(user_node["name"], user_path + ".name",
                fmt::format("user {} is listed twice", detail::quoted(user.name)));
      }
    }
    r.secret(user_node, user_path, true, user.password);
    read_permissions(r, user_node, user_path, admin, user.permissions);
    auth.users.push_back(std::move(user));
  }
}

// The TLS listener. Without tls.listen no other tls key means anything, so setting them alone is
// an error rather than a TLS port that silently is not there.
void read_tls(YamlReader& r, const YAML::Node& root, Config& config) {
  const std::string path = "tls";
  const YAML::Node node = root[path];
  if (!r.mapping(node, path)) return;
  TlsConfig& tls = config.tls;
  Endpoint listen;
  if (r.endpoint(node, path, "listen", listen)) tls.listen = listen;
  const bool cert = r.file(node, path, "cert_file", tls.cert_file);
  const bool key = r.file(node, path, "key_file", tls.key_file);
  r.file(node, path, "ca_file", tls.ca_file);
  const bool auth = r.choice<ClientAuth>(node, path, "client_auth",
                                         {{"none", ClientAuth::None},
                                          {"optional", ClientAuth::Optional},
                                          {"required", ClientAuth::Required}},
                                         tls.client_auth);
  r.choice<TlsVersion>(node, path, "min_version",
                       {{"1.2", TlsVersion::Tls12},
                        {"1.3", TlsVersion::Tls13},
                        {"TLSv1.2", TlsVersion::Tls12},
                        {"TLSv1.3", TlsVersion::Tls13}},
                       tls.min_version);
  r.string(node, path, "ciphers", tls.ciphers, false);
  r.string(node, path, "ciphersuites", tls.ciphersuites, false);
  r.duration(node, path, "handshake_timeout", tls.handshake_timeout, Duration{1});
  if (!node["listen"].IsDefined()) {
    if (node.size() > 0) {
      r.error(node, path, "needs listen (the TLS port); without it no TLS listener is opened");
    }
    return;
  }
  if (!cert && !node["cert_file"].IsDefined()) {
    r.error(node, "tls.cert_file", "required with tls.listen");
  }
  if (!key && !node["key_file"].IsDefined())
    r.error(node, "tls.key_file", "required with tls.listen");
  if (auth && tls.client_auth != ClientAuth::None && !node["ca_file"].IsDefined()) {
    r.error(node["client_auth"], "tls.ca_file",
            "required when tls.client_auth is optional or required (the CAs client "
            "certificates must chain to)");
  }
  if (!tls.listen) return;
  if (!root["listen"].IsDefined()) {
    config.plain_listener = false;  // TLS only
  } else if (*tls.listen == config.listen) {
    r.error(node["listen"], "tls.listen", "is the same address as listen; use another port");
  }
}

void read_root(YamlReader& r, const YAML::Node& root, Config& config) {
  if (!r.mapping(root, "")) return;
  r.endpoint(root, "", "listen", config.listen);
  read_workers(r, root, config);
  read_upstream(r, root, config.upstream);
  read_cache(r, root, config.cache);
  read_invalidation(r, root, config.invalidation);
  if (config.invalidation.tracking == TrackingMode::Default &&
      config.upstream.mode == UpstreamMode::Cluster) {
    r.error(root["invalidation"]["tracking"], "invalidation.tracking",
            "default is not supported with upstream.mode: cluster yet (use bcast)");
  }
  read_limits(r, root, config.limits);
  read_tls(r, root, config);
  // Before auth: it is the permission list of every user whose list is not written.
  r.choice<AdminCommands>(root, "", "admin_commands",
                          {{"forward", AdminCommands::Forward}, {"deny", AdminCommands::Deny}},
                          config.admin_commands);
  read_auth(r, root, config.admin_commands, config.auth);
  const YAML::Node metrics = root["metrics"];
  if (r.mapping(metrics, "metrics") && metrics["listen"].IsDefined() &&
      !metrics["listen"].IsNull()) {
    Endpoint endpoint;
    if (r.endpoint(metrics, "metrics", "listen", endpoint)) config.metrics.listen = endpoint;
  }
  r.duration(root, "", "shutdown_timeout", config.shutdown_timeout);
  const YAML::Node log = root["log"];
  if (r.mapping(log, "log")) {
    std::string level;
    if (r.scalar(log, "log", "level", detail::kLogLevelHint, level)) {
      if (detail::is_log_level(level)) {
        config.log_level = level;
      } else {
        r.bad_value(log["level"], "log.level", detail::kLogLevelHint, level);
      }
    }
  }
}

std::string yaml_error(const std::string& source, std::string_view what, const YAML::Exception& e) {
  if (e.mark.is_null()) return fmt::format("{}: {}: {}", source, what, e.msg);
  return fmt::format("{}:{}:{}: {}: {}", source, e.mark.line + 1, e.mark.column + 1, what, e.msg);
}

LoadResult load(const std::string& yaml, const std::string& source, const std::string& base_dir) {
  LoadResult result;
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& e) {
    result.errors.push_back(yaml_error(source, "YAML syntax error", e));
    return result;
  }
  if (documents.size() > 1) {
    // yaml-cpp's Load would silently keep only the first document.
    result.errors.push_back(fmt::format(
        "{}: (top level): the file holds {} YAML documents (separated by ---); expected one",
        source, documents.size()));
    return result;
  }
  YamlReader reader(source, base_dir);
  Config config;
  try {
    if (!documents.empty()) read_root(reader, documents.front(), config);
  } catch (const YAML::Exception& e) {
    // The readers check node types before use, so this is a loader bug; still report it as a
    // config error rather than let it escape as a crash at startup.
    reader.error_without_position("(top level)", fmt::format("cannot read the file: {}", e.msg));
  }
  result.errors = reader.take_errors();
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

std::span<const std::string_view> cacheable_commands() { return kCacheableCommands; }

LoadResult load_from_string(const std::string& yaml, const std::string& source) {
  return load(yaml, source, "");
}

LoadResult load_from_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult result;
    result.errors.push_back(fmt::format(
        "{}: is a directory; --config takes a YAML file (e.g. {}/frontcache.yaml)", path, path));
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(
        fmt::format("{}: cannot open config file: {}", path, std::strerror(errno)));
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto slash = path.rfind('/');
  return load(text.str(), path, slash == std::string::npos ? "" : path.substr(0, slash + 1));
}

}  // namespace frontcache::config
