// The L1 cache: a process-wide store of RESP replies split into shards by owner hash (every entry
// of one owner in one shard, so invalidating an owner takes one shard lock), each shard
// with its own lock, W-TinyLFU policy (adaptive window), expiry wheel and single-flight fills.
// Data flows in through insert()/complete(), out through lookup()/begin(), and is dropped by
// eviction, expiry (run_maintenance) and invalidation by owner key. No I/O, no Asio.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "frontcache/cache/clock.hpp"
#include "frontcache/cache/unique_function.hpp"
#include "frontcache/cache/value.hpp"

namespace frontcache::cache {

struct CacheConfig {
  // Bound on key + owner + value bytes + kEntryOverhead per entry, summed. 0 = no byte bound.
  std::uint64_t max_weight = std::uint64_t{256} << 20;
  // Bound on the number of entries. 0 = none. When set, the policy counts entries (weight 1
  // each) and max_weight, if also set, is enforced as a second bound.
  std::uint64_t max_entries = 0;
  // 0 = from hardware threads. Always rounded up to a power of two.
  unsigned shards = 0;
  // An entry whose weight (key + owner + value + overhead) exceeds this is never admitted.
  std::uint64_t max_value_size = std::uint64_t{1} << 20;
  // Entries not read for this long expire. 0 = off.
  Duration time_to_idle{0};
  // Waiters one in-flight fill accepts before begin() answers TooManyWaiters.
  std::size_t max_waiters_per_fill = 1024;
  // Resolution of the expiry wheel: expired entries are reclaimed within about one tick of
  // run_maintenance() calls (lookups never return them, whatever the tick).
  Duration expiry_tick = std::chrono::milliseconds(100);
  // Null = SteadyClock.
  std::shared_ptr<const Clock> clock;
};

// Relaxed counters summed over shards; each is exact per shard, the sum is a snapshot.
struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t inserts = 0;
  std::uint64_t rejected = 0;  // too heavy to admit
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t invalidations = 0;  // entries dropped by invalidate*/clear
  std::uint64_t fills_started = 0;
  std::uint64_t coalesced_waiters = 0;
  std::uint64_t waiters_refused = 0;  // begin() returned TooManyWaiters
  std::uint64_t stale_fills_discarded = 0;
  std::uint64_t fills_failed = 0;   // fail() or abandon()
  std::uint64_t weighted_size = 0;  // bytes, including kEntryOverhead per entry
  std::uint64_t entries = 0;
};

enum class FillStatus {
  Ok,         // value is the leader's result (possibly not cached if the fill went stale)
  Failed,     // the leader's load failed; nothing was cached
  Abandoned,  // the leader went away without a result; retry or go upstream
};

struct FillOutcome {
  FillStatus status;
  ValueRef value;  // null unless status == Ok
};

// Invoked once, on the thread that completes/fails/abandons the fill, outside any cache lock.
using Waiter = UniqueFunction<void(FillOutcome)>;

// Makes the waiter of a begin() when, and only when, the read joins a fill in flight: a hit or a
// new leader (most misses) builds none. Refers to a callable the caller keeps alive for the
// duration of begin().
class WaiterFactory {
 public:
  template <class F, class = std::enable_if_t<std::is_invocable_r_v<Waiter, F&>>>
  WaiterFactory(F& make) noexcept  // NOLINT(google-explicit-constructor)
      : object_(&make), call_([](void* f) -> Waiter { return (*static_cast<F*>(f))(); }) {}
  Waiter operator()() const { return call_(object_); }

 private:
  void* object_;
  Waiter (*call_)(void*);
};

namespace detail {
struct Fill;
struct GlobalWeight;
class HillClimber;
class Shard;
}  // namespace detail

class Cache;

// Proof of leadership of one in-flight fill. Move-only. Destroying an unfinished ticket
// abandons the fill (its waiters are told Abandoned).
class FillTicket {
 public:
  FillTicket() noexcept = default;
  FillTicket(FillTicket&& other) noexcept;
  FillTicket& operator=(FillTicket&& other) noexcept;
  ~FillTicket();

  explicit operator bool() const noexcept { return fill_ != nullptr; }
  // True once an invalidation hit the fill's key/owner (or clear()): its result won't be cached.
  [[nodiscard]] bool stale() const noexcept;

 private:
  friend class Cache;
  FillTicket(Cache* cache, std::shared_ptr<detail::Fill> fill) noexcept;
  Cache* cache_ = nullptr;
  std::shared_ptr<detail::Fill> fill_;
};

enum class BeginKind {
  Hit,             // value is set; the waiter was dropped
  Leader,          // ticket is set: load the value, then complete()/fail() it
  Joined,          // the waiter will be called when the in-flight fill resolves
  TooManyWaiters,  // the fill is full: go upstream without caching; the waiter was dropped
};

