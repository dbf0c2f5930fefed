#include "cluster_coherence.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "l1.hpp"

namespace frontcache::proxy {

// One master's stream: invalidations go straight to the L1; its armed state and fence rounds
// are combined with the other masters' by update().
class ClusterCoherence::NodeSink final : public invalidation::Sink {
 public:
  NodeSink(ClusterCoherence& owner, std::string address)
      : owner_(owner), address_(std::move(address)) {}

  void invalidate(std::span<const std::string_view> keys, invalidation::Source source) override {
    if (!retired) owner_.l1_.invalidate(keys, source);
  }
  void invalidate_all(invalidation::Source source) override {
    if (!retired) owner_.l1_.invalidate_all(source);
  }
  void set_armed(bool now_armed, std::string_view reason) override {
    if (retired) return;
    armed = now_armed;
    current = {};
    owner_.update(now_armed ? std::string_view{} : std::string_view(reason));
  }
  void set_current(std::chrono::steady_clock::time_point as_of) override {
    if (retired) return;
    current = as_of;
    owner_.update({});
  }

  const std::string& address() const { return address_; }
  bool armed = false;
  bool retired = false;
  std::chrono::steady_clock::time_point current{};

 private:
  ClusterCoherence& owner_;
  std::string address_;
};

ClusterCoherence::ClusterCoherence(boost::asio::io_context& io,
                                   invalidation::SubscriberSettings settings, L1& l1)
    : io_(io), settings_(std::move(settings)), l1_(l1) {}

ClusterCoherence::~ClusterCoherence() = default;

void ClusterCoherence::apply(std::shared_ptr<const cluster::SlotMap> map) {
  if (map == nullptr) return;
  boost::asio::post(io_, [this, map = std::move(map)] { follow(*map); });
}

void ClusterCoherence::follow(const cluster::SlotMap& map) {
  if (stopped_) return;
  std::map<std::string, const cluster::Node*> masters;
  for (const auto& shard : map.shards()) masters.emplace(shard.master.address(), &shard.master);
  std::lock_guard lock(mu_);
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (masters.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("cluster: invalidation stream of {} closed (no longer a master)", it->first);
    it->second.sink->retired = true;
    it->second.subscriber->stop();
    retired_.push_back(std::move(it->second.sink));
    it = nodes_.erase(it);
  }
  bool added = false;
  for (const auto& [address, master] : masters) {
    if (nodes_.contains(address)) continue;
    Node node;
    node.sink = std::make_shared<NodeSink>(*this, address);
    invalidation::SubscriberSettings s = settings_;
    s.upstream.host = master->host;
    s.upstream.port = master->port;
    node.subscriber = std::make_unique<invalidation::Subscriber>(io_, s, *node.sink);
    node.subscriber->start();
    nodes_.emplace(address, std::move(node));
    added = true;
  }
  // A new master's stream is not armed yet: the L1 is bypassed until it is.
  update(added ? "a cluster master joined" : "");
}

void ClusterCoherence::update(std::string_view reason) {
  bool all_armed = !nodes_.empty();
  auto oldest = std::chrono::steady_clock::time_point::max();
  for (const auto& [address, node] : nodes_) {
    all_armed = all_armed && node.sink->armed;
    oldest = std::min(oldest, node.sink->current);
  }
  if (!all_armed) {
    if (l1_.armed()) l1_.set_armed(false, reason);
    return;
  }
  if (!l1_.armed()) {
    spdlog::info("invalidation armed on all {} cluster masters", nodes_.size());
    l1_.set_armed(true, "");
  }
  // Every master has finished a fence round since it armed: the L1 is current as of the
  // oldest of them.
  if (oldest != std::chrono::steady_clock::time_point{}) l1_.set_current(oldest);
}

void ClusterCoherence::set_prefixes(std::vector<std::string> prefixes) {
  settings_.prefixes = prefixes;
  std::lock_guard lock(mu_);
  for (auto& [address, node] : nodes_) node.subscriber->set_prefixes(prefixes);
}

void ClusterCoherence::request_fence() {
  std::lock_guard lock(mu_);
  for (auto& [address, node] : nodes_) node.subscriber->request_fence();
}

void ClusterCoherence::stop() {
  stopped_ = true;
  std::lock_guard lock(mu_);
  for (auto& [address, node] : nodes_) {
    node.sink->retired = true;
    node.subscriber->stop();
  }
}

}  // namespace frontcache::proxy
