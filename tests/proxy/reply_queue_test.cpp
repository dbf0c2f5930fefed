#include "frontcache/proxy/reply_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace frontcache::proxy {
namespace {

std::string take(ReplyQueue& q) {
  std::string out;
  q.take_ready(out);
  return out;
}

// An idle connection's queue holds no slots; they come with the first request in flight and
// double as the pipeline deepens, the replies staying in order across each growth.
TEST(ReplyQueue, SlotsAreAllocatedOnlyForRequestsInFlight) {
  ReplyQueue q;
  EXPECT_EQ(q.slots(), 0u);
  q.append("+hit\r\n");  // an unpipelined hit takes no slot
  EXPECT_EQ(q.slots(), 0u);
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 9; ++i) seqs.push_back(q.push());
  EXPECT_EQ(q.slots(), 16u);
  std::string expected = "+hit\r\n";
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    q.complete(*it, ":" + std::to_string(*it) + "\r\n");
  }
  for (auto seq : seqs) expected += ":" + std::to_string(seq) + "\r\n";
  EXPECT_EQ(take(q), expected);
}

TEST(ReplyQueue, InOrderCompletionIsReadyAtOnce) {
  ReplyQueue q;
  auto a = q.push();
  auto b = q.push();
  q.complete(a, "+A\r\n");
  EXPECT_EQ(take(q), "+A\r\n");
  q.complete(b, "+B\r\n");
  EXPECT_EQ(take(q), "+B\r\n");
  EXPECT_EQ(q.in_flight(), 0u);
}

// append() with nothing in flight takes the fast path (no slot touched); the sequence numbers
// and the order of replies around it are the same as push() + complete().
TEST(ReplyQueue, AppendKeepsOrderAndSequenceWithOrWithoutRequestsInFlight) {
  ReplyQueue q;
  q.append("+1\r\n");  // nothing in flight
  EXPECT_EQ(q.in_flight(), 0u);
  EXPECT_EQ(q.next(), 1u);
  const auto a = q.push();
  EXPECT_EQ(a, 1u);
  q.append("+2\r\n");  // behind `a`
  EXPECT_EQ(q.in_flight(), 2u);
  EXPECT_EQ(take(q), "+1\r\n");
  q.complete(a, "+A\r\n");
  q.append("+3\r\n");  // nothing in flight again
  EXPECT_EQ(take(q), "+A\r\n+2\r\n+3\r\n");
  EXPECT_EQ(q.head(), 4u);
  EXPECT_EQ(q.next(), 4u);
  const auto b = q.push();
  EXPECT_EQ(b, 4u);
  EXPECT_TRUE(q.pending(b));
  EXPECT_FALSE(q.pending(3u));
  q.complete(b, "+B\r\n");
  EXPECT_EQ(take(q), "+B\r\n");
  EXPECT_EQ(q.in_flight(), 0u);
  EXPECT_EQ(q.buffered_bytes(), 0u);
}

TEST(ReplyQueue, LaterReplyWaitsForEarlierOne) {
  ReplyQueue q;
  auto a = q.push();
  auto b = q.push();
  auto c = q.push();
  q.complete(c, "+C\r\n");
  q.complete(b, "+B\r\n");
  EXPECT_FALSE(q.has_ready());
  EXPECT_EQ(q.in_flight(), 3u);
  EXPECT_EQ(q.buffered_bytes(), 8u);
  q.complete(a, "+A\r\n");
  EXPECT_EQ(take(q), "+A\r\n+B\r\n+C\r\n");
  EXPECT_EQ(q.in_flight(), 0u);
  EXPECT_EQ(q.buffered_bytes(), 0u);
}

TEST(ReplyQueue, DuplicateAndUnknownCompletionsAreIgnored) {
  ReplyQueue q;
  auto a = q.push();
  auto b = q.push();
  q.complete(b, "+B\r\n");
  q.complete(b, "+X\r\n");
  q.complete(b + 10, "+Y\r\n");
  q.complete(a, "+A\r\n");
  q.complete(a, "+Z\r\n");
  EXPECT_EQ(take(q), "+A\r\n+B\r\n");
}

// Any completion order yields request order, across ring growth and reuse.
TEST(ReplyQueue, RandomCompletionOrderKeepsRequestOrder) {
  std::mt19937 rng(42);
  ReplyQueue q;
  std::string expected;
  std::string got;
  for (int round = 0; round < 50; ++round) {
    const int n = 1 + static_cast<int>(rng() % 300);
    std::vector<std::uint64_t> seqs;
    for (int i = 0; i < n; ++i) {
      seqs.push_back(q.push());
      expected += ":" + std::to_string(seqs.back()) + "\r\n";
    }
    std::shuffle(seqs.begin(), seqs.end(), rng);
    for (auto s : seqs) {
      q.complete(s, ":" + std::to_string(s) + "\r\n");
      if (rng() % 4 == 0) got += take(q);
    }
    got += take(q);
    ASSERT_EQ(q.in_flight(), 0u);
  }
  EXPECT_EQ(got, expected);
}

// A partial write gives the unwritten bytes back; they go out before anything completed since.
TEST(ReplyQueue, PutBackKeepsUnwrittenBytesFirst) {
  ReplyQueue q;
  q.append("+one\r\n");
  q.append("+two\r\n");
  std::string taken;
  q.take_ready(taken);
  q.put_back(taken, 3);
  EXPECT_TRUE(taken.empty());
  q.append("+three\r\n");
  EXPECT_EQ(q.buffered_bytes(), std::string("e\r\n+two\r\n+three\r\n").size());
  std::string out;
  q.take_ready(out);
  EXPECT_EQ(out, "e\r\n+two\r\n+three\r\n");
  EXPECT_EQ(q.in_flight(), 0u);
}

}  // namespace
}  // namespace frontcache::proxy
