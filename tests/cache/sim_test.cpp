// The real policy replayed on the LIRS traces must reach Caffeine 3.2.4's hit ratio minus one
// point at every size the trace README lists; 16 shards must cost little against 1; on Zipf 0.99
// it must beat LRU by six points.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <string>

#include "replay.hpp"
#include "synthetic.hpp"
#include "trace.hpp"

namespace frontcache::sim {
namespace {

struct Reference {
  const char* trace;
  std::uint64_t capacity;
  double caffeine;
};

// From shared/traces/README.md (Caffeine 3.2.4, same files, capacity in entries).
constexpr Reference kReferences[] = {
    {"loop", 100, 5.62},      {"loop", 250, 23.31},     {"loop", 500, 46.02},
    {"loop", 750, 69.16},     {"loop", 1000, 97.27},    {"loop", 1250, 99.80},
    {"gli", 250, 15.21},      {"gli", 500, 32.50},      {"gli", 750, 42.89},
    {"gli", 1000, 49.89},     {"gli", 1250, 51.82},     {"gli", 1500, 52.97},
    {"gli", 1750, 55.00},     {"gli", 2000, 57.96},     {"multi1", 250, 47.52},
    {"multi1", 500, 55.14},   {"multi1", 1000, 68.27},  {"multi1", 2000, 83.39},
    {"multi2", 500, 47.83},   {"multi2", 1000, 55.78},  {"multi2", 2000, 69.47},
    {"multi2", 4000, 78.20},  {"multi3", 500, 41.29},   {"multi3", 1000, 50.87},
    {"multi3", 2000, 60.38},  {"multi3", 4000, 73.46},  {"2_pools", 500, 51.96},
    {"2_pools", 1000, 54.39}, {"2_pools", 2000, 59.30}, {"2_pools", 4000, 68.60},
    {"cs", 100, 2.08},        {"cs", 250, 13.97},       {"cs", 500, 28.83},
    {"cs", 1000, 58.16},      {"cpp", 100, 75.91},      {"cpp", 250, 84.79},
    {"cpp", 500, 85.84},      {"ps", 250, 50.11},       {"ps", 500, 56.99},
    {"ps", 1000, 66.25},      {"ps", 2000, 70.49},
};

TEST(SimTraces, AtLeastCaffeineMinusOnePoint) {
  const std::filesystem::path dir = FRONTCACHE_TRACE_DIR;
  if (!std::filesystem::exists(dir / "lirs_loop.trace.gz")) {
    GTEST_SKIP() << "traces not found in " << dir;
  }
  std::string loaded_name;
  Trace trace;
  for (const Reference& ref : kReferences) {
    if (loaded_name != ref.trace) {
      loaded_name = ref.trace;
      trace = read_trace((dir / ("lirs_" + loaded_name + ".trace.gz")).string());
    }
    const ReplayResult r = replay_frontcache(trace, ref.capacity, 1);
    EXPECT_GE(r.hit_percent(), ref.caffeine - 1.0) << ref.trace << " @ " << ref.capacity;
    std::printf("%-8s %5llu frontcache %6.2f caffeine %6.2f\n", ref.trace,
                static_cast<unsigned long long>(ref.capacity), r.hit_percent(), ref.caffeine);
  }
}

// Hash partitioning at 16 shards (6-250 entries per shard at these sizes): capacity floats
// between shards, one hill climber steers them all, and a small shard's sketch counts and
// ages as if it held at least 64 / 128 entries. Measured: 0.21 points lost on average over the
// 41 sizes, worst 3.98 (cs @ 500); 0.10 with the earlier hash (murmur), 0.02 and 0.23 with this
// one under two other seeds: which keys share a shard is a draw, and the average bound is that
// draw's spread (the design goal is 0.5).
TEST(SimTraces, SixteenShardsCostLittle) {
  const std::filesystem::path dir = FRONTCACHE_TRACE_DIR;
  if (!std::filesystem::exists(dir / "lirs_loop.trace.gz")) {
    GTEST_SKIP() << "traces not found in " << dir;
  }
  std::string loaded_name;
  Trace trace;
  double total = 0.0;
  double worst = 0.0;
  for (const Reference& ref : kReferences) {
    if (loaded_name != ref.trace) {
      loaded_name = ref.trace;
      trace = read_trace((dir / ("lirs_" + loaded_name + ".trace.gz")).string());
    }
    const double one = replay_frontcache(trace, ref.capacity, 1).hit_percent();
    const double sixteen = replay_frontcache(trace, ref.capacity, 16).hit_percent();
    total += one - sixteen;
    worst = std::max(worst, one - sixteen);
    std::printf("%-8s %5llu 1 shard %6.2f 16 shards %6.2f\n", ref.trace,
                static_cast<unsigned long long>(ref.capacity), one, sixteen);
  }
  const double average = total / static_cast<double>(std::size(kReferences));
  std::printf("16 shards: %.2f points lost on average, worst %.2f\n", average, worst);
  EXPECT_LE(average, 0.3);
  EXPECT_LE(worst, 4.2);
}

void expect_beats_lru_by_six(const SyntheticSpec& spec) {
  const Trace trace = generate(spec);
  const double ours = replay_frontcache(trace, 10'000, 1).hit_percent();
  const double lru = replay_lru(trace, 10'000).hit_percent();
  std::printf("zipf scan_every=%llu: frontcache %.2f lru %.2f\n",
              static_cast<unsigned long long>(spec.scan_every), ours, lru);
  EXPECT_GE(ours, lru + 6.0);
}

TEST(SimSynthetic, Zipf099BeatsLruBySixPoints) {
  SyntheticSpec spec;
  spec.alpha = 0.99;
  spec.keys = 1'000'000;
  spec.requests = 2'000'000;
  expect_beats_lru_by_six(spec);
}

TEST(SimSynthetic, Zipf099WithScansBeatsLruBySixPoints) {
  SyntheticSpec spec;
  spec.alpha = 0.99;
  spec.keys = 1'000'000;
  spec.requests = 2'000'000;
  spec.scan_every = 100'000;  // every 100k requests, a scan of 20k one-off keys (2x the cache)
  spec.scan_length = 20'000;
  expect_beats_lru_by_six(spec);
}

TEST(SimSynthetic, SameSeedSameTrace) {
  SyntheticSpec spec;
  spec.keys = 1000;
  spec.requests = 5000;
  EXPECT_EQ(generate(spec).requests, generate(spec).requests);
  spec.kind = "shifting";
  EXPECT_EQ(generate(spec).requests, generate(spec).requests);
}

}  // namespace
}  // namespace frontcache::sim
