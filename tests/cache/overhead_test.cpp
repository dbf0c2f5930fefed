// Measures the memory an entry costs beyond its key, owner and value bytes (glibc heap
// accounting), so Cache::kEntryOverhead charges what the process really spends.
#include <gtest/gtest.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "frontcache/cache/cache.hpp"

namespace frontcache::cache {
namespace {

TEST(Overhead, PerEntryBytesBeyondKeyOwnerAndValue) {
  constexpr int kEntries = 200'000;
  std::vector<std::string> keys, owners;
  for (int i = 0; i < kEntries; ++i) {
    owners.push_back("user:" + std::to_string(1'000'000 + i));
    keys.push_back("0GET " + owners.back());
  }
  const std::string payload(64, 'x');
  CacheConfig c;
  c.max_weight = std::uint64_t{1} << 34;
  c.shards = 16;
  malloc_trim(0);
  const std::size_t before = mallinfo2().uordblks;
  std::uint64_t payload_bytes = 0;
  {
    Cache cache(c);
    for (int i = 0; i < kEntries; ++i) {
      cache.insert(keys[i], owners[i], Value::make(payload), std::chrono::seconds(60));
      payload_bytes += keys[i].size() + owners[i].size() + payload.size();
    }
    const std::size_t after = mallinfo2().uordblks;
    const double per_entry =
        (static_cast<double>(after - before) - static_cast<double>(payload_bytes)) / kEntries;
    std::printf("per-entry overhead: %.1f bytes (charged: %llu)\n", per_entry,
                static_cast<unsigned long long>(Cache::kEntryOverhead));
    // Expiry-wheel buckets grow by doubling, which moves the figure by a few bytes.
    EXPECT_LE(per_entry, static_cast<double>(Cache::kEntryOverhead) + 8.0);
  }
}

}  // namespace
}  // namespace frontcache::cache
