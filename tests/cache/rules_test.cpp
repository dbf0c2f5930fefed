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
      // stringmatchlen("*", "") is false; KEYS and SCAN treat the pattern "*" apart (every
      // key), and so does RuleSet::match.
      {"*", "", false},
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
      // Exactly Redis's stringmatchlen, quirks included (src/util.c).
      {"[a-]", "a", true},  // the range ']'..'a' (reversed): ] ^ _ ` a
      {"[a-]", "]", true},
      {"[a-]", "^", true},
      {"[a-]", "`", true},
      {"[a-]", "-", false},
      {"[a-]", "b", false},
      {"x[a-]y", "x]", true},  // the class went on past ']' and took 'y' in, unterminated
      {"x[a-]y", "xy", true},
      {"x[a-]y", "x]y", false},
      {"[z-a]", "m", true},  // reversed range
      {"[z-a]", "A", false},
      {"[^a-c]", "d", true},
      {"[^a-c]", "b", false},
      {"[\\]]", "]", true},  // escaped ']' inside a class
      {"[\\]]", "\\", false},
      {"[\\-]", "-", true},
      {"[a\\-z]", "m", false},  // escaped '-' is no range
      {"[a\\-z]", "-", true},
      {"[]a]", "a", false},  // ']' right after '[' closes an empty class
      {"[]a]", "]", false},
      {"[]", "x", false},
      {"[^]", "x", true},  // an empty negated class matches any byte
      {"[^", "x", true},   // unterminated: the class ends with the pattern
      {"[ab", "a", true},
      {"[ab", "b", true},
      {"[ab", "c", false},
      {"a[bc", "ab", true},
      {"[a-", "a", true},
      {"[a-", "-", true},
      {"[a-", "b", false},
      {"a\\", "a\\", true},  // a trailing backslash is literal
      {"\\a", "a", true},
      {"\\?", "?", true},
      {"\\?", "x", false},
      {"*\\*", "ab*", true},
      {"[*]", "*", true},
      {"[?]", "x", false},
      {"?", "", false},
      {"", "", true},
      {"", "a", false},
      {"a*", "a", true},
      {"*a*b*c*", "xaybzc", true},
      {"*a*b*c*", "xaybz", false},
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

TEST(RuleSet, StarMatchesTheEmptyKeyAsKeysDoes) {
  RuleSet rules({{"*", true, milliseconds(1000), milliseconds(0)}}, milliseconds(5000));
  EXPECT_NE(rules.match(""), nullptr);
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
