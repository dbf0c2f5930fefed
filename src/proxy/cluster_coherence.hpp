// Cluster mode: L1 coherence across every master. CLIENT TRACKING is per node, so each master
// gets an invalidation::Subscriber of its own (subscriber + tracker connections, fence rounds),
// re-established as masters join, leave or fail over; all of them feed the one L1.
//
//   master A ─► Subscriber ─► NodeSink ─┐   invalidations: L1.invalidate(keys) / invalidate_all()
//   master B ─► Subscriber ─► NodeSink ─┼─► armed / lost / fence rounds: SlotCoherence, per stream
//   master C ─► Subscriber ─► NodeSink ─┘   slot map: which stream vouches for each slot
//
// A read is served from L1 only while the stream of its key's master is armed and current within
// invalidation.max_staleness. Losing one master's stream bypasses that master's slots only, and
// makes what L1 holds for them unreachable (new slot epochs in the cache keys, see
// slot_coherence.hpp), until the stream is armed again and has completed a fence round; the
// other masters' keys are served throughout. A slot that moves to another master gets a new
// epoch too. Runs on the invalidation thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "frontcache/cluster/slot_map.hpp"
#include "frontcache/invalidation/subscriber.hpp"
#include "slot_coherence.hpp"

namespace boost::asio {
class io_context;
}

namespace frontcache::proxy {

class L1;

class ClusterCoherence {
 public:
  // `settings`: as for one Redis; host and port are each master's.
  ClusterCoherence(boost::asio::io_context& io, invalidation::SubscriberSettings settings, L1& l1);
  ~ClusterCoherence();
  ClusterCoherence(const ClusterCoherence&) = delete;
  ClusterCoherence& operator=(const ClusterCoherence&) = delete;

  // Any thread: follow the masters of `map` from now on.
  void apply(std::shared_ptr<const cluster::SlotMap> map);
  // On the io_context: new CLIENT TRACKING prefixes for every master (after a reload).
  void set_prefixes(std::vector<std::string> prefixes);
  // Any thread: a fence round on every master now.
  void request_fence();
  // On the io_context.
  void stop();

 private:
  class NodeSink;
  struct Node {
    std::string id;  // the map's node id at the address (another id: another stream)
    std::shared_ptr<NodeSink> sink;
    std::unique_ptr<invalidation::Subscriber> subscriber;
  };

  void follow(const cluster::SlotMap& map);
  // One master's stream armed or lost.
  void stream_changed(NodeSink& sink, bool armed, std::string_view reason);
  // The L1's summary of every stream (INFO, readiness, tracking clients).
  void update_summary();

  boost::asio::io_context& io_;
  invalidation::SubscriberSettings settings_;
  L1& l1_;
  SlotCoherence& slots_;               // the L1's; written only here
  std::mutex mu_;                      // nodes_' shape (request_fence() reads it from any thread)
  std::map<std::string, Node> nodes_;  // by master address
  // Sinks of subscribers that were stopped: their last callbacks may still come, and are
  // ignored.
  std::vector<std::shared_ptr<NodeSink>> retired_;
  bool stopped_ = false;
};

}  // namespace frontcache::proxy
