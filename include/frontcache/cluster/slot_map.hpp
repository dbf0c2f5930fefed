// The cluster's topology as frontcache routes by it: which master owns each of the 16384 slots,
// and each shard's master and replicas. Built from a `CLUSTER SHARDS` reply (Redis >= 7) or a
// `CLUSTER SLOTS` reply (older servers), as decoded by hiredis's redisReader (RESP2). Immutable
// once built; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frontcache/cluster/slot.hpp"

struct redisReply;

namespace frontcache::cluster {

struct Node {
  std::string id;  // the 40-character node id; empty when the reply did not give one
  std::string host;
  std::uint16_t port = 0;
  bool online = true;  // CLUSTER SHARDS health: false for "failed" or "loading"

  // "host:port", an IPv6 host in brackets: how nodes are keyed and named in messages.
  std::string address() const;
  bool operator==(const Node&) const = default;
};

struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive
  bool operator==(const SlotRange&) const = default;
};

struct Shard {
  Node master;
  std::vector<Node> replicas;
  std::vector<SlotRange> ranges;  // ascending
  bool operator==(const Shard&) const = default;
};

class SlotMap {
 public:
  static constexpr std::uint16_t kUnowned = 0xFFFF;

  SlotMap();
  // Shards as given; they are put in a stable order (by their first slot; masters without slots
  // last, by address), which is the order fan-outs and SCAN cursors number them in.
  explicit SlotMap(std::vector<Shard> shards);

  // Parses a CLUSTER SHARDS / CLUSTER SLOTS reply; nullopt with `error` saying why.
  static std::optional<SlotMap> from_shards(const redisReply* reply, std::string& error);
  static std::optional<SlotMap> from_slots(const redisReply* reply, std::string& error);

  const std::vector<Shard>& shards() const { return shards_; }
  // Index into shards() of the slot's owner, or kUnowned.
  std::uint16_t owner(std::uint16_t slot) const { return owner_[slot]; }
  const Node* master_of(std::uint16_t slot) const {
    const std::uint16_t i = owner_[slot];
    return i == kUnowned ? nullptr : &shards_[i].master;
  }
  // Slots no master owns (0 when the cluster is fully covered).
  std::size_t unowned_slots() const;
  // True when some master owning slots is not online (a failover may be under way).
  bool degraded() const;
  bool empty() const { return shards_.empty(); }
  // One line per shard for logs: "0-5460 127.0.0.1:7000, 5461-10922 ...".
  std::string describe() const;

  // True when some node (master or replica) has the same id in both maps, or when either map
  // names no ids (CLUSTER SLOTS of an old server may not): then they cannot be told apart.
  // False: the maps come from two different clusters.
  bool shares_a_node_with(const SlotMap& other) const;

  bool operator==(const SlotMap& other) const { return shards_ == other.shards_; }

 private:
  std::vector<Shard> shards_;
  std::vector<std::uint16_t> owner_;
};

// "host:port" with an IPv6 host in brackets.
std::string format_address(std::string_view host, std::uint16_t port);

}  // namespace frontcache::cluster
