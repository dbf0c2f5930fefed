// A latency histogram cheap enough for the request path: fixed bucket bounds, one shard of
// relaxed atomic counters per worker (no cache line is written by two workers), summed only when
// a scraper asks. Observations are in nanoseconds; the exposition is in seconds.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace frontcache::metrics {

// Upper bounds of the buckets, in microseconds (Prometheus `le`, converted to seconds); one
// more bucket, +Inf, follows. 50 µs to 10 s covers a loopback hit through a timed-out upstream.
inline constexpr std::array<std::uint64_t, 17> kLatencyBoundsMicros{
    50,     100,     250,     500,     1'000,     2'500,     5'000,     10'000,    25'000,
    50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

struct HistogramSnapshot {
  // Per bucket, not cumulative; the last entry is +Inf.
  std::array<std::uint64_t, kLatencyBoundsMicros.size() + 1> counts{};
  std::uint64_t count = 0;
  std::uint64_t sum_nanos = 0;
};

class Histogram {
 public:
  // `shards`: one per writer thread (workers); observe() with shard >= shards folds onto the
  // last one, so an extra writer is merely slower, never wrong.
  explicit Histogram(std::size_t shards = 1);

  // `count` events that each took `duration`.
  void observe(std::size_t shard, std::chrono::nanoseconds duration,
               std::uint64_t count = 1) noexcept;
  HistogramSnapshot snapshot() const noexcept;
  std::size_t shards() const { return shard_count_; }

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<std::uint64_t>, kLatencyBoundsMicros.size() + 1> counts{};
    std::atomic<std::uint64_t> sum_nanos{0};
  };

  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace frontcache::metrics
