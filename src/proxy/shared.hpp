// What every worker of one process shares: the config (read-only once running), facts learnt
// from the upstream at startup, and relaxed atomic counters for INFO and metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "frontcache/command/command_table.hpp"
#include "frontcache/config/config.hpp"
#include "l1.hpp"

namespace frontcache::proxy {

struct ProxyStats {
  std::atomic<std::int64_t> connected_clients{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};  // over limits.max_clients
  std::atomic<std::uint64_t> total_commands{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> output_limit_disconnects{0};
  std::atomic<std::uint64_t> refused_commands{0};  // stateful/admin/never commands refused
};

struct Shared {
  explicit Shared(config::Config c)
      : config(std::move(c)), started(std::chrono::steady_clock::now()) {}

  const config::Config config;
  const std::chrono::steady_clock::time_point started;
  std::size_t workers = 1;
  int databases = 16;                     // upstream `databases`, read at startup
  std::string upstream_version = "7.0.0";  // upstream redis_version, read at startup
  command::CommandTable commands;  // complete before the workers start; read-only after
  std::unique_ptr<L1> l1;           // null when the cache is off
  ProxyStats stats;
  std::atomic<std::uint64_t> next_client_id{1};
};

}  // namespace frontcache::proxy
