// Password-guessing limits across connections, with a manual clock: per-address spacing that
// grows with each failure and decays with time, the queue bound, the global budget, and
// addresses without failures never delayed.
#include "auth_limiter.hpp"

#include <gtest/gtest.h>

namespace frontcache::proxy {
namespace {

using namespace std::chrono_literals;
using Clock = AuthLimiter::Clock;

const auto kA = AuthLimiter::key_of("10.0.0.1:1000");
const auto kB = AuthLimiter::key_of("10.0.0.2:1000");

TEST(AuthLimiter, Keys) {
  EXPECT_EQ(AuthLimiter::key_of("10.0.0.1:1"), AuthLimiter::key_of("10.0.0.1:2"));
  EXPECT_NE(AuthLimiter::key_of("10.0.0.1:1"), AuthLimiter::key_of("10.0.0.2:1"));
  EXPECT_EQ(AuthLimiter::key_of("[::ffff:10.0.0.1]:1"), AuthLimiter::key_of("10.0.0.1:9"));
  // One IPv6 /64 is one address.
  EXPECT_EQ(AuthLimiter::key_of("[2001:db8:1:2::1]:1"),
            AuthLimiter::key_of("[2001:db8:1:2:ffff::9]:2"));
  EXPECT_NE(AuthLimiter::key_of("[2001:db8:1:2::1]:1"), AuthLimiter::key_of("[2001:db8:1:3::1]:1"));
  EXPECT_EQ(AuthLimiter::key_of("garbage"), AuthLimiter::Key{});
}

TEST(AuthLimiter, Delays) {
  AuthLimiter l;
  EXPECT_EQ(l.delay(0), 0ms);
  EXPECT_EQ(l.delay(2), 0ms);
  EXPECT_EQ(l.delay(3), 25ms);
  EXPECT_EQ(l.delay(4), 50ms);
  EXPECT_EQ(l.delay(2.5), 25ms);
  EXPECT_EQ(l.delay(9), 1600ms);
  EXPECT_EQ(l.delay(10), 2s);
  EXPECT_EQ(l.delay(100), 2s);
}

// An attacker on fresh connections, one after the other, as fast as the limiter lets it.
TEST(AuthLimiter, SequentialGuessingIsHeldBelowOnePerSecondOverAMinute) {
  AuthLimiter l;
  auto now = Clock::time_point{} + 1h;
  const auto start = now;
  int guesses = 0;
  while (now - start < 60s) {
    const auto turn = l.reserve(kA, now);
    ASSERT_FALSE(turn.refused);
    now = turn.at;
    l.failed(kA, now);
    ++guesses;
  }
  EXPECT_LE(guesses, 40);  // 3 free, then 25 ms doubling to 2 s: about 0.5 per second
  EXPECT_EQ(l.penalized(now), 1u);
  // Another address is not delayed at all.
  EXPECT_EQ(l.reserve(kB, now).at, now);
}

// Many connections at once: turns are one at a time, the spacing grows as failures are
// recorded, and turns beyond max_wait are refused without checking.
TEST(AuthLimiter, ParallelAttemptsTakeTurns) {
  AuthLimiter l;
  const auto now = Clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(l.reserve(kA, now).at, now);
    l.failed(kA, now);
  }
  auto last = now;
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    const auto turn = l.reserve(kA, now);
    if (turn.refused) {
      ++refused;
      continue;
    }
    EXPECT_GT(turn.at, last);
    last = turn.at;
    l.failed(kA, now);  // checked at once, revealed at its turn
  }
  EXPECT_LE(last - now, 10s + 2s);
  EXPECT_GT(refused, 80);
}

TEST(AuthLimiter, FailuresAreForgottenOverTime) {
  AuthLimiter l;
  auto now = Clock::time_point{} + 1h;
  for (int i = 0; i < 5; ++i) l.failed(kA, now);
  EXPECT_GT(l.reserve(kA, now).at, now);
  now += 30s;  // 3 of 5 forgotten: back to the free ones
  EXPECT_EQ(l.penalized(now), 0u);
  const auto turn = l.reserve(kA, now);
  EXPECT_EQ(turn.at, now);
  // A success does not clear the record: only time does (a valid low-privilege account must
  // not reset the count for guesses at another one).
  now += 100s;
  EXPECT_EQ(l.reserve(kA, now).at, now);
}

TEST(AuthLimiter, GlobalBudgetRefusesOnlyAddressesWithFailures) {
  AuthLimiter::Settings s;
  s.global_per_second = 10;
  s.global_burst = 10;
  AuthLimiter l(s);
  const auto now = Clock::time_point{} + 1h;
  // Ten addresses fail twice each: the budget is spent.
  for (int a = 0; a < 10; ++a) {
    const auto key = AuthLimiter::key_of("10.1.0." + std::to_string(a) + ":1");
    for (int i = 0; i < 2; ++i) l.failed(key, now);
  }
  const auto penalized = AuthLimiter::key_of("10.1.0.1:1");
  EXPECT_FALSE(l.reserve(penalized, now).refused);  // 2 failures: free, not over the threshold
  l.failed(penalized, now);
  EXPECT_TRUE(l.reserve(penalized, now).refused);
  EXPECT_FALSE(l.reserve(kB, now).refused);  // a clean address is never refused
  EXPECT_EQ(l.reserve(kB, now).at, now);
  EXPECT_FALSE(l.reserve(penalized, now + 1s).refused);  // the budget refills
}

TEST(AuthLimiter, FailedReportsWhenAnAddressBecomesPenalized) {
  AuthLimiter l;
  const auto now = Clock::time_point{} + 1h;
  EXPECT_FALSE(l.failed(kA, now));
  EXPECT_FALSE(l.failed(kA, now));
  EXPECT_TRUE(l.failed(kA, now));
  EXPECT_FALSE(l.failed(kA, now));
}

TEST(AuthLimiter, TableIsBounded) {
  AuthLimiter::Settings s;
  s.max_addresses = 4;
  AuthLimiter l(s);
  auto now = Clock::time_point{} + 1h;
  for (int a = 0; a < 10; ++a)
    l.failed(AuthLimiter::key_of("10.2.0." + std::to_string(a) + ":1"), now);
  EXPECT_EQ(l.penalized(now), 0u);
  for (int i = 0; i < 3; ++i) l.failed(AuthLimiter::key_of("10.2.0.0:1"), now);
  EXPECT_EQ(l.penalized(now), 1u);
  // Untracked once the table is full; the forgotten make room again.
  for (int i = 0; i < 3; ++i) l.failed(AuthLimiter::key_of("10.2.0.9:1"), now);
  EXPECT_EQ(l.penalized(now), 1u);
  now += 1h;
  for (int i = 0; i < 3; ++i) l.failed(AuthLimiter::key_of("10.2.0.9:1"), now);
  EXPECT_EQ(l.penalized(now), 1u);
}

}  // namespace
}  // namespace frontcache::proxy
