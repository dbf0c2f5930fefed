#include "cluster_client.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cluster_topology.hpp"
#include "frontcache/cluster/redirect.hpp"
#include "frontcache/metrics/log_limit.hpp"
#include "frontcache/resp/errors.hpp"
#include "slot_coherence.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxRedirects = 5;  // MOVED/ASK hops for one request before it fails
constexpr std::chrono::milliseconds kTryagainDelay{25};
constexpr std::chrono::milliseconds kConnectPoll{10};
constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";

// The +OK of our ASKING is nobody's reply.
class Discard final : public upstream::ReplyTarget {
 public:
  void on_reply(std::uint64_t, std::string_view, resp::ReplyKind) override {}
};

const std::shared_ptr<upstream::ReplyTarget>& discard() {
  static const std::shared_ptr<upstream::ReplyTarget> instance = std::make_shared<Discard>();
  return instance;
}

}  // namespace

ClusterStats& cluster_stats() {
  static ClusterStats instance;
  return instance;
}

struct ClusterClient::RetryTimer {
  explicit RetryTimer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  bool armed = false;
};

ClusterClient::ClusterClient(asio::io_context& io, upstream::Settings settings,
                             std::size_t connections, bool resp3, Topology& topology,
                             SlotCoherence* coherence)
    : io_(io),
      settings_(std::move(settings)),
      connections_(connections),
      resp3_(resp3),
      topology_(topology),
      coherence_(coherence),
      slots_(cluster::kSlots, nullptr),
      retry_timer_(std::make_unique<RetryTimer>(io)) {}

ClusterClient::~ClusterClient() = default;

ClusterClient::Node& ClusterClient::node(const std::string& host, std::uint16_t port,
                                         const std::string& id) {
  const std::string address = cluster::format_address(host, port);
  auto& slot = nodes_[address];
  if (!slot) {
    slot = std::make_unique<Node>();
    slot->address = address;
    slot->host = host;
    slot->port = port;
  }
  if (!id.empty() && slot->id != id) {
    // Connections opened for the id of a redirect's node (none) keep serving; those checked
    // against another node's id would only ever be refused.
    if (!slot->id.empty()) stop_pools(*slot);
    slot->id = id;
  }
  if (!slot->pool && !stopped_) start_pools(*slot);
  return *slot;
}

void ClusterClient::stop_pools(Node& n) {
  for (auto* pool : {&n.pool, &n.pool3}) {
    if (*pool) (*pool)->stop();
    pool->reset();
  }
}

void ClusterClient::start_pools(Node& n) {
  upstream::Settings s = settings_;
  s.host = n.host;
  s.port = n.port;
  s.node_id = n.id;
  s.protocol = 2;
  n.pool = std::make_unique<upstream::Pool>(io_, s, connections_);
  n.pool->start();
  if (resp3_) {
    s.protocol = 3;
    n.pool3 = std::make_unique<upstream::Pool>(io_, s, connections_);
    n.pool3->start();
  }
}

void ClusterClient::apply(std::shared_ptr<const cluster::SlotMap> map) {
  if (stopped_ || map == nullptr) return;
  std::vector<Node*> masters;
  for (const auto& shard : map->shards()) {
    masters.push_back(&node(shard.master.host, shard.master.port, shard.master.id));
  }
  bool changed = masters != masters_;
  for (auto& [address, n] : nodes_) n->master = false;
  for (Node* m : masters) m->master = true;
  for (std::uint32_t s = 0; s < cluster::kSlots; ++s) {
    const std::uint16_t owner = map->owner(static_cast<std::uint16_t>(s));
    Node* n = owner == cluster::SlotMap::kUnowned ? nullptr : masters[owner];
    if (slots_[s] != n) {
      slots_[s] = n;
      changed = true;
    }
  }
  masters_ = std::move(masters);
  map_ = std::move(map);
  if (changed) ++epoch_;
  // Connections to nodes that are no longer masters (a failed master, a removed node) close
  // once nothing is pending on them; a MOVED naming the node opens them again.
  for (auto& [address, n] : nodes_) {
    if (n->master || !n->pool) continue;
    std::size_t pending = 0;
    for (auto* pool : {n->pool.get(), n->pool3.get()}) {
      for (std::size_t i = 0; pool != nullptr && i < pool->size(); ++i) {
        pending += pool->at(i).pending();
      }
    }
    if (pending > 0) continue;
    stop_pools(*n);
  }
}

