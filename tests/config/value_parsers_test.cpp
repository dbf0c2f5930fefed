#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "frontcache/config/config.hpp"

namespace frontcache::config {
namespace {

using namespace std::chrono_literals;

struct DurationCase {
  std::string text;
  std::optional<Duration> expected;
};

TEST(ParseDuration, Table) {
  const DurationCase cases[] = {
      {"0", Duration{0}},
      {"500ms", 500ms},
      {"0ms", 0ms},
      {"0s", 0ms},
      {"30s", 30s},
      {"5m", 5min},
      {"1h", 1h},
      {"0001s", 1s},
      {"1000000h", 1'000'000h},  // the largest accepted: ~114 years
      {"3600000000000ms", 1'000'000h},
      // Rejected: no unit, fractions, signs, spaces, wrong case, unknown units, overflow.
      {"", std::nullopt},
      {"30", std::nullopt},
      {"1.5s", std::nullopt},
      {".5s", std::nullopt},
      {"-1s", std::nullopt},
      {"+1s", std::nullopt},
      {" 1s", std::nullopt},
      {"1 s", std::nullopt},
      {"1s ", std::nullopt},
      {"1S", std::nullopt},
      {"1M", std::nullopt},
      {"1d", std::nullopt},
      {"1sec", std::nullopt},
      {"1us", std::nullopt},
      {"s", std::nullopt},
      {"ms", std::nullopt},
      {"1h30m", std::nullopt},
      {"1000001h", std::nullopt},
      {"3600000000001ms", std::nullopt},
      {"9223372036854775808ms", std::nullopt},
      {"2562047788016h", std::nullopt},          // > 2^63 ms
      {"18446744073709551616ms", std::nullopt},  // > 2^64
      {"99999999999999999999999s", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_duration(c.text), c.expected) << '"' << c.text << '"';
  }
}

struct SizeCase {
  std::string text;
  std::optional<std::size_t> expected;
};

TEST(ParseSize, Table) {
  const SizeCase cases[] = {
      {"0", 0},
      {"100", 100},
      {"100b", 100},
      {"100B", 100},
      {"64kb", 64 * 1024},
      {"64KB", 64 * 1024},
      {"64Kb", 64 * 1024},
      {"256mb", 256ull << 20},
      {"1gb", 1ull << 30},
      {"1GB", 1ull << 30},
      {"2tb", 2ull << 40},
      {"18446744073709551615", std::numeric_limits<std::size_t>::max()},
      // Rejected.
      {"", std::nullopt},
      {"kb", std::nullopt},
      {"1k", std::nullopt},
      {"1m", std::nullopt},
      {"1kib", std::nullopt},
      {"1.5mb", std::nullopt},
      {"-1", std::nullopt},
      {"-1kb", std::nullopt},
      {"1 kb", std::nullopt},
      {"0x10", std::nullopt},
      {"18446744073709551616", std::nullopt},
      {"16777216tb", std::nullopt},  // 2^24 * 2^40 overflows 64 bits
      {"17179869184gb", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_size(c.text), c.expected) << '"' << c.text << '"';
  }
}

struct EndpointCase {
  std::string text;
  bool valid;
  std::string host;
  std::uint16_t port;
};

TEST(ParseEndpoint, Table) {
  const EndpointCase cases[] = {
      {"127.0.0.1:6379", true, "127.0.0.1", 6379},
      {"0.0.0.0:1", true, "0.0.0.0", 1},
      {"10.0.0.1:65535", true, "10.0.0.1", 65535},
      {"[::1]:6380", true, "::1", 6380},
      {"[::]:6380", true, "::", 6380},
      {"[fe80::1:2]:80", true, "fe80::1:2", 80},
      {"localhost:6379", true, "localhost", 6379},
      {"redis:6379", true, "redis", 6379},
      {"cache-01.internal.example.com:7000", true, "cache-01.internal.example.com", 7000},
      {"", false, "", 0},
      {"127.0.0.1", false, "", 0},
      {"127.0.0.1:", false, "", 0},
      {":6379", false, "", 0},
      {"127.0.0.1:0", false, "", 0},
      {"127.0.0.1:65536", false, "", 0},
      {"127.0.0.1:-1", false, "", 0},
      {"127.0.0.1:http", false, "", 0},
      {"127.0.0.1: 6379", false, "", 0},
      {"256.0.0.1:6379", false, "", 0},
      {"1.2.3:6379", false, "", 0},
      {"::1:6379", false, "", 0},
      {"[::1]", false, "", 0},
      {"[::1]6379", false, "", 0},
      {"[::1:6379", false, "", 0},
      {"[not-ipv6]:6379", false, "", 0},
      {"[127.0.0.1]:6379", false, "", 0},
      {"-bad:6379", false, "", 0},
      {"bad-:6379", false, "", 0},
      {"a..b:6379", false, "", 0},
      {"under score ok?:6379", false, "", 0},
      {"host/x:6379", false, "", 0},
  };
  for (const auto& c : cases) {
    const auto endpoint = parse_endpoint(c.text);
    ASSERT_EQ(endpoint.has_value(), c.valid) << '"' << c.text << '"';
    if (!endpoint) continue;
    EXPECT_EQ(endpoint->host, c.host) << c.text;
    EXPECT_EQ(endpoint->port, c.port) << c.text;
  }
}

}  // namespace
}  // namespace frontcache::config
