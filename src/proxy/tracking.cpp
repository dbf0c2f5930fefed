#include "tracking.hpp"

#include <algorithm>
#include <tuple>

namespace frontcache::proxy {

void TrackingTable::add_client(std::uint64_t id, std::size_t worker) {
  std::lock_guard lock(mu_);
  clients_[id] = worker;
}

void TrackingTable::remove_client(std::uint64_t id) {
  std::lock_guard lock(mu_);
  clients_.erase(id);
  if (trackers_.erase(id) > 0) tracking_clients_.fetch_sub(1, std::memory_order_relaxed);
}

long long TrackingTable::worker_of(std::uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? -1 : static_cast<long long>(it->second);
}

void TrackingTable::enable(std::uint64_t id, std::size_t worker, bool bcast,
                           std::vector<std::string> prefixes, bool noloop) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = trackers_.try_emplace(id, Tracker{worker, bcast, noloop, {}});
  if (inserted) tracking_clients_.fetch_add(1, std::memory_order_relaxed);
  Tracker& t = it->second;
  t.bcast = bcast;
  t.noloop = noloop;
  // CLIENT TRACKING on again adds prefixes to those already registered, as Redis does.
  for (auto& p : prefixes) {
    if (std::find(t.prefixes.begin(), t.prefixes.end(), p) == t.prefixes.end()) {
      t.prefixes.push_back(std::move(p));
    }
  }
}

void TrackingTable::disable(std::uint64_t id) {
  std::lock_guard lock(mu_);
  if (trackers_.erase(id) > 0) tracking_clients_.fetch_sub(1, std::memory_order_relaxed);
}

void TrackingTable::remember(std::uint64_t id, std::span<const std::string_view> keys) {
  std::vector<std::pair<std::string, std::vector<std::uint64_t>>> evicted;
  {
    std::lock_guard lock(mu_);
    for (auto key : keys) {
      auto& ids = keys_[std::string(key)];
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
    // Over the bound, keys are forgotten as Redis's tracking-table-max-keys does: their
    // clients are told, as if they had changed.
    while (keys_.size() > max_keys_) {
      auto victim = keys_.begin();
      evicted.emplace_back(victim->first, std::move(victim->second));
      keys_.erase(victim);
    }
  }
  for (auto& [key, ids] : evicted) {
    for (auto client : ids) {
      const long long worker = worker_of(client);
      if (worker < 0) continue;
      auto message = std::make_shared<Invalidation>();
      message->keys.push_back(key);
      send(static_cast<std::size_t>(worker), client, std::move(message));
    }
  }
}

void TrackingTable::invalidate_local(std::span<const std::string_view> keys, std::uint64_t origin) {
  if (!active()) return;
  notify(keys, origin);
}

void TrackingTable::invalidate(std::span<const std::string_view> keys) {
  if (!active()) return;
  notify(keys, 0);
}

// Messages are shaped as Redis sends them: one per key in default mode (trackingInvalidateKey),
// one per prefix with every matching key in BCAST mode (trackingBroadcastInvalidationMessages).
void TrackingTable::notify(std::span<const std::string_view> keys, std::uint64_t origin) {
  if (keys.empty()) return;
  std::vector<std::tuple<std::size_t, std::uint64_t, std::shared_ptr<Invalidation>>> out;
  {
    std::lock_guard lock(mu_);
    for (auto key : keys) {
      // Default mode: each client that read the key hears once, then forgets it.
      auto it = keys_.find(std::string(key));
      if (it == keys_.end()) continue;
      for (auto client : it->second) {
        auto t = trackers_.find(client);
        if (t == trackers_.end() || t->second.bcast) continue;
        if (t->second.noloop && client == origin) continue;
        auto message = std::make_shared<Invalidation>();
        message->keys.emplace_back(key);
        out.emplace_back(t->second.worker, client, std::move(message));
      }
      keys_.erase(it);
    }
    for (const auto& [client, t] : trackers_) {
      if (!t.bcast || (t.noloop && client == origin)) continue;
      const std::size_t groups = t.prefixes.empty() ? 1 : t.prefixes.size();
      for (std::size_t g = 0; g < groups; ++g) {
        std::shared_ptr<Invalidation> message;
        for (auto key : keys) {
          if (!t.prefixes.empty() && !key.starts_with(t.prefixes[g])) continue;
          if (!message) message = std::make_shared<Invalidation>();
          message->keys.emplace_back(key);
        }
        if (message) out.emplace_back(t.worker, client, std::move(message));
      }
    }
  }
  for (auto& [worker, client, message] : out) send(worker, client, std::move(message));
}

void TrackingTable::invalidate_all() {
  if (!active()) return;
  std::vector<std::pair<std::uint64_t, std::size_t>> targets;
  {
    std::lock_guard lock(mu_);
    keys_.clear();
    for (const auto& [client, t] : trackers_) targets.emplace_back(client, t.worker);
  }
  auto message = std::make_shared<Invalidation>();
  message->all = true;
  for (auto [client, worker] : targets) send(worker, client, message);
}

void TrackingTable::send(std::size_t worker, std::uint64_t client,
                         std::shared_ptr<Invalidation> message) {
  if (deliver_) deliver_(worker, client, std::move(message));
}

}  // namespace frontcache::proxy
