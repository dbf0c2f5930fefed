// The one table of frontcache's metrics (name, type, help text), and the Prometheus text
// exposition built from it. The proxy owns the counters; at scrape time it copies their values
// into an Exposition keyed by this table, so a metric without a table row cannot be emitted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontcache/metrics/histogram.hpp"

namespace frontcache::metrics {

enum class Type { Counter, Gauge, Histogram };

struct MetricInfo {
  // `frontcache_` prefix (or the standard `process_` names every client library exports), base
  // units, counters end in `_total`.
  std::string_view name;
  Type type;
  std::string_view help;
};

// Index into the table; keep in the table's order (a unit test checks names and order).
enum class Metric : std::size_t {
  BuildInfo,
  UptimeSeconds,
  Workers,
  ConnectedClients,
  ConnectionsReceived,
  ConnectionsRejected,
  TlsConnectedClients,
  TlsConnections,
  TlsHandshakeFailures,
  TlsCertificateReloads,
  CommandsProcessed,
  ProtocolErrors,
  RefusedCommands,
  OutputLimitDisconnects,
  OutputBudgetDisconnects,
  IdleDisconnects,
  AuthFailures,
  AuthDelayed,
  AuthRefused,
  AuthPenalizedAddresses,
  PermissionDenials,
  PinnedOpened,
  PinnedRefused,
  PinnedLost,
  PinnedRecycleFailures,
  UpstreamConnections,
  UpstreamReconnects,
  UpstreamTimeouts,
  UpstreamRequests,
  UpstreamWrites,
  UpstreamFailedRequests,
  UpstreamUnavailableReplies,
  ClusterMasters,
  ClusterRedirects,
  ClusterTopologyRefreshes,
  L1Hits,
  L1Misses,
  L1Inserts,
  L1Rejected,
  L1Evictions,
  L1Expirations,
  L1Invalidations,
  L1Fills,
  L1CoalescedWaiters,
  L1WaitersRefused,
  L1StaleFillsDiscarded,
  L1FailedFills,
  L1Entries,
  L1Bytes,
  L1MaxBytes,
  L1Bypass,
  L1BypassedReads,
  InvalidationAge,
  ConfigReloads,
  ConfigReloadFailures,
  ConfigLastReloadSuccessful,
  ConfigRestartPending,
  HitDuration,
  MissDuration,
  ForwardDuration,
  CommandCalls,
  CommandL1Hits,
  CommandUpstreamCalls,
  CommandUpstreamSeconds,
  ProcessCpuSeconds,
  ProcessResidentMemory,
  ProcessVirtualMemory,
  ProcessOpenFds,
  ProcessMaxFds,
  ProcessStartTime,
  Count
};

std::span<const MetricInfo> metric_table();
const MetricInfo& info(Metric metric);

// One scrape's worth of samples. Metrics that received no sample are left out of text().
class Exposition {
 public:
  Exposition();

  void set(Metric metric, std::uint64_t value);
  void set(Metric metric, std::int64_t value);
  void set(Metric metric, double value);
  // `labels` is the inside of the braces, already escaped: `state="ready"`.
  void set(Metric metric, std::string_view labels, std::uint64_t value);
  void set(Metric metric, std::string_view labels, double value);
  void set(Metric metric, const HistogramSnapshot& histogram);

  // Prometheus text format 0.0.4, metrics in table order, each with # HELP and # TYPE.
  std::string text() const;

 private:
  std::array<std::vector<std::string>, static_cast<std::size_t>(Metric::Count)> samples_;
};

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace frontcache::metrics