void ClusterClient::stop() {
  stopped_ = true;
  retry_timer_->timer.cancel();
  for (auto& [address, n] : nodes_) {
    if (n->pool) n->pool->stop();
    if (n->pool3) n->pool3->stop();
  }
  for (const std::uint32_t id : std::vector(deferred_)) {
    deliver(id, resp::error_reply("ERR upstream unavailable (shutting down)"),
            resp::ReplyKind::Error);
  }
  deferred_.clear();
}

ClusterClient::Node* ClusterClient::owner(std::uint16_t slot, std::uint64_t affinity) {
  if (slot == kAnySlot) {
    return masters_.empty() ? nullptr : masters_[affinity % masters_.size()];
  }
  return slots_[slot];
}

upstream::Connection* ClusterClient::connection(Node& n, std::uint64_t affinity, int protocol) {
  upstream::Pool* pool = protocol == 3 && n.pool3 ? n.pool3.get() : n.pool.get();
  if (pool == nullptr || pool->size() == 0) return nullptr;
  upstream::Connection& c = pool->at(affinity % pool->size());
  return c.ready() ? &c : nullptr;
}

bool ClusterClient::any_ready() const {
  for (const Node* m : masters_) {
    if (m->pool && m->pool->ready_count() > 0) return true;
  }
  return false;
}

std::string ClusterClient::unavailable_reason(std::uint16_t slot, std::uint64_t affinity) {
  Node* n = owner(slot, affinity);
  if (n == nullptr) {
    return slot == kAnySlot ? fmt::format("no cluster master known: {}",
                                          topology_.last_error().empty() ? "not read yet"
                                                                         : topology_.last_error())
                            : fmt::format("no cluster master serves slot {}", slot);
  }
  if (!n->pool) return fmt::format("{}: not connected", n->address);
  return fmt::format("{}: {}", n->address, n->pool->at(affinity % n->pool->size()).last_error());
}

void ClusterClient::node_trouble() { topology_.request_refresh(); }

