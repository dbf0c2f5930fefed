#include "yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "value_parsers.hpp"

namespace frontcache::config::detail {
namespace {

// `cache.rules[3].ttl` -> `cache.rules[].ttl`, the form known_keys() lists.
std::string pattern_of(std::string_view path) {
  std::string out;
  bool in_index = false;
  for (char c : path) {
    if (c == '[') in_index = true;
    if (c == ']') in_index = false;
    if (!in_index || c == '[') out += c;
  }
  return out;
}

bool is_known(std::string_view pattern) {
  const auto keys = known_keys();
  return std::find(keys.begin(), keys.end(), pattern) != keys.end();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known sibling closest to a misspelt key, if any is close enough to be a likely typo.
std::string suggestion(std::string_view parent_pattern, std::string_view key) {
  const std::string prefix = parent_pattern.empty() ? "" : std::string(parent_pattern) + ".";
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (std::string_view known : known_keys()) {
    if (!known.starts_with(prefix)) continue;
    const std::string_view name = known.substr(prefix.size());
    if (name.find('.') != std::string_view::npos) continue;
    const std::size_t d = edit_distance(key, name);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(name);
    }
  }
  return best;
}

std::string type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "an empty value";
    default:
      return "a value";
  }
}

}  // namespace

std::string YamlReader::child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string YamlReader::element(const std::string& path, std::size_t index) {
  return fmt::format("{}[{}]", path, index);
}

void YamlReader::error(const YAML::Node& at, const std::string& path, std::string_view message) {
  const YAML::Mark mark = at.Mark();
  if (mark.is_null() || mark.line < 0) {
    error_without_position(path, message);
    return;
  }
  errors_.push_back(
      {mark.line, mark.column,
       fmt::format("{}:{}:{}: {}: {}", source_, mark.line + 1, mark.column + 1, path, message)});
}

void YamlReader::error_without_position(const std::string& path, std::string_view message) {
  errors_.push_back({-1, -1, fmt::format("{}: {}: {}", source_, path, message)});
}

std::vector<std::string> YamlReader::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  std::vector<std::string> out;
  for (auto& e : errors_) out.push_back(std::move(e.text));
  errors_.clear();
  return out;
}

void YamlReader::check_key(const YAML::Node& key_node, const std::string& path,
                           std::vector<std::string>& seen) {
  if (!key_node.IsScalar()) {
    error(key_node, path.empty() ? "(top level)" : path, "keys must be plain names");
    return;
  }
  const std::string& key = key_node.Scalar();
  const std::string full = child(path, key);
  if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
    error(key_node, full, "duplicate key");
    return;
  }
  seen.push_back(key);
  if (is_known(pattern_of(full))) return;
  const std::string close = suggestion(pattern_of(path), key);
  error(key_node, full,
        close.empty() ? "unknown key" : fmt::format("unknown key (did you mean {}?)", close));
}

bool YamlReader::mapping(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return false;
  if (!node.IsMap()) {
    error(node, path.empty() ? "(top level)" : path,
          fmt::format("expected a mapping of keys, got {}", type_name(node)));
    return false;
  }
  std::vector<std::string> seen;
  for (const auto& entry : node) check_key(entry.first, path, seen);
  return true;
}

bool YamlReader::sequence(const YAML::Node& map, const std::string& path, std::string_view key) {
  const YAML::Node node = map[std::string(key)];
  if (!node.IsDefined()) return false;
  if (node.IsSequence()) return true;
  error(node, child(path, key), fmt::format("expected a list, got {}", type_name(node)));
  return false;
}

bool YamlReader::scalar(const YAML::Node& map, const std::string& path, std::string_view key,
                        std::string_view hint, std::string& out) {
  const YAML::Node node = map[std::string(key)];
  if (!node.IsDefined()) return false;
  if (!node.IsScalar()) {
    error(node, child(path, key), fmt::format("{}, got {}", hint, type_name(node)));
    return false;
  }
  out = node.Scalar();
  return true;
}

bool YamlReader::bad_value(const YAML::Node& at, const std::string& path, std::string_view hint,
                           std::string_view got) {
  error(at, path, fmt::format("{}, got {}", hint, quoted(got)));
  return false;
}

bool YamlReader::duration(const YAML::Node& map, const std::string& path, std::string_view key,
                          Duration& out, Duration min) {
  std::string text;
  if (!scalar(map, path, key, kDurationHint, text)) return false;
  const auto value = parse_duration(text);
  if (!value) return bad_value(map[std::string(key)], child(path, key), kDurationHint, text);
  if (*value < min) {
    error(map[std::string(key)], child(path, key),
          min == Duration{1}
              ? fmt::format("must be greater than 0, got {}", quoted(text))
              : fmt::format("must be at least {}, got {}", format_duration(min), quoted(text)));
    return false;
  }
  out = *value;
  return true;
}

