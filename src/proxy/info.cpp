// INFO: the `# frontcache` section (this instance's clients, upstream connections and L1),
// appended to the upstream's INFO text, or alone for `INFO frontcache`; and the
// `# frontcache_commandstats` section, alone for `INFO frontcache_commandstats` and appended
// wherever Redis's reply has its `# Commandstats`.
#include <fmt/format.h>

#include "cluster_client.hpp"
#include "cluster_topology.hpp"
#include "frontcache/resp/encode.hpp"
#include "frontcache/resp/errors.hpp"
#include "frontcache/upstream/stats.hpp"
#include "l1.hpp"
#include "reload.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace {

// The TLS lines: the listener's counters (when it is on) and whether the upstream is TLS.
std::string tls_info(const Shared& shared, const config::Config& cfg) {
  const auto& stats = shared.stats;
  std::string out = fmt::format("upstream_tls:{}\r\n", cfg.upstream.tls.enabled ? 1 : 0);
  if (!cfg.tls.listen) return out + "tls_port:0\r\n";
  return out + fmt::format(
                   "tls_port:{}\r\n"
                   "tls_connected_clients:{}\r\n"
                   "tls_connections_received:{}\r\n"
                   "tls_handshake_failures:{}\r\n"
                   "tls_handshake_timeouts:{}\r\n"
                   "tls_handshake_closed:{}\r\n"
                   "tls_certificate_reloads:{}\r\n"
                   "tls_certificate_reload_failures:{}\r\n",
                   cfg.tls.listen->port, stats.tls_clients.load(std::memory_order_relaxed),
                   stats.tls_connections.load(std::memory_order_relaxed),
                   stats.tls_handshake_failures.load(std::memory_order_relaxed),
                   stats.tls_handshake_timeouts.load(std::memory_order_relaxed),
                   stats.tls_handshake_closed.load(std::memory_order_relaxed),
                   stats.tls_reloads.load(std::memory_order_relaxed),
                   stats.tls_reload_failures.load(std::memory_order_relaxed));
}

// Cluster mode: each master's invalidation stream, and how many slots L1 may serve.
//   cluster_invalidation_stream0:master=127.0.0.1:7000,state=armed,slots=5461,current_age_ms=12
std::string cluster_streams_info(const Shared& shared) {
  const SlotCoherence* slots = shared.l1 != nullptr ? shared.l1->slots() : nullptr;
  if (slots == nullptr) return "";
  const auto streams = slots->streams();
  const auto now = std::chrono::steady_clock::now();
  std::size_t armed = 0;
  std::size_t armed_slots = 0;
  std::string lines;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const auto& s = streams[i];
    armed += s.armed ? 1 : 0;
    armed_slots += s.armed ? s.slots : 0;
    const long long age_ms =
        s.current_as_of.time_since_epoch().count() == 0
            ? -1
            : std::chrono::duration_cast<std::chrono::milliseconds>(now - s.current_as_of).count();
    lines += fmt::format(
        "cluster_invalidation_stream{}:master={},state={},slots={},current_age_ms={}\r\n", i,
        s.address, s.armed ? "armed" : "bypassed", s.slots, age_ms);
  }
  return fmt::format(
             "cluster_invalidation_streams:{}\r\n"
             "cluster_invalidation_streams_armed:{}\r\n"
             "cluster_l1_slots_bypassed:{}\r\n",
             streams.size(), armed, cluster::kSlots - armed_slots) +
         lines;
}

// Cluster mode's lines: the slot map and how often requests had to follow the cluster.
std::string cluster_info(const Shared& shared) {
  if (shared.topology == nullptr) return "upstream_mode:standalone\r\n";
  const auto map = shared.topology->map();
  const auto& t = shared.topology->stats();
  const auto& c = cluster_stats();
  return fmt::format(
      "upstream_mode:cluster\r\n"
      "cluster_masters:{}\r\n"
      "cluster_slots_served:{}\r\n"
      "cluster_topology_refreshes:{}\r\n"
      "cluster_topology_refresh_failures:{}\r\n"
      "cluster_topology_changes:{}\r\n"
      "cluster_moved:{}\r\n"
      "cluster_ask:{}\r\n"
      "cluster_tryagain:{}\r\n"
      "cluster_redirect_failures:{}\r\n",
      map ? map->shards().size() : 0, map ? cluster::kSlots - map->unowned_slots() : 0,
      t.refreshes.load(std::memory_order_relaxed),
      t.refresh_failures.load(std::memory_order_relaxed), t.changes.load(std::memory_order_relaxed),
      c.moved.load(std::memory_order_relaxed), c.ask.load(std::memory_order_relaxed),
      c.tryagain.load(std::memory_order_relaxed),
      c.redirect_failures.load(std::memory_order_relaxed));
}

}  // namespace

