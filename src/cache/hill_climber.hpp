// The adaptive-window decision shared by every shard: shards report their hits and misses, and
// once a sample period (10 x capacity requests, summed over shards) is complete one of them
// computes the next window adjustment from the cache-wide hit rate (Caffeine's hill climber).
// Each shard then applies its share of that adjustment, so small shards do not climb on noise.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace frontcache::cache::detail {

class HillClimber {
 public:
  // `maximum`: the whole cache's capacity in policy units.
  void configure(std::uint64_t maximum) noexcept;

  // Adds a shard's hits and misses since its last report; closes the sample period once the
  // total reaches `sample_size` requests.
  void record(std::uint64_t hits, std::uint64_t misses, std::uint64_t sample_size);

  // True when an adjustment newer than `*epoch` was published: stores it (policy units of the
  // whole cache, > 0 grows the window) and advances `*epoch`.
  bool poll(std::uint64_t* epoch, double* amount);

 private:
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> epoch_{0};
  std::mutex mu_;  // guards the fields below; never held with a shard lock wanted after it
  double maximum_ = 0.0;
  double previous_hit_rate_ = 0.0;
  double step_size_ = 0.0;
  double amount_ = 0.0;
};

}  // namespace frontcache::cache::detail
