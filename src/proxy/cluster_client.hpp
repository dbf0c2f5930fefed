// Cluster mode, one per worker: the worker's shared pipelined connections to every master
// (`upstream.connections_per_worker` per node and protocol), its copy of the slot map, and the
// redirect handling that keeps MOVED and ASK away from clients.
//
//   send(slot, request) ─► the slot's master ─► reply ─┬─ MOVED: slot patched, topology asked to
//                                                     │  refresh, request sent to the new owner
//                                                     ├─ ASK: ASKING + the request on the target,
//                                                     │  for this request only
//                                                     ├─ TRYAGAIN: sent again a moment later
//                                                     └─ anything else: to the request's target
//
// A client's requests to one master go over one connection (chosen by the client's id), so that
// master runs them in the order the client sent them. Every change of routing (a new map, a
// MOVED, an ASK) bumps epoch(): a session with requests in flight from an older epoch holds new
// ones until they are answered, so a request retried on a slot's new owner is not overtaken
// there by a later request of the same client. Worker thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "frontcache/cluster/slot_map.hpp"
#include "frontcache/upstream/connection.hpp"
#include "frontcache/upstream/pool.hpp"

namespace boost::asio {
class io_context;
}

namespace frontcache::proxy {

class SlotCoherence;
class Topology;

struct ClusterStats {
  std::atomic<std::uint64_t> moved{0};              // MOVED replies followed
  std::atomic<std::uint64_t> ask{0};                // ASK replies followed
  std::atomic<std::uint64_t> tryagain{0};           // TRYAGAIN replies retried
  std::atomic<std::uint64_t> redirect_failures{0};  // requests given up after kMaxRedirects
};
ClusterStats& cluster_stats();

class ClusterClient : public upstream::ReplyTarget,
                      public std::enable_shared_from_this<ClusterClient> {
 public:
  static constexpr std::uint16_t kAnySlot = 0xFFFF;  // a keyless command: any master

  struct Node {
    std::string address;
    std::string host;
    std::uint16_t port = 0;
    std::string id;  // the map's node id for this address (empty: known only from a redirect)
    std::unique_ptr<upstream::Pool> pool;   // RESP2
    std::unique_ptr<upstream::Pool> pool3;  // RESP3 (HELLO 3), when the upstream speaks it
    bool master = false;                    // a master in the current map
  };

  // `settings`: host and port are each node's; `resp3`: also open HELLO 3 connections.
  // `coherence`: the L1's slot table, told of every redirect (null without an L1).
  ClusterClient(boost::asio::io_context& io, upstream::Settings settings, std::size_t connections,
                bool resp3, Topology& topology, SlotCoherence* coherence);
  ~ClusterClient() override;

  // The map to route by from now on (a refresh, or the one read at startup).
  void apply(std::shared_ptr<const cluster::SlotMap> map);
  void stop();

  std::uint64_t epoch() const { return epoch_; }
  bool has_map() const { return !masters_.empty(); }
  // The master a request for `slot` goes to (kAnySlot: the one `affinity` picks); null when no
  // master serves it.
  Node* owner(std::uint16_t slot, std::uint64_t affinity);
  // Masters in map order (fan-outs, SCAN).
  const std::vector<Node*>& masters() const { return masters_; }
  // The connection `affinity` uses on `node`, or null when it is not ready.
  upstream::Connection* connection(Node& node, std::uint64_t affinity, int protocol);
  // Ready connections to at least one master (the accept loop waits for one at startup).
  bool any_ready() const;

  // Queues `request` for `slot`'s master; its final reply reaches target->on_reply(tag) once.
  // False when that master has no ready connection: nothing was queued.
  bool send(std::uint16_t slot, std::string_view request,
            std::shared_ptr<upstream::ReplyTarget> target, std::uint64_t tag,
            std::uint64_t affinity, int protocol);
  // A keyless request to one given master (fan-outs): no redirect can come back.
  bool send_to(Node& node, std::string_view request, std::shared_ptr<upstream::ReplyTarget> target,
               std::uint64_t tag, std::uint64_t affinity, int protocol);
  // "-ERR upstream unavailable (...)" text for a request to `slot` that could not be queued.
  std::string unavailable_reason(std::uint16_t slot, std::uint64_t affinity);
  // A node connection failed a request: the topology may have changed.
  void node_trouble();

  // upstream::ReplyTarget: replies of the requests sent through send().
  void on_reply(std::uint64_t id, std::string_view reply, resp::ReplyKind kind) override;

 private:
  struct Forward {
    std::string request;
    std::shared_ptr<upstream::ReplyTarget> target;
    std::uint64_t tag = 0;
    std::uint64_t affinity = 0;
    std::uint16_t slot = 0;
    std::uint8_t protocol = 2;
    std::uint8_t redirects = 0;
    bool asking = false;  // ASK: ASKING goes first on the target
    Node* node = nullptr;
    // Deferred (TRYAGAIN, or the target not connected yet): sent again at retry_at, given up
    // with an error after deadline.
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::steady_clock::time_point deadline{};
  };

  // The node at host:port, its connections started. `id`: the map's id for it; a different id
  // than before means another node took the address, and its connections are opened anew.
  Node& node(const std::string& host, std::uint16_t port, const std::string& id = "");
  void start_pools(Node& node);
  void stop_pools(Node& node);
  bool transmit(std::uint32_t id);
  void deliver(std::uint32_t id, std::string_view reply, resp::ReplyKind kind);
  void defer(std::uint32_t id, std::chrono::milliseconds delay, std::chrono::milliseconds bound);
  void schedule_retry();
  void retry_deferred();
  std::uint32_t allocate();

  boost::asio::io_context& io_;
  upstream::Settings settings_;
  std::size_t connections_;
  bool resp3_;
  Topology& topology_;
  SlotCoherence* coherence_;
  std::unordered_map<std::string, std::unique_ptr<Node>> nodes_;  // by address; never erased
  std::vector<Node*> masters_;
  std::vector<Node*> slots_;  // kSlots entries; null: not served
  std::shared_ptr<const cluster::SlotMap> map_;
  std::uint64_t epoch_ = 0;
  std::deque<Forward> forwards_;  // by id; a deque keeps references stable as it grows
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> deferred_;
  struct RetryTimer;
  std::unique_ptr<RetryTimer> retry_timer_;
  bool stopped_ = false;
};

}  // namespace frontcache::proxy
