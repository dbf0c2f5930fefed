// Helpers shared by the config loader tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "frontcache/config/config.hpp"

namespace frontcache::config::testing {

inline LoadResult load(const std::string& yaml) { return load_from_string(yaml, "t.yaml"); }

// "t.yaml:4:12: cache.rules[0].ttl: ..." -> "cache.rules[0].ttl: ...".
inline std::string without_position(const std::string& error) {
  std::string rest = error.substr(error.find(':') + 1);
  for (int field = 0; field < 2 && !rest.empty() && rest[0] >= '0' && rest[0] <= '9'; ++field) {
    rest = rest.substr(rest.find(':') + 1);
  }
  return rest.substr(rest.find_first_not_of(' '));
}

inline std::vector<std::string> errors_without_position(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& e : result.errors) out.push_back(without_position(e));
  return out;
}

// A scratch directory removed when the test ends.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/frontcache-config-test-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string full = path_ + "/" + name;
    std::ofstream(full, std::ios::binary) << text;
    return full;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace frontcache::config::testing
