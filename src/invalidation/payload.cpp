#include "frontcache/invalidation/payload.hpp"

#include <fmt/format.h>

#include <charconv>

namespace frontcache::invalidation {

namespace {

constexpr std::string_view kMagic = "fc1 ";
constexpr std::size_t kIdDigits = 16;

void header(std::string& out, std::uint64_t instance) {
  out += kMagic;
  fmt::format_to(std::back_inserter(out), "{:016x} ", instance);
}

}  // namespace

void encode_keys(std::string& out, std::uint64_t instance, std::span<const std::string_view> keys) {
  header(out, instance);
  out += 'K';
  for (auto key : keys) {
    fmt::format_to(std::back_inserter(out), "{}:", key.size());
    out += key;
  }
}

void encode_all(std::string& out, std::uint64_t instance) {
  header(out, instance);
  out += '*';
}

PayloadKind decode(std::string_view payload, std::uint64_t instance,
                   std::vector<std::string_view>& keys) {
  if (!payload.starts_with(kMagic)) {
    keys.push_back(payload);
    return PayloadKind::Keys;
  }
  std::string_view rest = payload.substr(kMagic.size());
  std::uint64_t sender = 0;
  if (rest.size() < kIdDigits + 2 || rest[kIdDigits] != ' ') return PayloadKind::Malformed;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + kIdDigits, sender, 16);
  if (ec != std::errc() || ptr != rest.data() + kIdDigits) return PayloadKind::Malformed;
  if (sender == instance) return PayloadKind::Own;
  rest.remove_prefix(kIdDigits + 1);
  if (rest == "*") return PayloadKind::All;
  if (rest.front() != 'K') return PayloadKind::Malformed;
  rest.remove_prefix(1);
  const std::size_t first = keys.size();
  while (!rest.empty()) {
    std::size_t len = 0;
    auto [p, e] = std::from_chars(rest.data(), rest.data() + rest.size(), len);
    const auto digits = static_cast<std::size_t>(p - rest.data());
    if (e != std::errc() || digits == 0 || digits >= rest.size() || rest[digits] != ':' ||
        rest.size() - digits - 1 < len) {
      keys.resize(first);
      return PayloadKind::Malformed;
    }
    keys.push_back(rest.substr(digits + 1, len));
    rest.remove_prefix(digits + 1 + len);
  }
  return PayloadKind::Keys;
}

}  // namespace frontcache::invalidation
