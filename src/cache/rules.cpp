#include "frontcache/cache/rules.hpp"

#include <algorithm>
#include <utility>

namespace frontcache::cache {

namespace {

// A port of Redis 7's stringmatchlen_impl (src/util.c), case-sensitive, byte for byte in its
// semantics, quirks included, because rules promise "Redis pattern syntax" and must select
// exactly the keys KEYS would:
//   - `\` escapes the next byte, also inside a class; a trailing `\` is a literal backslash;
//   - `[^...]` negates; `a-z` ranges may be reversed (`[z-a]` = `[a-z]`) and compare bytes as
//     plain `char` (signed on x86-64, unsigned on arm64), as Redis built for the same platform;
//   - a `-` range consumes the byte after it even when that is `]` (`[a-]` is the range `]`..`a`
//     and the class goes on past that `]`);
//   - an unterminated `[` ends the class at the end of the pattern;
//   - reads one past the end see a NUL byte, as Redis reads the sds terminator.
// `skip_longer` is Redis's optimisation: once the rest of the pattern failed to match anywhere
// in the rest of the text, no earlier `*` needs to try a longer match.
bool match_impl(std::string_view pat, std::size_t p, std::string_view str, std::size_t s,
                bool& skip_longer) {
  const auto at = [&pat](std::size_t i) { return i < pat.size() ? pat[i] : '\0'; };
  while (p < pat.size() && s < str.size()) {
    switch (pat[p]) {
      case '*':
        while (at(p + 1) == '*') ++p;
        if (pat.size() - p == 1) return true;
        while (s < str.size()) {
          if (match_impl(pat, p + 1, str, s, skip_longer)) return true;
          if (skip_longer) return false;
          ++s;
        }
        skip_longer = true;
        return false;
      case '?':
        ++s;
        break;
      case '[': {
        ++p;
        const bool negate = at(p) == '^';
        if (negate) ++p;
        bool matched = false;
        for (;;) {
          const std::size_t left = pat.size() - p;
          if (at(p) == '\\' && left >= 2) {
            ++p;
            if (pat[p] == str[s]) matched = true;
          } else if (at(p) == ']') {
            break;
          } else if (left == 0) {
            --p;  // back onto the last byte; the increment below ends the pattern
            break;
          } else if (left >= 3 && pat[p + 1] == '-') {
            int start = pat[p];
            int end = pat[p + 2];
            const int c = str[s];
            if (start > end) std::swap(start, end);
            p += 2;
            if (c >= start && c <= end) matched = true;
          } else if (pat[p] == str[s]) {
            matched = true;
          }
          ++p;
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        ++s;
        break;
      }
      case '\\':
        if (pat.size() - p >= 2) ++p;
        [[fallthrough]];
      default:
        if (pat[p] != str[s]) return false;
        ++s;
        break;
    }
    ++p;
    if (s == str.size()) {
      while (at(p) == '*') ++p;
      break;
    }
  }
  return p == pat.size() && s == str.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  bool skip_longer = false;
  return match_impl(pattern, 0, text, 0, skip_longer);
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
