#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "frontcache/cache/cache.hpp"

namespace frontcache::cache {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::vector<FillOutcome> outcomes;
  Waiter waiter() {
    return [this](FillOutcome o) { outcomes.push_back(std::move(o)); };
  }
};

CacheConfig one_shard() {
  CacheConfig c;
  c.shards = 1;
  return c;
}

TEST(SingleFlight, FirstMissLeadsOthersJoinAndAllGetTheValue) {
  Cache cache(one_shard());
  Recorder r;
  BeginResult leader = cache.begin("0GET k", "k", r.waiter());
  ASSERT_EQ(leader.kind, BeginKind::Leader);
  EXPECT_EQ(cache.begin("0GET k", "k", r.waiter()).kind, BeginKind::Joined);
  EXPECT_EQ(cache.begin("0GET k", "k", r.waiter()).kind, BeginKind::Joined);
  EXPECT_TRUE(r.outcomes.empty());
  ValueRef value = Value::make("$1\r\nv\r\n");
  EXPECT_TRUE(cache.complete(std::move(leader.ticket), value, 10s));
  ASSERT_EQ(r.outcomes.size(), 2U);
  for (const auto& o : r.outcomes) {
    EXPECT_EQ(o.status, FillStatus::Ok);
    EXPECT_EQ(o.value.get(), value.get());
  }
  BeginResult hit = cache.begin("0GET k", "k", r.waiter());
  EXPECT_EQ(hit.kind, BeginKind::Hit);
  EXPECT_EQ(hit.value.get(), value.get());
  EXPECT_EQ(cache.stats().coalesced_waiters, 2U);
}

TEST(SingleFlight, DeliverAnswersWaitersWithoutCaching) {
  Cache cache(one_shard());
  Recorder r;
  BeginResult leader = cache.begin("0GET k", "k", r.waiter());
  ASSERT_EQ(leader.kind, BeginKind::Leader);
  ASSERT_EQ(cache.begin("0GET k", "k", r.waiter()).kind, BeginKind::Joined);
  ValueRef error = Value::make("-WRONGTYPE Operation against a key holding the wrong kind\r\n");
  cache.deliver(std::move(leader.ticket), error);
  ASSERT_EQ(r.outcomes.size(), 1U);
  EXPECT_EQ(r.outcomes[0].status, FillStatus::Ok);
  EXPECT_EQ(r.outcomes[0].value.get(), error.get());
  EXPECT_FALSE(cache.lookup("0GET k", "k"));
  EXPECT_EQ(cache.begin("0GET k", "k", r.waiter()).kind, BeginKind::Leader)
      << "a delivered fill leaves nothing behind";
}

TEST(SingleFlight, LookupThenBeginCountsOneMiss) {
  Cache cache(one_shard());
  Recorder r;
  EXPECT_FALSE(cache.lookup("0GET k", "k"));
  BeginResult leader = cache.begin("0GET k", "k", r.waiter(), /*count_lookup=*/false);
  ASSERT_EQ(leader.kind, BeginKind::Leader);
  EXPECT_EQ(cache.stats().misses, 1U);
  cache.begin("0GET k", "k", r.waiter());  // a plain begin counts its own lookup
  EXPECT_EQ(cache.stats().misses, 2U);
}

TEST(SingleFlight, InvalidationStalesInFlightFill) {
  Cache cache(one_shard());
  Recorder before, after;
  BeginResult first = cache.begin("0GET k", "k", before.waiter());
  ASSERT_EQ(first.kind, BeginKind::Leader);
  ASSERT_EQ(cache.begin("0GET k", "k", before.waiter()).kind, BeginKind::Joined);
  EXPECT_FALSE(first.ticket.stale());
  cache.invalidate("k");  // a write to k lands while the old value is being read
  EXPECT_TRUE(first.ticket.stale());
  // Requests after the invalidation must not join the stale fill.
  BeginResult second = cache.begin("0GET k", "k", after.waiter());
  ASSERT_EQ(second.kind, BeginKind::Leader);
  ASSERT_EQ(cache.begin("0GET k", "k", after.waiter()).kind, BeginKind::Joined);

  EXPECT_FALSE(cache.complete(std::move(first.ticket), Value::make("old"), 10s));
  ASSERT_EQ(before.outcomes.size(), 1U);
  EXPECT_EQ(before.outcomes[0].value.bytes(), "old");
  EXPECT_FALSE(cache.lookup("0GET k", "k")) << "a stale fill must not be cached";
  EXPECT_TRUE(after.outcomes.empty());

  EXPECT_TRUE(cache.complete(std::move(second.ticket), Value::make("new"), 10s));
  ASSERT_EQ(after.outcomes.size(), 1U);
  EXPECT_EQ(after.outcomes[0].value.bytes(), "new");
  EXPECT_EQ(cache.lookup("0GET k", "k").bytes(), "new");
  EXPECT_EQ(cache.stats().stale_fills_discarded, 1U);
}

TEST(SingleFlight, EntryInvalidationAndClearAlsoStale) {
  CacheConfig c;
  c.shards = 4;
  Cache cache(c);
  Recorder r;
  BeginResult a = cache.begin("0GET a", "a", r.waiter());
  BeginResult b = cache.begin("0GET b", "b", r.waiter());
  BeginResult other = cache.begin("0GET other", "other", r.waiter());
  cache.invalidate_entry("0GET a", "a");
  EXPECT_TRUE(a.ticket.stale());
  EXPECT_FALSE(b.ticket.stale());
  cache.clear();
  EXPECT_TRUE(b.ticket.stale());
  EXPECT_TRUE(other.ticket.stale());
  EXPECT_FALSE(cache.complete(std::move(b.ticket), Value::make("x"), 1s));
  EXPECT_FALSE(cache.lookup("0GET b", "b"));
}

