// Limits on password guessing that hold across connections: wrong passwords (AUTH, HELLO AUTH)
// are counted per client address, and an address with recent failures gets its attempts one
// at a time, spaced further apart with each failure; a global budget bounds how many passwords
// all such addresses together may have checked. Addresses without recent failures are never
// delayed, so an attacker slows down only itself (and whoever shares its address).
// Shared by every worker (one mutex; taken only on AUTH attempts and failures).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace frontcache::proxy {

class AuthLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = Clock::duration;

  // Documented in docs/security.md.
  struct Settings {
    double free_failures = 2;  // failures on record before attempts are spaced
    Duration first_delay = std::chrono::milliseconds(25);  // then doubling with each failure
    Duration max_delay = std::chrono::seconds(2);
    Duration forget = std::chrono::seconds(10);    // one failure forgotten per this much time
    double max_score = 12;                         // failures remembered at most
    Duration max_wait = std::chrono::seconds(10);  // turns further away are refused
    double global_per_second = 100;  // password checks for addresses with failures, all together
    double global_burst = 100;
    std::size_t max_addresses = 65536;
  };

  // An address as counted: the IPv4 address, or the /64 prefix of an IPv6 address (one host
  // usually holds a whole /64). IPv4-mapped IPv6 addresses count as IPv4.
  using Key = std::array<std::uint8_t, 16>;
  // From "1.2.3.4:5678" or "[2001:db8::1]:5678" (ClientConnection::addr()); an unparsable
  // text is one key of its own (all zeros).
  static Key key_of(std::string_view endpoint);

  struct Turn {
    bool refused = false;  // not checked at all: too many attempts queued, or global budget
    Clock::time_point at;  // when the password may be checked / its result revealed
  };

  AuthLimiter() = default;
  explicit AuthLimiter(Settings settings) : settings_(settings) {}

  // An attempt from `key` at `now`. Addresses without failures on record go at once; the others
  // one at a time, each turn the current delay after the previous one.
  Turn reserve(const Key& key, Clock::time_point now);
  // The password checked for `key` was wrong. True when this failure makes the address's
  // attempts wait (for a log line).
  bool failed(const Key& key, Clock::time_point now);
  // Addresses whose attempts are spaced now (a gauge).
  std::size_t penalized(Clock::time_point now) const;
  // The spacing after `failures` failures on record.
  Duration delay(double failures) const;

 private:
  struct Entry {
    double score = 0;  // failures on record, decaying
    Clock::time_point updated;
    Clock::time_point next;  // the next free turn
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };

  void decay(Entry& e, Clock::time_point now) const;
  void refill(Clock::time_point now);
  Entry* track(const Key& key, Clock::time_point now);

  Settings settings_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
  double tokens_ = -1;  // global budget; -1: full, not yet used
  Clock::time_point refilled_;
  Clock::time_point swept_;
};

}  // namespace frontcache::proxy
