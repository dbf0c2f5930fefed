// Per-command statistics, the proxy's side of Redis's `INFO commandstats`: how many requests of
// each command the proxy took, how many it answered from L1, and how many waited on the
// upstream and for how long. Each worker writes its own block of counters (one writer: a
// relaxed load and store, no locked instruction); INFO and /metrics sum the blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "frontcache/command/command_table.hpp"

namespace frontcache::proxy {

class CommandStats {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;  // a request with no command entry

  struct Totals {
    std::string name;  // "get", "client|id"
    std::uint64_t calls = 0;
    std::uint64_t l1_hits = 0;
    std::uint64_t upstream_calls = 0;
    std::uint64_t upstream_usec = 0;
  };

  // Before the workers start, once the command table is final (its ids are dense).
  void reset(std::size_t workers, std::size_t commands);

  void call(std::size_t worker, std::uint32_t command) { bump(worker, command, &Counters::calls); }
  void l1_hit(std::size_t worker, std::uint32_t command) {
    bump(worker, command, &Counters::l1_hits);
  }
  // A request answered by the upstream, `waited` after it was dispatched.
  void upstream(std::size_t worker, std::uint32_t command, std::chrono::nanoseconds waited);

  // Commands called at least once, by name.
  std::vector<Totals> totals(const command::CommandTable& table) const;

 private:
  struct Counters {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> l1_hits{0};
    std::atomic<std::uint64_t> upstream_calls{0};
    std::atomic<std::uint64_t> upstream_usec{0};
  };
  Counters* at(std::size_t worker, std::uint32_t command) {
    if (command >= commands_ || worker >= workers_) return nullptr;
    return &counters_[worker * commands_ + command];
  }
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void bump(std::size_t worker, std::uint32_t command,
            std::atomic<std::uint64_t> Counters::*field) {
    if (Counters* c = at(worker, command)) add(c->*field, 1);
  }

  std::size_t workers_ = 0;
  std::size_t commands_ = 0;
  std::unique_ptr<Counters[]> counters_;  // worker-major: each worker's block is contiguous
};

// The `# frontcache_commandstats` INFO section: one line per command called,
// `fc_cmdstat_get:calls=..,l1_hits=..,upstream_calls=..,upstream_usec=..,upstream_usec_per_call=..`.
std::string command_stats_info(const std::vector<CommandStats::Totals>& totals);

}  // namespace frontcache::proxy
