// A GET answered from L1 allocates nothing (issue 4, DESIGN.md §1 "one lookup and one
// gather-write"). The proxy runs in this process so that a counting operator new sees its
// threads; the client's own allocations (hiredis, this test) are not counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "frontcache/config/config.hpp"
#include "frontcache/proxy/server.hpp"
#include "net.hpp"
#include "process.hpp"
#include "servers.hpp"
#include "target.hpp"

namespace {

std::atomic<long> g_proxy_allocations{0};
thread_local bool t_client_thread = false;

}  // namespace

void* operator new(std::size_t size) {
  if (!t_client_thread) g_proxy_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace frontcache::integration {
namespace {

using namespace std::chrono_literals;

TEST(HitPath, GetHitAllocatesNothing) {
  t_client_thread = true;
  TempDir dir;
  RedisServer redis(dir.path());

  config::Config cfg;
  cfg.listen = {"127.0.0.1", free_port()};
  cfg.upstream.address = {"127.0.0.1", redis.port()};
  cfg.workers = 1;
  cfg.log_level = "warn";
  // A busy machine must not miss an invalidation PONG mid-measurement (L1 would be bypassed).
  cfg.invalidation.ping_interval = std::chrono::seconds(60);
  cfg.invalidation.max_staleness = std::chrono::seconds(60);
  proxy::Server server(cfg);
  server.bind();
  std::thread runner([&] { server.run(); });  // not a client thread: counted

  RedisClient c("127.0.0.1", cfg.listen.port);
  const auto l1_hits = [&] {
    const std::string hits = info_field(c("INFO", "frontcache").str, "l1_hits");
    return hits.empty() ? -1 : std::stoll(hits);
  };
  ASSERT_EQ(c("SET", "hot", std::string(100, 'x')).to_string(), "+OK");
  // Warm up until invalidation is armed and the value is cached (a GET is a hit).
  ASSERT_TRUE(wait_until([&] {
    return info_field(c("INFO", "frontcache").str, "l1_state") == "armed";
  })) << "invalidation never armed";
  ASSERT_TRUE(wait_until([&] {
    const long long before = l1_hits();
    EXPECT_EQ(c("GET", "hot").str.size(), 100u);
    return l1_hits() == before + 1;
  })) << "GET hot never became a hit";
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(c("GET", "hot").str.size(), 100u);

  constexpr int kHits = 20000;
  // INFO is read outside the measured window: it goes upstream and allocates.
  const long long hits_before = l1_hits();
  const long before = g_proxy_allocations.load();
  for (int i = 0; i < kHits; ++i) ASSERT_EQ(c("GET", "hot").str.size(), 100u);
  const long during = g_proxy_allocations.load() - before;
  const long long hits = l1_hits() - hits_before;
  std::cout << "[hit path] " << during << " allocations in the proxy over " << kHits << " GETs, "
            << hits << " of them L1 hits\n";
  EXPECT_EQ(hits, kHits) << "the GETs measured were not all answered from L1";
  // Timers and the invalidation PING allocate a little on their own; a per-request allocation
  // would show as at least kHits.
  EXPECT_LT(during, kHits / 100);

  server.stop();
  runner.join();
}

}  // namespace
}  // namespace frontcache::integration