std::string Session::info_section() const {
  const auto& shared = worker_.shared();
  const auto& stats = shared.stats;
  const auto& up = upstream::stats();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - shared.started);
  const auto& cfg = worker_.config();
  const std::int64_t ready = up.connections_ready.load(std::memory_order_relaxed);
  // Each worker has a set of shared connections per protocol the upstream speaks.
  // (In cluster mode, that set per master.)
  const auto map = shared.topology != nullptr ? shared.topology->map() : nullptr;
  const std::size_t total = shared.workers * cfg.upstream.connections_per_worker *
                            (shared.resp3 ? 2 : 1) * (map ? map->shards().size() : 1);
  const char* state =
      ready == 0 ? "down" : (static_cast<std::size_t>(ready) < total ? "degraded" : "up");
  return fmt::format(
             "# frontcache\r\n"
             "frontcache_version:{}\r\n"
             "frontcache_uptime_in_seconds:{}\r\n"
             "workers:{}\r\n"
             "frontcache_connected_clients:{}\r\n"
             "frontcache_total_connections_received:{}\r\n"
             "frontcache_rejected_connections:{}\r\n"
             "frontcache_total_commands_processed:{}\r\n"
             "protocol_errors:{}\r\n"
             "refused_commands:{}\r\n"
             "output_limit_disconnects:{}\r\n"
             "output_budget_disconnects:{}\r\n"
             "client_output_bytes:{}\r\n"
             "idle_disconnects:{}\r\n"
             "auth_failures:{}\r\n"
             "auth_delayed:{}\r\n"
             "auth_refused:{}\r\n"
             "auth_penalized_addresses:{}\r\n"
             "permission_denials:{}\r\n"
             "pinned_opened:{}\r\n"
             "pinned_refused:{}\r\n"
             "pinned_lost:{}\r\n"
             "upstream_address:{}:{}\r\n"
             "upstream_state:{}\r\n"
             "upstream_connections:{}\r\n"
             "upstream_connections_ready:{}\r\n"
             "upstream_reconnects:{}\r\n"
             "upstream_timeouts:{}\r\n"
             "upstream_requests:{}\r\n"
             "upstream_writes:{}\r\n"
             "upstream_failed_requests:{}\r\n"
             "upstream_unavailable_replies:{}\r\n",
             FRONTCACHE_VERSION, uptime.count(), shared.workers,
             stats.connected_clients.load(std::memory_order_relaxed),
             stats.total_connections.load(std::memory_order_relaxed),
             stats.rejected_connections.load(std::memory_order_relaxed),
             stats.total_commands.load(std::memory_order_relaxed),
             stats.protocol_errors.load(std::memory_order_relaxed),
             stats.refused_commands.load(std::memory_order_relaxed),
             stats.output_limit_disconnects.load(std::memory_order_relaxed),
             stats.output_budget_disconnects.load(std::memory_order_relaxed),
             shared.output_bytes.load(std::memory_order_relaxed),
             stats.idle_disconnects.load(std::memory_order_relaxed),
             stats.auth_failures.load(std::memory_order_relaxed),
             stats.auth_delayed.load(std::memory_order_relaxed),
             stats.auth_refused.load(std::memory_order_relaxed),
             shared.auth_limiter.penalized(std::chrono::steady_clock::now()),
             stats.permission_denials.load(std::memory_order_relaxed),
             stats.pinned_opened.load(std::memory_order_relaxed),
             stats.pinned_refused.load(std::memory_order_relaxed),
             stats.pinned_lost.load(std::memory_order_relaxed), cfg.upstream.address.host,
             cfg.upstream.address.port, state, total, ready,
             up.reconnects.load(std::memory_order_relaxed),
             up.timeouts.load(std::memory_order_relaxed),
             up.requests.load(std::memory_order_relaxed), up.writes.load(std::memory_order_relaxed),
             up.failed_requests.load(std::memory_order_relaxed),
             up.unavailable_replies.load(std::memory_order_relaxed)) +
         cluster_info(shared) + cluster_streams_info(shared) + tls_info(shared, cfg) + l1_info() +
         config_info_lines(shared);
}

std::string Session::command_stats_section() const {
  const Shared& shared = worker_.shared();
  return command_stats_info(shared.command_stats.totals(shared.commands));
}

