// HDR-style latency histogram: log-linear buckets (64 linear sub-buckets per power of two), so
// any recorded value is reported within 1/64 (~1.6%) of itself, from 1 ns to ~1 minute, in a
// fixed 3.5k-slot array. Recording is a few instructions and never allocates.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace frontcache::bench {

class Histogram {
 public:
  void record(std::uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
  }
  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    if (other.max_ > max_) max_ = other.max_;
  }
  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

  // The smallest recorded value v such that at least `q` (0..1) of all values are <= v, as the
  // upper edge of its bucket (conservative, as HdrHistogram reports).
  std::uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    auto want = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    if (want < 1) want = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want) {
        const std::uint64_t edge = upper_edge(i);
        return edge < max_ ? edge : max_;
      }
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 6;  // 64 sub-buckets per octave
  static constexpr std::uint64_t kSub = 1u << kSubBits;
  static constexpr unsigned kOctaves = 36;  // 2^(36+6) ns is over an hour

  static std::size_t index(std::uint64_t v) {
    if (v < 2 * kSub) return static_cast<std::size_t>(v);
    const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
    const unsigned shift = msb - kSubBits;  // >= 1
    std::size_t i = (shift + 1) * kSub + static_cast<std::size_t>((v >> shift) - kSub);
    return i < kSlots ? i : kSlots - 1;
  }
  static std::uint64_t upper_edge(std::size_t i) {
    if (i < 2 * kSub) return i;
    const std::size_t shift = i / kSub - 1;
    const std::uint64_t base = (kSub + i % kSub) << shift;
    return base + (std::uint64_t{1} << shift) - 1;
  }

  static constexpr std::size_t kSlots = (kOctaves + 2) * kSub;
  std::array<std::uint64_t, kSlots> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace frontcache::bench
