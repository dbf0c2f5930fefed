// One shard of the L1: entry storage (a node pool with key and owner hash chains), the
// W-TinyLFU policy (window LRU + SLRU main, sketch admission, hill-climbed window size), the
// expiry wheel and the in-flight fills. Everything here is guarded by the shard's mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "frequency_sketch.hpp"
#include "frontcache/cache/cache.hpp"
#include "hill_climber.hpp"

namespace frontcache::cache::detail {

// When a lookup happens: a reading the caller took, or the clock, read only if the entry found
// has a deadline.
class LookupTime {
 public:
  explicit LookupTime(const Clock& clock) : clock_(&clock) {}
  explicit LookupTime(TimePoint at) : at_(at) {}
  [[nodiscard]] TimePoint get() const noexcept { return clock_ != nullptr ? clock_->now() : at_; }

 private:
  const Clock* clock_ = nullptr;
  TimePoint at_{};
};

inline constexpr std::uint32_t kNil = 0xffffffffU;
inline constexpr std::int64_t kNever = INT64_MAX;

enum class Queue : std::uint8_t { Free = 0, Window = 1, Probation = 2, Protected = 3 };
enum class Removal { Evicted, Expired, Invalidated, Replaced };

// 64 bytes; the key bytes (and the owner's, unless the owner is part of the key) live in one
// separate allocation. The proxy's owner is the Redis key embedded in the cache key, so it is
// usually stored as an offset into the key and costs nothing.
struct Node {
  char* bytes = nullptr;  // key bytes, then owner bytes when stored separately
  ValueRef value;
  std::int64_t expires_at = kNever;  // TTL deadline, ns on the cache clock
  std::int64_t idle_at = kNever;     // time-to-idle deadline
  std::uint32_t hash = 0;            // low half of hash_key(key)
  std::uint32_t key_len = 0;
  std::uint32_t owner_len = 0;      // 0: the key owns itself, or (owner in key) the empty owner
  std::uint32_t key_next = kNil;    // key chain; free list when Free
  std::uint32_t owner_next = kNil;  // owner chain
  std::uint32_t prev = kNil;        // access order within its queue
  std::uint32_t next = kNil;
  // generation << 12 | owner offset in key << 4 | owner in key << 3 | scheduled << 2 | queue
  std::uint32_t meta = 0;

  static constexpr unsigned kGenerationShift = 12;
  static constexpr std::size_t kMaxOwnerOffset = 255;

