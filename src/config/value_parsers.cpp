// Unit parsing (durations, sizes, endpoints) for the config file and the command line.
#include "value_parsers.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>

namespace frontcache::config {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Splits "123unit" into the number and the unit; nullopt when there are no leading digits or the
// number overflows.
struct NumberAndUnit {
  std::uint64_t number;
  std::string_view unit;
};
std::optional<NumberAndUnit> split_number(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  while (i < text.size() && is_digit(text[i])) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (n > (kMax - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  return NumberAndUnit{n, text.substr(i)};
}

std::optional<std::uint64_t> multiply(std::uint64_t n, std::uint64_t factor, std::uint64_t max) {
  if (n > max / factor) return std::nullopt;
  return n * factor;
}

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  bool all_numeric = true;
  std::size_t label_len = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label_len == 0 || prev == '-') return false;
      label_len = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (label_len == 0 && c == '-') return false;
      if (++label_len > 63) return false;
      if (!is_digit(c)) all_numeric = false;
    } else {
      return false;
    }
    prev = c;
  }
  // "300.1.2.3" or "10.1" are broken IPv4 addresses, not host names.
  return prev != '-' && !all_numeric;
}

}  // namespace

// About 114 years: far beyond any sensible timeout, yet small enough that adding it to a
// nanosecond steady_clock time point cannot overflow.
constexpr std::uint64_t kMaxDurationMs = 1'000'000ull * 3'600'000;

std::optional<Duration> parse_duration(const std::string& text) {
  if (text == "0") return Duration{0};
  const auto parts = split_number(text);
  if (!parts) return std::nullopt;
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kUnits{
      {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
  for (const auto& [unit, factor] : kUnits) {
    if (parts->unit != unit) continue;
    const auto ms = multiply(parts->number, factor, kMaxDurationMs);
    if (!ms) return std::nullopt;
    return Duration{static_cast<Duration::rep>(*ms)};
  }
  return std::nullopt;
}

std::optional<std::size_t> parse_size(const std::string& text) {
  const auto parts = split_number(text);
  if (!parts) return std::nullopt;
  const std::string unit = lower(parts->unit);
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 6> kUnits{
      {{"", 1},
       {"b", 1},
       {"kb", 1ull << 10},
       {"mb", 1ull << 20},
       {"gb", 1ull << 30},
       {"tb", 1ull << 40}}};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const auto bytes = multiply(parts->number, factor, std::numeric_limits<std::size_t>::max());
    if (!bytes) return std::nullopt;
    return static_cast<std::size_t>(*bytes);
  }
  return std::nullopt;
}

std::optional<Endpoint> parse_endpoint(const std::string& text) {
  std::string_view view(text);
  std::string host;
  std::string_view port_text;
  if (!view.empty() && view.front() == '[') {
    const auto close = view.find(']');
    if (close == std::string_view::npos || close + 1 >= view.size() || view[close + 1] != ':') {
      return std::nullopt;
    }
    host = std::string(view.substr(1, close - 1));
    port_text = view.substr(close + 2);
    in6_addr addr6{};
    if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) return std::nullopt;
  } else {
    const auto colon = view.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(view.substr(0, colon));
    port_text = view.substr(colon + 1);
    in_addr addr4{};
    if (inet_pton(AF_INET, host.c_str(), &addr4) != 1 && !valid_host_name(host)) {
      return std::nullopt;  // also rejects a bare IPv6 address: it needs brackets
    }
  }
  const auto port = detail::parse_uint(port_text);
  if (!port || *port < 1 || *port > 65535) return std::nullopt;
  return Endpoint{std::move(host), static_cast<std::uint16_t>(*port)};
}

namespace detail {

std::optional<std::size_t> parse_uint(std::string_view text) {
  const auto parts = split_number(text);
  if (!parts || !parts->unit.empty()) return std::nullopt;
  if (parts->number > std::numeric_limits<std::size_t>::max()) return std::nullopt;
  return static_cast<std::size_t>(parts->number);
}

std::optional<std::size_t> parse_workers(std::string_view text) {
  if (text == "auto") return 0;
  const auto n = parse_uint(text);
  if (!n || *n < 1 || *n > kMaxWorkers) return std::nullopt;
  return n;
}

bool is_log_level(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kLevels{"trace", "debug",    "info", "warn",
                                                           "error", "critical", "off"};
  for (auto level : kLevels) {
    if (text == level) return true;
  }
  return false;
}

// Seconds or milliseconds only, as the shipped file and the docs write every default: a value
// written `60s` must never come back as `1m` (error messages quote the file's own text where
// there is one; this spells the rest).
std::string format_duration(Duration d) {
  const auto ms = d.count();
  if (ms == 0) return "0";
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string format_size(std::size_t bytes) {
  static constexpr std::array<std::pair<std::string_view, std::size_t>, 3> kUnits{
      {{"gb", std::size_t{1} << 30}, {"mb", std::size_t{1} << 20}, {"kb", std::size_t{1} << 10}}};
  for (const auto& [unit, factor] : kUnits) {
    if (bytes != 0 && bytes % factor == 0) return fmt::format("{}{}", bytes / factor, unit);
  }
  return fmt::format("{}", bytes);
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace detail
}  // namespace frontcache::config
