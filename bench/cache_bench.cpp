// L1 microbenchmarks: hit lookup and miss+insert-with-eviction, at 1 and 2 threads.
// Keys look like the proxy's ("0GET user:<n>"); values are 64-byte replies.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "frontcache/cache/cache.hpp"

namespace {

using frontcache::cache::Cache;
using frontcache::cache::CacheConfig;
using frontcache::cache::Duration;
using frontcache::cache::Value;
using frontcache::cache::ValueRef;

// Hit benchmarks take the key count as their argument: 1k keys stay in L1/L2, 64k do not.
constexpr int kKeys = 1 << 16;

std::vector<std::string> make_keys(int n, const char* prefix) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) keys.push_back(std::string(prefix) + std::to_string(i));
  return keys;
}

Cache& shared_cache() {
  static Cache* cache = [] {
    CacheConfig c;
    c.max_weight = std::uint64_t{1} << 30;
    c.shards = 16;
    auto* made = new Cache(c);
    for (const auto& k : make_keys(kKeys, "0GET user:")) {
      made->insert(k, {}, Value::make(std::string(64, 'x')), std::chrono::hours(1));
    }
    return made;
  }();
  return *cache;
}

void BM_HitLookup(benchmark::State& state) {
  Cache& cache = shared_cache();
  static const std::vector<std::string> keys = make_keys(kKeys, "0GET user:");
  const auto mask = static_cast<std::size_t>(state.range(0) - 1);
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    ValueRef v = cache.lookup(keys[(i++ * 40503) & mask]);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HitLookup)->Arg(1 << 10)->Arg(kKeys)->Threads(1)->Threads(2)->UseRealTime();

void BM_MissInsertEvict(benchmark::State& state) {
  static std::unique_ptr<Cache> cache;
  static const std::vector<std::string> keys = make_keys(1 << 20, "0GET miss:");
  static const ValueRef value = Value::make(std::string(64, 'x'));
  if (state.thread_index() == 0) {
    CacheConfig c;
    c.max_entries = 10'000;  // full after the first 10k inserts: every insert then evicts
    c.max_weight = 0;
    c.shards = 16;
    cache = std::make_unique<Cache>(c);
  }
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 524'287;
  for (auto _ : state) {
    const std::string& k = keys[i++ & ((1 << 20) - 1)];
    if (!cache->lookup(k)) cache->insert(k, {}, value, Duration{0});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MissInsertEvict)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
