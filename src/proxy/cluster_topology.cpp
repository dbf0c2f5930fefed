#include "cluster_topology.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "frontcache/metrics/log_limit.hpp"
#include "probe_client.hpp"

namespace frontcache::proxy {

namespace {

constexpr std::chrono::milliseconds kMinGap{100};  // between two reads
constexpr std::chrono::milliseconds kDegradedInterval{100};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// The map as one node sees it; nullopt with `error` when it cannot be read.
std::optional<cluster::SlotMap> read_map(const upstream::Settings& settings, std::string& error) {
  ProbeClient c(settings);
  const std::string where = cluster::format_address(settings.host, settings.port);
  if (!c.connect()) {
    error = fmt::format("{}: {}", where, c.error());
    return std::nullopt;
  }
  if (!settings.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!settings.username.empty()) auth.push_back(settings.username);
    auth.push_back(settings.password);
    ReplyPtr r(c.command(auth));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      error =
          fmt::format("{}: AUTH refused: {}", where, r ? std::string(r->str, r->len) : c.error());
      return std::nullopt;
    }
  }
  ReplyPtr shards(c.command({"CLUSTER", "SHARDS"}));
  if (!shards) {
    error = fmt::format("{}: {}", where, c.error());
    return std::nullopt;
  }
  std::optional<cluster::SlotMap> map;
  if (shards->type == REDIS_REPLY_ERROR &&
      std::string_view(shards->str, shards->len).find("unknown subcommand") !=
          std::string_view::npos) {
    // Redis < 7: CLUSTER SLOTS.
    ReplyPtr slots(c.command({"CLUSTER", "SLOTS"}));
    if (!slots) {
      error = fmt::format("{}: {}", where, c.error());
      return std::nullopt;
    }
    map = cluster::SlotMap::from_slots(slots.get(), error);
  } else {
    map = cluster::SlotMap::from_shards(shards.get(), error);
  }
  if (!map) {
    error = fmt::format("{}: {}", where, error);
    return std::nullopt;
  }
  if (map->empty()) {
    error = fmt::format("{}: the node knows no master (not part of a cluster yet?)", where);
    return std::nullopt;
  }
  return map;
}

}  // namespace

Topology::Topology(upstream::Settings settings, std::vector<config::Endpoint> seeds,
                   std::chrono::milliseconds refresh)
    : settings_(std::move(settings)), seeds_(std::move(seeds)), interval_(refresh) {}

Topology::~Topology() { stop(); }

bool Topology::load() { return refresh(); }

void Topology::add_listener(Listener listener) {
  if (auto current = map()) listener(current);
  listeners_.push_back(std::move(listener));
}

void Topology::start() {
  thread_ = std::thread([this] { run(); });
}

void Topology::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Topology::request_refresh() {
  stats_.requested.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    if (requested_) return;
    requested_ = true;
  }
  wake_.notify_all();
}

std::shared_ptr<const cluster::SlotMap> Topology::map() const {
  std::lock_guard lock(mu_);
  return map_;
}

std::string Topology::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Topology::run() {
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // Degraded or unknown: poll quickly until a failover completes or a node comes back.
      const bool degraded =
          map_ == nullptr || map_->degraded() || map_->unowned_slots() > 0 || !last_error_.empty();
      const auto next = last + (degraded ? kDegradedInterval : interval_);
      wake_.wait_until(lock, next, [&] { return stopped_ || requested_; });
      if (stopped_) return;
      // At most one read per kMinGap, however many workers ask.
      const auto earliest = last + kMinGap;
      if (std::chrono::steady_clock::now() < earliest) {
        wake_.wait_until(lock, earliest, [&] { return stopped_; });
        if (stopped_) return;
      }
      requested_ = false;
    }
    last = std::chrono::steady_clock::now();
    refresh();
  }
}

bool Topology::is_seed(const config::Endpoint& node) const {
  return std::find(seeds_.begin(), seeds_.end(), node) != seeds_.end();
}

// Known masters first (those online before the others), then their replicas, then the seeds:
// a node that answered before is the most likely to answer now, and seeds may be gone.
std::vector<config::Endpoint> Topology::candidates() const {
  std::vector<config::Endpoint> out;
  auto add = [&out](const std::string& host, std::uint16_t port) {
    config::Endpoint e{host, port};
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(std::move(e));
  };
  if (const auto current = map()) {
    std::vector<const cluster::Shard*> shards;
    for (const auto& s : current->shards()) shards.push_back(&s);
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::shuffle(shards.begin(), shards.end(), rng);  // spread the reads over the masters
    for (const bool online : {true, false}) {
      for (const auto* s : shards) {
        if (s->master.online == online) add(s->master.host, s->master.port);
      }
    }
    for (const auto* s : shards) {
      for (const auto& r : s->replicas) add(r.host, r.port);
    }
  }
  for (const auto& s : seeds_) add(s.host, s.port);
  return out;
}

bool Topology::refresh() {
  std::string errors;
  for (const auto& node : candidates()) {
    upstream::Settings s = settings_;
    s.host = node.host;
    s.port = node.port;
    std::string error;
    auto map = read_map(s, error);
    if (!map) {
      if (!errors.empty()) errors += "; ";
      errors += error;
      continue;
    }
    if (const auto current = this->map();
        current != nullptr && !map->shares_a_node_with(*current) && !is_seed(node)) {
      // A node of another cluster at an address the current map named (a dead master's, taken
      // over): its map would send everything there. A configured seed is trusted to move the
      // proxy to a new cluster (one re-created from scratch).
      const std::string refused =
          fmt::format("{}: a map of another cluster (no node in common), not taken",
                      cluster::format_address(node.host, node.port));
      static metrics::LogLimit log_limit;
      log_limit.warn("cluster topology: {}", refused);
      if (!errors.empty()) errors += "; ";
      errors += refused;
      continue;
    }
    stats_.refreshes.fetch_add(1, std::memory_order_relaxed);
    auto next = std::make_shared<const cluster::SlotMap>(std::move(*map));
    bool changed = false;
    {
      std::lock_guard lock(mu_);
      changed = map_ == nullptr || !(*map_ == *next);
      if (changed) map_ = next;
      if (!last_error_.empty()) spdlog::info("cluster topology read again from {}", node.host);
      last_error_.clear();
    }
    if (changed) {
      stats_.changes.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("cluster slot map: {}{}", next->describe(),
                   next->unowned_slots() > 0
                       ? fmt::format(" ({} slots not served)", next->unowned_slots())
                       : "");
      for (const auto& listener : listeners_) listener(next);
    }
    return true;
  }
  stats_.refresh_failures.fetch_add(1, std::memory_order_relaxed);
  static metrics::LogLimit log_limit;
  log_limit.warn("cluster topology: no node gave a slot map ({})", errors);
  std::lock_guard lock(mu_);
  last_error_ = errors.empty() ? "no seed nodes" : errors;
  return false;
}

}  // namespace frontcache::proxy
