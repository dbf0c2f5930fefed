// Replays a trace against one policy at one capacity (in entries): on a miss the key is inserted.
// `frontcache` runs the real cache library; `lru` and `opt` (Belady) are reference models.
#pragma once

#include <cstdint>
#include <string>

#include "trace.hpp"

namespace frontcache::sim {

struct ReplayResult {
  std::string policy;
  std::uint64_t capacity = 0;
  std::uint64_t hits = 0;
  std::uint64_t requests = 0;
  [[nodiscard]] double hit_percent() const {
    return requests == 0 ? 0.0 : 100.0 * static_cast<double>(hits) / static_cast<double>(requests);
  }
};

ReplayResult replay_frontcache(const Trace& trace, std::uint64_t capacity, unsigned shards);
ReplayResult replay_lru(const Trace& trace, std::uint64_t capacity);
ReplayResult replay_opt(const Trace& trace, std::uint64_t capacity);
// policy: frontcache | lru | opt. Throws std::invalid_argument for others.
ReplayResult replay(const std::string& policy, const Trace& trace, std::uint64_t capacity,
                    unsigned shards);

}  // namespace frontcache::sim
