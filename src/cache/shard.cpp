// Entry storage, hit path, invalidation and the expiry wheel of one shard.
#include "shard.hpp"

#include <algorithm>
#include <cstring>

namespace frontcache::cache::detail {
namespace {

constexpr std::size_t kWheelSlots = 1024;
// A shard's sketch counts at least this many entries' worth (capped at the cache's capacity),
// and halves no sooner than after 10 x kMinSketchPeriod increments. Shards of a few dozen
// entries otherwise age their counts every few hundred accesses and forget the frequencies
// that pin a subset of a cyclic working set (loop, cs): 0.57 points lost at 16 shards on the
// LIRS traces became 0.10. No effect with one shard or shards of more than 128 entries.
constexpr std::uint64_t kMinSketchEntries = 64;
constexpr std::uint64_t kMinSketchPeriod = 128;

std::uint32_t owner_hash_of(std::string_view owner) noexcept {
  return static_cast<std::uint32_t>(hash_key(owner) >> 7);
}

}  // namespace

Shard::~Shard() {
  for (std::uint32_t i = 0; i < node_count_; ++i) delete[] node(i).bytes;
}

void Shard::configure(const ShardConfig& config, GlobalWeight* global, HillClimber* climber,
                      std::int64_t now) {
  config_ = config;
  global_ = global;
  climber_ = climber;
  window_max_ = config_.window;
  protected_max_ =
      static_cast<std::uint64_t>(0.80 * static_cast<double>(config_.maximum - window_max_));
  key_buckets_.assign(16, kNil);
  owner_buckets_.assign(16, kNil);
  // Sized up front (Caffeine waits until half full): counting the warm-up accesses too
  // admits better on short traces and costs nothing later.
  if (config_.count_entries) {
    const std::uint64_t whole = global_->maximum;
    sketch_.ensure_capacity(std::max(config_.maximum, std::min(whole, kMinSketchEntries)),
                            std::max(config_.maximum, std::min(whole, kMinSketchPeriod)));
  } else {
    sketch_.ensure_capacity(std::max<std::uint64_t>(64, config_.maximum / 1024));
  }
  wheel_.assign(kWheelSlots, {});
  wheel_tick_ = now / config_.tick;
  random_state_ ^= config_.maximum * 0x2545F4914F6CDD1DULL;  // deterministic: replays repeat
}

std::uint64_t Shard::bytes_of(const Node& n) const noexcept {
  return n.key_len + n.owner_len + n.value.size() + Cache::kEntryOverhead;
}

std::uint32_t Shard::find(std::string_view key, std::uint32_t hash) const noexcept {
  std::uint32_t i = key_buckets_[hash & (key_buckets_.size() - 1)];
  while (i != kNil) {
    const Node& n = node(i);
    if (n.hash == hash && n.key() == key) return i;
    i = n.key_next;
  }
  return kNil;
}

ValueRef Shard::lookup(std::string_view key, std::uint64_t hash, LookupTime when, bool count) {
  // A hit counts it: overlap that cache miss with the search. The sketch counts the entry's
  // stored hash, the low half of `hash` (prefetching by the whole one fetched another block).
  sketch_.prefetch(static_cast<std::uint32_t>(hash));
  const std::uint32_t i = find(key, static_cast<std::uint32_t>(hash));
  if (i == kNil) {
    if (count) bump(counters.misses);
    return {};
  }
  Node& n = node(i);
  if (n.deadline() != kNever || config_.tti != 0) {
    const std::int64_t now = when.get().count();
    if (now >= n.deadline()) {
      remove(i, Removal::Expired);
      if (count) bump(counters.misses);
      return {};
    }
    if (config_.tti != 0) n.idle_at = now + config_.tti;
  }
  on_access(i);
  bump(counters.hits);
  return n.value;
}

std::uint32_t Shard::allocate(std::string_view key, std::optional<std::string_view> owned_by,
                              std::uint32_t hash) {
  std::uint32_t i;
  if (free_head_ != kNil) {
    i = free_head_;
    free_head_ = node(i).key_next;
  } else {
    i = node_count_++;
    if ((i >> kChunkShift) == chunks_.size()) {
      chunks_.push_back(std::make_unique<Node[]>(std::size_t{1} << kChunkShift));
    }
  }
  Node& n = node(i);
  const bool self = !owned_by || *owned_by == key;
  const std::string_view owner = self ? std::string_view() : *owned_by;
  // The empty owner (the empty Redis key) is "in the key" at offset 0 with length 0.
  const std::size_t at = self || owner.empty() ? 0 : key.find(owner);
  const bool in_key = !self && at <= Node::kMaxOwnerOffset;
  const std::size_t stored = key.size() + (in_key ? 0 : owner.size());
  n.bytes = new char[stored];
  std::memcpy(n.bytes, key.data(), key.size());
  if (!in_key && !owner.empty()) std::memcpy(n.bytes + key.size(), owner.data(), owner.size());
  n.key_len = static_cast<std::uint32_t>(key.size());
  n.owner_len = static_cast<std::uint32_t>(owner.size());
  n.set_owner_place(in_key, in_key ? at : 0);
  n.hash = hash;
  n.key_next = n.owner_next = n.prev = n.next = kNil;
  n.expires_at = n.idle_at = kNever;
  return i;
}

void Shard::release(std::uint32_t i) noexcept {
  Node& n = node(i);
  delete[] n.bytes;
  n.bytes = nullptr;
  n.value = {};
  // Free, not scheduled; stale wheel slots won't match.
  n.meta = ((n.generation() + 1) << Node::kGenerationShift);
  n.key_next = free_head_;
  free_head_ = i;
}

void Shard::grow_tables() {
  for (auto* buckets : {&key_buckets_, &owner_buckets_}) buckets->assign(buckets->size() * 2, kNil);
  const std::size_t key_mask = key_buckets_.size() - 1;
  const std::size_t owner_mask = owner_buckets_.size() - 1;
  for (std::uint32_t i = 0; i < node_count_; ++i) {
    Node& n = node(i);
    if (n.queue() == Queue::Free) continue;
    std::uint32_t& kb = key_buckets_[n.hash & key_mask];
    n.key_next = kb;
    kb = i;
    std::uint32_t& ob = owner_buckets_[owner_hash_of(n.owner()) & owner_mask];
    n.owner_next = ob;
    ob = i;
  }
}

void Shard::link_tables(std::uint32_t i) {
  Node& n = node(i);
  std::uint32_t& kb = key_buckets_[n.hash & (key_buckets_.size() - 1)];
  n.key_next = kb;
  kb = i;
  std::uint32_t& ob = owner_buckets_[owner_hash_of(n.owner()) & (owner_buckets_.size() - 1)];
  n.owner_next = ob;
  ob = i;
}

void Shard::unlink_key(std::uint32_t i) noexcept {
  std::uint32_t* link = &key_buckets_[node(i).hash & (key_buckets_.size() - 1)];
  while (*link != i) link = &node(*link).key_next;
  *link = node(i).key_next;
}

void Shard::unlink_owner(std::uint32_t i) noexcept {
  const std::uint32_t oh = owner_hash_of(node(i).owner());
  std::uint32_t* link = &owner_buckets_[oh & (owner_buckets_.size() - 1)];
  while (*link != i) link = &node(*link).owner_next;
  *link = node(i).owner_next;
}

bool Shard::insert(std::string_view key, std::optional<std::string_view> owner, std::uint64_t hash,
                   ValueRef&& value, std::int64_t expires_at, std::int64_t now) {
  const auto h32 = static_cast<std::uint32_t>(hash);
  const std::uint32_t existing = find(key, h32);
  if (existing != kNil) remove(existing, Removal::Replaced);
  const std::uint64_t bytes = key.size() + (!owner || *owner == key ? 0 : owner->size()) +
                              value.size() + Cache::kEntryOverhead;
  const std::uint64_t weight = config_.count_entries ? 1 : bytes;
  if (bytes > config_.max_entry_weight || weight > config_.limit ||
      (config_.max_bytes != 0 && bytes > config_.max_bytes)) {
    bump(counters.rejected);
    return false;
  }
  if (count_ + 1 > key_buckets_.size()) grow_tables();
  const std::uint32_t i = allocate(key, owner, h32);
  Node& n = node(i);
  n.value = std::move(value);
  n.expires_at = expires_at;
  if (config_.tti != 0) n.idle_at = now + config_.tti;
  link_tables(i);
  ++count_;
  bytes_ += bytes;
  if (global_->max_bytes != 0) global_->bytes.fetch_add(bytes, std::memory_order_relaxed);
  bump(counters.inserts);
  counters.entries.store(count_, std::memory_order_relaxed);
  counters.bytes.store(bytes_, std::memory_order_relaxed);
  if (n.deadline() != kNever) schedule(i);
  on_add(i);
  evict();
  climb();
  return true;
}

void Shard::remove(std::uint32_t i, Removal why) {
  Node& n = node(i);
  unlink_key(i);
  unlink_owner(i);
  on_remove(i);
  --count_;
  bytes_ -= bytes_of(n);
  if (global_->max_bytes != 0) global_->bytes.fetch_sub(bytes_of(n), std::memory_order_relaxed);
  counters.entries.store(count_, std::memory_order_relaxed);
  counters.bytes.store(bytes_, std::memory_order_relaxed);
  switch (why) {
    case Removal::Evicted:
      bump(counters.evictions);
      break;
    case Removal::Expired:
      bump(counters.expirations);
      break;
    case Removal::Invalidated:
      bump(counters.invalidations);
      break;
    case Removal::Replaced:
      break;
  }
  release(i);
}

void Shard::stale_fill(FillTable::iterator it) {
  it->second->stale.store(true, std::memory_order_release);
  fills.erase(it);
}

std::size_t Shard::invalidate_owner(std::string_view owner, std::uint32_t owner_hash) {
  std::size_t dropped = 0;
  std::uint32_t i = owner_buckets_[owner_hash & (owner_buckets_.size() - 1)];
  while (i != kNil) {
    const std::uint32_t next = node(i).owner_next;
    if (node(i).owner() == owner) {
      remove(i, Removal::Invalidated);
      ++dropped;
    }
    i = next;
  }
  // In-flight fills are few (bounded by upstream concurrency), so a scan is cheap.
  for (auto it = fills.begin(); it != fills.end();) {
    auto current = it++;
    if (current->second->owner == owner) stale_fill(current);
  }
  return dropped;
}

void Shard::clear() {
  for (std::uint32_t i = 0; i < node_count_; ++i) {
    if (node(i).queue() != Queue::Free) remove(i, Removal::Invalidated);
  }
  while (!fills.empty()) stale_fill(fills.begin());
}

void Shard::schedule(std::uint32_t i) {
  Node& n = node(i);
  if (n.scheduled()) return;
  std::int64_t tick = n.deadline() / config_.tick + 1;
  tick = std::max(tick, wheel_tick_ + 1);
  wheel_[static_cast<std::size_t>(tick) & (kWheelSlots - 1)].push_back({i, n.generation()});
  n.set_scheduled(true);
}

std::size_t Shard::expire(std::int64_t now) {
  const std::int64_t target = now / config_.tick;
  if (target <= wheel_tick_) return 0;
  const std::int64_t steps = std::min<std::int64_t>(target - wheel_tick_, kWheelSlots);
  const std::int64_t first = wheel_tick_ + 1;
  wheel_tick_ = target;
  std::size_t expired = 0;
  std::vector<WheelSlot> due;
  for (std::int64_t t = first; t < first + steps; ++t) {
    due.clear();
    due.swap(wheel_[static_cast<std::size_t>(t) & (kWheelSlots - 1)]);
    for (const WheelSlot& slot : due) {
      Node& n = node(slot.index);
      if (n.queue() == Queue::Free || n.generation() != slot.generation || !n.scheduled()) {
        continue;
      }
      n.set_scheduled(false);
      if (now >= n.deadline()) {
        remove(slot.index, Removal::Expired);
        ++expired;
      } else {
        schedule(slot.index);  // a later lap, an extended idle deadline or a new TTL
      }
    }
  }
  return expired;
}

std::string Shard::debug_order() const {
  std::string out;
  const char* names[] = {"", "W", "P", "M"};
  for (int q = 1; q <= 3; ++q) {
    out += names[q];
    out += '[';
    for (std::uint32_t i = lists_[q].head; i != kNil; i = node(i).next) {
      if (i != lists_[q].head) out += ' ';
      out += node(i).key();
    }
    out += "] ";
  }
  out.pop_back();
  return out;
}

}  // namespace frontcache::cache::detail
