#include "target.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace frontcache::integration {

std::string frontcache_binary() {
  if (const char* env = std::getenv("FRONTCACHE_BIN"); env && *env) return env;
#ifdef FRONTCACHE_DEFAULT_BIN
  return FRONTCACHE_DEFAULT_BIN;
#else
  return "";
#endif
}

std::string node_dir() {
  if (const char* env = std::getenv("FRONTCACHE_NODE_DIR"); env && *env) return env;
#ifdef FRONTCACHE_NODE_DIR_DEFAULT
  return FRONTCACHE_NODE_DIR_DEFAULT;
#else
  return "integration/node";
#endif
}

TargetKind target_kind() {
  const char* env = std::getenv("FRONTCACHE_TARGET");
  std::string value = env ? env : "";
  if (value == "direct") return TargetKind::Direct;
  if (value == "proxy") return TargetKind::Proxy;
  if (value == "cluster") return TargetKind::Cluster;
  if (!value.empty()) {
    throw std::runtime_error("FRONTCACHE_TARGET must be 'direct', 'proxy' or 'cluster', not '" +
                             value + "'");
  }
  const std::string bin = frontcache_binary();
  return !bin.empty() && std::filesystem::exists(bin) ? TargetKind::Proxy : TargetKind::Direct;
}

const char* target_name(TargetKind kind) {
  switch (kind) {
    case TargetKind::Direct:
      return "direct";
    case TargetKind::Proxy:
      return "proxy";
    case TargetKind::Cluster:
      return "cluster";
  }
  return "?";
}

namespace {

// Until a forwarded command is answered, every shared connection to every master is up (a
// command for a master still connecting gets "-ERR upstream unavailable") and the L1 is armed
// (every master's invalidation stream up): a client enabling CLIENT TRACKING before the arming
// would be told to drop everything, which a test comparing with Redis does not expect.
void wait_until_armed(uint16_t port, const std::string& logs_hint) {
  const bool armed = wait_until(
      [&] {
        RedisClient c("127.0.0.1", port, 2s);
        if (c("EXISTS", "frontcache-it-ready").type != Reply::Type::Integer) return false;
        const std::string info = c("INFO", "frontcache").str;
        return info.find("upstream_state:up\r\n") != std::string::npos &&
               (info.find("l1_state:") == std::string::npos ||
                info.find("l1_state:armed\r\n") != std::string::npos);
      },
      60s, 20ms);
  if (!armed)
    throw std::runtime_error("the proxy never armed its L1 in cluster mode; " + logs_hint);
}

}  // namespace

Target::Target(TargetOptions options) : kind_(target_kind()) {
  redis_ = std::make_unique<RedisServer>(dir_.path(), options.redis_args);
  if (kind_ == TargetKind::Cluster)
    cluster_ = std::make_unique<RedisCluster>(3, options.redis_args);
  if (kind_ != TargetKind::Direct) {
    const std::string bin = frontcache_binary();
    if (bin.empty() || !std::filesystem::exists(bin)) {
      throw std::runtime_error("FRONTCACHE_TARGET=proxy but no frontcache binary at '" + bin +
                               "' (set FRONTCACHE_BIN)");
    }
    FrontcacheOptions fc;
    fc.binary = bin;
    fc.upstream_port = cluster_ ? cluster_->port(0) : redis_->port();
    fc.workers = options.workers;
    fc.extra_yaml = options.frontcache_yaml;
    fc.upstream_yaml = (cluster_ ? "  mode: cluster\n" : "") + options.upstream_yaml;
    fc.command_timeout = options.command_timeout;
    fc.connections_per_worker = options.connections_per_worker;
    proxy_ = std::make_unique<Frontcache>(dir_.path(), fc);
    if (cluster_) wait_until_armed(proxy_->port(), "temp dir " + dir_.path());
  }
}

Target::~Target() {
  proxy_.reset();  // stop the proxy before its upstream
  cluster_.reset();
  redis_.reset();
}