std::uint32_t ClusterClient::allocate() {
  if (!free_.empty()) {
    const std::uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  forwards_.emplace_back();
  return static_cast<std::uint32_t>(forwards_.size() - 1);
}

bool ClusterClient::send(std::uint16_t slot, std::string_view request,
                         std::shared_ptr<upstream::ReplyTarget> target, std::uint64_t tag,
                         std::uint64_t affinity, int protocol) {
  Node* n = owner(slot, affinity);
  if (n == nullptr) {
    node_trouble();
    return false;
  }
  if (slot == kAnySlot) return send_to(*n, request, std::move(target), tag, affinity, protocol);
  upstream::Connection* conn = connection(*n, affinity, protocol);
  if (conn == nullptr) {
    node_trouble();
    return false;
  }
  const std::uint32_t id = allocate();
  Forward& f = forwards_[id];
  f.request.assign(request);
  f.target = std::move(target);
  f.tag = tag;
  f.affinity = affinity;
  f.slot = slot;
  f.protocol = static_cast<std::uint8_t>(protocol);
  f.redirects = 0;
  f.asking = false;
  f.node = n;
  conn->send(0, request, shared_from_this(), id);
  return true;
}

bool ClusterClient::send_to(Node& n, std::string_view request,
                            std::shared_ptr<upstream::ReplyTarget> target, std::uint64_t tag,
                            std::uint64_t affinity, int protocol) {
  upstream::Connection* conn = connection(n, affinity, protocol);
  if (conn == nullptr) {
    node_trouble();
    return false;
  }
  return conn->send(0, request, std::move(target), tag);
}

bool ClusterClient::transmit(std::uint32_t id) {
  Forward& f = forwards_[id];
  if (!f.node->pool && !stopped_) start_pools(*f.node);
  upstream::Connection* conn = connection(*f.node, f.affinity, f.protocol);
  if (conn == nullptr) return false;
  // ASKING and the request back to back: nothing else of ours can come between them on the
  // connection (cluster nodes have one database, so no SELECT is ever inserted either).
  if (f.asking) conn->send(0, kAsking, discard(), 0);
  conn->send(0, f.request, shared_from_this(), id);
  return true;
}

void ClusterClient::on_reply(std::uint64_t id64, std::string_view reply, resp::ReplyKind kind) {
  const auto id = static_cast<std::uint32_t>(id64);
  Forward& f = forwards_[id];
  if (kind == resp::ReplyKind::Error) {
    if (auto redirect = cluster::parse_redirect(reply)) {
      if (f.redirects >= kMaxRedirects) {
        cluster_stats().redirect_failures.fetch_add(1, std::memory_order_relaxed);
        static metrics::LogLimit log_limit;
        log_limit.warn("cluster: a request for slot {} was redirected {} times (last: {})", f.slot,
                       kMaxRedirects, reply.substr(1, reply.size() - 3));
        topology_.request_refresh();
        return deliver(
            id,
            resp::error_reply(fmt::format(
                "TRYAGAIN frontcache: slot {} kept moving between cluster nodes", f.slot)),
            resp::ReplyKind::Error);
      }
      ++f.redirects;
      if (coherence_ != nullptr) coherence_->mark_redirected(redirect->slot);
      // "?" names no endpoint: the node that answered, on the port given.
      Node& to = redirect->host.empty() ? node(f.node->host, redirect->port)
                                        : node(redirect->host, redirect->port);
      if (redirect->kind == cluster::Redirect::Kind::Moved) {
        cluster_stats().moved.fetch_add(1, std::memory_order_relaxed);
        slots_[redirect->slot] = &to;
        f.asking = false;
        topology_.request_refresh();
      } else {
        cluster_stats().ask.fetch_add(1, std::memory_order_relaxed);
        f.asking = true;
      }
      ++epoch_;
      f.node = &to;
      if (!transmit(id)) defer(id, kConnectPoll, settings_.connect_timeout);
      return;
    }
    if (cluster::is_tryagain(reply) && f.redirects < kMaxRedirects * 20) {
      cluster_stats().tryagain.fetch_add(1, std::memory_order_relaxed);
      ++f.redirects;
      ++epoch_;
      return defer(id, kTryagainDelay, settings_.command_timeout);
    }
    if (cluster::is_clusterdown(reply) || reply.starts_with("-ERR upstream")) {
      topology_.request_refresh();
    }
  }
  deliver(id, reply, kind);
}

void ClusterClient::deliver(std::uint32_t id, std::string_view reply, resp::ReplyKind kind) {
  Forward& f = forwards_[id];
  std::shared_ptr<upstream::ReplyTarget> target = std::move(f.target);
  const std::uint64_t tag = f.tag;
  f.request.clear();
  free_.push_back(id);
  // The target may send again (and reuse this id): everything needed was taken first.
  if (target) target->on_reply(tag, reply, kind);
}

void ClusterClient::defer(std::uint32_t id, std::chrono::milliseconds delay,
                          std::chrono::milliseconds bound) {
  Forward& f = forwards_[id];
  const auto now = Clock::now();
  f.retry_at = now + delay;
  if (f.deadline < now) f.deadline = now + bound;
  deferred_.push_back(id);
  schedule_retry();
}

void ClusterClient::schedule_retry() {
  if (retry_timer_->armed || stopped_) return;
  retry_timer_->armed = true;
  retry_timer_->timer.expires_after(kConnectPoll);
  retry_timer_->timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->retry_timer_->armed = false;
    if (ec || self->stopped_) return;
    self->retry_deferred();
  });
}

void ClusterClient::retry_deferred() {
  const auto now = Clock::now();
  std::vector<std::uint32_t> waiting;
  waiting.swap(deferred_);
  for (const std::uint32_t id : waiting) {
    Forward& f = forwards_[id];
    if (now < f.retry_at) {
      deferred_.push_back(id);
    } else if (transmit(id)) {
      f.deadline = {};
    } else if (now >= f.deadline) {
      const std::string reason =
          fmt::format("ERR upstream unavailable ({})", unavailable_reason(f.slot, f.affinity));
      deliver(id, resp::error_reply(reason), resp::ReplyKind::Error);
    } else {
      f.retry_at = now + kConnectPoll;
      deferred_.push_back(id);
    }
  }
  if (!deferred_.empty()) schedule_retry();
}

}  // namespace frontcache::proxy
