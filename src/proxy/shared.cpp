#include "shared.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "cluster_topology.hpp"

namespace frontcache::proxy {

namespace {

// `workers: auto` counts the CPUs the process may use (affinity, cgroup quota), not hardware
// threads.
std::size_t worker_count(const config::Config& c) { return config::resolved_workers(c); }

}  // namespace

Shared::Shared(config::Config c)
    : started(std::chrono::steady_clock::now()),
      workers(worker_count(c)),
      latency(workers),
      config_(std::make_shared<const config::Config>(std::move(c))) {}

Shared::~Shared() = default;

std::shared_ptr<const config::Config> Shared::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

void Shared::set_config(std::shared_ptr<const config::Config> c) {
  std::lock_guard lock(config_mutex_);
  config_ = std::move(c);
}

std::shared_ptr<const AccessControl> Shared::access_for(
    const std::shared_ptr<const config::Config>& c) {
  std::lock_guard lock(access_mutex_);
  if (access_ != nullptr && access_config_ == c) return access_;
  const std::uint64_t generation = access_ != nullptr ? access_->generation() + 1 : 1;
  access_ = std::make_shared<const AccessControl>(*c, commands, generation);
  access_config_ = c;
  for (const auto& w : access_->warnings()) spdlog::warn("{}", w);
  return access_;
}

}  // namespace frontcache::proxy