  [[nodiscard]] std::string_view key() const noexcept { return {bytes, key_len}; }
  [[nodiscard]] std::string_view owner() const noexcept {
    if (owner_len == 0) return owner_in_key() ? std::string_view(bytes, 0) : key();
    return {bytes + (owner_in_key() ? owner_offset() : key_len), owner_len};
  }
  [[nodiscard]] Queue queue() const noexcept { return static_cast<Queue>(meta & 3U); }
  void set_queue(Queue q) noexcept { meta = (meta & ~3U) | static_cast<std::uint32_t>(q); }
  [[nodiscard]] bool scheduled() const noexcept { return (meta & 4U) != 0; }
  void set_scheduled(bool s) noexcept { meta = s ? (meta | 4U) : (meta & ~4U); }
  [[nodiscard]] bool owner_in_key() const noexcept { return (meta & 8U) != 0; }
  [[nodiscard]] std::uint32_t owner_offset() const noexcept { return (meta >> 4) & 0xffU; }
  // Keeps queue, scheduled and generation.
  void set_owner_place(bool in_key, std::size_t offset) noexcept {
    meta = (meta & ~0xff8U) | (in_key ? 8U : 0U) | (static_cast<std::uint32_t>(offset) << 4);
  }
  // Wraps after 2^20 reuses of one node; a stale wheel slot matching by chance only makes
  // the live entry's deadline be checked early.
  [[nodiscard]] std::uint32_t generation() const noexcept { return meta >> kGenerationShift; }
  [[nodiscard]] std::int64_t deadline() const noexcept { return std::min(expires_at, idle_at); }
};
static_assert(sizeof(Node) == 64);

class Shard;

struct Fill {
  std::string key;
  std::string_view owner;  // in `key` (the key itself when no owner was given), or owner_copy
  std::string owner_copy;  // the owner's bytes when they do not occur in the key
  std::uint64_t hash = 0;  // of the key (table and sketch)
  Shard* shard = nullptr;  // the owner's shard, whose table holds this fill
  std::vector<Waiter> waiters;
  std::atomic<bool> stale{false};
  bool done = false;
};

// The bound shared by every shard. Capacity floats: a shard may hold more than its nominal
// share while the total is under the bound, and evicts its own entries only once the total is
// over, so a shard whose keys are hot does not evict while a cold one sits on room.
struct alignas(64) GlobalWeight {
  std::atomic<std::uint64_t> units{0};  // policy units summed over shards
  std::atomic<std::uint64_t> bytes{0};  // tracked only when max_bytes != 0
  std::uint64_t maximum = 0;
  std::uint64_t max_bytes = 0;
  [[nodiscard]] bool over() const noexcept {
    return units.load(std::memory_order_relaxed) > maximum ||
           (max_bytes != 0 && bytes.load(std::memory_order_relaxed) > max_bytes);
  }
};

struct ShardConfig {
  std::uint64_t maximum = 0;  // nominal share, policy units: entries when count_entries, else bytes
  std::uint64_t limit = 0;    // hard per-shard bound in policy units (>= maximum)
  bool count_entries = false;
  std::uint64_t max_bytes = 0;  // second bound when count_entries (0 = none)
  std::uint64_t max_entry_weight = 0;
  std::int64_t tti = 0;   // ns, 0 = off
  std::int64_t tick = 0;  // ns
  std::size_t max_waiters = 0;
  unsigned shards = 1;           // how many shards share the bound and the climber
  std::uint64_t window = 1;      // initial window share (the cache's 1% spread over shards)
  std::uint64_t min_window = 1;  // 0 with several shards: the cache-wide window may be < shards
};

// Written only under the shard lock, read lock-free by stats().
struct ShardCounters {
  std::atomic<std::uint64_t> hits{0}, misses{0}, inserts{0}, rejected{0}, evictions{0},
      expirations{0}, invalidations{0}, fills_started{0}, coalesced{0}, refused{0},
      stale_discarded{0}, fills_failed{0}, bytes{0}, entries{0};
};
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// A fill's place in its shard's table: the key's bytes (a view of Fill::key, which the table's
// shared_ptr keeps alive) and the hash the caller computed once, so that finding, adding and
// removing a fill hash nothing again.
struct FillKey {
  std::string_view key;
  std::uint64_t hash;
};
struct FillKeyHash {
  std::size_t operator()(const FillKey& k) const noexcept { return k.hash; }
};
struct FillKeyEqual {
  bool operator()(const FillKey& a, const FillKey& b) const noexcept {
    return a.hash == b.hash && a.key == b.key;
  }
};
using FillTable = std::unordered_map<FillKey, std::shared_ptr<Fill>, FillKeyHash, FillKeyEqual>;

class alignas(64) Shard {
 public:
  Shard() = default;
  ~Shard();
  void configure(const ShardConfig& config, GlobalWeight* global, HillClimber* climber,
                 std::int64_t now);

  mutable std::mutex mu;
  ShardCounters counters;

  // --- all below: caller holds mu ---
  [[nodiscard]] std::uint32_t find(std::string_view key, std::uint32_t hash) const noexcept;
  // Hit path: expiry check, policy access, handle copy. Null on miss.
  // `count`: false when the caller already counted this access (a lookup() just before).
  ValueRef lookup(std::string_view key, std::uint64_t hash, LookupTime when, bool count = true);
  bool insert(std::string_view key, std::optional<std::string_view> owner, std::uint64_t hash,
              ValueRef&& value, std::int64_t expires_at, std::int64_t now);
  void remove(std::uint32_t index, Removal why);
  std::size_t invalidate_owner(std::string_view owner, std::uint32_t owner_hash);
  void clear();
  // Evicts (policy order) while the global bound is exceeded; for a shard other than the one
  // inserted into, when that one ran out of entries to give.
  void shed();
  std::size_t expire(std::int64_t now);
  [[nodiscard]] std::string debug_order() const;
  [[nodiscard]] const ShardConfig& config() const noexcept { return config_; }

