// Cluster mode: where each request goes when the upstream is a Redis Cluster, decided once, after
// the permission check (router.cpp) and before L1.
//
//   keys in one slot ──────────► that slot's master (L1 first for cacheable reads, as standalone)
//   no keys ─┬─ most commands ─► any master (PUBLISH, INFO, TIME, EVAL with no keys...)
//            ├─ data-set-wide ─► every master, replies merged (DBSIZE, KEYS, FLUSHALL, SCRIPT LOAD)
//            ├─ SCAN ──────────► one master at a time, behind a cursor that names it
//            └─ CLUSTER, READONLY, READWRITE, ASKING: "cluster support disabled", as one Redis
//   keys in several slots ─┬─ MGET, DEL, UNLINK, EXISTS, TOUCH, MSET: split per slot, merged
//                          └─ anything else: Redis Cluster's CROSSSLOT error
//
// Requests whose answer has several parts go through ClusterParts, which collects the parts
// (in any order) and completes the client's reply slot once, through finish_shared().
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "cluster_client.hpp"
#include "frontcache/cluster/redirect.hpp"
#include "frontcache/cluster/slot.hpp"
#include "frontcache/resp/errors.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "frontcache/upstream/stats.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::Op;

// The parts of one request sent to several masters (or to one, for SCAN), merged into the
// client's reply when the last arrives.
class ClusterParts final : public upstream::ReplyTarget {
 public:
  enum class Merge : std::uint8_t { AllSame, Sum, Concat, AndArrays, Mget, Scan };

  ClusterParts(std::shared_ptr<Session> session, std::uint64_t seq, Merge merge, std::size_t parts)
      : session_(std::move(session)), seq_(seq), merge_(merge), parts_(parts), remaining_(parts) {}

  // MGET: the client's key positions each part answers.
  std::vector<std::vector<std::size_t>> positions;
  std::size_t total_keys = 0;
  // SCAN: the master asked, and how many there are.
  std::size_t scan_node = 0;
  std::size_t scan_nodes = 0;

  void on_reply(std::uint64_t part, std::string_view reply, resp::ReplyKind) override {
    if (part >= parts_.size() || done_) return;
    parts_[part].assign(reply);
    if (--remaining_ == 0) finish();
  }

 private:
  void finish() {
    done_ = true;
    std::string merged;
    switch (merge_) {
      case Merge::AllSame:
        merged = cluster::merge_all_same(parts_);
        break;
      case Merge::Sum:
        merged = cluster::merge_sum(parts_);
        break;
      case Merge::Concat:
        merged = cluster::merge_concat(parts_);
        break;
      case Merge::AndArrays:
        merged = cluster::merge_and_arrays(parts_);
        break;
      case Merge::Mget:
        merged = cluster::merge_mget(parts_, positions, total_keys);
        break;
      case Merge::Scan:
        if (!parts_[0].empty() && parts_[0][0] == '-') {
          merged = parts_[0];
        } else if (auto rewritten = cluster::rewrite_scan_reply(parts_[0], scan_node, scan_nodes)) {
          merged = std::move(*rewritten);
        } else {
          merged = "-ERR frontcache: unexpected SCAN reply from a cluster node\r\n";
        }
        break;
    }
    Session& s = *session_;
    if (!s.conn_.pending(seq_)) return;
    s.finish_shared(seq_, merged,
                    merged[0] == '-' ? resp::ReplyKind::Error : resp::ReplyKind::Array);
  }

  std::shared_ptr<Session> session_;
  std::uint64_t seq_;
  Merge merge_;
  std::vector<std::string> parts_;
  std::size_t remaining_;
  bool done_ = false;
};

bool Session::cluster_hold() const { return cluster_epoch_ != worker_.cluster()->epoch(); }

bool Session::route_cluster(const Classified& c, Args args) {
  cluster_slot_ = ClusterClient::kAnySlot;
  // Redis's own error, from any master.
  if (!c.known() || !c.arity_ok) return true;
  const std::optional<std::uint16_t> slot = cluster_keys_slot(c, args);
  if (slot && *slot != ClusterClient::kAnySlot) {
    cluster_slot_ = *slot;
    return true;
  }
  if (slot) {  // no keys
    const cluster::Fanout fanout = cluster::keyless_fanout(c.spec->fullname);
    if (fanout == cluster::Fanout::None) return true;
    if (fanout == cluster::Fanout::Refuse) {
      reply(cluster::kClusterDisabled);
      return false;
    }
    fan_out(c, args, fanout);
    return false;
  }
  const cluster::Split split = cluster::split_kind(c.spec->fullname);
  if (split == cluster::Split::None) {
    reply(cluster::kCrossSlot);
    return false;
  }
  // A key without a value: what one Redis answers (msetGenericCommand), before any part runs.
  if (split == cluster::Split::Mset && args.size() % 2 == 0) {
    reply(resp::wrong_arity_error(c.spec->fullname));
    return false;
  }
  split_cross_slot(c, args, split);
  return false;
}

