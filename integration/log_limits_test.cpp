// Warnings an outside party can trigger are rate-limited (one line per 10 s per kind, the next
// one counting the suppressed): a flood of malformed invalidation messages from anyone who may
// PUBLISH on the upstream, and connections refused at limits.max_clients.
#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> lines_with(const std::string& log, std::string_view needle) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(start, end - start);
    if (line.find(needle) != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

// The N of "(N more like this suppressed)" in `line`, or -1.
long suppressed(const std::string& line) {
  static const std::regex kCount(R"(\((\d+) more like this suppressed\))");
  std::smatch m;
  return std::regex_search(line, m, kCount) ? std::stol(m[1]) : -1;
}

class LogLimits : public TargetTest {
 protected:
  TargetOptions target_options() const override {
    TargetOptions o;
    o.frontcache_yaml = "limits:\n  max_clients: 2\n";
    return o;
  }
  void SetUp() override {
    TargetTest::SetUp();
    if (HasFatalFailure()) return;
    if (!target().is_proxy()) GTEST_SKIP() << "the proxy's log";
  }
};

TEST_F(LogLimits, MalformedInvalidationFloodGivesAHandfulOfLines) {
  constexpr std::string_view kLine = "malformed fc1 payload ignored";
  {
    // Invalidation armed: the subscriber is listening on the channel.
    auto c = target().client();
    std::string state;
    for (int i = 0; i < 250 && state != "armed"; ++i) {
      const std::string info = c("INFO", "frontcache").str;
      const auto pos = info.find("l1_state:");
      state =
          pos == std::string::npos ? "" : info.substr(pos + 9, info.find("\r\n", pos) - pos - 9);
      if (state != "armed") std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(state, "armed");
  }
  const auto start = Clock::now();
  std::vector<std::vector<std::string>> flood(
      300, {"PUBLISH", "frontcache:invalidate", "fc1 not-an-instance-id K"});
  const auto replies = raw_pipeline(target().redis_port(), flood, 10s);
  ASSERT_EQ(replies.back(), ":1\r\n") << "the proxy is not subscribed";
  // Keep a trickle going until the line that counts what was suppressed appears (10 s after
  // the first); that is the event waited for.
  auto direct = target().direct_client();
  int published = 300;
  std::vector<std::string> lines;
  while (Clock::now() - start < 30s) {
    lines = lines_with(target().proxy()->log(), kLine);
    if (lines.size() >= 2) break;
    ASSERT_EQ(direct("PUBLISH", "frontcache:invalidate", "fc1 x").to_string(), ":1");
    ++published;
    std::this_thread::sleep_for(100ms);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_GE(lines.size(), 2u) << "no second line within 30 s";
  // At most one line per 10 s interval (plus the first), whatever the machine's speed.
  EXPECT_LE(lines.size(), 2 + static_cast<std::size_t>(elapsed / 10.0)) << lines.size();
  EXPECT_EQ(suppressed(lines[0]), -1) << lines[0];
  // Every message of the flood after the first was suppressed before the second line.
  EXPECT_GE(suppressed(lines[1]), 299) << lines[1];
  EXPECT_LE(suppressed(lines[1]), published - 1) << lines[1];
  std::cout << "[log] " << published << " malformed messages, " << lines.size()
            << " warning lines in " << elapsed << " s: " << lines.back() << "\n";
}

TEST_F(LogLimits, MaxClientsRefusalsAreLoggedRateLimited) {
  constexpr std::string_view kLine = "refused: limits.max_clients (2) reached";
  // Take both places (the startup probe's connections may still be closing: retry).
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 250 && held.size() < 2; ++i) {
    auto c = std::make_unique<RawClient>(target().host(), target().port());
    if (c->send(encode_command({"PING"})) && c->read_reply(5s).value_or("") == "+PONG\r\n") {
      held.push_back(std::move(c));
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  ASSERT_EQ(held.size(), 2u);
  const auto start = Clock::now();
  for (int i = 0; i < 100; ++i) {
    RawClient refused(target().host(), target().port());
    EXPECT_EQ(refused.read_reply(5s).value_or(""), "-ERR max number of clients reached\r\n");
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<std::string> lines;
  for (int i = 0; i < 250 && lines.empty(); ++i) {
    lines = lines_with(target().proxy()->log(), kLine);
    if (lines.empty()) std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(lines.empty()) << "max_clients refusals are not logged";
  EXPECT_NE(lines[0].find("connection from 127.0.0.1 refused"), std::string::npos) << lines[0];
  EXPECT_LE(lines.size(), 1 + static_cast<std::size_t>(elapsed / 10.0)) << lines.size();
}

}  // namespace
}  // namespace frontcache::integration
