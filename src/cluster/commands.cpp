#include "frontcache/cluster/commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <utility>

#include "frontcache/resp/reply_framer.hpp"

namespace frontcache::cluster {

namespace {

struct Entry {
  std::string_view name;
  Fanout fanout;
};

constexpr std::array<Entry, 20> kKeyless{{
    {"dbsize", Fanout::Sum},
    {"keys", Fanout::Concat},
    {"scan", Fanout::Scan},
    {"flushall", Fanout::AllSame},
    {"flushdb", Fanout::AllSame},
    {"script|load", Fanout::AllSame},
    {"script|flush", Fanout::AllSame},
    {"script|exists", Fanout::AndArrays},
    {"function|load", Fanout::AllSame},
    {"function|delete", Fanout::AllSame},
    {"function|flush", Fanout::AllSame},
    {"function|restore", Fanout::AllSame},
    {"config|set", Fanout::AllSame},
    {"config|resetstat", Fanout::AllSame},
    {"client|pause", Fanout::AllSame},
    {"client|unpause", Fanout::AllSame},
    {"slowlog|reset", Fanout::AllSame},
    {"readonly", Fanout::Refuse},
    {"readwrite", Fanout::Refuse},
    {"asking", Fanout::Refuse},
}};

std::string shape_error(std::string_view what) {
  return fmt::format("-ERR frontcache: unexpected {} reply from a cluster node\r\n", what);
}

// The elements of an array reply (after its header); false when it is not a complete array.
bool array_elements(std::string_view reply, std::vector<std::string_view>& out) {
  if (reply.empty() || (reply[0] != '*' && reply[0] != '~')) return false;
  const std::size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos) return false;
  long long n = 0;
  auto [p, ec] = std::from_chars(reply.data() + 1, reply.data() + eol, n);
  if (ec != std::errc() || p != reply.data() + eol || n < 0) return false;
  std::string_view rest = reply.substr(eol + 2);
  resp::ReplyFramer framer;
  for (long long i = 0; i < n; ++i) {
    if (framer.frame(rest) != resp::FrameStatus::Complete) return false;
    out.push_back(rest.substr(0, framer.consumed()));
    rest.remove_prefix(framer.consumed());
  }
  return rest.empty();
}

bool parse_integer(std::string_view reply, long long& out) {
  if (reply.size() < 4 || reply[0] != ':' || !reply.ends_with("\r\n")) return false;
  auto [p, ec] = std::from_chars(reply.data() + 1, reply.data() + reply.size() - 2, out);
  return ec == std::errc() && p == reply.data() + reply.size() - 2;
}

const std::string* first_error(std::span<const std::string> parts) {
  for (const auto& p : parts) {
    if (!p.empty() && (p[0] == '-' || p[0] == '!')) return &p;
  }
  return nullptr;
}

}  // namespace

Fanout keyless_fanout(std::string_view fullname) {
  if (fullname == "cluster" || fullname.starts_with("cluster|")) return Fanout::Refuse;
  for (const auto& e : kKeyless) {
    if (e.name == fullname) return e.fanout;
  }
  return Fanout::None;
}

Split split_kind(std::string_view fullname) {
  if (fullname == "mget") return Split::Mget;
  if (fullname == "del" || fullname == "unlink" || fullname == "exists" || fullname == "touch") {
    return Split::Sum;
  }
  if (fullname == "mset") return Split::Mset;
  return Split::None;
}

std::string merge_all_same(std::span<const std::string> parts) {
  if (const std::string* e = first_error(parts)) return *e;
  return parts.empty() ? std::string("+OK\r\n") : parts.front();
}

std::string merge_sum(std::span<const std::string> parts) {
  if (const std::string* e = first_error(parts)) return *e;
  long long sum = 0;
  for (const auto& p : parts) {
    long long n = 0;
    if (!parse_integer(p, n)) return shape_error("integer");
    sum += n;
  }
  return fmt::format(":{}\r\n", sum);
}

std::string merge_concat(std::span<const std::string> parts) {
  if (const std::string* e = first_error(parts)) return *e;
  std::vector<std::string_view> elements;
  for (const auto& p : parts) {
    if (!array_elements(p, elements)) return shape_error("array");
  }
  std::string out = fmt::format("*{}\r\n", elements.size());
  for (auto e : elements) out += e;
  return out;
}

std::string merge_and_arrays(std::span<const std::string> parts) {
  if (const std::string* e = first_error(parts)) return *e;
  std::vector<long long> result;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::vector<std::string_view> elements;
    if (!array_elements(parts[i], elements)) return shape_error("array");
    if (i == 0) result.assign(elements.size(), 1);
    if (elements.size() != result.size()) return shape_error("array");
    for (std::size_t j = 0; j < elements.size(); ++j) {
      long long n = 0;
      if (!parse_integer(elements[j], n)) return shape_error("integer");
      result[j] = std::min(result[j], n);
    }
  }
  std::string out = fmt::format("*{}\r\n", result.size());
  for (const long long n : result) out += fmt::format(":{}\r\n", n);
  return out;
}

std::string merge_mget(std::span<const std::string> parts,
                       std::span<const std::vector<std::size_t>> positions, std::size_t total) {
  if (const std::string* e = first_error(parts)) return *e;
  std::vector<std::string_view> placed(total);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::vector<std::string_view> elements;
    if (!array_elements(parts[i], elements) || elements.size() != positions[i].size()) {
      return shape_error("MGET");
    }
    for (std::size_t j = 0; j < elements.size(); ++j) placed[positions[i][j]] = elements[j];
  }
  std::string out = fmt::format("*{}\r\n", total);
  for (auto e : placed) {
    if (e.empty()) return shape_error("MGET");
    out += e;
  }
  return out;
}

std::optional<ScanCursor> parse_scan_cursor(std::string_view text) {
  // strtoul's own grammar (base 10), as Redis parses it.
  const std::string copy(text);
  if (!copy.empty() && std::isspace(static_cast<unsigned char>(copy[0])) != 0) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(copy.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) return std::nullopt;
  ScanCursor c;
  c.node = static_cast<std::size_t>(value >> kScanInnerBits);
  c.inner = value & ((std::uint64_t{1} << kScanInnerBits) - 1);
  return c;
}

std::string format_scan_cursor(ScanCursor cursor) {
  return std::to_string((static_cast<std::uint64_t>(cursor.node) << kScanInnerBits) | cursor.inner);
}

std::optional<std::string> rewrite_scan_reply(std::string_view reply, std::size_t node,
                                              std::size_t nodes) {
  std::vector<std::string_view> elements;
  if (!array_elements(reply, elements) || elements.size() != 2 || !elements[0].starts_with("$")) {
    return std::nullopt;
  }
  const std::string_view bulk = elements[0];
  const std::size_t eol = bulk.find("\r\n");
  const std::string_view digits = bulk.substr(eol + 2, bulk.size() - eol - 4);
  std::uint64_t inner = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), inner);
  if (ec != std::errc() || p != digits.data() + digits.size() ||
      inner >= (std::uint64_t{1} << kScanInnerBits)) {
    return std::nullopt;
  }
  std::string next;
  if (inner != 0) {
    next = format_scan_cursor({node, inner});
  } else if (node + 1 < nodes) {
    next = format_scan_cursor({node + 1, 0});
  } else {
    next = "0";
  }
  return fmt::format("*2\r\n${}\r\n{}\r\n{}", next.size(), next, elements[1]);
}

}  // namespace frontcache::cluster
