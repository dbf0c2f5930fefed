#include "frontcache/cache/rules.hpp"

#include <gtest/gtest.h>

namespace frontcache::cache {
namespace {

using std::chrono::milliseconds;

TEST(GlobMatch, RedisPatterns) {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"*", "", true},
      {"*", "anything", true},
      {"user:*", "user:1", true},
      {"user:*", "users:1", false},
      {"h?llo", "hello", true},
      {"h?llo", "hllo", false},
      {"h[ae]llo", "hallo", true},
      {"h[ae]llo", "hillo", false},
      {"h[^e]llo", "hallo", true},
      {"h[^e]llo", "hello", false},
      {"h[a-b]llo", "hbllo", true},
      {"h[b-a]llo", "hallo", true},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false},
      {"a\\*b", "a*b", true},
      {"a\\*b", "axb", false},
      {"*:*:x", "a:b:c:x", true},
      {"**", "x", true},
      {"abc", "abcd", false},
      {"abc*", "abc", true},
      {"[", "a", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(glob_match(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
  }
}

TEST(RuleSet, FirstMatchWinsAndTtlsAreCapped) {
  RuleSet rules({{"session:*", false, milliseconds(1000), milliseconds(0)},
                 {"user:*", true, milliseconds(30000), milliseconds(5000)},
                 {"*", true, milliseconds(600000), milliseconds(1000)}},
                milliseconds(300000));
  ASSERT_NE(rules.match("session:1"), nullptr);
  EXPECT_FALSE(rules.match("session:1")->cache);
  EXPECT_EQ(rules.match("user:7")->ttl, milliseconds(30000));
  EXPECT_EQ(rules.match("other")->ttl, milliseconds(300000));
  EXPECT_TRUE(rules.tracking_prefixes().empty()) << "a catch-all rule needs every key tracked";
}

TEST(RuleSet, NoMatchMeansNotCached) {
  RuleSet rules({{"user:*", true, milliseconds(1000), milliseconds(0)}}, milliseconds(5000));
  EXPECT_EQ(rules.match("order:1"), nullptr);
}

TEST(RuleSet, TrackingPrefixesAreMinimal) {
  RuleSet rules({{"user:*", true, milliseconds(1), milliseconds(0)},
                 {"user:profile:*", true, milliseconds(1), milliseconds(0)},
                 {"session:*", false, milliseconds(1), milliseconds(0)},
                 {"order?", true, milliseconds(1), milliseconds(0)},
                 {"exact", true, milliseconds(1), milliseconds(0)}},
                milliseconds(5000));
  EXPECT_EQ(rules.tracking_prefixes(), (std::vector<std::string>{"exact", "order", "user:"}));
}

}  // namespace
}  // namespace frontcache::cache
