#include "replay.hpp"

#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "frontcache/cache/cache.hpp"

namespace frontcache::sim {

ReplayResult replay_frontcache(const Trace& trace, std::uint64_t capacity, unsigned shards) {
  cache::CacheConfig config;
  config.max_entries = capacity;
  config.max_weight = 0;
  config.shards = shards;
  cache::Cache cache(config);
  const cache::ValueRef value = cache::Value::make("v");
  ReplayResult r{"frontcache", capacity, 0, trace.requests.size()};
  for (std::uint32_t id : trace.requests) {
    const std::string& key = trace.keys[id];
    if (cache.lookup(key)) {
      ++r.hits;
    } else {
      cache.insert(key, {}, value, cache::Duration{0});
    }
  }
  return r;
}

ReplayResult replay_lru(const Trace& trace, std::uint64_t capacity) {
  constexpr std::uint32_t kNone = UINT32_MAX;
  const std::size_t n = trace.keys.size();
  std::vector<std::uint32_t> prev(n, kNone), next(n, kNone);
  std::vector<bool> resident(n, false);
  std::uint32_t head = kNone, tail = kNone;  // head = LRU
  std::uint64_t size = 0;
  auto unlink = [&](std::uint32_t k) {
    (prev[k] != kNone ? next[prev[k]] : head) = next[k];
    (next[k] != kNone ? prev[next[k]] : tail) = prev[k];
  };
  auto append = [&](std::uint32_t k) {
    prev[k] = tail;
    next[k] = kNone;
    (tail != kNone ? next[tail] : head) = k;
    tail = k;
  };
  ReplayResult r{"lru", capacity, 0, trace.requests.size()};
  for (std::uint32_t k : trace.requests) {
    if (resident[k]) {
      ++r.hits;
      unlink(k);
      append(k);
      continue;
    }
    if (size == capacity) {
      const std::uint32_t victim = head;
      unlink(victim);
      resident[victim] = false;
      --size;
    }
    append(k);
    resident[k] = true;
    ++size;
  }
  return r;
}

// Belady: evicts the resident key (the newcomer included) whose next use is farthest away.
ReplayResult replay_opt(const Trace& trace, std::uint64_t capacity) {
  const std::size_t len = trace.requests.size();
  const std::uint64_t never = UINT64_MAX;
  std::vector<std::uint64_t> next_use(len);
  std::vector<std::uint64_t> upcoming(trace.keys.size(), never);
  for (std::size_t i = len; i-- > 0;) {
    next_use[i] = upcoming[trace.requests[i]];
    upcoming[trace.requests[i]] = i;
  }
  std::vector<std::uint64_t> resident_until(trace.keys.size(), 0);
  std::vector<bool> resident(trace.keys.size(), false);
  std::set<std::pair<std::uint64_t, std::uint32_t>> by_next;  // (next use, key)
  ReplayResult r{"opt", capacity, 0, len};
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint32_t k = trace.requests[i];
    if (resident[k]) {
      ++r.hits;
      by_next.erase({resident_until[k], k});
    }
    resident[k] = true;
    resident_until[k] = next_use[i];
    by_next.insert({next_use[i], k});
    if (by_next.size() > capacity) {
      auto last = std::prev(by_next.end());
      resident[last->second] = false;
      by_next.erase(last);
    }
  }
  return r;
}

ReplayResult replay(const std::string& policy, const Trace& trace, std::uint64_t capacity,
                    unsigned shards) {
  if (policy == "frontcache") return replay_frontcache(trace, capacity, shards);
  if (policy == "lru") return replay_lru(trace, capacity);
  if (policy == "opt") return replay_opt(trace, capacity);
  throw std::invalid_argument("unknown policy " + policy);
}

}  // namespace frontcache::sim
