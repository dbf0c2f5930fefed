// Command-line flags: parse_command_line checks their shape only; apply_overrides checks the
// values with the same rules (and words) as the file, naming the flag instead of a YAML path.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

#include "frontcache/config/config.hpp"
#include "value_parsers.hpp"

namespace frontcache::config {
namespace {

enum class Flag { Config, CheckConfig, Print, Help, Version, Listen, Upstream, Workers, LogLevel };

struct FlagSpec {
  std::string_view long_name;
  std::string_view short_name;  // empty: none
  Flag flag;
  bool takes_value;
};

constexpr std::array<FlagSpec, 9> kFlags{{
    {"--config", "-c", Flag::Config, true},
    {"--check-config", "", Flag::CheckConfig, false},
    {"--print", "", Flag::Print, true},
    {"--help", "-h", Flag::Help, false},
    {"--version", "-v", Flag::Version, false},
    {"--listen", "", Flag::Listen, true},
    {"--upstream", "", Flag::Upstream, true},
    {"--workers", "", Flag::Workers, true},
    {"--log-level", "", Flag::LogLevel, true},
}};

const FlagSpec* find_flag(std::string_view name) {
  for (const auto& spec : kFlags) {
    if (name == spec.long_name || (!spec.short_name.empty() && name == spec.short_name)) {
      return &spec;
    }
  }
  return nullptr;
}

void store(CommandLine& cli, Flag flag, std::string value) {
  switch (flag) {
    case Flag::Config:
      cli.config_path = std::move(value);
      break;
    case Flag::CheckConfig:
      cli.check_config = true;
      break;
    case Flag::Print:
      cli.print = std::move(value);
      break;
    case Flag::Help:
      cli.help = true;
      break;
    case Flag::Version:
      cli.version = true;
      break;
    case Flag::Listen:
      cli.listen = std::move(value);
      break;
    case Flag::Upstream:
      cli.upstream = std::move(value);
      break;
    case Flag::Workers:
      cli.workers = std::move(value);
      break;
    case Flag::LogLevel:
      cli.log_level = std::move(value);
      break;
  }
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cli;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.size() < 2 || arg.front() != '-') {
      cli.errors.push_back(fmt::format("unexpected argument {} (see --help)", detail::quoted(arg)));
      continue;
    }
    // `--flag=value` for long flags; short flags take their value as the next argument.
    const auto eq = arg.starts_with("--") ? arg.find('=') : std::string_view::npos;
    const std::string_view name = arg.substr(0, eq);
    const FlagSpec* spec = find_flag(name);
    if (spec == nullptr) {
      cli.errors.push_back(fmt::format("unknown option {} (see --help)", name));
      continue;
    }
    std::string value;
    if (!spec->takes_value) {
      if (eq != std::string_view::npos) {
        cli.errors.push_back(fmt::format("{}: does not take a value", name));
        continue;
      }
    } else if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] != '\0')) {
      value = argv[++i];
    } else {
      cli.errors.push_back(fmt::format("{}: missing value", name));
      continue;
    }
    if (spec->takes_value && value.empty()) {
      cli.errors.push_back(fmt::format("{}: missing value", name));
      continue;
    }
    store(cli, spec->flag, std::move(value));
  }
  if (cli.print) {
    const auto targets = print_targets();
    if (std::find(targets.begin(), targets.end(), *cli.print) == targets.end()) {
      cli.errors.push_back(fmt::format("--print: expected one of {}, got {}",
                                       fmt::join(targets, ", "), detail::quoted(*cli.print)));
    }
  }
  return cli;
}

std::string usage_text() {
  return "Usage: frontcache [options]\n"
         "\n"
         "A Redis-protocol caching proxy. Settings come from the YAML file given with\n"
         "--config (built-in defaults without one); the flags below override it.\n"
         "\n"
         "Options:\n"
         "  -c, --config FILE     read settings from FILE (see docs/configuration.md)\n"
         "      --check-config    validate the settings, print every error, and exit\n"
         "      --print WHAT      validate, then print one resolved setting and exit:\n"
         "                        listen, upstream, metrics, workers or config\n"
         "      --listen ADDR     client address, host:port (file key: listen)\n"
         "      --upstream ADDR   upstream Redis, host:port (file key: upstream.address)\n"
         "      --workers N       worker threads, a number or auto (file key: workers)\n"
         "      --log-level L     trace, debug, info, warn, error, critical or off\n"
         "                        (file key: log.level)\n"
         "  -h, --help            print this help and exit\n"
         "  -v, --version         print the version and exit\n"
         "\n"
         "Flags take their value as the next argument or after '=' (--workers=4).\n";
}

std::vector<std::string> apply_overrides(Config& config, const CommandLine& cli) {
  std::vector<std::string> errors;
  auto bad = [&](std::string_view flag, std::string_view hint, const std::string& got) {
    errors.push_back(fmt::format("{}: {}, got {}", flag, hint, detail::quoted(got)));
  };
  if (cli.listen) {
    if (auto endpoint = parse_endpoint(*cli.listen)) {
      config.listen = std::move(*endpoint);
      config.plain_listener = true;  // asked for, even where the file has TLS only
      if (config.tls.listen && *config.tls.listen == config.listen) {
        errors.push_back("--listen: is the same address as tls.listen; use another port");
      }
    } else {
      bad("--listen", detail::kEndpointHint, *cli.listen);
    }
  }
  if (cli.upstream) {
    if (auto endpoint = parse_endpoint(*cli.upstream)) {
      config.upstream.address = std::move(*endpoint);
    } else {
      bad("--upstream", detail::kEndpointHint, *cli.upstream);
    }
  }
  if (cli.workers) {
    if (const auto workers = detail::parse_workers(*cli.workers)) {
      config.workers = *workers;
    } else {
      bad("--workers", detail::kWorkersHint, *cli.workers);
    }
  }
  if (cli.log_level) {
    if (detail::is_log_level(*cli.log_level)) {
      config.log_level = *cli.log_level;
    } else {
      bad("--log-level", detail::kLogLevelHint, *cli.log_level);
    }
  }
  return errors;
}

LoadResult load_with_command_line(const CommandLine& cli) {
  LoadResult result = cli.config_path.empty() ? load_from_string("", "<defaults>")
                                              : load_from_file(cli.config_path);
  std::vector<std::string> errors = cli.errors;
  errors.insert(errors.end(), result.errors.begin(), result.errors.end());
  // Flag values are checked even when the file failed: against a scratch config then.
  Config scratch;
  auto more = apply_overrides(result.config ? *result.config : scratch, cli);
  errors.insert(errors.end(), more.begin(), more.end());
  result.errors = std::move(errors);
  if (!result.errors.empty()) result.config.reset();
  return result;
}

}  // namespace frontcache::config
