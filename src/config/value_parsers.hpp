// Internal to frontcache_config: value checks shared by the YAML loader and the command-line
// overrides, so a value means the same and fails with the same words wherever it is written.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "frontcache/config/config.hpp"

namespace frontcache::config::detail {

inline constexpr std::size_t kMaxWorkers = 1024;

// The expectation half of an error message ("expected ..., got \"x\"").
inline constexpr std::string_view kDurationHint =
    "expected a duration like 30s (whole number + ms, s, m or h; or 0)";
inline constexpr std::string_view kSizeHint =
    "expected a size like 64kb (whole number of bytes, or + b, kb, mb, gb)";
inline constexpr std::string_view kEndpointHint =
    "expected host:port like 127.0.0.1:6379, [::1]:6379 or localhost:6379 (port 1-65535)";
inline constexpr std::string_view kWorkersHint = "expected auto or a whole number from 1 to 1024";
inline constexpr std::string_view kLogLevelHint =
    "expected one of trace, debug, info, warn, error, critical, off";

// "auto" -> 0, "1".."1024" -> n, anything else -> nullopt.
std::optional<std::size_t> parse_workers(std::string_view text);
// A decimal unsigned integer with no sign, spaces or unit.
std::optional<std::size_t> parse_uint(std::string_view text);
bool is_log_level(std::string_view text);

// Renders values back in the units a user writes, for messages ("300s", "1500ms", "256mb").
// Durations use s or ms only, never m or h.
std::string format_duration(Duration d);
std::string format_size(std::size_t bytes);

// `got "text"` with quotes and control characters escaped, so messages stay one line.
std::string quoted(std::string_view text);

}  // namespace frontcache::config::detail
