// Cache facade: picks the shard, takes its lock, and runs waiters after the lock is released.
#include "frontcache/cache/cache.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "shard.hpp"

namespace frontcache::cache {
namespace {

constexpr unsigned kMaxShards = 1024;
// A shard may hold up to this many times its nominal share while the total is under the bound.
constexpr std::uint64_t kShardLimitFactor = 2;

// hash_key: the multiply-and-fold construction of wyhash (public domain): each 16 bytes are
// folded by one 64x64->128-bit multiplication whose halves are xored. A GET hit's cache key and
// its owner cost 77 instructions together, where std::hash (murmur) and a 64-bit finalizer cost
// 155 (callgrind); the quality stays that of a full-avalanche hash (the trace simulations' hit
// ratios, which a weak hash lowered, are the check).
constexpr std::uint64_t kSecret[4] = {0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL,
                                      0x8ebc6af09c88c6e3ULL, 0x589965cc75374cc3ULL};

__extension__ typedef unsigned __int128 Wide;  // GCC and Clang on 64-bit targets

inline std::uint64_t fold(std::uint64_t a, std::uint64_t b) noexcept {
  const Wide r = static_cast<Wide>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}
inline std::uint64_t read8(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t read4(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

unsigned shard_count_for(const CacheConfig& config) {
  unsigned n = config.shards;
  if (n == 0) n = std::max(1U, std::thread::hardware_concurrency()) * 4;
  n = std::bit_ceil(std::min(n, kMaxShards));
  return n;
}

std::int64_t deadline_for(TimePoint now, Duration ttl) noexcept {
  if (ttl.count() <= 0) return detail::kNever;
  if (ttl.count() > detail::kNever - now.count()) return detail::kNever;
  return now.count() + ttl.count();
}

}  // namespace

std::uint64_t hash_key(std::string_view key) noexcept {
  const char* p = key.data();
  const std::size_t len = key.size();
  std::uint64_t seed = fold(kSecret[0], kSecret[1]);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (len <= 16) {
    if (len >= 4) {
      const std::size_t mid = (len >> 3) << 2;
      a = (read4(p) << 32) | read4(p + mid);
      b = (read4(p + len - 4) << 32) | read4(p + len - 4 - mid);
    } else if (len > 0) {
      const auto byte = [p](std::size_t i) {
        return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i]));
      };
      a = (byte(0) << 16) | (byte(len >> 1) << 8) | byte(len - 1);
    }
  } else {
    std::size_t i = len;
    if (i > 48) {
      std::uint64_t see1 = seed;
      std::uint64_t see2 = seed;
      do {
        seed = fold(read8(p) ^ kSecret[1], read8(p + 8) ^ seed);
        see1 = fold(read8(p + 16) ^ kSecret[2], read8(p + 24) ^ see1);
        see2 = fold(read8(p + 32) ^ kSecret[3], read8(p + 40) ^ see2);
        p += 48;
        i -= 48;
      } while (i > 48);
      seed ^= see1 ^ see2;
    }
    while (i > 16) {
      seed = fold(read8(p) ^ kSecret[1], read8(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = read8(p + i - 16);
    b = read8(p + i - 8);
  }
  a ^= kSecret[1];
  b ^= seed;
  const Wide r = static_cast<Wide>(a) * b;
  a = static_cast<std::uint64_t>(r);
  b = static_cast<std::uint64_t>(r >> 64);
  return fold(a ^ kSecret[0] ^ len, b ^ kSecret[1]);
}

// ---- FillTicket -----------------------------------------------------------------------------

FillTicket::FillTicket(Cache* cache, std::shared_ptr<detail::Fill> fill) noexcept
    : cache_(cache), fill_(std::move(fill)) {}
FillTicket::FillTicket(FillTicket&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)), fill_(std::move(other.fill_)) {}
FillTicket& FillTicket::operator=(FillTicket&& other) noexcept {
  if (this != &other) {
    if (fill_ != nullptr) cache_->abandon(std::move(*this));
    cache_ = std::exchange(other.cache_, nullptr);
    fill_ = std::move(other.fill_);
  }
  return *this;
}
FillTicket::~FillTicket() {
  if (fill_ != nullptr) cache_->abandon(std::move(*this));
}
bool FillTicket::stale() const noexcept {
  return fill_ != nullptr && fill_->stale.load(std::memory_order_acquire);
}

// ---- Cache ----------------------------------------------------------------------------------

Cache::Cache(CacheConfig config) : clock_(std::move(config.clock)) {
  if (clock_ == nullptr) clock_ = std::make_shared<SteadyClock>();
  if (config.max_weight == 0 && config.max_entries == 0) {
    throw std::invalid_argument("cache: max_weight or max_entries must be set");
  }
  if (config.expiry_tick.count() <= 0) throw std::invalid_argument("cache: expiry_tick <= 0");
  shard_count_ = shard_count_for(config);
  shard_shift_ = 64 - static_cast<unsigned>(std::countr_zero(shard_count_));
  shards_ = std::make_unique<detail::Shard[]>(shard_count_);
  global_ = std::make_unique<detail::GlobalWeight>();
  detail::ShardConfig sc;
  sc.count_entries = config.max_entries != 0;
  const std::uint64_t total = sc.count_entries ? config.max_entries : config.max_weight;
  global_->maximum = total;
  global_->max_bytes = sc.count_entries ? config.max_weight : 0;
  climber_ = std::make_unique<detail::HillClimber>();
  climber_->configure(total);
  sc.shards = shard_count_;
  sc.maximum = std::max<std::uint64_t>(1, total / shard_count_);
  sc.limit = std::min(total, sc.maximum * kShardLimitFactor);
  sc.max_bytes = global_->max_bytes != 0
                     ? std::min(global_->max_bytes,
                                std::max<std::uint64_t>(1, global_->max_bytes / shard_count_) *
                                    kShardLimitFactor)
                     : 0;
  sc.max_entry_weight = config.max_value_size;
  sc.tti = config.time_to_idle.count();
  sc.tick = config.expiry_tick.count();
  sc.max_waiters = config.max_waiters_per_fill;
  sc.min_window = shard_count_ > 1 ? 0 : 1;
  // Caffeine's initial window is 1% of the cache; shards split it (some get one unit more).
  const std::uint64_t window =
      total - static_cast<std::uint64_t>(0.99 * static_cast<double>(total));
  const std::int64_t now = clock_->now().count();
  for (unsigned i = 0; i < shard_count_; ++i) {
    sc.window = window / shard_count_ + (i < window % shard_count_ ? 1 : 0);
    shards_[i].configure(sc, global_.get(), climber_.get(), now);
  }
}

Cache::~Cache() = default;

detail::Shard& Cache::shard_for(std::uint64_t hash) const noexcept {
  return shards_[shard_shift_ >= 64 ? 0 : hash >> shard_shift_];
}

detail::Shard& Cache::shard_of(std::uint64_t key_hash,
                               std::optional<std::string_view> owner) const {
  return shard_for(owner ? hash_key(*owner) : key_hash);
}

ValueRef Cache::lookup(std::string_view key, std::optional<std::string_view> owner) {
  const std::uint64_t hash = hash_key(key);
  detail::Shard& shard = shard_of(hash, owner);
  std::lock_guard lock(shard.mu);
  return shard.lookup(key, hash, detail::LookupTime(*clock_));
}

ValueRef Cache::lookup(std::string_view key, std::optional<std::string_view> owner, TimePoint now) {
  const std::uint64_t hash = hash_key(key);
  detail::Shard& shard = shard_of(hash, owner);
  std::lock_guard lock(shard.mu);
  return shard.lookup(key, hash, detail::LookupTime(now));
}

bool Cache::insert(std::string_view key, std::optional<std::string_view> owner, ValueRef value,
                   Duration ttl) {
  const std::uint64_t hash = hash_key(key);
  detail::Shard& shard = shard_of(hash, owner);
  const TimePoint now = clock_->now();
  bool inserted = false;
  {
    std::lock_guard lock(shard.mu);
    inserted =
        shard.insert(key, owner, hash, std::move(value), deadline_for(now, ttl), now.count());
  }
  shed_elsewhere(shard);
  return inserted;
}

void Cache::shed_elsewhere(const detail::Shard& inserted) {
  if (!global_->over()) return;
  const auto from = static_cast<unsigned>(&inserted - shards_.get());
  for (unsigned k = 1; k < shard_count_ && global_->over(); ++k) {
    detail::Shard& shard = shards_[(from + k) & (shard_count_ - 1)];
    std::lock_guard lock(shard.mu);
    shard.shed();
  }
}

BeginResult Cache::begin(std::string_view key, std::optional<std::string_view> owner,
                         Waiter&& on_done, bool count_lookup) {
  auto give = [&on_done] { return std::move(on_done); };
  return begin(key, owner, WaiterFactory(give), count_lookup);
}

BeginResult Cache::begin(std::string_view key, std::optional<std::string_view> owner,
                         WaiterFactory make_waiter, bool count_lookup) {
  const std::uint64_t hash = hash_key(key);
  detail::Shard& shard = shard_of(hash, owner);
  std::lock_guard lock(shard.mu);
  if (ValueRef hit = shard.lookup(key, hash, detail::LookupTime(*clock_), count_lookup)) {
    return {BeginKind::Hit, std::move(hit), {}};
  }
  if (auto it = shard.fills.find(detail::FillKey{key, hash}); it != shard.fills.end()) {
    detail::Fill& fill = *it->second;
    if (fill.waiters.size() >= shard.config().max_waiters) {
      detail::bump(shard.counters.refused);
      return {BeginKind::TooManyWaiters, {}, {}};
    }
    fill.waiters.push_back(make_waiter());
    detail::bump(shard.counters.coalesced);
    return {BeginKind::Joined, {}, {}};
  }
  auto fill = std::make_shared<detail::Fill>();
  fill->key.assign(key);
  const std::string_view stored = fill->key;
  const std::size_t at = owner ? stored.find(*owner) : 0;
  if (!owner) {
    fill->owner = stored;
  } else if (at != std::string_view::npos) {
    fill->owner = stored.substr(at, owner->size());
  } else {
    fill->owner_copy.assign(*owner);
    fill->owner = fill->owner_copy;
  }
  fill->hash = hash;
  fill->shard = &shard;
  shard.fills.emplace(detail::FillKey{stored, hash}, fill);
  detail::bump(shard.counters.fills_started);
  return {BeginKind::Leader, {}, FillTicket(this, std::move(fill))};
}

void Cache::resolve(FillTicket&& ticket, FillStatus status, ValueRef value, Duration ttl,
                    bool* cached, bool keep) {
  if (ticket.fill_ == nullptr) return;
  std::shared_ptr<detail::Fill> fill = std::move(ticket.fill_);
  ticket.cache_ = nullptr;
  detail::Shard& shard = *fill->shard;
  std::vector<Waiter> waiters;
  {
    const TimePoint now = clock_->now();
    std::lock_guard lock(shard.mu);
    if (fill->done) return;
    fill->done = true;
    waiters.swap(fill->waiters);
    const bool stale = fill->stale.load(std::memory_order_relaxed);
    if (!stale) {
      // Not stale means the map still points at this fill (invalidation erases it).
      shard.fills.erase(detail::FillKey{fill->key, fill->hash});
    }
    if (status == FillStatus::Ok) {
      if (stale) {
        detail::bump(shard.counters.stale_discarded);
      } else if (keep) {
        const std::optional<std::string_view> owner = fill->owner;
        *cached = shard.insert(fill->key, owner, fill->hash, ValueRef(value),
                               deadline_for(now, ttl), now.count());
      }
    } else {
      detail::bump(shard.counters.fills_failed);
    }
  }
  if (*cached) shed_elsewhere(shard);
  for (Waiter& waiter : waiters) waiter(FillOutcome{status, value});
}

bool Cache::complete(FillTicket&& ticket, ValueRef value, Duration ttl) {
  bool cached = false;
  resolve(std::move(ticket), FillStatus::Ok, std::move(value), ttl, &cached);
  return cached;
}

void Cache::deliver(FillTicket&& ticket, ValueRef value) {
  bool cached = false;
  resolve(std::move(ticket), FillStatus::Ok, std::move(value), {}, &cached, false);
}

void Cache::fail(FillTicket&& ticket) {
  bool cached = false;
  resolve(std::move(ticket), FillStatus::Failed, {}, {}, &cached);
}

void Cache::abandon(FillTicket&& ticket) {
  bool cached = false;
  resolve(std::move(ticket), FillStatus::Abandoned, {}, {}, &cached);
}

std::size_t Cache::invalidate(std::string_view owner) {
  return invalidate(std::span<const std::string_view>(&owner, 1));
}

// Every entry and fill of an owner is in the owner's shard. Many owners at once (a tracking
// message carries every key Redis changed in one event-loop turn) are grouped by shard, and each
// shard is locked once per group of up to kGroup owners instead of once per owner: the lock is a
// cache line the worker threads use too, and taking it for each key was a fifth of the
// invalidation thread's CPU under a write load.
std::size_t Cache::invalidate(std::span<const std::string_view> owners) {
  constexpr std::size_t kGroup = 64;
  struct Owner {
    std::uint64_t hash;
    std::uint32_t shard;
    std::uint32_t index;
  };
  std::array<Owner, kGroup> group;
  std::size_t dropped = 0;
  for (std::size_t base = 0; base < owners.size(); base += kGroup) {
    const std::size_t n = std::min(kGroup, owners.size() - base);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t hash = hash_key(owners[base + i]);
      const auto shard = static_cast<std::uint32_t>(&shard_for(hash) - shards_.get());
      group[i] = Owner{hash, shard, static_cast<std::uint32_t>(base + i)};
    }
    std::sort(group.begin(), group.begin() + static_cast<std::ptrdiff_t>(n),
              [](const Owner& a, const Owner& b) { return a.shard < b.shard; });
    for (std::size_t i = 0; i < n;) {
      detail::Shard& shard = shards_[group[i].shard];
      std::lock_guard lock(shard.mu);
      for (const std::uint32_t s = group[i].shard; i < n && group[i].shard == s; ++i) {
        dropped += shard.invalidate_owner(owners[group[i].index],
                                          static_cast<std::uint32_t>(group[i].hash >> 7));
      }
    }
  }
  return dropped;
}

bool Cache::invalidate_entry(std::string_view key, std::optional<std::string_view> owner) {
  const std::uint64_t hash = hash_key(key);
  detail::Shard& shard = shard_of(hash, owner);
  std::lock_guard lock(shard.mu);
  if (auto it = shard.fills.find(detail::FillKey{key, hash}); it != shard.fills.end()) {
    shard.stale_fill(it);
  }
  const std::uint32_t i = shard.find(key, static_cast<std::uint32_t>(hash));
  if (i == detail::kNil) return false;
  shard.remove(i, detail::Removal::Invalidated);
  return true;
}

void Cache::clear() {
  for (unsigned s = 0; s < shard_count_; ++s) {
    std::lock_guard lock(shards_[s].mu);
    shards_[s].clear();
  }
}

std::size_t Cache::expire_some(TimePoint now) {
  std::size_t expired = 0;
  for (unsigned s = 0; s < shard_count_; ++s) {
    std::lock_guard lock(shards_[s].mu);
    expired += shards_[s].expire(now.count());
  }
  return expired;
}

std::size_t Cache::run_maintenance() { return expire_some(clock_->now()); }

CacheStats Cache::stats() const {
  CacheStats out;
  for (unsigned s = 0; s < shard_count_; ++s) {
    const detail::ShardCounters& c = shards_[s].counters;
    auto get = [](const std::atomic<std::uint64_t>& a) {
      return a.load(std::memory_order_relaxed);
    };
    out.hits += get(c.hits);
    out.misses += get(c.misses);
    out.inserts += get(c.inserts);
    out.rejected += get(c.rejected);
    out.evictions += get(c.evictions);
    out.expirations += get(c.expirations);
    out.invalidations += get(c.invalidations);
    out.fills_started += get(c.fills_started);
    out.coalesced_waiters += get(c.coalesced);
    out.waiters_refused += get(c.refused);
    out.stale_fills_discarded += get(c.stale_discarded);
    out.fills_failed += get(c.fills_failed);
    out.weighted_size += get(c.bytes);
    out.entries += get(c.entries);
  }
  return out;
}

std::string Cache::debug_order() const {
  std::string out;
  for (unsigned s = 0; s < shard_count_; ++s) {
    std::lock_guard lock(shards_[s].mu);
    if (!out.empty()) out += " | ";
    out += shards_[s].debug_order();
  }
  return out;
}

}  // namespace frontcache::cache
