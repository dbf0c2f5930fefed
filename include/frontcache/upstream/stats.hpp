// Process-wide upstream counters, updated by every worker's connections (relaxed atomics).
#pragma once

#include <atomic>
#include <cstdint>

namespace frontcache::upstream {

struct Stats {
  std::atomic<std::int64_t> connections_ready{0};     // gauge: connections serving now
  std::atomic<std::uint64_t> reconnects{0};           // connection attempts after a loss/failure
  std::atomic<std::uint64_t> timeouts{0};             // connections closed by command_timeout
  std::atomic<std::uint64_t> requests{0};             // requests written
  std::atomic<std::uint64_t> writes{0};               // batches of requests handed to the socket
  std::atomic<std::uint64_t> failed_requests{0};      // requests answered with a made-up error
  std::atomic<std::uint64_t> unavailable_replies{0};  // requests refused: no connection ready
};

Stats& stats();

}  // namespace frontcache::upstream
