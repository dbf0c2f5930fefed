#include "frontcache/cache/rules.hpp"

#include <algorithm>

namespace frontcache::cache {

namespace {

// Matches one [...] class at pattern[p] against c; advances p past the closing ']'.
bool match_class(std::string_view pattern, std::size_t& p, char c) {
  ++p;  // '['
  bool negate = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  bool matched = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      matched |= pattern[p] == c;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
      char lo = pattern[p];
      char hi = pattern[p + 2];
      if (lo > hi) std::swap(lo, hi);
      matched |= c >= lo && c <= hi;
      p += 2;
    } else {
      matched |= pattern[p] == c;
    }
    ++p;
  }
  // p is at ']' (or the end, which Redis treats as closing the class).
  return negate ? !matched : matched;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  // Position to resume from when a '*' has to absorb one more character.
  std::size_t star_p = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        std::size_t q = p;
        if (match_class(pattern, q, text[t])) {
          p = q < pattern.size() ? q + 1 : q;
          ++t;
          continue;
        }
      } else {
        char literal = pc;
        std::size_t next = p + 1;
        if (pc == '\\' && p + 1 < pattern.size()) {
          literal = pattern[p + 1];
          next = p + 2;
        }
        if (literal == text[t]) {
          p = next;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

RuleSet::RuleSet(std::vector<Rule> rules, std::chrono::milliseconds max_ttl)
    : rules_(std::move(rules)) {
  for (auto& r : rules_) {
    r.ttl = std::min(r.ttl, max_ttl);
    r.negative_ttl = std::min(r.negative_ttl, max_ttl);
  }
}

const Rule* RuleSet::match(std::string_view key) const {
  for (const auto& r : rules_) {
    if (r.match == "*" || glob_match(r.match, key)) return &r;
  }
  return nullptr;
}

std::vector<std::string> RuleSet::tracking_prefixes() const {
  std::vector<std::string> prefixes;
  for (const auto& r : rules_) {
    if (!r.cache) continue;
    const auto wild = r.match.find_first_of("*?[\\");
    const std::string prefix = r.match.substr(0, wild);
    if (prefix.empty()) return {};
    prefixes.push_back(prefix);
  }
  std::sort(prefixes.begin(), prefixes.end());
  std::vector<std::string> minimal;
  for (const auto& p : prefixes) {
    if (!minimal.empty() && p.starts_with(minimal.back())) continue;
    minimal.push_back(p);
  }
  return minimal;
}

}  // namespace frontcache::cache
