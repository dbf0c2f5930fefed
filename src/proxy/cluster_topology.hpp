// Cluster mode: the process-wide view of the cluster's topology. The slot map is read from the
// seed nodes before the workers start, then again on a thread of its own: every
// upstream.topology_refresh, at once when a worker asks (a MOVED reply, a lost node connection,
// CLUSTERDOWN), and every 100 ms while the map is degraded (a master that owns slots is failed
// or unreachable, a failover under way). Each map that differs from the last is handed to the
// listeners (the workers' cluster clients, the invalidation subscribers), on this thread.
//
//   seeds / known nodes ─► CLUSTER SHARDS (or CLUSTER SLOTS) ─► cluster::SlotMap ─► listeners
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "frontcache/cluster/slot_map.hpp"
#include "frontcache/config/config.hpp"
#include "frontcache/upstream/connection.hpp"

namespace frontcache::proxy {

struct TopologyStats {
  std::atomic<std::uint64_t> refreshes{0};         // slot maps read
  std::atomic<std::uint64_t> refresh_failures{0};  // rounds where no node gave a map
  std::atomic<std::uint64_t> changes{0};           // maps that differed from the previous one
  std::atomic<std::uint64_t> requested{0};         // refreshes asked for (MOVED, lost nodes)
};

class Topology {
 public:
  using Listener = std::function<void(std::shared_ptr<const cluster::SlotMap>)>;

  // `settings`: how to reach a node (credentials, timeouts; host and port are replaced).
  Topology(upstream::Settings settings, std::vector<config::Endpoint> seeds,
           std::chrono::milliseconds refresh);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // Reads the map once, blocking (at startup, before the workers exist). False when no seed
  // answered with a usable map; the refresh thread keeps trying.
  bool load();
  // Listeners are added before start(); each gets the current map at once when there is one.
  void add_listener(Listener listener);
  void start();
  void stop();
  // Any thread: read the map again soon (at most one read per 100 ms).
  void request_refresh();

  std::shared_ptr<const cluster::SlotMap> map() const;
  const TopologyStats& stats() const { return stats_; }
  // Why the last read failed ("" after a success), for INFO.
  std::string last_error() const;

 private:
  void run();
  // One read, from the first node that answers; updates and announces the map if it changed.
  bool refresh();
  std::vector<config::Endpoint> candidates() const;
  bool is_seed(const config::Endpoint& node) const;

  upstream::Settings settings_;
  std::vector<config::Endpoint> seeds_;
  std::chrono::milliseconds interval_;
  std::vector<Listener> listeners_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopped_ = false;
  std::shared_ptr<const cluster::SlotMap> map_;
  std::string last_error_;
  TopologyStats stats_;
  std::thread thread_;
};

}  // namespace frontcache::proxy
