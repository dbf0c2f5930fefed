// Cluster mode: L1 coherence across every master. CLIENT TRACKING is per node, so each master
// gets an invalidation::Subscriber of its own (subscriber + tracker connections, fence rounds),
// re-established as masters join, leave or fail over; all of them feed the one L1.
//
//   master A ─► Subscriber ─► NodeSink ─┐
//   master B ─► Subscriber ─► NodeSink ─┼─► L1: invalidate(keys) / invalidate_all()
//   master C ─► Subscriber ─► NodeSink ─┘   armed while every master's stream is armed;
//                                           current as of the oldest of their fence rounds
//
// Losing one master's stream bypasses (and clears) the whole L1 until it is back: simpler than
// dropping only that master's slots, and never stale. Runs on the invalidation thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "frontcache/cluster/slot_map.hpp"
#include "frontcache/invalidation/subscriber.hpp"

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
    std::shared_ptr<NodeSink> sink;
    std::unique_ptr<invalidation::Subscriber> subscriber;
  };

  void follow(const cluster::SlotMap& map);
  // A master's stream changed: arm, disarm or advance the L1.
  void update(std::string_view reason);

  boost::asio::io_context& io_;
  invalidation::SubscriberSettings settings_;
  L1& l1_;
  std::mutex mu_;                      // nodes_' shape (request_fence() reads it from any thread)
  std::map<std::string, Node> nodes_;  // by master address
  // Sinks of subscribers that were stopped: their last callbacks may still come, and are
  // ignored.
  std::vector<std::shared_ptr<NodeSink>> retired_;
  bool stopped_ = false;
};

}  // namespace frontcache::proxy
