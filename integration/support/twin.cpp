#include "twin.hpp"

#include <atomic>
#include <cctype>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "target.hpp"

namespace frontcache::integration {

std::string cmd(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

Twin::Twin(TwinOptions options) {
  plain_ = std::make_unique<RedisServer>(dir_.path());
  upstream_ = std::make_unique<RedisServer>(proxy_dir_.path());
  FrontcacheOptions fc{frontcache_binary(), upstream_->port(), options.workers,
                       options.frontcache_yaml, options.upstream_yaml};
  fc.connections_per_worker = options.connections_per_worker;
  proxy_ = std::make_unique<Frontcache>(proxy_dir_.path(), std::move(fc));
  // The proxy answers PING before its upstream connections are up, and arms L1 when the
  // invalidation stream is: a client that enables CLIENT TRACKING before that is told to drop
  // everything at the arming (correct, but not what a test comparing with Redis expects).
  auto ready = [&] {
    auto c = connect(Side::Proxy);  // a fresh one each time: a late reply cannot shift the next
    c->send(cmd({"EXISTS", "twin-ready"}));
    auto r = c->read_reply(2s);
    if (!r || !r->starts_with(":")) return false;
    c->send(cmd({"INFO", "frontcache"}));
    auto info = c->read_reply(2s);
    return info && (info->find("l1_state:") == std::string::npos ||
                    info->find("l1_state:armed\r\n") != std::string::npos);
  };
  for (int i = 0; i < 3000; ++i) {
    if (ready()) return;
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("the proxy never answered with its L1 armed:\n" + logs());
}

Twin::~Twin() {
  proxy_.reset();
  upstream_.reset();
  plain_.reset();
}

std::unique_ptr<RawClient> Twin::connect(Side side) const {
  return std::make_unique<RawClient>("127.0.0.1",
                                     side == Side::Proxy ? proxy_->port() : plain_->port(), 10s);
}

std::unique_ptr<RawClient> Twin::connect_redis(Side side) const {
  return std::make_unique<RawClient>("127.0.0.1", redis_port(side), 10s);
}

uint16_t Twin::redis_port(Side side) const {
  return side == Side::Proxy ? upstream_->port() : plain_->port();
}

std::string Twin::logs() const {
  return "--- frontcache log ---\n" + proxy_->log() + "\n--- upstream redis log ---\n" +
         upstream_->log();
}

std::string Twin::exchange(RawClient& c, std::string_view script, bool drop_monitor_lines) {
  static std::atomic<int> counter{0};
  const std::string marker = "twin-marker-" + std::to_string(counter.fetch_add(1));
  const std::string bulk = "$" + std::to_string(marker.size()) + "\r\n" + marker + "\r\n";
  const std::string subscribed_pong = "*2\r\n$4\r\npong\r\n" + bulk;
  if (!c.send(std::string(script) + cmd({"PING", marker}))) {
    ADD_FAILURE() << "could not send the script";
    return {};
  }
  std::string out;
  for (;;) {
    auto value = c.read_reply(10s);
    if (!value) {
      ADD_FAILURE() << "no reply to the marker; received " << out.size() << " bytes before it:\n"
                    << out.substr(0, 2000);
      return {};
    }
    if (*value == bulk || *value == subscribed_pong) return out;
    const bool monitor_line = value->size() > 1 && (*value)[0] == '+' &&
                              std::isdigit(static_cast<unsigned char>((*value)[1]));
    if (!(drop_monitor_lines && monitor_line)) out += *value;
  }
}

std::pair<std::string, std::string> Twin::run(std::string_view script,
                                              bool drop_monitor_lines) const {
  auto redis = connect(Side::Redis);
  auto proxy = connect(Side::Proxy);
  return {exchange(*redis, script, drop_monitor_lines),
          exchange(*proxy, script, drop_monitor_lines)};
}

std::string first_difference(std::string_view expected, std::string_view actual) {
  if (expected == actual) return "";
  std::size_t at = 0;
  while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
  auto excerpt = [at](std::string_view s) {
    const std::size_t from = at > 40 ? at - 40 : 0;
    std::string out(s.substr(from, 120));
    std::string escaped;
    for (char c : out) {
      if (c == '\r')
        escaped += "\\r";
      else if (c == '\n')
        escaped += "\\n";
      else
        escaped += c;
    }
    return escaped;
  };
  return "lengths " + std::to_string(expected.size()) + " (redis) vs " +
         std::to_string(actual.size()) + " (proxy), first difference at byte " +
         std::to_string(at) + ":\n  redis: ..." + excerpt(expected) + "\n  proxy: ..." +
         excerpt(actual);
}

void TwinTest::SetUp() {
  try {
    twin_ = std::make_unique<Twin>(twin_options());
  } catch (const std::exception& e) {
    FAIL() << "cannot start the twin: " << e.what();
  }
}

void TwinTest::TearDown() {
  if (twin_ && HasFailure()) std::cerr << twin_->logs() << std::endl;
  twin_.reset();
}

void TwinTest::expect_same(std::string_view script, bool drop_monitor_lines) {
  auto [redis, proxy] = twin().run(script, drop_monitor_lines);
  EXPECT_EQ(first_difference(redis, proxy), "") << "script (" << script.size() << " bytes):\n"
                                                << script.substr(0, 2000);
}

}  // namespace frontcache::integration
