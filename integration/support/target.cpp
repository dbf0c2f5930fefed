#include "target.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
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
  if (!value.empty()) {
    throw std::runtime_error("FRONTCACHE_TARGET must be 'direct' or 'proxy', not '" + value + "'");
  }
  const std::string bin = frontcache_binary();
  return !bin.empty() && std::filesystem::exists(bin) ? TargetKind::Proxy : TargetKind::Direct;
}

const char* target_name(TargetKind kind) { return kind == TargetKind::Proxy ? "proxy" : "direct"; }

Target::Target(TargetOptions options) : kind_(target_kind()) {
  redis_ = std::make_unique<RedisServer>(dir_.path(), options.redis_args);
  if (kind_ == TargetKind::Proxy) {
    const std::string bin = frontcache_binary();
    if (bin.empty() || !std::filesystem::exists(bin)) {
      throw std::runtime_error("FRONTCACHE_TARGET=proxy but no frontcache binary at '" + bin +
                               "' (set FRONTCACHE_BIN)");
    }
    proxy_ = std::make_unique<Frontcache>(
        dir_.path(), FrontcacheOptions{bin, redis_->port(), options.workers,
                                       options.frontcache_yaml, options.upstream_yaml});
  }
}

Target::~Target() {
  proxy_.reset();  // stop the proxy before its upstream
  redis_.reset();
}

std::string Target::logs() const {
  std::string out = "target: " + std::string(target_name(kind_)) + ", temp dir " + dir_.path() +
                    "\n--- redis-server log ---\n" + redis_->log();
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

void wait_for_upstream(const Target& target) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  auto c = target.client();
  while (std::chrono::steady_clock::now() < deadline) {
    Reply r = c("EXISTS", "frontcache-it-ready");
    if (r.type == Reply::Type::Integer) return;
    if (r.is_io_error()) c.reconnect();
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace frontcache::integration
