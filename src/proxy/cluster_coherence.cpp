#include "cluster_coherence.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "l1.hpp"

namespace frontcache::proxy {

// One master's stream: invalidations go straight to the L1 (a key's invalidation drops it
// whatever its slot); its armed state and fence rounds are its slots' (SlotCoherence).
class ClusterCoherence::NodeSink final : public invalidation::Sink {
 public:
  NodeSink(ClusterCoherence& owner, std::string address, std::uint16_t stream)
      : owner_(owner), address_(std::move(address)), stream_(stream) {}

  void invalidate(std::span<const std::string_view> keys, invalidation::Source source) override {
    if (!retired) owner_.l1_.invalidate(keys, source);
  }
  void invalidate_all(invalidation::Source source) override {
    if (!retired) owner_.l1_.invalidate_all(source);
  }
  void set_armed(bool now_armed, std::string_view reason) override {
    // The subscriber reports every failed attempt while down: only the loss itself counts.
    if (retired || (!now_armed && !armed)) return;
    armed = now_armed;
    current = {};
    owner_.stream_changed(*this, now_armed, reason);
  }
  void set_current(std::chrono::steady_clock::time_point as_of) override {
    if (retired) return;
    current = as_of;
    owner_.l1_.stats().fence_rounds.fetch_add(1, std::memory_order_relaxed);
    owner_.slots_.set_current(stream_, as_of);
    owner_.update_summary();
  }

  const std::string& address() const { return address_; }
  std::uint16_t stream() const { return stream_; }
  bool armed = false;
  bool retired = false;
  std::chrono::steady_clock::time_point current{};

 private:
  ClusterCoherence& owner_;
  std::string address_;
  std::uint16_t stream_;
};

ClusterCoherence::ClusterCoherence(boost::asio::io_context& io,
                                   invalidation::SubscriberSettings settings, L1& l1)
    : io_(io), settings_(std::move(settings)), l1_(l1), slots_(l1.enable_cluster()) {}

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
  std::vector<Node> leaving;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    const auto master = masters.find(it->first);
    if (master != masters.end() && master->second->id == it->second.id) {
      ++it;
      continue;
    }
    spdlog::info("cluster: invalidation stream of {} closed ({})", it->first,
                 master == masters.end() ? "no longer a master" : "another node at that address");
    it->second.sink->retired = true;
    it->second.subscriber->stop();
    leaving.push_back(std::move(it->second));
    it = nodes_.erase(it);
  }
  for (const auto& [address, master] : masters) {
    if (nodes_.contains(address)) continue;
    const std::uint16_t stream = slots_.add_stream(address);
    if (stream == SlotCoherence::kNoStream) {
      spdlog::warn("cluster: more than {} masters; the slots of {} always bypass L1",
                   SlotCoherence::kMaxStreams, address);
    }
    Node node;
    node.sink = std::make_shared<NodeSink>(*this, address, stream);
    invalidation::SubscriberSettings s = settings_;
    s.upstream.host = master->host;
    s.upstream.port = master->port;
    s.upstream.node_id = master->id;  // checked with CLUSTER MYID on connect
    node.id = master->id;
    node.subscriber = std::make_unique<invalidation::Subscriber>(io_, s, *node.sink);
    node.subscriber->start();
    nodes_.emplace(address, std::move(node));
  }
  // Every slot to its master's stream (a new master's is not armed yet: its slots bypass until
  // it is); a slot that changes master gets a new epoch.
  std::vector<std::uint16_t> stream_of_shard;
  for (const auto& shard : map.shards()) {
    const auto it = nodes_.find(shard.master.address());
    stream_of_shard.push_back(it != nodes_.end() ? it->second.sink->stream()
                                                 : SlotCoherence::kNoStream);
  }
  for (std::size_t slot = 0; slot < SlotCoherence::kSlots; ++slot) {
    const std::uint16_t shard = map.owner(static_cast<std::uint16_t>(slot));
    slots_.assign(static_cast<std::uint16_t>(slot), shard == cluster::SlotMap::kUnowned
                                                        ? SlotCoherence::kNoStream
                                                        : stream_of_shard[shard]);
  }
  for (auto& node : leaving) {
    slots_.remove_stream(node.sink->stream());
    retired_.push_back(std::move(node.sink));
  }
  update_summary();
}

void ClusterCoherence::stream_changed(NodeSink& sink, bool armed, std::string_view reason) {
  slots_.set_armed(sink.stream(), armed);
  l1_.stream_changed(armed);
  if (armed) {
    spdlog::info("cluster: invalidation armed on {}", sink.address());
  } else {
    spdlog::warn("cluster: invalidation stream of {} not armed ({}): its slots bypass L1",
                 sink.address(), reason);
  }
  update_summary();
}

void ClusterCoherence::update_summary() {
  bool all_armed = !nodes_.empty();
  bool any_armed = false;
  auto oldest = std::chrono::steady_clock::time_point::max();
  for (const auto& [address, node] : nodes_) {
    all_armed = all_armed && node.sink->armed;
    if (!node.sink->armed) continue;
    any_armed = true;
    oldest = std::min(oldest, node.sink->current);
  }
  if (!any_armed) oldest = {};
  if (all_armed && !l1_.armed()) {
    spdlog::info("invalidation armed on all {} cluster masters", nodes_.size());
  }
  l1_.set_cluster_state(all_armed, any_armed, oldest);
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
