#include "seq_fifo.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace frontcache::proxy {
namespace {

// Same answers as std::deque under a random mix of pushes and pops, including a queue that
// never drains (where it compacts) and drains (where it resets).
TEST(SeqFifo, BehavesAsADequeOfItsOperations) {
  SeqFifo fifo;
  std::deque<std::uint64_t> model;
  std::mt19937_64 rng(7);
  std::uint64_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    const bool push = model.empty() || rng() % 100 < (step < 10000 ? 55 : 45);
    if (push) {
      fifo.push_back(next);
      model.push_back(next++);
    } else {
      ASSERT_EQ(fifo.front(), model.front());
      fifo.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(fifo.empty(), model.empty());
    if (step % 97 == 0) {
      ASSERT_EQ(std::vector<std::uint64_t>(fifo.begin(), fifo.end()),
                std::vector<std::uint64_t>(model.begin(), model.end()));
    }
  }
  fifo.clear();
  EXPECT_TRUE(fifo.empty());
  EXPECT_EQ(fifo.begin(), fifo.end());
}

}  // namespace
}  // namespace frontcache::proxy
