#include "reload.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace frontcache::proxy {

namespace {

// A setting only a restart applies: keep the running value, report the key when it differs.
template <typename T>
void keep(T& loaded, const T& running, std::string_view key, std::vector<std::string>& changed) {
  if (loaded == running) return;
  changed.emplace_back(key);
  loaded = running;
}

template <typename T>
void note(const T& loaded, const T& running, std::string_view key, std::vector<std::string>& out) {
  if (!(loaded == running)) out.emplace_back(key);
}

}  // namespace

ReloadPlan plan_reload(const config::Config& running, config::Config loaded) {
  ReloadPlan plan;
  auto& restart = plan.restart_needed;
  keep(loaded.listen, running.listen, "listen", restart);
  keep(loaded.plain_listener, running.plain_listener, "listen (plain port on or off)", restart);
  // The TLS port is bound at startup; the rest of tls.* is the certificate context, which every
  // reload builds again (new handshakes use it; connections keep theirs).
  if (!running.tls.listen) {
    keep(loaded.tls, running.tls, "tls", restart);
  } else {
    keep(loaded.tls.listen, running.tls.listen, "tls.listen", restart);
  }
  keep(loaded.workers, running.workers, "workers", restart);
  keep(loaded.upstream, running.upstream, "upstream", restart);
  keep(loaded.invalidation, running.invalidation, "invalidation", restart);
  keep(loaded.metrics, running.metrics, "metrics.listen", restart);
  keep(loaded.cache.enabled, running.cache.enabled, "cache (on/off)", restart);
  keep(loaded.cache.max_memory, running.cache.max_memory, "cache.max_memory", restart);
  // The L1 is sized at startup and the command table is read-only once workers run.
  keep(loaded.cache.max_value_size, running.cache.max_value_size, "cache.max_value_size", restart);
  keep(loaded.cache.commands, running.cache.commands, "cache.commands", restart);

  auto& applied = plan.applied;
  note(loaded.cache.max_ttl, running.cache.max_ttl, "cache.max_ttl", applied);
  note(loaded.cache.rules, running.cache.rules, "cache.rules", applied);
  note(loaded.limits, running.limits, "limits", applied);
  note(loaded.auth, running.auth, "auth", applied);
  note(loaded.admin_commands, running.admin_commands, "admin_commands", applied);
  note(loaded.shutdown_timeout, running.shutdown_timeout, "shutdown_timeout", applied);
  note(loaded.log_level, running.log_level, "log.level", applied);
  note(loaded.tls, running.tls, "tls", applied);
  plan.effective = std::make_shared<const config::Config>(std::move(loaded));
  return plan;
}

std::optional<ReloadPlan> reload_config(Shared& shared, const config::CommandLine& overrides) {
  auto& stats = shared.reload;
  stats.reloads.fetch_add(1, std::memory_order_relaxed);
  if (shared.config_path.empty()) {
    stats.failures.fetch_add(1, std::memory_order_relaxed);
    stats.last_ok = false;
    spdlog::error("config reload: no --config file was given; running on built-in defaults");
    return std::nullopt;
  }
  config::LoadResult loaded = config::load_from_file(shared.config_path);
  std::vector<std::string> errors = std::move(loaded.errors);
  if (loaded.config) {
    auto more = config::apply_overrides(*loaded.config, overrides);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  if (!errors.empty() || !loaded.config) {
    stats.failures.fetch_add(1, std::memory_order_relaxed);
    stats.last_ok = false;
    for (const auto& e : errors) spdlog::error("config reload: {}", e);
    spdlog::error("config reload: {} rejected ({} errors); the running configuration stays",
                  shared.config_path, errors.size());
    return std::nullopt;
  }
  ReloadPlan plan = plan_reload(*shared.config(), std::move(*loaded.config));
  shared.set_config(plan.effective);
  stats.last_ok = true;
  stats.restart_pending = !plan.restart_needed.empty();
  spdlog::info("config reloaded from {}: {}", shared.config_path,
               plan.applied.empty() ? std::string("no live setting changed")
                                    : fmt::format("applied {}", fmt::join(plan.applied, ", ")));
  if (!plan.restart_needed.empty()) {
    spdlog::warn(
        "config reload: {} changed in {} but only apply after a restart; still running "
        "with the old values",
        fmt::join(plan.restart_needed, ", "), shared.config_path);
  }
  return plan;
}

std::string config_info_lines(const Shared& shared) {
  const auto& r = shared.reload;
  return fmt::format(
      "frontcache_config_file:{}\r\n"
      "config_reloads:{}\r\n"
      "config_reload_failures:{}\r\n"
      "config_last_reload:{}\r\n"
      "config_restart_pending:{}\r\n",
      shared.config_path.empty() ? "<defaults>" : shared.config_path,
      r.reloads.load(std::memory_order_relaxed), r.failures.load(std::memory_order_relaxed),
      r.last_ok.load() ? "ok" : "failed", r.restart_pending.load() ? 1 : 0);
}

}  // namespace frontcache::proxy
