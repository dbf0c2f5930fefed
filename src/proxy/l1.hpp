// The proxy's side of the L1: the process-wide cache, the rules, and whether it may be used.
// It is the invalidation sink: the subscriber thread, local writes and the channel all end in
// invalidate()/invalidate_all(). L1 answers only while the invalidation stream is provably
// current: a fence round that started within invalidation.max_staleness has come back
// (fresh()). While invalidation is not armed the cache is empty and bypassed.
// In cluster mode (enable_cluster()) each master has its own stream, and a read is checked
// against the stream of its key's slot (fresh(now, slot), append_slot_epoch()): losing one
// master's stream bypasses, and makes unreachable, only what that master's slots hold.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "frontcache/cache/cache.hpp"
#include "frontcache/cache/rules.hpp"
#include "frontcache/config/config.hpp"
#include "frontcache/invalidation/subscriber.hpp"
#include "slot_coherence.hpp"
#include "tracking.hpp"

namespace frontcache::proxy {

struct L1Stats {
  std::atomic<std::uint64_t> invalidated_channel{0};   // keys received on the channel
  std::atomic<std::uint64_t> invalidated_tracking{0};  // keys received from CLIENT TRACKING
  std::atomic<std::uint64_t> invalidated_local{0};     // keys written through this instance
  std::atomic<std::uint64_t> flushes{0};               // invalidate-everything events
  std::atomic<std::uint64_t> bypass_events{0};         // lost streams (cluster: per master)
  std::atomic<std::uint64_t> fence_rounds{0};          // completed (cluster: every master's)
  std::atomic<std::uint64_t> published{0};             // PUBLISH messages sent
  std::atomic<std::uint64_t> publish_dropped{0};       // batches not sent: no upstream ready
  // Cacheable reads sent upstream instead of being looked up in L1, by cause:
  std::atomic<std::uint64_t> bypass_not_current{0};  // no fence round within max_staleness
  std::atomic<std::uint64_t> bypass_own_write{0};    // the session's own write in flight / fence
  std::atomic<std::uint64_t> bypass_not_armed{0};    // the (key's master's) stream is not armed
};

class L1 final : public invalidation::Sink {
 public:
  L1(const config::CacheConfig& config, std::uint64_t instance,
     std::chrono::milliseconds max_staleness);

