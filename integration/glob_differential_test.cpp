// Rule globs against Redis itself: the same keys stored in a redis-server, the same patterns
// asked with KEYS and with cache::glob_match, over thousands of generated bracket-heavy patterns
// (classes, ranges, reversed ranges, `[a-]`, negation, escapes, unterminated `[`, bytes above
// 0x7f). Any pattern whose key set differs fails, with the pattern and both answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "frontcache/cache/rules.hpp"
#include "net.hpp"
#include "process.hpp"
#include "servers.hpp"

namespace frontcache::integration {
namespace {

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    }
  }
  return out;
}

std::string random_string(std::mt19937& rng, std::string_view alphabet, int max_len) {
  std::uniform_int_distribution<int> len(0, max_len);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (int n = len(rng); n > 0; --n) s += alphabet[pick(rng)];
  return s;
}

TEST(GlobDifferential, RuleGlobsSelectExactlyTheKeysThatKeysReturns) {
  TempDir dir;
  RedisServer redis(dir.path());
  RedisClient c("127.0.0.1", redis.port(), 30s);

  // Keys over a small alphabet, so that patterns hit them often; high bytes check signedness.
  const std::string key_alphabet = std::string("ab]-[^\\*?z") + "\x80\xff";
  const std::string pattern_alphabet = std::string("ab]-[^\\*?z[[]]--") + "\x80\xff";
  std::mt19937 rng(17);
  std::set<std::string> keys{""};
  while (keys.size() < 400) keys.insert(random_string(rng, key_alphabet, 4));
  std::vector<std::vector<std::string>> sets;
  for (const auto& k : keys) sets.push_back({"SET", k, "1"});
  for (const auto& r : c.pipeline(sets)) ASSERT_EQ(r.to_string(), "+OK");

  std::vector<std::string> patterns = {"*",     "[a-]", "x[a-]y", "[z-a]", "[^]", "[^", "[]a]",
                                       "[\\]]", "a\\",  "[a-\\]", "*[",    "[*",  "\\"};
  while (patterns.size() < 3000) {
    std::string p = random_string(rng, pattern_alphabet, 7);
    // Bracket-heavy: most patterns open a class somewhere.
    if (rng() % 4 != 0) {
      p.insert(std::uniform_int_distribution<std::size_t>(0, p.size())(rng), "[");
    }
    patterns.push_back(p);
  }
  std::vector<std::vector<std::string>> queries;
  for (const auto& p : patterns) queries.push_back({"KEYS", p});
  const auto replies = c.pipeline(queries);
  ASSERT_EQ(replies.size(), patterns.size());

  int differing = 0;
  int matching_some = 0;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    ASSERT_EQ(replies[i].type, Reply::Type::Array) << replies[i];
    std::set<std::string> redis_keys;
    for (const auto& e : replies[i].elements) redis_keys.insert(e.str);
    std::set<std::string> ours;
    for (const auto& k : keys) {
      // KEYS treats the pattern "*" apart (every key), as RuleSet::match does.
      if (patterns[i] == "*" || cache::glob_match(patterns[i], k)) ours.insert(k);
    }
    if (!redis_keys.empty()) ++matching_some;
    if (ours != redis_keys && ++differing <= 10) {
      std::string only_redis, only_ours;
      for (const auto& k : redis_keys) {
        if (!ours.count(k)) only_redis += " '" + printable(k) + "'";
      }
      for (const auto& k : ours) {
        if (!redis_keys.count(k)) only_ours += " '" + printable(k) + "'";
      }
      ADD_FAILURE() << "pattern '" << printable(patterns[i]) << "': only KEYS:" << only_redis
                    << "; only glob_match:" << only_ours;
    }
  }
  std::cout << "[glob] " << patterns.size() << " patterns over " << keys.size() << " keys, "
            << matching_some << " matching some key, " << differing << " differing from KEYS\n";
  EXPECT_EQ(differing, 0);
  EXPECT_GT(matching_some, static_cast<int>(patterns.size()) / 4) << "patterns too selective";
}

}  // namespace
}  // namespace frontcache::integration
