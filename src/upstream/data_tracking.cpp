#include "frontcache/upstream/data_tracking.hpp"

#include <algorithm>

namespace frontcache::upstream {

DataTracking::Clock::time_point DataTracking::proven_as_of(
    std::uint64_t generation, std::span<const std::uint64_t> alive) const {
  auto oldest = Clock::time_point::max();
  std::lock_guard lock(mu_);
  for (const auto& weak : slots_) {
    const auto slot = weak.lock();
    if (!slot || slot->generation.load(std::memory_order_acquire) != generation) continue;
    const std::uint64_t id = slot->client_id.load(std::memory_order_relaxed);
    if (id != 0 && std::binary_search(alive.begin(), alive.end(), id)) continue;
    const Clock::time_point proven{Clock::duration(slot->proven.load(std::memory_order_relaxed))};
    oldest = std::min(oldest, proven);
  }
  return oldest;
}

std::vector<std::uint64_t> DataTracking::client_ids(std::uint64_t generation) const {
  std::vector<std::uint64_t> ids;
  std::lock_guard lock(mu_);
  for (const auto& weak : slots_) {
    const auto slot = weak.lock();
    if (!slot || slot->generation.load(std::memory_order_acquire) != generation) continue;
    const std::uint64_t id = slot->client_id.load(std::memory_order_relaxed);
    if (id != 0) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::shared_ptr<DataTracking::Slot> DataTracking::attach() {
  auto slot = std::make_shared<Slot>();
  std::lock_guard lock(mu_);
  std::erase_if(slots_, [](const auto& weak) { return weak.expired(); });
  slots_.push_back(slot);
  return slot;
}

}  // namespace frontcache::upstream
