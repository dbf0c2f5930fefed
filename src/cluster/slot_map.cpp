#include "frontcache/cluster/slot_map.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace frontcache::cluster {

namespace {

std::string_view text(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return {r->str, r->len};
}

bool integer(const redisReply* r, long long& out) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) return false;
  out = r->integer;
  return true;
}

bool valid_port(long long port) { return port > 0 && port <= 65535; }
bool valid_slot(long long slot) { return slot >= 0 && slot < kSlots; }

// A node of CLUSTER SHARDS: a flat list of field, value pairs. The address clients are told to
// use is `endpoint` (what MOVED names), else `ip`; the plaintext `port`, else `tls-port`.
bool parse_shards_node(const redisReply* r, Node& node, bool& master, std::string& error) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
    error = "CLUSTER SHARDS: a node is not a list of field/value pairs";
    return false;
  }
  std::string ip;
  std::string endpoint;
  long long port = 0;
  long long tls_port = 0;
  master = false;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    const std::string_view field = text(r->element[i]);
    const redisReply* value = r->element[i + 1];
    if (field == "id") node.id = text(value);
    if (field == "ip") ip = text(value);
    if (field == "endpoint") endpoint = text(value);
    if (field == "port") integer(value, port);
    if (field == "tls-port") integer(value, tls_port);
    if (field == "role") master = text(value) == "master";
    if (field == "health") node.online = text(value) == "online";
  }
  node.host = !endpoint.empty() && endpoint != "?" ? endpoint : ip;
  if (port == 0) port = tls_port;
  if (node.host.empty() || !valid_port(port)) {
    error = fmt::format("CLUSTER SHARDS: node {} has no usable address",
                        node.id.empty() ? "?" : node.id);
    return false;
  }
  node.port = static_cast<std::uint16_t>(port);
  return true;
}

bool parse_shard(const redisReply* r, Shard& shard, std::string& error) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
    error = "CLUSTER SHARDS: a shard is not a list of field/value pairs";
    return false;
  }
  const redisReply* slots = nullptr;
  const redisReply* nodes = nullptr;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    const std::string_view field = text(r->element[i]);
    if (field == "slots") slots = r->element[i + 1];
    if (field == "nodes") nodes = r->element[i + 1];
  }
  if (slots == nullptr || slots->type != REDIS_REPLY_ARRAY || slots->elements % 2 != 0 ||
      nodes == nullptr || nodes->type != REDIS_REPLY_ARRAY) {
    error = "CLUSTER SHARDS: a shard lacks its slots or nodes";
    return false;
  }
  for (std::size_t i = 0; i + 1 < slots->elements; i += 2) {
    long long first = 0;
    long long last = 0;
    if (!integer(slots->element[i], first) || !integer(slots->element[i + 1], last) ||
        !valid_slot(first) || !valid_slot(last) || first > last) {
      error = "CLUSTER SHARDS: a slot range is not two slots in order";
      return false;
    }
    shard.ranges.push_back({static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)});
  }
  bool have_master = false;
  for (std::size_t i = 0; i < nodes->elements; ++i) {
    Node node;
    bool master = false;
    if (!parse_shards_node(nodes->element[i], node, master, error)) return false;
    if (master && !have_master) {
      shard.master = std::move(node);
      have_master = true;
    } else {
      shard.replicas.push_back(std::move(node));
    }
  }
  // A shard without a master (one just removed, a failover not complete): nobody serves its
  // slots; the caller drops it.
  if (!have_master) shard.ranges.clear();
  return true;
}

}  // namespace

std::string format_address(std::string_view host, std::uint16_t port) {
  return host.find(':') != std::string_view::npos ? fmt::format("[{}]:{}", host, port)
                                                  : fmt::format("{}:{}", host, port);
}

std::string Node::address() const { return format_address(host, port); }

SlotMap::SlotMap() : owner_(kSlots, kUnowned) {}

SlotMap::SlotMap(std::vector<Shard> shards) : shards_(std::move(shards)), owner_(kSlots, kUnowned) {
  for (auto& s : shards_) {
    std::sort(s.ranges.begin(), s.ranges.end(),
              [](const SlotRange& a, const SlotRange& b) { return a.first < b.first; });
  }
  std::stable_sort(shards_.begin(), shards_.end(), [](const Shard& a, const Shard& b) {
    if (a.ranges.empty() != b.ranges.empty()) return b.ranges.empty();
    if (!a.ranges.empty()) return a.ranges.front().first < b.ranges.front().first;
    return a.master.address() < b.master.address();
  });
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    for (const auto& r : shards_[i].ranges) {
      for (std::uint32_t slot = r.first; slot <= r.last; ++slot) {
        owner_[slot] = static_cast<std::uint16_t>(i);
      }
    }
  }
}

