// Cache rules: which keys L1 may keep and for how long, as globs matched in order (first match
// wins). Pure functions of the config; the proxy asks once per cacheable read.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::cache {

// Redis's glob syntax (KEYS, SCAN MATCH): * ? [abc] [^a] [a-z] and \ escapes, with exactly the
// semantics of Redis's stringmatchlen (its quirks too: reversed ranges, `[a-]`, an unterminated
// `[`), checked against KEYS by integration/glob_differential_test.cpp.
bool glob_match(std::string_view pattern, std::string_view text);

struct Rule {
  std::string match;
  bool cache = true;
  std::chrono::milliseconds ttl{60000};
  std::chrono::milliseconds negative_ttl{1000};
};

class RuleSet {
 public:
  RuleSet() = default;
  // TTLs above max_ttl are capped to it.
  RuleSet(std::vector<Rule> rules, std::chrono::milliseconds max_ttl);

  // The first rule matching `key`, or null when none does (the key is not cached).
  const Rule* match(std::string_view key) const;

  // Literal prefixes that cover every cacheable key (for CLIENT TRACKING BCAST PREFIX), with
  // no prefix of another in the list. Empty when some cached rule starts with a wildcard:
  // then tracking must cover every key.
  std::vector<std::string> tracking_prefixes() const;

 private:
  std::vector<Rule> rules_;
};

}  // namespace frontcache::cache
