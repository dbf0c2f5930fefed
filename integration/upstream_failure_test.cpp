// The upstream Redis is killed (SIGKILL) while clients loop GET/SET through the proxy: every
// client gets error replies on a connection that stays up, every request is answered (none
// hangs), the proxy process survives, and once Redis is back on the same port the proxy serves
// again and every client connection recovers (the recovery time is printed, not asserted).
// Proxy mode only (against Redis directly there is nothing left to talk to). Setting
// FRONTCACHE_IT_UPSTREAM_DIRECT=1 runs it in direct mode with connection errors standing in for
// error replies, to check the test itself.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "target.hpp"

namespace frontcache::integration {
namespace {

using Clock = std::chrono::steady_clock;

enum Phase { kBeforeKill, kKilled, kRestarted, kStop };

struct ClientStats {
  std::atomic<int> ok_before{0};
  std::atomic<int> error_replies{0};  // after the kill
  std::atomic<int> io_errors{0};      // after the kill
  std::atomic<int> ok_after_restart{0};
  std::atomic<long> max_latency_ms{0};
  std::string unexpected;  // first reply that no phase allows
};

TEST(UpstreamFailure, KilledUnderLoadThenRestarted) {
  const bool direct_check = std::getenv("FRONTCACHE_IT_UPSTREAM_DIRECT") != nullptr;
  if (target_kind() != TargetKind::Proxy && !direct_check) {
    GTEST_SKIP() << "needs the proxy (FRONTCACHE_TARGET=proxy)";
  }
  Target target;
  const bool proxy = target.is_proxy();
  // Requests fail at once when the upstream is gone (or after command_timeout, 2 s): a request
  // unanswered after a minute hangs, and the client's timeout turns it into a failure.
  constexpr auto kRequestDeadline = 60s;
  constexpr int kClients = 8;

  std::atomic<int> phase{kBeforeKill};
  std::vector<ClientStats> stats(kClients);
  std::vector<std::thread> threads;
  for (int id = 0; id < kClients; ++id) {
    threads.emplace_back([&, id] {
      ClientStats& s = stats[id];
      RedisClient c = target.client(kRequestDeadline);
      const std::string key = "load:" + std::to_string(id);
      for (int i = 0; phase != kStop; ++i) {
        const int p = phase;
        const auto start = Clock::now();
        Reply r = (i % 2 == 0) ? c("SET", key, std::to_string(i)) : c("GET", key);
        const long ms = static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
        if (ms > s.max_latency_ms) s.max_latency_ms = ms;
        const int p_after = phase;  // the kill may land while the request is in flight
        if (r.is_io_error()) {
          if (p_after == kBeforeKill && s.unexpected.empty()) {
            s.unexpected = "before kill: " + r.str;
          }
          if (proxy && s.unexpected.empty()) {
            s.unexpected =
                "connection to the proxy lost (phase " + std::to_string(p_after) + "): " + r.str;
          }
          ++s.io_errors;
          std::this_thread::sleep_for(10ms);
          c.reconnect();
          continue;
        }
        if (r.is_error()) {
          if (p_after == kBeforeKill && s.unexpected.empty()) {
            s.unexpected = "before kill: " + r.str;
          }
          ++s.error_replies;
        } else if (p == kBeforeKill) {
          ++s.ok_before;
        } else if (p == kRestarted) {
          ++s.ok_after_restart;
        }
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  auto all = [&](auto field_ok) {
    return [&, field_ok] {
      for (auto& s : stats) {
        if (!field_ok(s)) return false;
      }
      return true;
    };
  };

  EXPECT_TRUE(wait_until(all([](ClientStats& s) { return s.ok_before >= 10; })))
      << "load did not start";
  phase = kKilled;
  target.redis().kill();

  EXPECT_TRUE(wait_until(all([&](ClientStats& s) {
    return proxy ? s.error_replies > 0 : s.error_replies + s.io_errors > 0;
  }))) << "not every client got an error after the upstream died";
  // Keep the load on a dead upstream a little longer: a few more errors for every client.
  EXPECT_TRUE(wait_until(all([&](ClientStats& s) { return s.error_replies + s.io_errors >= 5; })));
  if (proxy) {
    EXPECT_TRUE(target.proxy()->running()) << "the proxy exited when its upstream died";
  }

  target.redis().restart();
  const auto restarted = Clock::now();
  phase = kRestarted;
  bool serving = wait_until(
      [&] {
        RedisClient probe = target.client(kRequestDeadline);
        return probe("SET", "probe", "1").to_string() == "+OK" &&
               probe("GET", "probe").to_string() == "\"1\"";
      },
      60s, 10ms);
  const auto recovery =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted);
  EXPECT_TRUE(serving) << "the target does not serve after the upstream came back";
  std::cout << "[recovery] served again " << recovery.count() << " ms after the restart\n";
  EXPECT_TRUE(wait_until(all([](ClientStats& s) { return s.ok_after_restart > 0; }), 60s))
      << "some client connections did not recover";

  phase = kStop;
  for (auto& t : threads) t.join();
  for (int id = 0; id < kClients; ++id) {
    SCOPED_TRACE("client " + std::to_string(id));
    EXPECT_EQ(stats[id].unexpected, "")
        << "(a request unanswered for " << kRequestDeadline.count() << " s counts as hung)";
    std::cout << "[latency] client " << id << ": slowest request " << stats[id].max_latency_ms
              << " ms\n";
  }
  if (proxy) {
    EXPECT_TRUE(target.proxy()->running());
  }
  if (HasFailure()) std::cerr << target.logs() << std::endl;
}

}  // namespace
}  // namespace frontcache::integration
