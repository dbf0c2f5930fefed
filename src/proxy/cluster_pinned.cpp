// Cluster mode, pinned sessions: which master a dedicated connection goes to.
//
//   WATCH k / BLPOP k ... / SSUBSCRIBE ch ─► the master of the key's (channel's) slot
//   MULTI, SUBSCRIBE, PSUBSCRIBE, MONITOR ─► any master (pub/sub messages reach every node)
//   a transaction's first keyed command   ─► its master: a MULTI with nothing queued upstream
//                                             yet moves there (the first connection is RESET
//                                             and returned; MULTI is sent again on the new one)
//   later keys in another slot             ─► CROSSSLOT (inside MULTI the transaction is flagged,
//                                             and EXEC answers EXECABORT)
//
// MOVED or ASK never reach the client on a dedicated connection either: a slot that moves
// while a session is pinned (a blocked BLPOP, a transaction) turns them into TRYAGAIN
// (pinned.cpp's frames go through cluster_pinned_frame()).
#include <fmt/format.h>

#include "cluster_client.hpp"
#include "frontcache/cluster/redirect.hpp"
#include "frontcache/cluster/slot.hpp"
#include "frontcache/resp/errors.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace {

constexpr std::uint16_t kAny = ClusterClient::kAnySlot;

// The shard channel of SSUBSCRIBE / SUNSUBSCRIBE / SPUBLISH decides the slot, as a key would.
bool shard_channel_command(const command::CommandInfo& spec) {
  return spec.fullname == "ssubscribe" || spec.fullname == "sunsubscribe" ||
         spec.fullname == "spublish";
}

}  // namespace

std::optional<std::uint16_t> Session::cluster_keys_slot(const Classified& c, Args args) {
  if (!c.known()) return kAny;
  keys_.clear();
  if (shard_channel_command(*c.spec)) {
    keys_.assign(args.begin() + 1, args.end());
  } else {
    command::CommandTable::access_keys(*c.spec, args, keys_);
  }
  if (keys_.empty()) return kAny;
  const std::uint16_t slot = cluster::key_hash_slot(keys_.front());
  for (std::size_t i = 1; i < keys_.size(); ++i) {
    if (keys_[i] != keys_.front() && cluster::key_hash_slot(keys_[i]) != slot) {
      return std::nullopt;
    }
  }
  return slot;
}

bool Session::cluster_repin_wait(const Classified& c, Args args) {
  if (pinned_ == nullptr || cluster_pin_slot_ != kAny) return false;
  const auto slot = cluster_keys_slot(c, args);
  if (!slot || *slot == kAny) return false;
  return worker_.cluster()->owner(*slot, id_) != cluster_pin_node_;
}

bool Session::route_pinned_cluster(const Classified& c, Args args) {
  ClusterClient& cluster = *worker_.cluster();
  if (pinned_ == nullptr) {
    cluster_pin_slot_ = kAny;
    cluster_pin_node_ = nullptr;
  }
  const auto slot = cluster_keys_slot(c, args);
  auto cross_slot = [this] {
    if (state_.multi) state_.multi_failed = true;
    reply(cluster::kCrossSlot);
    return false;
  };
  if (!slot) return cross_slot();
  if (pinned_ == nullptr) {
    cluster_pin_node_ = cluster.owner(*slot, id_);
    if (cluster_pin_node_ == nullptr) {
      cluster_slot_ = *slot;
      reply(cluster_unavailable_error());
      return false;
    }
    cluster_pin_slot_ = *slot;
    return true;
  }
  if (*slot == kAny || *slot == cluster_pin_slot_) return true;
  if (cluster_pin_slot_ != kAny) return cross_slot();
  ClusterClient::Node* owner = cluster.owner(*slot, id_);
  if (owner == cluster_pin_node_) {
    cluster_pin_slot_ = *slot;
    return true;
  }
  // A keyless start (MULTI, SUBSCRIBE...) on another master. Only a transaction with nothing
  // queued upstream yet can move: its first connection holds nothing else of the client's.
  bool queued_upstream = false;
  for (const auto& q : multi_queue_) queued_upstream = queued_upstream || !q.local;
  const bool movable = state_.multi && !queued_upstream && !state_.watching && !state_.monitor &&
                       !state_.subscribed() && pinned_requests_.empty() && owner != nullptr;
  if (!movable) return cross_slot();
  release_pinned(true);
  cluster_pin_node_ = owner;
  cluster_pin_slot_ = *slot;
  if (!pin()) {
    // The client's transaction has nowhere to go: end it with the error pin() replied.
    end_transaction();
    conn_.stop_reading();
    return false;
  }
  const std::string_view multi[] = {"MULTI"};
  send_internal(multi, kInternal);
  return true;
}

bool Session::cluster_redirect_frame(std::string_view frame, std::string& out) {
  const auto redirect = cluster::parse_redirect(frame);
  if (!redirect) return false;
  worker_.cluster()->node_trouble();
  out = resp::error_reply(fmt::format(
      "TRYAGAIN frontcache: hash slot {} moved to another cluster node while this connection "
      "was pinned to {}; retry",
      redirect->slot, cluster_pin_node_ != nullptr ? cluster_pin_node_->address : "a node"));
  return true;
}

}  // namespace frontcache::proxy
