// The upstream Redis is killed (SIGKILL) while clients loop GET/SET through the proxy: every
// client gets error replies on a connection that stays up, no request hangs, the proxy process
// survives, and once Redis is back on the same port the proxy serves again within 2 s.
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
  // A request may take the proxy's command_timeout (2 s) to fail; more than that is a hang.
  constexpr auto kRequestDeadline = 4s;
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
  auto wait_until = [](auto pred, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  };
  auto all = [&](auto field_ok) {
    return [&, field_ok] {
      for (auto& s : stats) {
        if (!field_ok(s)) return false;
      }
      return true;
    };
  };

  EXPECT_TRUE(wait_until(all([](ClientStats& s) { return s.ok_before >= 10; }), 10s))
      << "load did not start";
  phase = kKilled;
  target.redis().kill();

  EXPECT_TRUE(wait_until(all([&](ClientStats& s) {
                           return proxy ? s.error_replies > 0 : s.error_replies + s.io_errors > 0;
                         }),
                         10s))
      << "not every client got an error after the upstream died";
  std::this_thread::sleep_for(500ms);  // keep the load on a dead upstream a little longer
  if (proxy) {
    EXPECT_TRUE(target.proxy()->running()) << "the proxy exited when its upstream died";
  }

  target.redis().restart();
  const auto restarted = Clock::now();
  phase = kRestarted;
  bool serving = wait_until(
      [&] {
        RedisClient probe = target.client(500ms);
        return probe("SET", "probe", "1").to_string() == "+OK" &&
               probe("GET", "probe").to_string() == "\"1\"";
      },
      5s);
  const auto recovery =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted);
  EXPECT_TRUE(serving) << "the target does not serve after the upstream came back";
  EXPECT_LE(recovery.count(), 2000) << "recovery took " << recovery.count() << " ms";
  EXPECT_TRUE(wait_until(all([](ClientStats& s) { return s.ok_after_restart > 0; }), 5s))
      << "some client connections did not recover";

  phase = kStop;
  for (auto& t : threads) t.join();
  for (int id = 0; id < kClients; ++id) {
    SCOPED_TRACE("client " + std::to_string(id));
    EXPECT_EQ(stats[id].unexpected, "");
    EXPECT_LT(stats[id].max_latency_ms, std::chrono::milliseconds(kRequestDeadline).count())
        << "a request hung";
  }
  if (proxy) {
    EXPECT_TRUE(target.proxy()->running());
  }
  if (HasFailure()) std::cerr << target.logs() << std::endl;
}

}  // namespace
}  // namespace frontcache::integration