// The fill's owner is kept as a view into its key when it occurs there, else as a copy: both
// must still stale the fill, and only theirs.
TEST(SingleFlight, OwnerInsideOrOutsideTheKeyStalesOnlyItsFill) {
  Cache cache(one_shard());
  Recorder r;
  BeginResult inside = cache.begin("0GET owner1", "owner1", r.waiter());
  BeginResult outside = cache.begin("entry-2", "owner2", r.waiter());
  BeginResult self = cache.begin("owner3", std::nullopt, r.waiter());
  ASSERT_EQ(outside.kind, BeginKind::Leader);
  cache.invalidate("owner2");
  EXPECT_TRUE(outside.ticket.stale());
  EXPECT_FALSE(inside.ticket.stale());
  EXPECT_FALSE(self.ticket.stale());
  cache.invalidate("owner1");
  EXPECT_TRUE(inside.ticket.stale());
  EXPECT_FALSE(self.ticket.stale());
  cache.invalidate("owner3");
  EXPECT_TRUE(self.ticket.stale());
  // A fill's key may hold its owner's bytes more than once; any copy of them is the owner.
  BeginResult twice = cache.begin("k:k", "k", r.waiter());
  cache.invalidate("k:");
  EXPECT_FALSE(twice.ticket.stale());
  cache.invalidate("k");
  EXPECT_TRUE(twice.ticket.stale());
}

// A WaiterFactory is called only for a read that joins: a leader or a hit builds no waiter.
TEST(SingleFlight, WaiterIsMadeOnlyWhenJoining) {
  Cache cache(one_shard());
  int made = 0;
  int called = 0;
  auto make = [&]() -> Waiter {
    ++made;
    return [&called](FillOutcome) { ++called; };
  };
  BeginResult leader = cache.begin("0GET k", "k", make);
  ASSERT_EQ(leader.kind, BeginKind::Leader);
  EXPECT_EQ(made, 0);
  EXPECT_EQ(cache.begin("0GET k", "k", make).kind, BeginKind::Joined);
  EXPECT_EQ(made, 1);
  EXPECT_TRUE(cache.complete(std::move(leader.ticket), Value::make("v"), 10s));
  EXPECT_EQ(called, 1);
  EXPECT_EQ(cache.begin("0GET k", "k", make).kind, BeginKind::Hit);
  EXPECT_EQ(made, 1);
}

TEST(SingleFlight, FailureIsNotCachedAndNextMissLeadsAgain) {
  Cache cache(one_shard());
  Recorder r;
  BeginResult leader = cache.begin("k", {}, r.waiter());
  cache.begin("k", {}, r.waiter());
  cache.fail(std::move(leader.ticket));
  ASSERT_EQ(r.outcomes.size(), 1U);
  EXPECT_EQ(r.outcomes[0].status, FillStatus::Failed);
  EXPECT_FALSE(r.outcomes[0].value);
  EXPECT_EQ(cache.begin("k", {}, r.waiter()).kind, BeginKind::Leader);
}

TEST(SingleFlight, DroppedTicketAbandonsWaiters) {
  Cache cache(one_shard());
  Recorder r;
  {
    BeginResult leader = cache.begin("k", {}, r.waiter());
    cache.begin("k", {}, r.waiter());
  }
  ASSERT_EQ(r.outcomes.size(), 1U);
  EXPECT_EQ(r.outcomes[0].status, FillStatus::Abandoned);
  EXPECT_EQ(cache.stats().fills_failed, 1U);
}

TEST(SingleFlight, WaiterBoundAnswersTooMany) {
  CacheConfig c = one_shard();
  c.max_waiters_per_fill = 2;
  Cache cache(c);
  Recorder r;
  BeginResult leader = cache.begin("k", {}, r.waiter());
  EXPECT_EQ(cache.begin("k", {}, r.waiter()).kind, BeginKind::Joined);
  EXPECT_EQ(cache.begin("k", {}, r.waiter()).kind, BeginKind::Joined);
  EXPECT_EQ(cache.begin("k", {}, r.waiter()).kind, BeginKind::TooManyWaiters);
  EXPECT_EQ(cache.stats().waiters_refused, 1U);
  cache.complete(std::move(leader.ticket), Value::make("v"), 1s);
  EXPECT_EQ(r.outcomes.size(), 2U);
}

TEST(SingleFlight, WaitersOnOtherThreads) {
  Cache cache;
  BeginResult leader = cache.begin("0GET k", "k", [](FillOutcome) {});
  ASSERT_EQ(leader.kind, BeginKind::Leader);
  constexpr int kThreads = 4;
  std::vector<std::promise<std::string>> promises(kThreads);
  std::atomic<int> joined{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      BeginResult r = cache.begin("0GET k", "k", [&promises, t](FillOutcome o) {
        promises[t].set_value(std::string(o.value.bytes()));
      });
      EXPECT_EQ(r.kind, BeginKind::Joined);
      joined.fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(joined.load(), kThreads);
  std::thread completer([&] { cache.complete(std::move(leader.ticket), Value::make("v"), 5s); });
  for (auto& p : promises) EXPECT_EQ(p.get_future().get(), "v");
  completer.join();
}

}  // namespace
}  // namespace frontcache::cache