  FillTable fills;
  // Marks the fill stale and forgets it so later misses start a new fill.
  void stale_fill(FillTable::iterator it);

 private:
  // storage (shard.cpp)
  std::uint32_t allocate(std::string_view key, std::optional<std::string_view> owner,
                         std::uint32_t hash);
  void release(std::uint32_t index) noexcept;
  void link_tables(std::uint32_t index);
  void grow_tables();
  void unlink_key(std::uint32_t index) noexcept;
  void unlink_owner(std::uint32_t index) noexcept;
  void schedule(std::uint32_t index);
  [[nodiscard]] std::uint64_t bytes_of(const Node& n) const noexcept;
  [[nodiscard]] std::uint64_t weight_of(const Node& n) const noexcept {
    return config_.count_entries ? 1 : bytes_of(n);
  }

  // policy (shard_policy.cpp)
  struct List {
    std::uint32_t head = kNil;
    std::uint32_t tail = kNil;
  };
  List& list(Queue q) noexcept { return lists_[static_cast<int>(q)]; }
  void push_back(Queue q, std::uint32_t index) noexcept;
  void push_front(Queue q, std::uint32_t index) noexcept;
  void unlink(std::uint32_t index) noexcept;
  void on_add(std::uint32_t index);
  void on_access(std::uint32_t index) noexcept;
  void on_remove(std::uint32_t index) noexcept;
  [[nodiscard]] bool over_capacity() const noexcept;
  void evict();
  std::uint32_t evict_from_window() noexcept;
  void evict_from_main(std::uint32_t candidate);
  bool admit(std::uint32_t candidate, std::uint32_t victim) noexcept;
  void climb();
  void increase_window();
  void decrease_window();
  void demote_from_protected() noexcept;
  std::uint64_t next_random() noexcept;

  ShardConfig config_;
  GlobalWeight* global_ = nullptr;
  HillClimber* climber_ = nullptr;
  std::uint64_t climber_epoch_ = 0;
  double adjustment_carry_ = 0.0;  // this shard's share of adjustments, below one unit
  // Fixed-size chunks: no doubling slack and no reallocation pause as the shard fills.
  static constexpr std::uint32_t kChunkShift = 10;
  Node& node(std::uint32_t i) noexcept {
    return chunks_[i >> kChunkShift][i & ((1U << kChunkShift) - 1)];
  }
  const Node& node(std::uint32_t i) const noexcept {
    return chunks_[i >> kChunkShift][i & ((1U << kChunkShift) - 1)];
  }
  std::vector<std::unique_ptr<Node[]>> chunks_;
  std::uint32_t node_count_ = 0;
  std::uint32_t free_head_ = kNil;
  std::vector<std::uint32_t> key_buckets_;
  std::vector<std::uint32_t> owner_buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t bytes_ = 0;

  List lists_[4];
  FrequencySketch sketch_;
  std::uint64_t weighted_size_ = 0;  // policy units
  std::uint64_t window_size_ = 0;
  std::uint64_t protected_size_ = 0;
  std::uint64_t window_max_ = 0;
  std::uint64_t protected_max_ = 0;
  std::uint64_t hits_in_sample_ = 0;  // since the last report to the climber
  std::uint64_t misses_in_sample_ = 0;
  std::int64_t adjustment_ = 0;
  std::uint64_t random_state_ = 0x9e3779b97f4a7c15ULL;

  struct WheelSlot {
    std::uint32_t index;
    std::uint32_t generation;
  };
  std::vector<std::vector<WheelSlot>> wheel_;
  std::int64_t wheel_tick_ = 0;  // last tick processed
};

}  // namespace frontcache::cache::detail
