// A client on its own connection doing SET/GET round trips in a thread for as long as it lives;
// tests use it to show that what they do to one connection does not disturb the others.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "net.hpp"

namespace frontcache::integration {

class Bystander {
 public:
  explicit Bystander(uint16_t port, std::string key = "bystander")
      : key_(std::move(key)), thread_([this, port] { run(port); }) {}
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;
  ~Bystander() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int rounds() const { return rounds_; }
  // Waits until at least `n` round trips have succeeded (false on timeout or failure).
  bool wait_rounds(int n, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (rounds_ < n && !failed_) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return rounds_ >= n;
  }
  // Empty while every reply has been right; read after stop().
  const std::string& failure() const { return failure_; }

 private:
  void run(uint16_t port) {
    RedisClient c("127.0.0.1", port, 3s);
    for (int i = 0; !stop_; ++i) {
      const std::string v = "value-" + std::to_string(i);
      Reply set = c("SET", key_, v);
      Reply get = c("GET", key_);
      if (set.to_string() != "+OK" || get.type != Reply::Type::String || get.str != v) {
        failure_ = "round " + std::to_string(i) + ": SET -> " + set.to_string() + ", GET -> " +
                   get.to_string();
        failed_ = true;
        return;
      }
      ++rounds_;
      std::this_thread::sleep_for(1ms);
    }
  }

  std::string key_;
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  std::atomic<bool> failed_{false};
  std::string failure_;
  std::thread thread_;
};

}  // namespace frontcache::integration
