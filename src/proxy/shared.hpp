// What every worker of one process shares: the config in effect (swapped whole on reload),
// facts learnt from the upstream at startup, relaxed atomic counters and latency histograms for
// INFO and metrics, and the sources of metrics owned by other modules.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth_limiter.hpp"
#include "command_stats.hpp"
#include "frontcache/cache/cache.hpp"
#include "frontcache/command/command_table.hpp"
#include "frontcache/config/config.hpp"
#include "frontcache/metrics/histogram.hpp"
#include "frontcache/tls/context.hpp"
#include "frontcache/upstream/data_tracking.hpp"
#include "l1.hpp"
#include "permissions.hpp"
#include "tracking.hpp"

namespace frontcache::proxy {

class Worker;
class Topology;

struct ProxyStats {
  std::atomic<std::int64_t> connected_clients{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};    // over limits.max_clients
  std::atomic<std::int64_t> tls_clients{0};              // gauge: TLS client connections open now
  std::atomic<std::uint64_t> tls_connections{0};         // TLS handshakes completed
  std::atomic<std::uint64_t> tls_handshake_failures{0};  // refused: version, cipher, certificate...
  std::atomic<std::uint64_t> tls_handshake_timeouts{0};  // none within tls.handshake_timeout
  std::atomic<std::uint64_t> tls_handshake_closed{0};    // closed by the client mid-handshake
  std::atomic<std::uint64_t> tls_reloads{0};             // certificates loaded again on SIGHUP
  std::atomic<std::uint64_t> tls_reload_failures{0};     // ... refused; the running ones stayed
  std::atomic<std::uint64_t> total_commands{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> output_limit_disconnects{0};   // one client over its own limits
  std::atomic<std::uint64_t> output_budget_disconnects{0};  // all clients over max_output_memory
  std::atomic<std::uint64_t> idle_disconnects{0};           // limits.idle_timeout
  std::atomic<std::uint64_t> refused_commands{0};           // stateful/admin/never commands refused
  std::atomic<std::uint64_t> pinned_opened{0};              // dedicated upstream connections opened
  std::atomic<std::uint64_t> pinned_refused{0};           // pinning refused: max_pinned_per_worker
  std::atomic<std::uint64_t> pinned_lost{0};              // dedicated connections lost while in use
  std::atomic<std::uint64_t> pinned_recycle_failures{0};  // RESET before reuse not as expected
  std::atomic<std::uint64_t> auth_failures{0};            // wrong passwords (AUTH / HELLO AUTH)
  std::atomic<std::uint64_t> permission_denials{0};       // NOPERM replies (auth.*permissions)
  std::atomic<std::uint64_t> auth_delayed{0};  // AUTH replies held for their address's turn
  std::atomic<std::uint64_t> auth_refused{0};  // AUTH refused unchecked (AuthLimiter)
};

// Outcome of SIGHUP reloads, for INFO and metrics.
struct ReloadStats {
  std::atomic<std::uint64_t> reloads{0};   // attempted
  std::atomic<std::uint64_t> failures{0};  // rejected: invalid file, running config kept
  std::atomic<bool> last_ok{true};
  std::atomic<bool> restart_pending{false};  // the file changes a restart-only setting
};

// Latency of requests from dispatch to reply, one histogram shard per worker
// (observe(worker.index(), duration)).
struct LatencyHistograms {
  explicit LatencyHistograms(std::size_t workers) : hit(workers), miss(workers), forward(workers) {}
  metrics::Histogram hit;      // answered from L1
  metrics::Histogram miss;     // cacheable read that went upstream
  metrics::Histogram forward;  // every request forwarded upstream (misses included)
};

// Metrics owned outside the proxy core; set before Server::run(), called on the metrics thread.
// Unset: the L1 metrics are left out of /metrics.
struct MetricsSources {
  std::function<cache::CacheStats()> cache_stats;
  std::function<bool()> l1_bypassed;  // unset: reported as 0
};

struct Shared {
  explicit Shared(config::Config c);
  ~Shared();

  // The whole config in effect. Cold paths only (INFO, metrics, reload): workers read their own
  // copy through Worker::config(), which is updated on the worker's thread.
  std::shared_ptr<const config::Config> config() const;
  void set_config(std::shared_ptr<const config::Config> c);
  // The users' permissions under `c`, compiled against `commands` on the first call for that
  // config (its warnings logged then) and shared by every worker. Call once the command table
  // is complete (workers start after the upstream probe).
  std::shared_ptr<const AccessControl> access_for(const std::shared_ptr<const config::Config>& c);

  const std::chrono::steady_clock::time_point started;
  const std::size_t workers;               // config.workers, or usable CPUs for `auto`
  std::string config_path;                 // the file SIGHUP re-reads; empty: built-in defaults
  int databases = 16;                      // upstream `databases`, read at startup
  std::string upstream_version = "7.0.0";  // upstream redis_version, read at startup
  bool resp3 = true;                       // the upstream speaks RESP3 (HELLO 3: Redis >= 6)
  command::CommandTable commands;          // complete before the workers start; read-only after
  AuthLimiter auth_limiter;                // wrong passwords per client address, all workers
  std::shared_ptr<const tls::Client> upstream_tls;  // upstream.tls, built at startup; null: off
  std::unique_ptr<L1> l1;                           // null when the cache is off
  // invalidation.tracking: default: the shared connections' CLIENT TRACKING; null otherwise.
  std::shared_ptr<upstream::DataTracking> data_tracking;
  std::unique_ptr<Topology> topology;  // upstream.mode: cluster; null in standalone mode
  TrackingTable tracking;              // CLIENT TRACKING served by the proxy (needs the L1)
  ProxyStats stats;
  CommandStats command_stats;  // sized once the command table is final
  ReloadStats reload;
  LatencyHistograms latency;
  MetricsSources metrics_sources;
  std::atomic<std::uint64_t> next_client_id{1};
  // Reply bytes queued for every client of the process (limits.max_output_memory).
  std::atomic<std::int64_t> output_bytes{0};
  // Every worker, set once before they start: CLIENT LIST / CLIENT KILL post to each one.
  std::vector<Worker*> all_workers;

 private:
  mutable std::mutex config_mutex_;
  std::shared_ptr<const config::Config> config_;
  std::mutex access_mutex_;
  std::shared_ptr<const config::Config> access_config_;  // what access_ was compiled for
  std::shared_ptr<const AccessControl> access_;
};

}  // namespace frontcache::proxy