bool Session::send_cluster(std::uint64_t seq, std::string_view bytes) {
  ClusterClient& cluster = *worker_.cluster();
  if (!cluster.send(cluster_slot_, bytes, shared_from_this(), seq, id_, state_.resp)) return false;
  cluster_epoch_ = cluster.epoch();
  return true;
}

std::string Session::cluster_unavailable_error() {
  ClusterClient& cluster = *worker_.cluster();
  if (cluster_slot_ != ClusterClient::kAnySlot && cluster.has_map() &&
      cluster.owner(cluster_slot_, id_) == nullptr) {
    return "-CLUSTERDOWN Hash slot not served\r\n";  // as a cluster node says
  }
  return resp::error_reply(
      fmt::format("ERR upstream unavailable ({})", cluster.unavailable_reason(cluster_slot_, id_)));
}

// A fill's read and its PTTL (unless a nil is expected), back to back on the slot's master (one
// connection: both are queued, or neither).
void Session::cluster_fill(std::uint64_t seq, Args args, std::string_view raw) {
  ClusterClient& cluster = *worker_.cluster();
  RequestContext& ctx = conn_.context(seq);
  ClusterClient::Node* node = cluster.owner(cluster_slot_, id_);
  if (node == nullptr || cluster.connection(*node, id_, state_.resp) == nullptr) {
    const std::string error = unavailable_error();
    worker_.shared().l1->cache().deliver(std::move(ctx.ticket), cache::Value::make(error));
    return conn_.complete(seq, error);
  }
  send_cluster(seq, raw);
  if (ctx.pttl_asked) {
    const std::string_view pttl[] = {"PTTL", args[1]};
    encoded_.clear();
    resp::encode_command(encoded_, pttl);
    ctx.pttl_sent = std::chrono::steady_clock::now();
    send_cluster(seq, encoded_);
  }
  ++in_upstream_;
}

// MGET's missing keys (all in cluster_slot_), then a PTTL each, as read_mget does standalone.
void Session::cluster_mget_fetch(std::uint64_t seq, Args args, std::string_view raw) {
  ClusterClient& cluster = *worker_.cluster();
  RequestContext& ctx = conn_.context(seq);
  MgetState& m = *ctx.mget;
  ClusterClient::Node* node = cluster.owner(cluster_slot_, id_);
  if (node == nullptr || cluster.connection(*node, id_, state_.resp) == nullptr) {
    m.error = unavailable_error();
    for (auto& missing : m.missing) {
      if (missing.ticket) worker_.shared().l1->cache().fail(std::move(missing.ticket));
    }
    return finish_mget(seq);
  }
  std::vector<std::string_view> fetch{"MGET"};
  for (const auto& missing : m.missing) fetch.push_back(args[missing.index + 1]);
  encoded_.clear();
  resp::encode_command(encoded_, fetch);
  send_cluster(seq, fetch.size() == args.size() ? raw : std::string_view(encoded_));
  ctx.pttl_sent = std::chrono::steady_clock::now();
  for (const auto& missing : m.missing) {
    const std::string_view pttl[] = {"PTTL", args[missing.index + 1]};
    encoded_.clear();
    resp::encode_command(encoded_, pttl);
    send_cluster(seq, encoded_);
  }
  ++in_upstream_;
}

// Keyless commands about the whole data set: the same request to every master.
void Session::fan_out(const Classified& c, Args args, cluster::Fanout kind) {
  if (kind == cluster::Fanout::Scan) return cluster_scan(args);
  ClusterClient& cluster = *worker_.cluster();
  const std::uint64_t seq = take_slot(silent_);
  RequestContext& ctx = conn_.context(seq);
  const auto& masters = cluster.masters();
  if (masters.empty()) return conn_.complete(seq, unavailable_error());
  ctx.write = before_write(c, args, ctx.written, ctx.flush, ctx.fence);
  using Merge = ClusterParts::Merge;
  const Merge merge = kind == cluster::Fanout::Sum         ? Merge::Sum
                      : kind == cluster::Fanout::Concat    ? Merge::Concat
                      : kind == cluster::Fanout::AndArrays ? Merge::AndArrays
                                                           : Merge::AllSame;
  auto parts = std::make_shared<ClusterParts>(shared_from_this(), seq, merge, masters.size());
  encoded_.clear();
  resp::encode_command(encoded_, args);
  ++in_upstream_;
  if (ctx.write) ++writes_in_flight_;
  cluster_epoch_ = cluster.epoch();
  // Copied: a part that fails at once may complete the request (and reuse encoded_) inside
  // this loop.
  const std::string request = encoded_;
  const std::vector<ClusterClient::Node*> targets = masters;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!cluster.send_to(*targets[i], request, parts, i, id_, state_.resp)) {
      cluster_slot_ = ClusterClient::kAnySlot;
      parts->on_reply(i,
                      resp::error_reply(fmt::format("ERR upstream unavailable ({}: {})",
                                                    targets[i]->address, "not connected")),
                      resp::ReplyKind::Error);
    }
  }
}

