// `workers: auto`: as many workers as CPUs this process may actually use. The affinity mask
// (taskset, container cpusets) says which CPUs it may run on; a cgroup v2 CPU quota (`cpu.max`,
// docker --cpus, Kubernetes limits.cpu) says how much of them it gets. Hardware threads alone
// would start 64 workers in a container allowed 2 CPUs, each fighting for a share of them.
#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

#include "frontcache/config/config.hpp"

namespace frontcache::config {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The cgroup v2 path of this process ("0::/system.slice/x.service" -> "/system.slice/x.service");
// empty when it is not in a v2 hierarchy.
std::string own_cgroup(const std::string& proc_self_cgroup) {
  std::istringstream in(proc_self_cgroup);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("0::")) return line.substr(3);
  }
  return {};
}

}  // namespace

std::optional<std::size_t> cpus_from_cpu_max(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto space = text.find(' ');
  const std::string_view quota = text.substr(0, space);
  if (quota == "max" || quota.empty()) return std::nullopt;
  std::uint64_t q = 0;
  std::uint64_t period = 100000;  // the kernel's default when only the quota is written
  auto [end, ec] = std::from_chars(quota.data(), quota.data() + quota.size(), q);
  if (ec != std::errc() || end != quota.data() + quota.size() || q == 0) return std::nullopt;
  if (space != std::string_view::npos) {
    const std::string_view p = text.substr(space + 1);
    auto [pend, pec] = std::from_chars(p.data(), p.data() + p.size(), period);
    if (pec != std::errc() || pend != p.data() + p.size() || period == 0) return std::nullopt;
  }
  // Rounded up: 1.5 CPUs of quota keep two workers busy, each throttled to its share.
  return static_cast<std::size_t>(std::max<std::uint64_t>(1, (q + period - 1) / period));
}

std::optional<std::size_t> cgroup_cpu_limit(const std::string& cgroup_root,
                                            const std::string& proc_self_cgroup) {
  std::string path = own_cgroup(proc_self_cgroup);
  if (path.empty()) return std::nullopt;
  std::optional<std::size_t> limit;
  // Every level down from the root may set a quota; the tightest one applies.
  for (;;) {
    const std::string dir = cgroup_root + (path == "/" ? std::string() : path);
    if (auto cpus = cpus_from_cpu_max(read_text(dir + "/cpu.max"))) {
      limit = limit ? std::min(*limit, *cpus) : *cpus;
    }
    if (path.empty() || path == "/") break;
    const auto slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return limit;
}

CpuBudget available_cpus() {
  CpuBudget budget;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    budget.affinity = static_cast<std::size_t>(CPU_COUNT(&set));
  } else {
    budget.affinity = std::max(1u, std::thread::hardware_concurrency());
  }
  budget.quota = cgroup_cpu_limit("/sys/fs/cgroup", read_text("/proc/self/cgroup"));
  budget.cpus =
      std::max<std::size_t>(1, std::min(budget.affinity, budget.quota.value_or(budget.affinity)));
  return budget;
}

std::size_t resolved_workers(const Config& config) {
  constexpr std::size_t kMaxWorkers = 1024;
  return config.workers != 0 ? config.workers : std::min(kMaxWorkers, available_cpus().cpus);
}

}  // namespace frontcache::config
