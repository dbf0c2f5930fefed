#include "frontcache/invalidation/payload.hpp"

#include <gtest/gtest.h>

namespace frontcache::invalidation {
namespace {

constexpr std::uint64_t kUs = 0x0123456789abcdefULL;
constexpr std::uint64_t kThem = 0xfedcba9876543210ULL;

TEST(Payload, KeysRoundTripBinarySafe) {
  const std::string binary("a\0b\r\n:9", 7);
  const std::vector<std::string_view> keys{"user:1", "", binary, "12:34"};
  std::string payload;
  encode_keys(payload, kThem, keys);
  EXPECT_TRUE(payload.starts_with("fc1 fedcba9876543210 K6:user:1"));
  std::vector<std::string_view> got;
  ASSERT_EQ(decode(payload, kUs, got), PayloadKind::Keys);
  EXPECT_EQ(got, keys);
}

TEST(Payload, OwnMessagesAreRecognised) {
  std::string payload;
  const std::vector<std::string_view> keys{"k"};
  encode_keys(payload, kUs, keys);
  std::vector<std::string_view> got;
  EXPECT_EQ(decode(payload, kUs, got), PayloadKind::Own);
  EXPECT_TRUE(got.empty());
}

TEST(Payload, EverythingMessage) {
  std::string payload;
  encode_all(payload, kThem);
  EXPECT_EQ(payload, "fc1 fedcba9876543210 *");
  std::vector<std::string_view> got;
  EXPECT_EQ(decode(payload, kUs, got), PayloadKind::All);
}

TEST(Payload, ForeignPayloadIsOneKey) {
  std::vector<std::string_view> got;
  EXPECT_EQ(decode("user:42", kUs, got), PayloadKind::Keys);
  EXPECT_EQ(got, (std::vector<std::string_view>{"user:42"}));
}

TEST(Payload, MalformedIsRejectedWithoutPartialKeys) {
  for (const char* bad :
       {"fc1 nothex0123456789 K1:a", "fc1 fedcba9876543210 K5:ab", "fc1 fedcba9876543210 K1:a9",
        "fc1 fedcba9876543210 Kx:a", "fc1 fedcba9876543210 Q", "fc1 short"}) {
    std::vector<std::string_view> got;
    EXPECT_EQ(decode(bad, kUs, got), PayloadKind::Malformed) << bad;
    EXPECT_TRUE(got.empty()) << bad;
  }
}

}  // namespace
}  // namespace frontcache::invalidation
