// Composition root: command line and config, logging, then the server.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "frontcache/config/config.hpp"
#include "frontcache/proxy/server.hpp"

int main(int argc, char** argv) {
  using namespace frontcache;
  auto cli = config::parse_command_line(argc, argv);
  if (cli.help) {
    std::cout << config::usage_text();
    return 0;
  }
  if (cli.version) {
    std::cout << "frontcache " << FRONTCACHE_VERSION << "\n";
    return 0;
  }
  if (!cli.errors.empty()) {
    for (const auto& e : cli.errors) std::cerr << "frontcache: " << e << "\n";
    std::cerr << "Try 'frontcache --help'.\n";
    return 2;
  }

  config::LoadResult loaded = cli.config_path.empty() ? config::load_from_string("", "<defaults>")
                                                      : config::load_from_file(cli.config_path);
  std::vector<std::string> errors = std::move(loaded.errors);
  if (loaded.config) {
    auto override_errors = config::apply_overrides(*loaded.config, cli);
    errors.insert(errors.end(), override_errors.begin(), override_errors.end());
  }
  // --check-config also reads the certificate and key files, as the start would.
  if (cli.check_config && errors.empty() && loaded.config) {
    errors = proxy::check_tls(*loaded.config);
  }
  if (!errors.empty() || !loaded.config) {
    for (const auto& e : errors) std::cerr << "frontcache: " << e << "\n";
    std::cerr << "frontcache: configuration invalid, not starting\n";
    return 1;
  }
  if (cli.check_config) {
    std::cout << "frontcache: configuration OK\n";
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("frontcache");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(loaded.config->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");

  try {
    proxy::Server server(std::move(*loaded.config));
    server.set_config_source(cli.config_path, cli);
    server.bind();
    server.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
