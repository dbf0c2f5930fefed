// The proxy's side of the L1: the process-wide cache, the rules, and whether it may be used.
// It is the invalidation sink: the subscriber thread, local writes and the channel all end in
// invalidate()/invalidate_all(). While invalidation is not armed the cache is empty and
// bypassed (usable() is false), so staleness is bounded by what the subscriber confirms.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "frontcache/cache/cache.hpp"
#include "frontcache/cache/rules.hpp"
#include "frontcache/config/config.hpp"
#include "frontcache/invalidation/subscriber.hpp"

namespace frontcache::proxy {

struct L1Stats {
  std::atomic<std::uint64_t> invalidated_channel{0};   // keys received on the channel
  std::atomic<std::uint64_t> invalidated_tracking{0};  // keys received from CLIENT TRACKING
  std::atomic<std::uint64_t> invalidated_local{0};     // keys written through this instance
  std::atomic<std::uint64_t> flushes{0};               // invalidate-everything events
  std::atomic<std::uint64_t> bypass_events{0};         // times L1 was cleared for lost invalidation
  std::atomic<std::uint64_t> published{0};             // PUBLISH messages sent
  std::atomic<std::uint64_t> publish_dropped{0};       // batches not sent: no upstream ready
};

class L1 final : public invalidation::Sink {
 public:
  explicit L1(const config::CacheConfig& config, std::uint64_t instance);

  bool enabled() const { return enabled_; }
  // Enabled and invalidation armed: reads may be served from and inserted into the cache.
  bool usable() const { return enabled_ && armed_.load(std::memory_order_acquire); }
  bool armed() const { return armed_.load(std::memory_order_acquire); }
  cache::Cache& cache() { return cache_; }
  // The rules in effect. Sessions read their worker's copy (Worker::rules()), refreshed on
  // the worker's own thread after a reload, so the read path takes no lock.
  std::shared_ptr<const cache::RuleSet> rules() const;
  // After SIGHUP: new rules for reads from now on. Returns true when the tracking prefixes
  // they need differ from the current ones.
  bool set_rules(const config::CacheConfig& config);
  std::uint64_t instance() const { return instance_; }
  L1Stats& stats() { return stats_; }

  // Writes seen by this instance, before they are forwarded and again after their reply.
  void invalidate_local(std::span<const std::string_view> keys);
  void invalidate_all_local();

  // invalidation::Sink
  void invalidate(std::span<const std::string_view> keys, invalidation::Source source) override;
  void invalidate_all(invalidation::Source source) override;
  void set_armed(bool armed, std::string_view reason) override;

 private:
  bool enabled_;
  std::uint64_t instance_;
  cache::Cache cache_;
  mutable std::mutex rules_mu_;
  std::shared_ptr<const cache::RuleSet> rules_;
  std::atomic<bool> armed_{false};
  L1Stats stats_;
};

// The cache key of one read: database, command name (lower case) and arguments, each
// length-prefixed so that no two different requests share a key. Appends to `out`.
void build_cache_key(std::string& out, int db, std::string_view command,
                     std::span<const std::string_view> args);

}  // namespace frontcache::proxy
