// Copies the proxy's counters (ProxyStats, upstream::Stats, reload outcomes, latency histograms,
// and the cache's stats when a source is set) into the metrics table's exposition.
#pragma once

#include <string>

#include "shared.hpp"

namespace frontcache::proxy {

// Prometheus text for GET /metrics. Thread-safe: reads atomics and the config snapshot only.
std::string render_metrics(const Shared& shared);

}  // namespace frontcache::proxy
