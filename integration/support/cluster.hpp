// A real local Redis Cluster for the integration suite: N masters (no replicas), each a
// redis-server with --cluster-enabled yes on a free loopback port in its own temp dir. The
// slots are split into N equal ranges with CLUSTER ADDSLOTSRANGE, the nodes meet, and the
// constructor returns once every node reports cluster_state:ok and sees every master.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net.hpp"
#include "process.hpp"
#include "servers.hpp"

namespace frontcache::integration {

class RedisCluster {
 public:
  // Throws std::runtime_error when the cluster does not form within `timeout`. `extra_args`
  // go to every redis-server.
  explicit RedisCluster(int masters = 3, std::vector<std::string> extra_args = {},
                        std::chrono::milliseconds timeout = 60s);
  ~RedisCluster();

  int size() const { return static_cast<int>(nodes_.size()); }
  uint16_t port(int node) const { return nodes_[static_cast<std::size_t>(node)]->port(); }
  std::string id(int node) const { return ids_[static_cast<std::size_t>(node)]; }
  RedisClient client(int node) const { return RedisClient("127.0.0.1", port(node)); }
  // The node whose slot range holds `slot` (as assigned at creation; slots moved by a test
  // are the test's to track).
  int initial_owner(uint16_t slot) const;
  // CLUSTER KEYSLOT, asked of node 0.
  uint16_t slot_of(const std::string& key);
  // The node that owns `key` now, asked of the cluster (CLUSTER SHARDS on node 0).
  int owner_of(const std::string& key);
  // Starts a replica of master `master` (CLUSTER MEET, CLUSTER REPLICATE) and returns its node
  // index once its replication link is up.
  int add_replica(int master, std::chrono::milliseconds timeout = 60s);
  // `count` keys "<prefix><n>" whose slots were initially owned by `node`.
  std::vector<std::string> keys_on(int node, int count, const std::string& prefix = "key:");
  std::string logs() const;
  // SIGKILL of one node, and its restart on the same port with the same nodes.conf (its data
  // is lost: nothing is persisted).
  void kill(int node) { nodes_[static_cast<std::size_t>(node)]->kill(); }
  void restart(int node) { nodes_[static_cast<std::size_t>(node)]->restart(); }

 private:
  bool formed();
  bool all_links_connected(const std::string& nodes) const;

  std::unique_ptr<RedisServer> start_node();

  std::vector<std::string> extra_args_;
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<std::string> ids_;
  std::vector<std::pair<uint16_t, uint16_t>> ranges_;
};

}  // namespace frontcache::integration
