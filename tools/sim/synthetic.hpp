// Synthetic workloads with a fixed seed: Zipf(alpha), Zipf with periodic scans of one-off keys,
// loops, and a hot set that moves. Same spec and seed, same trace.
#pragma once

#include <cstdint>
#include <string>

#include "trace.hpp"

namespace frontcache::sim {

struct SyntheticSpec {
  std::string kind = "zipf";  // zipf | loop | shifting
  double alpha = 0.99;
  std::uint64_t keys = 1'000'000;
  std::uint64_t requests = 2'000'000;
  std::uint64_t seed = 42;
  std::uint64_t scan_every = 0;   // zipf: after this many requests, a scan (0 = never)
  std::uint64_t scan_length = 0;  // keys per scan, each used once
  std::uint64_t hot_size = 1000;  // shifting: keys in the hot set
  double hot_share = 0.9;         // shifting: share of requests to the hot set
  std::uint64_t shift_every = 100'000;
};

Trace generate(const SyntheticSpec& spec);

}  // namespace frontcache::sim
