// Internal to frontcache_config: typed, error-collecting reads from a yaml-cpp tree. Every read
// names the value's path and position; a bad value records an error and leaves the default in
// place, so one pass reports every mistake in the file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frontcache/config/config.hpp"

namespace frontcache::config::detail {

class YamlReader {
 public:
  // `source` prefixes every message; relative file paths resolve against `base_dir`
  // (empty, or ending in '/'; empty means the working directory).
  YamlReader(std::string source, std::string base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  static std::string child(const std::string& path, std::string_view key);
  static std::string element(const std::string& path, std::size_t index);

  void error(const YAML::Node& at, const std::string& path, std::string_view message);
  void error_without_position(const std::string& path, std::string_view message);
  // Every error so far, ordered by position in the file.
  std::vector<std::string> take_errors();

  // True when `node` is a mapping whose keys are all known and unique; unknown and duplicate
  // keys are reported. A null node (an empty section) is treated as an empty mapping: false,
  // with no error. Anything else is reported as a type error.
  bool mapping(const YAML::Node& node, const std::string& path);
  // True (with no error) when `map[key]` exists; a present value that is not a sequence is
  // reported and gives false.
  bool sequence(const YAML::Node& map, const std::string& path, std::string_view key);

  // Each reader returns true when `key` was present and valid, and then writes `out`. An absent
  // key returns false without an error; a bad value returns false with one.
  bool duration(const YAML::Node& map, const std::string& path, std::string_view key, Duration& out,
                Duration min = Duration{0});
  bool size(const YAML::Node& map, const std::string& path, std::string_view key, std::size_t& out,
            std::size_t min = 0);
  bool count(const YAML::Node& map, const std::string& path, std::string_view key, std::size_t& out,
             std::size_t min, std::size_t max = std::numeric_limits<std::size_t>::max());
  bool string(const YAML::Node& map, const std::string& path, std::string_view key,
              std::string& out, bool allow_empty);
  bool boolean(const YAML::Node& map, const std::string& path, std::string_view key, bool& out);
  bool endpoint(const YAML::Node& map, const std::string& path, std::string_view key,
                Endpoint& out);

  // A path to a file that must be readable (certificates, keys); a relative path is resolved
  // against `base_dir` like password_file, and `out` gets the resolved path.
  bool file(const YAML::Node& map, const std::string& path, std::string_view key, std::string& out);

  template <typename E>
  bool choice(const YAML::Node& map, const std::string& path, std::string_view key,
              std::initializer_list<std::pair<std::string_view, E>> options, E& out) {
    std::string hint = "expected one of";
    for (const auto& option : options)
      hint += (&option == options.begin() ? " " : ", ") + std::string(option.first);
    std::string text;
    if (!scalar(map, path, key, hint, text)) return false;
    for (const auto& [name, value] : options) {
      if (text == name) {
        out = value;
        return true;
      }
    }
    return bad_value(map[std::string(key)], child(path, key), hint, text);
  }

  // Reads one of `password`, `password_env`, `password_file` from `map` into `out`. With
  // `required`, exactly one must be present and the password must not be empty.
  void secret(const YAML::Node& map, const std::string& path, bool required, std::string& out);

  // The scalar text at `map[key]`; false when absent (no error) or not a scalar (error).
  bool scalar(const YAML::Node& map, const std::string& path, std::string_view key,
              std::string_view hint, std::string& out);
  bool bad_value(const YAML::Node& at, const std::string& path, std::string_view hint,
                 std::string_view got);

 private:
  void check_key(const YAML::Node& key_node, const std::string& path,
                 std::vector<std::string>& seen);

  std::string source_;
  std::string base_dir_;
  struct Error {
    int line;  // -1: no position
    int column;
    std::string text;
  };
  std::vector<Error> errors_;
};

}  // namespace frontcache::config::detail
