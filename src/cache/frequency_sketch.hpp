// Popularity estimate for TinyLFU admission: a 4-bit count-min sketch whose counters all halve
// after 10 x capacity increments, so old popularity fades. Each key's four counters live in one
// 64-byte block (one cache line per lookup). Not thread-safe; each shard owns one.
#pragma once

#include <cstdint>
#include <vector>

namespace frontcache::cache {

class FrequencySketch {
 public:
  // Sizes the table for about `capacity` distinct hot keys; resets all counts when it grows.
  // Counts halve after 10 x max(capacity, period_entries) increments.
  void ensure_capacity(std::uint64_t capacity, std::uint64_t period_entries = 0);
  [[nodiscard]] bool initialized() const noexcept { return !table_.empty(); }

  // Estimated count of `hash` (0..15).
  [[nodiscard]] int frequency(std::uint64_t hash) const noexcept;
  void increment(std::uint64_t hash) noexcept;
  // Brings the counters of `hash` into the CPU cache ahead of an increment().
  void prefetch(std::uint64_t hash) const noexcept;

  [[nodiscard]] std::uint64_t sample_size() const noexcept { return sample_size_; }
  [[nodiscard]] std::uint64_t table_bytes() const noexcept { return table_.size() * 8; }

 private:
  void halve() noexcept;

  std::vector<std::uint64_t> table_;
  std::uint64_t block_mask_ = 0;
  std::uint64_t sample_size_ = 0;
  std::uint64_t additions_ = 0;
};

}  // namespace frontcache::cache
