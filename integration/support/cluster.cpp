#include "cluster.hpp"

#include <functional>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace frontcache::integration {

namespace {

constexpr int kSlots = 16384;

}  // namespace

RedisCluster::RedisCluster(int masters, std::vector<std::string> extra_args,
                           std::chrono::milliseconds timeout)
    : extra_args_(std::move(extra_args)) {
  for (int i = 0; i < masters; ++i) {
    nodes_.push_back(start_node());
    const int first = kSlots * i / masters;
    const int last = kSlots * (i + 1) / masters - 1;
    ranges_.emplace_back(static_cast<uint16_t>(first), static_cast<uint16_t>(last));
    auto c = client(i);
    const Reply added = c("CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last));
    if (added.type != Reply::Type::Status) {
      throw std::runtime_error("CLUSTER ADDSLOTSRANGE: " + added.to_string());
    }
    ids_.push_back(c("CLUSTER", "MYID").str);
  }
  auto first = client(0);
  for (int i = 1; i < masters; ++i) {
    const Reply met = first("CLUSTER", "MEET", "127.0.0.1", std::to_string(port(i)));
    if (met.type != Reply::Type::Status)
      throw std::runtime_error("CLUSTER MEET: " + met.to_string());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!formed()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("the cluster did not form; logs:\n" + logs());
    }
    std::this_thread::sleep_for(20ms);  // polling interval, not a synchronization
  }
}

RedisCluster::~RedisCluster() = default;

std::unique_ptr<RedisServer> RedisCluster::start_node() {
  dirs_.push_back(std::make_unique<TempDir>());
  std::vector<std::string> args{"--cluster-enabled",      "yes",
                                "--cluster-config-file",  dirs_.back()->file("nodes.conf"),
                                "--cluster-node-timeout", "5000"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());  // later ones win
  return std::make_unique<RedisServer>(dirs_.back()->path(), std::move(args));
}

int RedisCluster::add_replica(int master, std::chrono::milliseconds timeout) {
  nodes_.push_back(start_node());
  const int index = size() - 1;
  auto c = client(index);
  ids_.push_back(c("CLUSTER", "MYID").str);
  const Reply met = client(0)("CLUSTER", "MEET", "127.0.0.1", std::to_string(port(index)));
  if (met.type != Reply::Type::Status) throw std::runtime_error("CLUSTER MEET: " + met.to_string());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wait = [&](const std::function<bool()>& done, const std::string& what) {
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("replica: " + what + "; logs:\n" + logs());
      }
      std::this_thread::sleep_for(20ms);  // polling interval
    }
  };
  // REPLICATE needs the master known to the new node.
  wait([&] { return c("CLUSTER", "NODES").str.find(id(master)) != std::string::npos; },
       "never learnt of its master");
  const Reply replicate = c("CLUSTER", "REPLICATE", id(master));
  if (replicate.type != Reply::Type::Status) {
    throw std::runtime_error("CLUSTER REPLICATE: " + replicate.to_string());
  }
  wait(
      [&] {
        return c("INFO", "replication").str.find("master_link_status:up") != std::string::npos;
      },
      "replication link never came up");
  return index;
}

// Every node: cluster_state:ok, every master known, every range owned by its node, and a
// connected bus link to every other node. Known is not enough: a node learnt by gossip can still
// be in its handshake, and a node drops what it would send over a link it does not have yet
// (a PUBLISH made there never reaches the other node's subscribers).
bool RedisCluster::formed() {
  for (int i = 0; i < size(); ++i) {
    auto c = client(i);
    const Reply info = c("CLUSTER", "INFO");
    if (info.str.find("cluster_state:ok") == std::string::npos ||
        info.str.find("cluster_known_nodes:" + std::to_string(size()) + "\r") ==
            std::string::npos) {
      return false;
    }
    const Reply slots = c("CLUSTER", "SLOTS");
    if (slots.elements.size() != static_cast<std::size_t>(size())) return false;
    if (!all_links_connected(c("CLUSTER", "NODES").str)) return false;
  }
  return true;
}

// CLUSTER NODES: "<id> <addr> <flags> <master> <ping> <pong> <epoch> <link-state> <slots>...".
bool RedisCluster::all_links_connected(const std::string& nodes) const {
  std::istringstream lines(nodes);
  std::string line;
  int seen = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                               std::istream_iterator<std::string>()};
    if (f.size() < 8 || f[7] != "connected") return false;
    for (const char* bad : {"handshake", "noaddr", "fail"}) {
      if (f[2].find(bad) != std::string::npos) return false;  // "fail" also matches "fail?"
    }
    ++seen;
  }
  return seen == size();
}

int RedisCluster::initial_owner(uint16_t slot) const {
  for (int i = 0; i < static_cast<int>(ranges_.size()); ++i) {
    if (slot >= ranges_[i].first && slot <= ranges_[i].second) return i;
  }
  return -1;
}

uint16_t RedisCluster::slot_of(const std::string& key) {
  return static_cast<uint16_t>(client(0)("CLUSTER", "KEYSLOT", key).integer);
}

int RedisCluster::owner_of(const std::string& key) {
  const Reply slots = client(0)("CLUSTER", "SLOTS");
  const long long slot = slot_of(key);
  for (const Reply& range : slots.elements) {
    if (range.elements.size() < 3) continue;
    if (slot < range.elements[0].integer || slot > range.elements[1].integer) continue;
    const long long node_port = range.elements[2].elements.at(1).integer;
    for (int i = 0; i < size(); ++i) {
      if (port(i) == node_port) return i;
    }
  }
  return -1;
}

std::vector<std::string> RedisCluster::keys_on(int node, int count, const std::string& prefix) {
  std::vector<std::string> keys;
  auto c = client(0);
  for (int n = 0; static_cast<int>(keys.size()) < count; ++n) {
    const std::string key = prefix + std::to_string(n);
    const Reply slot = c("CLUSTER", "KEYSLOT", key);
    if (initial_owner(static_cast<uint16_t>(slot.integer)) == node) keys.push_back(key);
  }
  return keys;
}

std::string RedisCluster::logs() const {
  std::string out;
  for (const auto& n : nodes_)
    out += "--- redis " + std::to_string(n->port()) + " ---\n" + n->log();
  return out;
}

}  // namespace frontcache::integration