struct BeginResult {
  BeginKind kind;
  ValueRef value;
  FillTicket ticket;
};

class Cache {
 public:
  // Weight charged per entry on top of its key, owner and value bytes. Measured, see docs/cache.md.
  static constexpr std::uint64_t kEntryOverhead = 112;

  explicit Cache(CacheConfig config = {});
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Hit: a handle to the value (no allocation, no copy). Miss or expired: null. `owner` is the
  // one the entry was cached with (none: the key owns itself); it picks the shard.
  [[nodiscard]] ValueRef lookup(std::string_view key,
                                std::optional<std::string_view> owner = std::nullopt);
  // The same at `now`, the clock's reading taken by the caller: one clock read for a batch of
  // lookups instead of one per lookup.
  [[nodiscard]] ValueRef lookup(std::string_view key, std::optional<std::string_view> owner,
                                TimePoint now);

  // Caches `value` under `key`, owned by `owner` (none: the key owns itself; an empty owner is
  // the empty key, a real one), replacing any previous value. ttl <= 0 means no deadline.
  // Returns false when the entry is too heavy.
  bool insert(std::string_view key, std::optional<std::string_view> owner, ValueRef value,
              Duration ttl);

  // Single-flight read. See BeginKind. `owner` is recorded so invalidate(owner) can stale it.
  // `count_lookup`: false when the caller has just counted this access with lookup() (a miss
  // there would otherwise be counted twice).
  BeginResult begin(std::string_view key, std::optional<std::string_view> owner, Waiter&& on_done,
                    bool count_lookup = true);
  // The same, with the waiter made only if the read joins (see WaiterFactory).
  BeginResult begin(std::string_view key, std::optional<std::string_view> owner,
                    WaiterFactory make_waiter, bool count_lookup = true);
  // Resolves every waiter with `value` and caches it unless the fill went stale.
  // Returns true when the value was cached.
  bool complete(FillTicket&& ticket, ValueRef value, Duration ttl);
  // Resolves every waiter with `value` (status Ok) without caching it: for replies that must
  // not be cached (errors, nils without a negative TTL) but answer the waiters all the same.
  void deliver(FillTicket&& ticket, ValueRef value);
  // Resolves every waiter with Failed; nothing is cached.
  void fail(FillTicket&& ticket);
  // Resolves every waiter with Abandoned; nothing is cached.
  void abandon(FillTicket&& ticket);

  // Drops every entry owned by `owner` (in any database) and stales its in-flight fills.
  // Returns the number of entries dropped.
  std::size_t invalidate(std::string_view owner);
  std::size_t invalidate(std::span<const std::string_view> owners);
  // Drops the one entry cached under exactly `key` (with `owner`) and stales its fill.
  bool invalidate_entry(std::string_view key, std::optional<std::string_view> owner = std::nullopt);
  // Drops everything and stales every in-flight fill.
  void clear();

  // Reclaims entries whose deadline has passed by `now`, without them being looked up.
  std::size_t expire_some(TimePoint now);
  // expire_some(clock.now()); call it from a timer (e.g. every 100 ms).
  std::size_t run_maintenance();

  [[nodiscard]] CacheStats stats() const;
  [[nodiscard]] unsigned shard_count() const noexcept { return shard_count_; }
  [[nodiscard]] const Clock& clock() const noexcept { return *clock_; }

  // Policy order per shard, LRU first: "W[a b] P[c] M[d]" (window, probation, protected).
  // For tests and debugging; takes each shard lock in turn.
  [[nodiscard]] std::string debug_order() const;

 private:
  friend class FillTicket;
  detail::Shard& shard_for(std::uint64_t hash) const noexcept;
  // The shard of every entry and fill of `owner` (none: of the key, which owns itself, whose
  // hash_key is `key_hash`).
  detail::Shard& shard_of(std::uint64_t key_hash, std::optional<std::string_view> owner) const;
  // After an insert: if the shard inserted into could not bring the total under the bound
  // (it ran out of entries), the other shards give up entries in turn.
  void shed_elsewhere(const detail::Shard& inserted);
  void resolve(FillTicket&& ticket, FillStatus status, ValueRef value, Duration ttl, bool* cached,
               bool keep = true);

  std::shared_ptr<const Clock> clock_;
  unsigned shard_count_ = 1;
  unsigned shard_shift_ = 64;
  std::unique_ptr<detail::GlobalWeight> global_;
  std::unique_ptr<detail::HillClimber> climber_;
  std::unique_ptr<detail::Shard[]> shards_;
};

// The hash used for the shards (of the owner), the tables and the sketch (of the key); exposed
// for tools and tests.
std::uint64_t hash_key(std::string_view key) noexcept;

}  // namespace frontcache::cache
