// SIGHUP: the config file is read again and, when valid, swapped in whole. Cache rules, TTLs,
// limits, auth, admin_commands, shutdown_timeout, the log level and the TLS listener's
// certificates and settings apply at once; settings bound at startup (listen, tls.listen,
// workers, upstream, invalidation, metrics.listen, the cache's size) keep their running value
// and are reported as needing a restart. An invalid file changes
// nothing: its errors are logged with the file's path.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frontcache/config/config.hpp"
#include "shared.hpp"

namespace frontcache::proxy {

struct ReloadPlan {
  std::shared_ptr<const config::Config> effective;  // loaded, with restart-only keys kept
  std::vector<std::string> applied;                 // sections changed and applied
  std::vector<std::string> restart_needed;          // keys changed on disk but not applied
};

// Pure: what `loaded` changes relative to `running`.
ReloadPlan plan_reload(const config::Config& running, config::Config loaded);

// Loads shared.config_path (command-line overrides on top), counts and logs the outcome and, when
// valid, makes the result the config in Shared. Returns nullopt when the file was rejected.
// The caller hands plan.effective to the workers.
std::optional<ReloadPlan> reload_config(Shared& shared, const config::CommandLine& overrides);

// INFO lines (`config_file:...\r\n` ...) describing the config source and reload outcomes.
std::string config_info_lines(const Shared& shared);

}  // namespace frontcache::proxy