bool YamlReader::size(const YAML::Node& map, const std::string& path, std::string_view key,
                      std::size_t& out, std::size_t min) {
  std::string text;
  if (!scalar(map, path, key, kSizeHint, text)) return false;
  const auto value = parse_size(text);
  if (!value) return bad_value(map[std::string(key)], child(path, key), kSizeHint, text);
  if (*value < min) {
    error(map[std::string(key)], child(path, key),
          min == 1 ? fmt::format("must be greater than 0, got {}", quoted(text))
                   : fmt::format("must be at least {}, got {}", format_size(min), quoted(text)));
    return false;
  }
  out = *value;
  return true;
}

bool YamlReader::count(const YAML::Node& map, const std::string& path, std::string_view key,
                       std::size_t& out, std::size_t min, std::size_t max) {
  const std::string hint = max == std::numeric_limits<std::size_t>::max()
                               ? fmt::format("expected a whole number of at least {}", min)
                               : fmt::format("expected a whole number from {} to {}", min, max);
  std::string text;
  if (!scalar(map, path, key, hint, text)) return false;
  const auto value = parse_uint(text);
  if (!value || *value < min || *value > max) {
    return bad_value(map[std::string(key)], child(path, key), hint, text);
  }
  out = *value;
  return true;
}

bool YamlReader::string(const YAML::Node& map, const std::string& path, std::string_view key,
                        std::string& out, bool allow_empty) {
  std::string text;
  if (!scalar(map, path, key, "expected a string", text)) return false;
  if (!allow_empty && text.empty()) {
    error(map[std::string(key)], child(path, key), "must not be empty");
    return false;
  }
  out = std::move(text);
  return true;
}

bool YamlReader::boolean(const YAML::Node& map, const std::string& path, std::string_view key,
                         bool& out) {
  constexpr std::string_view kHint = "expected true or false";
  std::string text;
  if (!scalar(map, path, key, kHint, text)) return false;
  if (text == "true" || text == "True" || text == "TRUE") {
    out = true;
  } else if (text == "false" || text == "False" || text == "FALSE") {
    out = false;
  } else {
    return bad_value(map[std::string(key)], child(path, key), kHint, text);
  }
  return true;
}

bool YamlReader::endpoint(const YAML::Node& map, const std::string& path, std::string_view key,
                          Endpoint& out) {
  std::string text;
  if (!scalar(map, path, key, kEndpointHint, text)) return false;
  auto value = parse_endpoint(text);
  if (!value) return bad_value(map[std::string(key)], child(path, key), kEndpointHint, text);
  out = std::move(*value);
  return true;
}

bool YamlReader::file(const YAML::Node& map, const std::string& path, std::string_view key,
                      std::string& out) {
  std::string name;
  if (!string(map, path, key, name, false)) return false;
  const std::string full = name.front() == '/' ? name : base_dir_ + name;
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    error(map[std::string(key)], child(path, key),
          fmt::format("cannot read {}: {}", quoted(full), std::strerror(errno)));
    return false;
  }
  out = full;
  return true;
}

void YamlReader::secret(const YAML::Node& map, const std::string& path, bool required,
                        std::string& out) {
  int sources = 0;
  for (const char* key : {"password", "password_env", "password_file"}) {
    if (map[key].IsDefined()) ++sources;
  }
  if (sources > 1) {
    error(map, path, "set only one of password, password_env, password_file");
    return;
  }
  if (sources == 0) {
    if (required) error(map, path, "needs one of password, password_env, password_file");
    return;
  }
  std::string value;
  std::string name;
  if (string(map, path, "password", value, !required)) {
    out = std::move(value);
  } else if (string(map, path, "password_env", name, false)) {
    const std::string env_path = child(path, "password_env");
    const char* env = std::getenv(name.c_str());
    if (env == nullptr) {
      error(map["password_env"], env_path, fmt::format("environment variable {} is not set", name));
    } else if (*env == '\0') {
      error(map["password_env"], env_path, fmt::format("environment variable {} is empty", name));
    } else {
      out = env;
    }
  } else if (string(map, path, "password_file", name, false)) {
    const std::string file_path = child(path, "password_file");
    const std::string full = name.front() == '/' ? name : base_dir_ + name;
    std::ifstream in(full, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
      error(map["password_file"], file_path,
            fmt::format("cannot read {}: {}", quoted(full), std::strerror(errno)));
      return;
    }
    value = text.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
      error(map["password_file"], file_path, fmt::format("{} is empty", quoted(full)));
    } else {
      out = std::move(value);
    }
  }
}

}  // namespace frontcache::config::detail
