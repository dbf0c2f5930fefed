// The config in effect, written back as YAML for `FRONTCACHE CONFIG`. Secrets never leave the
// process: passwords show as "(set)" or "".
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <iterator>

#include "frontcache/config/config.hpp"
#include "value_parsers.hpp"

namespace frontcache::config {

namespace {

std::string endpoint_text(const Endpoint& e) {
  // Quoted: an unquoted `[` would start a YAML sequence.
  if (e.host.find(':') != std::string::npos) return fmt::format("\"[{}]:{}\"", e.host, e.port);
  return fmt::format("{}:{}", e.host, e.port);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const char* secret(const std::string& s) { return s.empty() ? "\"\"" : "\"(set)\""; }

template <typename Line>
void render_tls(const TlsConfig& tls, Line& line) {
  if (!tls.listen) {
    line("tls: {}");
    return;
  }
  line("tls:");
  line(fmt::format("  listen: {}", endpoint_text(*tls.listen)));
  line(fmt::format("  cert_file: {}", quoted(tls.cert_file)));
  line(fmt::format("  key_file: {}", quoted(tls.key_file)));
  if (!tls.ca_file.empty()) line(fmt::format("  ca_file: {}", quoted(tls.ca_file)));
  const char* auth = tls.client_auth == ClientAuth::Required   ? "required"
                     : tls.client_auth == ClientAuth::Optional ? "optional"
                                                               : "none";
  line(fmt::format("  client_auth: {}", auth));
  line(fmt::format("  min_version: \"{}\"", tls.min_version == TlsVersion::Tls13 ? "1.3" : "1.2"));
  if (!tls.ciphers.empty()) line(fmt::format("  ciphers: {}", quoted(tls.ciphers)));
  if (!tls.ciphersuites.empty()) line(fmt::format("  ciphersuites: {}", quoted(tls.ciphersuites)));
  line(fmt::format("  handshake_timeout: {}", format_duration(tls.handshake_timeout)));
}

template <typename Line>
void render_upstream_tls(const UpstreamTlsConfig& tls, Line& line) {
  if (!tls.enabled) {
    line("  tls: false");
    return;
  }
  line("  tls:");
  if (!tls.ca_file.empty()) line(fmt::format("    ca_file: {}", quoted(tls.ca_file)));
  if (!tls.cert_file.empty()) line(fmt::format("    cert_file: {}", quoted(tls.cert_file)));
  if (!tls.key_file.empty()) line(fmt::format("    key_file: {}", quoted(tls.key_file)));
  if (!tls.server_name.empty()) line(fmt::format("    server_name: {}", quoted(tls.server_name)));
  line(fmt::format("    verify: {}", tls.verify ? "true" : "false"));
}

}  // namespace

// The same text the parser's error messages use: one formatter for both.
std::string format_duration(Duration duration) { return detail::format_duration(duration); }

std::string format_size(std::size_t bytes) { return detail::format_size(bytes); }

std::string to_yaml(const Config& c) {
  std::string out;
  auto line = [&out](std::string_view text) {
    out += text;
    out += '\n';
  };
  if (c.plain_listener) line(fmt::format("listen: {}", endpoint_text(c.listen)));
  line(
      fmt::format("workers: {}", c.workers == 0 ? std::string("auto") : std::to_string(c.workers)));
  render_tls(c.tls, line);
  line("upstream:");
  const bool cluster = c.upstream.mode == UpstreamMode::Cluster;
  line(fmt::format("  mode: {}", cluster ? "cluster" : "standalone"));
  line(fmt::format("  address: {}", endpoint_text(c.upstream.address)));
  if (cluster) {
    std::vector<std::string> seeds;
    for (const auto& s : c.upstream.seeds) seeds.push_back(endpoint_text(s));
    line(fmt::format("  seeds: [{}]", fmt::join(seeds, ", ")));
    line(fmt::format("  topology_refresh: {}", format_duration(c.upstream.topology_refresh)));
  }
  line(fmt::format("  username: {}", quoted(c.upstream.username)));
  line(fmt::format("  password: {}", secret(c.upstream.password)));
  line(fmt::format("  connections_per_worker: {}", c.upstream.connections_per_worker));
  line(fmt::format("  connect_timeout: {}", format_duration(c.upstream.connect_timeout)));
  line(fmt::format("  command_timeout: {}", format_duration(c.upstream.command_timeout)));
  render_upstream_tls(c.upstream.tls, line);
  if (!c.cache.enabled) {
    line("cache: false");
  } else {
    line("cache:");
    line(fmt::format("  max_memory: {}", format_size(c.cache.max_memory)));
    line(fmt::format("  max_ttl: {}", format_duration(c.cache.max_ttl)));
    line(fmt::format("  max_value_size: {}", format_size(c.cache.max_value_size)));
    line(c.cache.rules.empty() ? "  rules: []" : "  rules:");
    for (const auto& r : c.cache.rules) {
      line(fmt::format("    - match: {}", quoted(r.match)));
      line(fmt::format("      cache: {}", r.cache ? "true" : "false"));
      line(fmt::format("      ttl: {}", format_duration(r.ttl)));
      line(fmt::format("      negative_ttl: {}", format_duration(r.negative_ttl)));
    }
    line(fmt::format("  commands: [{}]", fmt::join(c.cache.commands, ", ")));
  }
  line("invalidation:");
  line(fmt::format("  channel: {}", quoted(c.invalidation.channel)));
  line(fmt::format("  tracking: {}", c.invalidation.tracking == TrackingMode::Bcast     ? "bcast"
                                     : c.invalidation.tracking == TrackingMode::Default ? "default"
                                                                                        : "off"));
  line(fmt::format("  ping_interval: {}", format_duration(c.invalidation.ping_interval)));
  line(fmt::format("  max_staleness: {}", format_duration(c.invalidation.max_staleness)));
  line("limits:");
  line(fmt::format("  max_clients: {}", c.limits.max_clients));
  line(fmt::format("  max_bulk_length: {}", format_size(c.limits.max_bulk_length)));
  line(fmt::format("  max_arguments: {}", c.limits.max_arguments));
  line(fmt::format("  max_inline_length: {}", format_size(c.limits.max_inline_length)));
  line(fmt::format("  max_pipeline: {}", c.limits.max_pipeline));
  line(fmt::format("  max_output_buffer: {}", format_size(c.limits.max_output_buffer)));
  line(fmt::format("  pubsub_output_buffer: {}", format_size(c.limits.pubsub_output_buffer)));
  line(fmt::format("  pubsub_output_buffer_soft: {}",
                   format_size(c.limits.pubsub_output_buffer_soft)));
  line(fmt::format("  pubsub_output_buffer_soft_seconds: {}",
                   format_duration(c.limits.pubsub_output_buffer_soft_seconds)));
  line(fmt::format("  max_output_memory: {}", format_size(c.limits.max_output_memory)));
  line(fmt::format("  idle_timeout: {}", format_duration(c.limits.idle_timeout)));
  line("auth:");
  line(fmt::format("  password: {}", secret(c.auth.password)));
  line(fmt::format("  permissions: {}", quoted(c.auth.permissions.text)));
  line(c.auth.users.empty() ? "  users: []" : "  users:");
  for (const auto& u : c.auth.users) {
    line(fmt::format("    - {{name: {}, password: {}, permissions: {}}}", quoted(u.name),
                     secret(u.password), quoted(u.permissions.text)));
  }
  line(fmt::format("admin_commands: {}",
                   c.admin_commands == AdminCommands::Forward ? "forward" : "deny"));
  if (c.metrics.listen) {
    line("metrics:");
    line(fmt::format("  listen: {}", endpoint_text(*c.metrics.listen)));
  } else {
    line("metrics: {}");
  }
  line(fmt::format("shutdown_timeout: {}", format_duration(c.shutdown_timeout)));
  line("log:");
  line(fmt::format("  level: {}", c.log_level));
  return out;
}

namespace {

constexpr std::array<std::string_view, 5> kPrintTargets{"listen", "upstream", "metrics", "workers",
                                                        "config"};

// host:port, IPv6 hosts in brackets, unquoted (for scripts).
std::string address(const Endpoint& e) {
  if (e.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", e.host, e.port);
  return fmt::format("{}:{}", e.host, e.port);
}

}  // namespace

std::span<const std::string_view> print_targets() { return kPrintTargets; }

std::string print_value(const Config& c, std::string_view what) {
  if (what == "listen") return address(c.listen);
  if (what == "upstream") return address(c.upstream.address);
  if (what == "metrics") return c.metrics.listen ? address(*c.metrics.listen) : std::string();
  if (what == "workers") return std::to_string(resolved_workers(c));
  if (what == "config") return to_yaml(c);
  return {};
}

}  // namespace frontcache::config
