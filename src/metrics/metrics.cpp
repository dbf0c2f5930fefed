#include "frontcache/metrics/metrics.hpp"

#include <fmt/format.h>

namespace frontcache::metrics {

namespace {

using enum Type;

// Keep in the order of enum class Metric.
constexpr std::array<MetricInfo, static_cast<std::size_t>(Metric::Count)> kTable{{
    {"frontcache_build_info", Gauge, "Always 1; the version label is the frontcache release."},
    {"frontcache_uptime_seconds", Gauge, "Seconds since the process started."},
    {"frontcache_workers", Gauge, "Worker threads serving clients."},
    {"frontcache_connected_clients", Gauge, "Client connections open now."},
    {"frontcache_connections_received_total", Counter,
     "Client connections accepted, including those then refused by limits.max_clients."},
    {"frontcache_connections_rejected_total", Counter,
     "Client connections refused because limits.max_clients was reached."},
    {"frontcache_tls_connected_clients", Gauge,
     "Client connections open now on the TLS port (handshake completed)."},
    {"frontcache_tls_connections_total", Counter,
     "TLS handshakes with clients completed on the TLS port."},
    {"frontcache_tls_handshake_failures_total", Counter,
     "Client connections on the TLS port closed before the handshake completed, by reason: "
     "error (protocol, version, cipher or certificate refused), timeout (none within "
     "tls.handshake_timeout), closed (the client went away)."},
    {"frontcache_tls_certificate_reloads_total", Counter,
     "TLS certificate reloads on SIGHUP, by result: ok (new connections use them) or failed "
     "(the running certificates stayed)."},
    {"frontcache_commands_processed_total", Counter,
     "Commands received from clients (forwarded, answered locally or refused)."},
    {"frontcache_protocol_errors_total", Counter,
     "Client connections closed after an unrecoverable protocol error."},
    {"frontcache_refused_commands_total", Counter,
     "Commands refused by the proxy (not permitted to the user, never forwarded)."},
    {"frontcache_output_limit_disconnects_total", Counter,
     "Clients disconnected because their pending replies exceeded their class's limit "
     "(limits.max_output_buffer, limits.pubsub_output_buffer[_soft])."},
    {"frontcache_output_budget_disconnects_total", Counter,
     "Clients disconnected because all clients' pending replies together exceeded "
     "limits.max_output_memory (the client with the most pending bytes goes first)."},
    {"frontcache_idle_disconnects_total", Counter,
     "Clients closed after limits.idle_timeout without a command."},
    {"frontcache_auth_failures_total", Counter,
     "Wrong passwords (AUTH, HELLO AUTH) against the proxy's auth settings."},
    {"frontcache_auth_delayed_total", Counter,
     "AUTH / HELLO AUTH replies held until their address's turn: the address has recent wrong "
     "passwords, so its attempts are spaced out (25 ms doubling to 2 s)."},
    {"frontcache_auth_refused_total", Counter,
     "AUTH / HELLO AUTH refused without checking the password: the address's next turn was more "
     "than 10 s away, or addresses with recent wrong passwords used up the global budget."},
    {"frontcache_auth_penalized_addresses", Gauge,
     "Client addresses (IPv4, or IPv6 /64) whose AUTH attempts are spaced out now."},
    {"frontcache_permission_denials_total", Counter,
     "Commands refused with NOPERM: the user's permissions (auth.permissions, "
     "auth.users[].permissions) do not allow the command or one of its keys."},
    {"frontcache_pinned_opened_total", Counter,
     "Dedicated upstream connections opened for pinned sessions (MULTI, blocking, pub/sub)."},
    {"frontcache_pinned_refused_total", Counter,
     "Commands refused because upstream.max_pinned_per_worker dedicated connections were taken."},
    {"frontcache_pinned_lost_total", Counter,
     "Dedicated upstream connections lost while a session was using them."},
    {"frontcache_pinned_recycle_failures_total", Counter,
     "Dedicated upstream connections closed instead of reused because RESET (and AUTH) did not "
     "come back as expected."},
    {"frontcache_upstream_connections", Gauge,
     "Shared upstream connections by state: ready (serving) or connecting (down, retrying)."},
    {"frontcache_upstream_reconnects_total", Counter,
     "Upstream connection attempts after a loss or a failed attempt."},
    {"frontcache_upstream_timeouts_total", Counter,
     "Upstream connections closed because a reply took longer than upstream.command_timeout."},
    {"frontcache_upstream_requests_total", Counter, "Requests written to upstream connections."},
    {"frontcache_upstream_writes_total", Counter,
     "Batches of requests written to the shared upstream connections (requests per write: "
     "frontcache_upstream_requests_total / this)."},
    {"frontcache_upstream_failed_requests_total", Counter,
     "Forwarded requests answered with an error made up by the proxy (connection lost, "
     "timeout)."},
    {"frontcache_upstream_unavailable_replies_total", Counter,
     "Requests answered with an error at once because no upstream connection was ready."},
    {"frontcache_cluster_masters", Gauge,
     "upstream.mode cluster: masters in the slot map the proxy routes by."},
    {"frontcache_cluster_redirects_total", Counter,
     "upstream.mode cluster: replies the proxy followed instead of passing them on, by kind: "
     "moved, ask, tryagain; given_up: requests failed after too many redirects."},
    {"frontcache_cluster_topology_refreshes_total", Counter,
     "upstream.mode cluster: reads of the slot map (CLUSTER SHARDS / SLOTS), by result: ok, "
     "failed (no node answered)."},
    {"frontcache_l1_hits_total", Counter, "Reads answered from the local cache."},
    {"frontcache_l1_misses_total", Counter, "Cacheable reads not found in the local cache."},
    {"frontcache_l1_inserts_total", Counter, "Replies stored in the local cache."},
    {"frontcache_l1_rejected_total", Counter,
     "Replies not stored: too heavy for the cache or refused by admission."},
    {"frontcache_l1_evictions_total", Counter, "Entries evicted to stay within cache.max_memory."},
    {"frontcache_l1_expirations_total", Counter, "Entries dropped because their TTL passed."},
    {"frontcache_l1_invalidations_total", Counter,
     "Entries dropped by invalidation messages or a full clear."},
    {"frontcache_l1_fills_total", Counter, "Upstream fills started for cache misses."},
    {"frontcache_l1_coalesced_waiters_total", Counter,
     "Misses that waited for a fill already in flight instead of asking the upstream."},
    {"frontcache_l1_waiters_refused_total", Counter,
     "Misses sent upstream directly because a fill already had its maximum of waiters."},
    {"frontcache_l1_stale_fills_discarded_total", Counter,
     "Fills not cached because an invalidation for their key arrived while in flight."},
    {"frontcache_l1_failed_fills_total", Counter, "Fills that failed or were abandoned."},
    {"frontcache_l1_entries", Gauge, "Entries in the local cache."},
    {"frontcache_l1_bytes", Gauge,
     "Weighted size of the local cache in bytes (key + value + per-entry overhead)."},
    {"frontcache_l1_max_bytes", Gauge, "cache.max_memory in bytes."},
    {"frontcache_l1_bypass", Gauge,
     "1 while the local cache is cleared and bypassed because invalidation is not confirmed "
     "alive (cluster mode: on some master at least, whose slots alone are bypassed); 0 "
     "otherwise."},
    {"frontcache_l1_bypassed_reads_total", Counter,
     "Cacheable reads sent upstream without an L1 lookup, by cause: not_current (no fence round "
     "within invalidation.max_staleness), own_write (the client's own write in flight or not yet "
     "fenced), not_armed (the invalidation stream, in cluster mode the key's master's, is not "
     "armed)."},
    {"frontcache_invalidation_age_seconds", Gauge,
     "How long ago the last completed invalidation fence round started: L1 answers only while "
     "this is under invalidation.max_staleness."},
    {"frontcache_config_reloads_total", Counter,
     "Configuration reloads attempted (SIGHUP), successful or not."},
    {"frontcache_config_reload_failures_total", Counter,
     "Configuration reloads rejected because the file was invalid; the running config stayed."},
    {"frontcache_config_last_reload_successful", Gauge,
     "1 when the last reload (or the startup load) succeeded, 0 when it was rejected."},
    {"frontcache_config_restart_pending", Gauge,
     "1 when the file on disk changes a setting that only a restart applies (listen, workers, "
     "upstream, invalidation, metrics.listen)."},
    {"frontcache_hit_duration_seconds", Histogram,
     "Time from the start of the dispatch of a batch of requests to its end, for each read in it "
     "answered from the local cache."},
    {"frontcache_miss_duration_seconds", Histogram,
     "Time from dispatch to reply for cacheable reads that missed the local cache."},
    {"frontcache_forward_duration_seconds", Histogram,
     "Time from dispatch to upstream reply for forwarded commands."},
    // Per command (Redis's INFO commandstats, seen from the proxy); `command` as Redis names
    // it: "get", "client|id".
    {"frontcache_command_calls_total", Counter, "Requests taken, by command."},
    {"frontcache_command_l1_hits_total", Counter,
     "Requests answered from the local cache, by command."},
    {"frontcache_command_upstream_calls_total", Counter,
     "Requests answered by the upstream, by command."},
    {"frontcache_command_upstream_seconds_total", Counter,
     "Time requests waited for the upstream's reply, by command."},
    // The standard process metrics, named as every Prometheus client library names them.
    {"process_cpu_seconds_total", Counter, "Total user and system CPU time spent in seconds."},
    {"process_resident_memory_bytes", Gauge, "Resident memory size in bytes."},
    {"process_virtual_memory_bytes", Gauge, "Virtual memory size in bytes."},
    {"process_open_fds", Gauge, "Number of open file descriptors."},
    {"process_max_fds", Gauge, "Maximum number of open file descriptors."},
    {"process_start_time_seconds", Gauge, "Start time of the process since unix epoch in seconds."},
}};

const char* type_name(Type type) {
  switch (type) {
    case Counter:
      return "counter";
    case Gauge:
      return "gauge";
    case Histogram:
      return "histogram";
  }
  return "untyped";
}

std::size_t index(Metric metric) { return static_cast<std::size_t>(metric); }

}  // namespace

std::span<const MetricInfo> metric_table() { return kTable; }

const MetricInfo& info(Metric metric) { return kTable[index(metric)]; }

Exposition::Exposition() = default;

void Exposition::set(Metric metric, std::uint64_t value) {
  samples_[index(metric)].push_back(fmt::format("{} {}", info(metric).name, value));
}

void Exposition::set(Metric metric, std::int64_t value) {
  samples_[index(metric)].push_back(fmt::format("{} {}", info(metric).name, value));
}

void Exposition::set(Metric metric, double value) {
  samples_[index(metric)].push_back(fmt::format("{} {}", info(metric).name, value));
}

void Exposition::set(Metric metric, std::string_view labels, std::uint64_t value) {
  samples_[index(metric)].push_back(fmt::format("{}{{{}}} {}", info(metric).name, labels, value));
}

void Exposition::set(Metric metric, std::string_view labels, double value) {
  samples_[index(metric)].push_back(fmt::format("{}{{{}}} {}", info(metric).name, labels, value));
}

void Exposition::set(Metric metric, const HistogramSnapshot& histogram) {
  auto& out = samples_[index(metric)];
  const std::string_view name = info(metric).name;
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < kLatencyBoundsMicros.size(); ++b) {
    cumulative += histogram.counts[b];
    out.push_back(fmt::format("{}_bucket{{le=\"{}\"}} {}", name,
                              static_cast<double>(kLatencyBoundsMicros[b]) / 1e6, cumulative));
  }
  out.push_back(fmt::format("{}_bucket{{le=\"+Inf\"}} {}", name, histogram.count));
  out.push_back(fmt::format("{}_sum {}", name, static_cast<double>(histogram.sum_nanos) / 1e9));
  out.push_back(fmt::format("{}_count {}", name, histogram.count));
}

std::string Exposition::text() const {
  std::string out;
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (samples_[i].empty()) continue;
    const MetricInfo& m = kTable[i];
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name,
                   type_name(m.type));
    for (const auto& line : samples_[i]) {
      out += line;
      out += '\n';
    }
  }
  return out;
}

}  // namespace frontcache::metrics