std::string Target::logs() const {
  std::string out = "target: " + std::string(target_name(kind_)) + ", temp dir " + dir_.path() +
                    "\n--- redis-server log ---\n" + redis_->log();
  if (cluster_) out += "\n--- cluster nodes ---\n" + cluster_->logs();
  if (proxy_) out += "\n--- frontcache stderr ---\n" + proxy_->log();
  return out;
}

void TargetTest::SetUp() {
  try {
    target_ = std::make_unique<Target>(target_options());
  } catch (const std::exception& e) {
    FAIL() << "cannot start the target: " << e.what();
  }
  RecordProperty("target", target_name(target_->kind()));
}

void TargetTest::TearDown() {
  if (target_ && HasFailure()) std::cerr << target_->logs() << std::endl;
  target_.reset();
}

bool wait_for_upstream(const Target& target, const std::string& password) {
  auto c = target.client();
  Reply last;
  bool authenticated = password.empty();
  const bool ready = wait_until(
      [&] {
        if (!authenticated) authenticated = c("AUTH", password).to_string() == "+OK";
        last = c("EXISTS", "frontcache-it-ready");
        if (last.is_io_error()) {
          c.reconnect();
          authenticated = password.empty();
        }
        return last.type == Reply::Type::Integer;
      },
      30s, 20ms);
  if (!ready) {
    ADD_FAILURE() << "a forwarded command still fails after 30 s (the upstream is not reachable "
                     "through the target); last reply: "
                  << last;
  }
  return ready;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

std::vector<std::string> unblock_rounds(RedisClient& unblocker, RawClient& blocked,
                                        const std::string& id, const std::string& list,
                                        const std::function<bool()>& is_blocked) {
  std::vector<std::string> out;
  for (const char* reason : {"", "TIMEOUT", "ERROR"}) {
    EXPECT_TRUE(blocked.send("*3\r\n$5\r\nBLPOP\r\n$" + std::to_string(list.size()) + "\r\n" +
                             list + "\r\n$1\r\n0\r\n"));
    EXPECT_TRUE(wait_until(is_blocked)) << "BLPOP never blocked";
    std::vector<std::string> unblock = {"CLIENT", "UNBLOCK", id};
    if (*reason != '\0') unblock.push_back(reason);
    out.push_back(unblocker.command(unblock).to_string());
    out.push_back(blocked.read_reply().value_or("<none>"));
    out.push_back(unblocker.command(unblock).to_string());  // not blocked any more
  }
  return out;
}

bool wait_armed(RedisClient& c, std::chrono::milliseconds timeout) {
  return wait_until([&] { return info_field(c("INFO", "frontcache").str, "l1_state") == "armed"; },
                    timeout, 10ms);
}

std::string info_field(const std::string& info, const std::string& field) {
  const std::string key = field + ":";
  std::size_t at = info.starts_with(key) ? 0 : info.find("\n" + key);
  if (at == std::string::npos) return {};
  if (at != 0) ++at;
  const auto start = at + key.size();
  const auto end = info.find_first_of("\r\n", start);
  return info.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

long long command_calls(RedisClient& c, const std::string& command) {
  const std::string stats = c("INFO", "commandstats").str;
  const std::string field = "cmdstat_" + command + ":calls=";
  const auto at = stats.find(field);
  return at == std::string::npos ? 0 : std::stoll(stats.substr(at + field.size()));
}

long long blocked_clients(RedisClient& direct) {
  const std::string value = info_field(direct("INFO", "clients").str, "blocked_clients");
  return value.empty() ? -1 : std::stoll(value);
}

std::string http_get(uint16_t port, const std::string& path) {
  RawClient c("127.0.0.1", port);
  if (!c.connected()) return {};
  c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  c.read_until_closed(30s);
  return c.received();
}

std::string http_body(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

long long metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(name + " ")) {
      return static_cast<long long>(std::stod(line.substr(name.size() + 1)));
    }
  }
  return -1;
}

}  // namespace frontcache::integration
