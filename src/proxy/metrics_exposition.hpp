// Copies the proxy's counters (ProxyStats, upstream::Stats, reload outcomes, latency histograms,
// and the cache's stats when a source is set) into the metrics table's exposition.
#pragma once

#include <string>

#include "frontcache/metrics/http_server.hpp"
#include "shared.hpp"

namespace frontcache::proxy {

// Prometheus text for GET /metrics. Thread-safe: reads atomics and the config snapshot only.
std::string render_metrics(const Shared& shared);

// GET /readyz: ready while at least one shared upstream connection is ready, invalidation is
// armed (or the cache is off, so there is none to arm), and the process is not `draining`.
// Thread-safe.
metrics::Readiness readiness(const Shared& shared, bool draining);

}  // namespace frontcache::proxy