// MGET, DEL, UNLINK, EXISTS, TOUCH and MSET with keys in several slots: one request per slot
// (a cluster node refuses keys of two slots even when it owns both), in the order the slots
// first appear; the replies merged as one Redis would have answered. MSET is not atomic then:
// a reader may see some of its keys set before others.
void Session::split_cross_slot(const Classified& c, Args args, cluster::Split kind) {
  ClusterClient& cluster = *worker_.cluster();
  const std::uint64_t seq = take_slot(silent_);
  RequestContext& ctx = conn_.context(seq);
  ctx.write = before_write(c, args, ctx.written, ctx.flush, ctx.fence);
  const std::size_t step = kind == cluster::Split::Mset ? 2 : 1;
  std::vector<std::uint16_t> slots;
  std::vector<std::vector<std::size_t>> positions;  // per slot: indexes into args
  for (std::size_t i = 1; i + step - 1 < args.size(); i += step) {
    const std::uint16_t slot = cluster::key_hash_slot(args[i]);
    auto it = std::find(slots.begin(), slots.end(), slot);
    if (it == slots.end()) {
      slots.push_back(slot);
      positions.emplace_back();
      it = slots.end() - 1;
    }
    positions[static_cast<std::size_t>(it - slots.begin())].push_back(i);
  }
  using Merge = ClusterParts::Merge;
  const Merge merge = kind == cluster::Split::Mget  ? Merge::Mget
                      : kind == cluster::Split::Sum ? Merge::Sum
                                                    : Merge::AllSame;
  auto parts = std::make_shared<ClusterParts>(shared_from_this(), seq, merge, slots.size());
  if (kind == cluster::Split::Mget) {
    parts->total_keys = args.size() - 1;
    for (const auto& p : positions) {
      auto& keys = parts->positions.emplace_back();
      for (const std::size_t i : p) keys.push_back(i - 1);
    }
  }
  ++in_upstream_;
  if (ctx.write) ++writes_in_flight_;
  cluster_epoch_ = cluster.epoch();
  std::vector<std::string> requests;
  for (const auto& p : positions) {
    std::vector<std::string_view> part{args[0]};
    for (const std::size_t i : p) {
      part.push_back(args[i]);
      if (step == 2) part.push_back(args[i + 1]);
    }
    resp::encode_command(requests.emplace_back(), part);
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!cluster.send(slots[i], requests[i], parts, i, id_, state_.resp)) {
      cluster_slot_ = slots[i];
      parts->on_reply(i, cluster_unavailable_error(), resp::ReplyKind::Error);
    }
  }
}

// SCAN across masters: the client's cursor names the master (its index in the slot map's
// order) and that master's own cursor; a master's last page leads to the next master's first.
// A topology change during a scan may skip or repeat keys (as when a cluster-aware client scans
// node by node).
void Session::cluster_scan(Args args) {
  ClusterClient& cluster = *worker_.cluster();
  const auto cursor = cluster::parse_scan_cursor(args[1]);
  if (!cursor) return reply_error("ERR invalid cursor");
  const auto& masters = cluster.masters();
  if (masters.empty()) return reply(unavailable_error());
  if (cursor->node >= masters.size()) return reply("*2\r\n$1\r\n0\r\n*0\r\n");
  const std::uint64_t seq = take_slot(silent_);
  auto parts =
      std::make_shared<ClusterParts>(shared_from_this(), seq, ClusterParts::Merge::Scan, 1);
  parts->scan_node = cursor->node;
  parts->scan_nodes = masters.size();
  const std::string inner = std::to_string(cursor->inner);
  std::vector<std::string_view> request(args.begin(), args.end());
  request[1] = inner;
  encoded_.clear();
  resp::encode_command(encoded_, request);
  ++in_upstream_;
  cluster_epoch_ = cluster.epoch();
  if (!cluster.send_to(*masters[cursor->node], encoded_, parts, 0, id_, state_.resp)) {
    parts->on_reply(0,
                    resp::error_reply(fmt::format("ERR upstream unavailable ({}: not connected)",
                                                  masters[cursor->node]->address)),
                    resp::ReplyKind::Error);
  }
}

}  // namespace frontcache::proxy