std::optional<SlotMap> SlotMap::from_shards(const redisReply* reply, std::string& error) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    error = reply != nullptr && reply->type == REDIS_REPLY_ERROR
                ? fmt::format("CLUSTER SHARDS: {}", std::string_view(reply->str, reply->len))
                : "CLUSTER SHARDS: not an array";
    return std::nullopt;
  }
  std::vector<Shard> shards;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    Shard shard;
    if (!parse_shard(reply->element[i], shard, error)) return std::nullopt;
    if (!shard.master.host.empty()) shards.push_back(std::move(shard));
  }
  if (shards.size() >= SlotMap::kUnowned) {
    error = "CLUSTER SHARDS: too many shards";
    return std::nullopt;
  }
  return SlotMap(std::move(shards));
}

// CLUSTER SLOTS: one entry per slot range: first, last, then the master and each replica as
// [host, port, id, {metadata}]. A master owning several ranges appears once per range.
std::optional<SlotMap> SlotMap::from_slots(const redisReply* reply, std::string& error) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    error = reply != nullptr && reply->type == REDIS_REPLY_ERROR
                ? fmt::format("CLUSTER SLOTS: {}", std::string_view(reply->str, reply->len))
                : "CLUSTER SLOTS: not an array";
    return std::nullopt;
  }
  std::vector<Shard> shards;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    long long first = 0;
    long long last = 0;
    if (e == nullptr || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        !integer(e->element[0], first) || !integer(e->element[1], last) || !valid_slot(first) ||
        !valid_slot(last) || first > last) {
      error = "CLUSTER SLOTS: an entry is not [first, last, master, replicas...]";
      return std::nullopt;
    }
    std::vector<Node> nodes;
    for (std::size_t j = 2; j < e->elements; ++j) {
      const redisReply* n = e->element[j];
      long long port = 0;
      if (n == nullptr || n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
          !integer(n->element[1], port) || !valid_port(port)) {
        error = "CLUSTER SLOTS: a node is not [host, port, ...]";
        return std::nullopt;
      }
      Node node;
      node.host = text(n->element[0]);
      node.port = static_cast<std::uint16_t>(port);
      if (n->elements >= 3) node.id = text(n->element[2]);
      if (node.host.empty() || node.host == "?") {
        error = "CLUSTER SLOTS: a node has no usable address";
        return std::nullopt;
      }
      nodes.push_back(std::move(node));
    }
    auto it = std::find_if(shards.begin(), shards.end(), [&](const Shard& s) {
      return s.master.address() == nodes.front().address();
    });
    if (it == shards.end()) {
      Shard shard;
      shard.master = nodes.front();
      shard.replicas.assign(nodes.begin() + 1, nodes.end());
      shards.push_back(std::move(shard));
      it = shards.end() - 1;
    }
    it->ranges.push_back({static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)});
  }
  return SlotMap(std::move(shards));
}

std::size_t SlotMap::unowned_slots() const {
  return static_cast<std::size_t>(std::count(owner_.begin(), owner_.end(), kUnowned));
}

bool SlotMap::degraded() const {
  return std::any_of(shards_.begin(), shards_.end(),
                     [](const Shard& s) { return !s.ranges.empty() && !s.master.online; });
}

bool SlotMap::shares_a_node_with(const SlotMap& other) const {
  auto for_each_id = [](const SlotMap& map, const auto& f) {
    for (const auto& s : map.shards_) {
      if (!s.master.id.empty()) f(s.master.id);
      for (const auto& r : s.replicas) {
        if (!r.id.empty()) f(r.id);
      }
    }
  };
  std::unordered_set<std::string_view> ids;
  for_each_id(*this, [&](std::string_view id) { ids.insert(id); });
  bool other_has_ids = false;
  bool shared = false;
  for_each_id(other, [&](std::string_view id) {
    other_has_ids = true;
    shared = shared || ids.contains(id);
  });
  return shared || ids.empty() || !other_has_ids;
}

std::string SlotMap::describe() const {
  std::string out;
  for (const auto& s : shards_) {
    if (!out.empty()) out += ", ";
    std::string ranges;
    for (const auto& r : s.ranges) {
      if (!ranges.empty()) ranges += ',';
      ranges +=
          r.first == r.last ? fmt::format("{}", r.first) : fmt::format("{}-{}", r.first, r.last);
    }
    out += fmt::format("{} {}{}", ranges.empty() ? "(no slots)" : ranges, s.master.address(),
                       s.master.online ? "" : " (not online)");
  }
  return out;
}

}  // namespace frontcache::cluster
