#include "shared.hpp"

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

std::shared_ptr<const config::Config> Shared::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

void Shared::set_config(std::shared_ptr<const config::Config> c) {
  std::lock_guard lock(config_mutex_);
  config_ = std::move(c);
}

}  // namespace frontcache::proxy