// The L1 lines of the `# frontcache` section.
std::string Session::l1_info() const {
  const L1* l1 = worker_.shared().l1.get();
  if (l1 == nullptr) return "l1_enabled:0\r\n";
  auto& mutable_l1 = const_cast<L1&>(*l1);
  const cache::CacheStats c = mutable_l1.cache().stats();
  auto& s = mutable_l1.stats();
  const auto lookups = c.hits + c.misses;
  const double ratio =
      lookups == 0 ? 0.0 : static_cast<double>(c.hits) / static_cast<double>(lookups);
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  // How long ago the last completed fence round started (-1: none since armed).
  const auto as_of = l1->current_as_of();
  const long long current_age_ms = as_of.time_since_epoch().count() == 0
                                       ? -1
                                       : std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - as_of)
                                             .count();
  return fmt::format(
      "l1_enabled:1\r\n"
      "l1_state:{}\r\n"
      "l1_hits:{}\r\n"
      "l1_misses:{}\r\n"
      "l1_hit_ratio:{:.4f}\r\n"
      "l1_entries:{}\r\n"
      "l1_used_memory:{}\r\n"
      "l1_max_memory:{}\r\n"
      "l1_inserts:{}\r\n"
      "l1_rejected:{}\r\n"
      "l1_evictions:{}\r\n"
      "l1_expirations:{}\r\n"
      "l1_invalidated_entries:{}\r\n"
      "l1_fills:{}\r\n"
      "l1_coalesced_waits:{}\r\n"
      "l1_waiters_refused:{}\r\n"
      "l1_stale_fills_discarded:{}\r\n"
      "l1_failed_fills:{}\r\n"
      "invalidations_channel:{}\r\n"
      "invalidations_tracking:{}\r\n"
      "invalidations_local:{}\r\n"
      "invalidation_flushes:{}\r\n"
      "invalidation_bypass_events:{}\r\n"
      "invalidation_published:{}\r\n"
      "invalidation_publish_dropped:{}\r\n"
      "invalidation_max_staleness_ms:{}\r\n"
      "invalidation_current_age_ms:{}\r\n"
      "invalidation_fence_rounds:{}\r\n"
      "l1_bypass_not_current:{}\r\n"
      "l1_bypass_own_write:{}\r\n"
      "l1_bypass_not_armed:{}\r\n",
      // Cluster mode: partial while some masters' streams are armed (their slots are served).
      l1->armed() ? "armed"
                  : (l1->slots() != nullptr && l1->partly_armed() ? "partial" : "bypassed"),
      c.hits, c.misses, ratio, c.entries, c.weighted_size, worker_.config().cache.max_memory,
      c.inserts, c.rejected, c.evictions, c.expirations, c.invalidations, c.fills_started,
      c.coalesced_waiters, c.waiters_refused, c.stale_fills_discarded, c.fills_failed,
      load(s.invalidated_channel), load(s.invalidated_tracking), load(s.invalidated_local),
      load(s.flushes), load(s.bypass_events), load(s.published), load(s.publish_dropped),
      l1->max_staleness().count(), current_age_ms, load(s.fence_rounds), load(s.bypass_not_current),
      load(s.bypass_own_write), load(s.bypass_not_armed));
}

Reply Session::info_reply_kind(Args args) {
  if (args.size() == 1) return Reply::Info;
  for (auto arg : args.subspan(1)) {
    for (std::string_view set : {"DEFAULT", "ALL", "EVERYTHING", "FRONTCACHE"}) {
      if (command::iequals(arg, set)) return Reply::Info;
    }
  }
  return Reply::InfoNamed;
}

// Appends our sections to the upstream's INFO text: a bulk string (RESP2) or a verbatim string
// (RESP3, "=<n>\r\ntxt:<text>\r\n"), answered in the same form.
std::string Session::info_reply(std::string_view upstream_bulk, bool with_section) const {
  const auto header_end = upstream_bulk.find("\r\n");
  std::string_view text = upstream_bulk.substr(header_end + 2);
  text.remove_suffix(2);  // the value's trailing CRLF
  const bool verbatim = upstream_bulk.starts_with("=");
  if (verbatim) text.remove_prefix(4);  // "txt:"
  std::string combined(text);
  auto append = [&combined](const std::string& section) {
    if (!combined.empty() && !combined.ends_with("\r\n")) combined += "\r\n";
    if (!combined.empty()) combined += "\r\n";
    combined += section;
  };
  if (with_section) append(info_section());
  // Redis's own per-command section was asked for (commandstats, all, everything): ours too.
  if (text.find("# Commandstats\r\n") != std::string_view::npos) append(command_stats_section());
  return verbatim ? resp::verbatim_reply(combined, "txt", resp::Protocol::Resp3)
                  : resp::bulk_reply(combined);
}

}  // namespace frontcache::proxy