  bool enabled() const { return enabled_; }
  // Enabled and invalidation armed: reads may be served from and inserted into the cache.
  bool usable() const { return enabled_ && armed_.load(std::memory_order_acquire); }
  // Usable, and every invalidation of writes older than max_staleness is known applied.
  bool fresh(std::chrono::steady_clock::time_point now) const {
    return usable() && now - current_as_of() <= max_staleness_;
  }
  // The start of the last completed fence round (see invalidation::Subscriber).
  std::chrono::steady_clock::time_point current_as_of() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(current_as_of_.load(std::memory_order_acquire)));
  }
  // The read path: in cluster mode, for the key's slot; standalone, fresh(now) and `slot` is
  // not looked at.
  // A slot a worker was redirected for since the map last moved it may be served by a master
  // whose stream is not the slot's: until the map names the new owner, every master's stream
  // must be current too (the rule for every slot before freshness was per slot).
  bool fresh(std::chrono::steady_clock::time_point now, std::uint16_t slot) const {
    if (slots_ == nullptr) return fresh(now);
    return enabled_ && slots_->fresh(slot, now, max_staleness_) &&
           (!slots_->redirected(slot) || fresh(now));
  }
  bool usable(std::uint16_t slot) const {
    return slots_ == nullptr ? usable() : enabled_ && slots_->armed(slot);
  }
  std::chrono::steady_clock::time_point current_as_of(std::uint16_t slot) const {
    if (slots_ == nullptr) return current_as_of();
    return slots_->redirected(slot) ? std::min(slots_->current_as_of(slot), current_as_of())
                                    : slots_->current_as_of(slot);
  }
  // Cluster mode: the slot's epoch goes at the end of every cache key of its keys (after
  // build_cache_key()), so that what was cached or in flight under an older epoch is never found
  // again, and a fill of an older epoch is never joined (a cache key names its Redis key, hence
  // its slot: the epoch alone tells them apart). Standalone: nothing is appended.
  void append_slot_epoch(std::string& key, std::uint16_t slot) const {
    if (slots_ == nullptr) return;
    const std::uint32_t epoch = slots_->epoch(slot);
    key.append(reinterpret_cast<const char*>(&epoch), sizeof epoch);
  }
  std::chrono::milliseconds max_staleness() const { return max_staleness_; }
  // Any thread: a fence round as soon as possible (set by the server; empty in unit tests).
  void request_fence() {
    if (fence_requester_) fence_requester_();
  }
  void set_fence_requester(std::function<void()> requester) {
    fence_requester_ = std::move(requester);
  }
  // Standalone: the stream is armed. Cluster mode: every master's is.
  bool armed() const { return armed_.load(std::memory_order_acquire); }
  // Cluster mode: at least one master's stream is armed (its slots may be served).
  bool partly_armed() const { return any_armed_.load(std::memory_order_acquire); }

  // Cluster mode, before serving: reads are checked per slot from now on. The returned table is
  // the cluster coherence's to keep (its invalidation thread is the only writer).
  SlotCoherence& enable_cluster();
  SlotCoherence* slots() { return slots_.get(); }
  const SlotCoherence* slots() const { return slots_.get(); }
  // Cluster mode: one master's stream armed or lost (its slots already bypass, see
  // SlotCoherence::set_armed): counts the loss and tells tracking clients.
  void stream_changed(bool armed);
  // Cluster mode: the whole picture for INFO, readiness and tracking clients: every master's
  // stream armed, at least one, and the oldest last fence round among the armed ones.
  void set_cluster_state(bool all_armed, bool any_armed,
                         std::chrono::steady_clock::time_point oldest_current);
  cache::Cache& cache() { return cache_; }
  // A lookup at `now` (a worker's batch clock, see Worker::now()): the cache runs on SteadyClock.
  // `owner`: the Redis key the entry was cached for (it picks the shard).
  cache::ValueRef lookup(std::string_view key, std::string_view owner,
                         std::chrono::steady_clock::time_point now) {
    return cache_.lookup(key, owner,
                         std::chrono::duration_cast<cache::TimePoint>(now.time_since_epoch()));
  }
  // The rules in effect. Sessions read their worker's copy (Worker::rules()), refreshed on
  // the worker's own thread after a reload, so the read path takes no lock.
  std::shared_ptr<const cache::RuleSet> rules() const;
  // After SIGHUP: new rules for reads from now on. Returns true when the tracking prefixes
  // they need differ from the current ones.
  bool set_rules(const config::CacheConfig& config);
  std::uint64_t instance() const { return instance_; }
  L1Stats& stats() { return stats_; }

  // Writes seen by this instance, before they are forwarded and again after their reply
  // (`replied`: then tracking clients are told, `origin` being the client that wrote them).
  void invalidate_local(std::span<const std::string_view> keys, bool replied = false,
                        std::uint64_t origin = 0);
  void invalidate_all_local(bool replied = false);
  // Clients tracking keys through the proxy hear of every invalidation L1 applies.
  void set_tracking(TrackingTable* tracking) { tracking_ = tracking; }

  // invalidation::Sink
  void invalidate(std::span<const std::string_view> keys, invalidation::Source source) override;
  void invalidate_all(invalidation::Source source) override;
  void set_armed(bool armed, std::string_view reason) override;
  void set_current(std::chrono::steady_clock::time_point as_of) override;

 private:
  bool enabled_;
  std::uint64_t instance_;
  cache::Cache cache_;
  mutable std::mutex rules_mu_;
  std::shared_ptr<const cache::RuleSet> rules_;
  std::atomic<bool> armed_{false};
  std::atomic<bool> any_armed_{false};
  std::unique_ptr<SlotCoherence> slots_;  // cluster mode only
  std::atomic<std::chrono::steady_clock::rep> current_as_of_{0};
  std::chrono::milliseconds max_staleness_;
  std::function<void()> fence_requester_;
  TrackingTable* tracking_ = nullptr;
  L1Stats stats_;
};

// The cache key of one read: database, protocol (RESP2 and RESP3 replies differ), command name
// (lower case) and arguments, each length-prefixed so that no two different requests share a
// key. Appends to `out`.
void build_cache_key(std::string& out, int db, int protocol, std::string_view command,
                     std::span<const std::string_view> args);

}  // namespace frontcache::proxy
