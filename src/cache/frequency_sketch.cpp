#include "frequency_sketch.hpp"

#include <algorithm>
#include <bit>

namespace frontcache::cache {
namespace {

constexpr std::uint64_t kResetMask = 0x7777777777777777ULL;
constexpr std::uint64_t kOneMask = 0x1111111111111111ULL;

std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  x ^= x >> 33;
  return x;
}

// Picks the 64-byte block and, for each of the four rows, one word of the block and one nibble.
struct Slots {
  std::uint64_t word[4];
  unsigned shift[4];
};

// Inlined and unrolled (-O2 does neither here): 161 -> 110 instructions per increment
// (callgrind, pipelined hits).
[[gnu::always_inline]] inline Slots locate(std::uint64_t hash, std::uint64_t block_mask) noexcept {
  const std::uint64_t h = mix(hash);
  const std::uint64_t block = (h & block_mask) << 3;
  const auto counter_hash = static_cast<std::uint32_t>(h >> 32);
  Slots s;
#pragma GCC unroll 4
  for (unsigned i = 0; i < 4; ++i) {
    const std::uint32_t bits = counter_hash >> (i << 3);
    s.shift[i] = ((bits >> 1) & 15U) << 2;
    s.word[i] = block + (bits & 1U) + (i << 1);
  }
  return s;
}

}  // namespace

void FrequencySketch::ensure_capacity(std::uint64_t capacity, std::uint64_t period_entries) {
  const std::uint64_t wanted = std::clamp<std::uint64_t>(capacity, 1, std::uint64_t{1} << 30);
  if (table_.size() >= wanted) return;
  const std::uint64_t words = std::max<std::uint64_t>(std::bit_ceil(wanted), 8);
  table_.assign(words, 0);
  block_mask_ = (words >> 3) - 1;
  sample_size_ =
      10 * std::max(wanted, std::min<std::uint64_t>(period_entries, std::uint64_t{1} << 30));
  additions_ = 0;
}

int FrequencySketch::frequency(std::uint64_t hash) const noexcept {
  if (table_.empty()) return 0;
  const Slots s = locate(hash, block_mask_);
  unsigned freq = 15;
#pragma GCC unroll 4
  for (unsigned i = 0; i < 4; ++i) {
    freq = std::min(freq, static_cast<unsigned>((table_[s.word[i]] >> s.shift[i]) & 15U));
  }
  return static_cast<int>(freq);
}

void FrequencySketch::increment(std::uint64_t hash) noexcept {
  if (table_.empty()) return;
  const Slots s = locate(hash, block_mask_);
  bool added = false;
#pragma GCC unroll 4
  for (unsigned i = 0; i < 4; ++i) {
    std::uint64_t& word = table_[s.word[i]];
    const std::uint64_t mask = std::uint64_t{15} << s.shift[i];
    if ((word & mask) != mask) {
      word += std::uint64_t{1} << s.shift[i];
      added = true;
    }
  }
  if (added && ++additions_ == sample_size_) halve();
}

void FrequencySketch::prefetch(std::uint64_t hash) const noexcept {
  if (!table_.empty()) __builtin_prefetch(&table_[(mix(hash) & block_mask_) << 3]);
}

void FrequencySketch::halve() noexcept {
  std::uint64_t odd = 0;
  for (std::uint64_t& word : table_) {
    odd += static_cast<std::uint64_t>(std::popcount(word & kOneMask));
    word = (word >> 1) & kResetMask;
  }
  // Halving truncates odd counters; subtract that loss so the next period stays ~10x capacity.
  additions_ = (additions_ - (odd >> 2)) >> 1;
}

}  // namespace frontcache::cache
