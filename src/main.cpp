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
  // Every mistake at once: the command line's, the file's, the flag values'.
  config::LoadResult loaded = config::load_with_command_line(cli);
  // --check-config also reads the certificate and key files, as the start would.
  if (cli.check_config && loaded.errors.empty() && loaded.config) {
    loaded.errors = proxy::check_tls(*loaded.config);
  }
  if (!loaded.errors.empty() || !loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << "frontcache: " << e << "\n";
    if (!cli.errors.empty()) std::cerr << "Try 'frontcache --help'.\n";
    std::cerr << "frontcache: configuration invalid, not starting\n";
    return cli.errors.empty() ? 1 : 2;
  }
  if (cli.print) {
    std::string value = config::print_value(*loaded.config, *cli.print);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    std::cout << value << "\n";
    return 0;
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
