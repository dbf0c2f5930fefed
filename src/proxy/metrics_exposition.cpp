#include "metrics_exposition.hpp"

#include <fmt/format.h>

#include "cluster_client.hpp"
#include "cluster_topology.hpp"
#include "frontcache/metrics/metrics.hpp"
#include "frontcache/metrics/process.hpp"
#include "frontcache/upstream/stats.hpp"

namespace frontcache::proxy {

using metrics::Metric;

namespace {

std::uint64_t get(const std::atomic<std::uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

void add_cache(metrics::Exposition& out, const Shared& shared, const config::Config& cfg) {
  const auto& sources = shared.metrics_sources;
  if (!sources.cache_stats) return;  // no L1 wired in: its metrics are left out
  const cache::CacheStats s = sources.cache_stats();
  out.set(Metric::L1Hits, s.hits);
  out.set(Metric::L1Misses, s.misses);
  out.set(Metric::L1Inserts, s.inserts);
  out.set(Metric::L1Rejected, s.rejected);
  out.set(Metric::L1Evictions, s.evictions);
  out.set(Metric::L1Expirations, s.expirations);
  out.set(Metric::L1Invalidations, s.invalidations);
  out.set(Metric::L1Fills, s.fills_started);
  out.set(Metric::L1CoalescedWaiters, s.coalesced_waiters);
  out.set(Metric::L1WaitersRefused, s.waiters_refused);
  out.set(Metric::L1StaleFillsDiscarded, s.stale_fills_discarded);
  out.set(Metric::L1FailedFills, s.fills_failed);
  out.set(Metric::L1Entries, s.entries);
  out.set(Metric::L1Bytes, s.weighted_size);
  out.set(Metric::L1MaxBytes,
          static_cast<std::uint64_t>(cfg.cache.enabled ? cfg.cache.max_memory : 0));
  const bool bypassed = sources.l1_bypassed && sources.l1_bypassed();
  out.set(Metric::L1Bypass, static_cast<std::uint64_t>(bypassed ? 1 : 0));
  if (const L1* l1 = shared.l1.get()) {
    auto& st = const_cast<L1*>(l1)->stats();
    out.set(Metric::L1BypassedReads, "cause=\"not_current\"", get(st.bypass_not_current));
    out.set(Metric::L1BypassedReads, "cause=\"own_write\"", get(st.bypass_own_write));
    out.set(Metric::L1BypassedReads, "cause=\"not_armed\"", get(st.bypass_not_armed));
    const auto as_of = l1->current_as_of();
    if (as_of.time_since_epoch().count() != 0) {
      out.set(Metric::InvalidationAge,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - as_of).count());
    }
  }
}

}  // namespace

std::string render_metrics(const Shared& shared) {
  const auto cfg = shared.config();
  const auto& stats = shared.stats;
  const auto& up = upstream::stats();
  metrics::Exposition out;

  out.set(Metric::BuildInfo, fmt::format("version=\"{}\"", FRONTCACHE_VERSION), std::uint64_t{1});
  out.set(Metric::UptimeSeconds,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - shared.started).count());
  out.set(Metric::Workers, static_cast<std::uint64_t>(shared.workers));
  out.set(Metric::ConnectedClients, stats.connected_clients.load(std::memory_order_relaxed));
  out.set(Metric::ConnectionsReceived, get(stats.total_connections));
  out.set(Metric::ConnectionsRejected, get(stats.rejected_connections));
  out.set(Metric::TlsConnectedClients, stats.tls_clients.load(std::memory_order_relaxed));
  out.set(Metric::TlsConnections, get(stats.tls_connections));
  out.set(Metric::TlsHandshakeFailures, "reason=\"error\"", get(stats.tls_handshake_failures));
  out.set(Metric::TlsHandshakeFailures, "reason=\"timeout\"", get(stats.tls_handshake_timeouts));
  out.set(Metric::TlsHandshakeFailures, "reason=\"closed\"", get(stats.tls_handshake_closed));
  out.set(Metric::TlsCertificateReloads, "result=\"ok\"", get(stats.tls_reloads));
  out.set(Metric::TlsCertificateReloads, "result=\"failed\"", get(stats.tls_reload_failures));
  out.set(Metric::CommandsProcessed, get(stats.total_commands));
  out.set(Metric::ProtocolErrors, get(stats.protocol_errors));
  out.set(Metric::RefusedCommands, get(stats.refused_commands));
  out.set(Metric::OutputLimitDisconnects, get(stats.output_limit_disconnects));
  out.set(Metric::OutputBudgetDisconnects, get(stats.output_budget_disconnects));
  out.set(Metric::IdleDisconnects, get(stats.idle_disconnects));
  out.set(Metric::AuthFailures, get(stats.auth_failures));
  out.set(Metric::AuthDelayed, get(stats.auth_delayed));
  out.set(Metric::AuthRefused, get(stats.auth_refused));
  out.set(
      Metric::AuthPenalizedAddresses,
      static_cast<std::uint64_t>(shared.auth_limiter.penalized(std::chrono::steady_clock::now())));
  out.set(Metric::PermissionDenials, get(stats.permission_denials));
  out.set(Metric::PinnedOpened, get(stats.pinned_opened));
  out.set(Metric::PinnedRefused, get(stats.pinned_refused));
  out.set(Metric::PinnedLost, get(stats.pinned_lost));
  out.set(Metric::PinnedRecycleFailures, get(stats.pinned_recycle_failures));

