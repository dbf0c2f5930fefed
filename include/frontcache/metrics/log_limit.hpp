// Rate-limited warnings, for everything an outside party can trigger (malformed invalidation
// messages, output-limit disconnects, refused connections...): one line per interval per call
// site, and the next line says how many were suppressed meanwhile. Thread-safe.
#pragma once

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace frontcache::metrics {

class LogLimit {
 public:
  explicit LogLimit(std::chrono::steady_clock::duration interval = std::chrono::seconds(10))
      : interval_(interval) {}

  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    std::uint64_t suppressed = 0;
    if (!admit(suppressed)) return;
    std::string text = fmt::format(format, std::forward<Args>(args)...);
    if (suppressed > 0) text += fmt::format(" ({} more like this suppressed)", suppressed);
    spdlog::warn("{}", text);
  }

 private:
  bool admit(std::uint64_t& suppressed) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (logged_once_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    logged_once_ = true;
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

  const std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t suppressed_ = 0;
  bool logged_once_ = false;
};

}  // namespace frontcache::metrics
