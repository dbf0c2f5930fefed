// Many threads mixing every operation on a small cache: run under ThreadSanitizer
// (-DFRONTCACHE_TSAN=ON) to check the locking; in normal builds it checks the bounds hold.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "frontcache/cache/cache.hpp"

namespace frontcache::cache {
namespace {

using namespace std::chrono_literals;

TEST(Stress, MixedOperationsAcrossThreads) {
  auto clock = std::make_shared<ManualClock>();
  CacheConfig c;
  c.max_weight = 64 * 1024;
  c.shards = 4;
  c.time_to_idle = 50ms;
  c.max_waiters_per_fill = 8;
  c.clock = clock;
  Cache cache(c);
  std::atomic<std::uint64_t> resolved{0}, values_seen{0};
  constexpr int kThreads = 4;
  constexpr int kOps = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<FillTicket> tickets;
      for (int i = 0; i < kOps; ++i) {
        const auto op = static_cast<unsigned>(rng() % 100);
        const std::string owner = "o" + std::to_string(rng() % 64);
        const std::string key = "0GET " + owner + (rng() % 2 ? "" : " x");
        if (op < 50) {
          if (ValueRef v = cache.lookup(key)) values_seen.fetch_add(v.size() > 0 ? 1 : 0);
        } else if (op < 65) {
          cache.insert(key, owner, Value::make(std::string(rng() % 200, 'v')), 20ms);
        } else if (op < 85) {
          BeginResult r = cache.begin(key, owner, [&](FillOutcome o) {
            resolved.fetch_add(1);
            if (o.value) values_seen.fetch_add(1);
          });
          if (r.kind == BeginKind::Leader) tickets.push_back(std::move(r.ticket));
        } else if (op < 92 && !tickets.empty()) {
          FillTicket ticket = std::move(tickets.back());
          tickets.pop_back();
          switch (rng() % 3) {
            case 0:
              cache.complete(std::move(ticket), Value::make("filled"), 10ms);
              break;
            case 1:
              cache.fail(std::move(ticket));
              break;
            default:
              break;  // dropped: abandoned
          }
        } else if (op < 97) {
          cache.invalidate(owner);
        } else if (op < 98) {
          cache.clear();
        } else {
          clock->advance(1ms);
          cache.run_maintenance();
          (void)cache.stats();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const CacheStats s = cache.stats();
  EXPECT_LE(s.weighted_size, c.max_weight);
  EXPECT_EQ(resolved.load(), s.coalesced_waiters);
  clock->advance(1s);
  cache.run_maintenance();
  EXPECT_EQ(cache.stats().entries, 0U);
  EXPECT_EQ(cache.stats().weighted_size, 0U);
}

}  // namespace
}  // namespace frontcache::cache