  // (In cluster mode, that set per master.)
  const auto map = shared.topology != nullptr ? shared.topology->map() : nullptr;
  const auto configured = shared.workers * cfg->upstream.connections_per_worker *
                          (shared.resp3 ? 2 : 1) * (map ? map->shards().size() : 1);
  const auto ready = static_cast<std::size_t>(
      std::max<std::int64_t>(0, up.connections_ready.load(std::memory_order_relaxed)));
  out.set(Metric::UpstreamConnections, "state=\"ready\"", std::uint64_t{ready});
  out.set(Metric::UpstreamConnections, "state=\"connecting\"",
          std::uint64_t{configured > ready ? configured - ready : 0});
  out.set(Metric::UpstreamReconnects, get(up.reconnects));
  out.set(Metric::UpstreamTimeouts, get(up.timeouts));
  out.set(Metric::UpstreamRequests, get(up.requests));
  out.set(Metric::UpstreamWrites, get(up.writes));
  out.set(Metric::UpstreamFailedRequests, get(up.failed_requests));
  out.set(Metric::UpstreamUnavailableReplies, get(up.unavailable_replies));
  if (shared.topology != nullptr) {
    const auto& c = cluster_stats();
    const auto& t = shared.topology->stats();
    out.set(Metric::ClusterMasters, std::uint64_t{map ? map->shards().size() : 0});
    out.set(Metric::ClusterRedirects, "kind=\"moved\"", get(c.moved));
    out.set(Metric::ClusterRedirects, "kind=\"ask\"", get(c.ask));
    out.set(Metric::ClusterRedirects, "kind=\"tryagain\"", get(c.tryagain));
    out.set(Metric::ClusterRedirects, "kind=\"given_up\"", get(c.redirect_failures));
    out.set(Metric::ClusterTopologyRefreshes, "result=\"ok\"", get(t.refreshes));
    out.set(Metric::ClusterTopologyRefreshes, "result=\"failed\"", get(t.refresh_failures));
  }

  add_cache(out, shared, *cfg);

  const auto& reload = shared.reload;
  out.set(Metric::ConfigReloads, get(reload.reloads));
  out.set(Metric::ConfigReloadFailures, get(reload.failures));
  out.set(Metric::ConfigLastReloadSuccessful, std::uint64_t{reload.last_ok.load() ? 1u : 0u});
  out.set(Metric::ConfigRestartPending, std::uint64_t{reload.restart_pending.load() ? 1u : 0u});

  out.set(Metric::HitDuration, shared.latency.hit.snapshot());
  out.set(Metric::MissDuration, shared.latency.miss.snapshot());
  out.set(Metric::ForwardDuration, shared.latency.forward.snapshot());
  for (const auto& t : shared.command_stats.totals(shared.commands)) {
    // Command names are Redis's: lower-case letters, digits, '-', '_' and '|', nothing to escape.
    const std::string label = fmt::format("command=\"{}\"", t.name);
    out.set(Metric::CommandCalls, label, t.calls);
    out.set(Metric::CommandL1Hits, label, t.l1_hits);
    out.set(Metric::CommandUpstreamCalls, label, t.upstream_calls);
    out.set(Metric::CommandUpstreamSeconds, label, static_cast<double>(t.upstream_usec) / 1e6);
  }

  const metrics::ProcessStats process = metrics::read_process_stats();
  if (process.cpu_seconds) out.set(Metric::ProcessCpuSeconds, *process.cpu_seconds);
  if (process.resident_bytes) out.set(Metric::ProcessResidentMemory, *process.resident_bytes);
  if (process.virtual_bytes) out.set(Metric::ProcessVirtualMemory, *process.virtual_bytes);
  if (process.open_fds) out.set(Metric::ProcessOpenFds, *process.open_fds);
  if (process.max_fds) out.set(Metric::ProcessMaxFds, *process.max_fds);
  if (process.start_time_seconds) out.set(Metric::ProcessStartTime, *process.start_time_seconds);
  return out.text();
}

metrics::Readiness readiness(const Shared& shared, bool draining) {
  if (draining) return {false, "draining (shutting down)"};
  if (upstream::stats().connections_ready.load(std::memory_order_relaxed) <= 0) {
    return {false, "no upstream connection is ready"};
  }
  if (shared.l1 != nullptr && !shared.l1->armed()) {
    return {false, "invalidation not armed (L1 bypassed)"};
  }
  return {};
}

}  // namespace frontcache::proxy
