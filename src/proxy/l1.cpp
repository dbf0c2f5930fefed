#include "l1.hpp"

#include <cctype>
#include <cstring>

namespace frontcache::proxy {

namespace {

cache::CacheConfig cache_config(const config::CacheConfig& c) {
  cache::CacheConfig out;
  out.max_weight = c.max_memory;
  out.max_value_size = c.max_value_size;
  return out;
}

std::vector<cache::Rule> rules_from(const config::CacheConfig& c) {
  std::vector<cache::Rule> rules;
  for (const auto& r : c.rules) rules.push_back({r.match, r.cache, r.ttl, r.negative_ttl});
  return rules;
}

}  // namespace

L1::L1(const config::CacheConfig& config, std::uint64_t instance,
       std::chrono::milliseconds max_staleness)
    : enabled_(config.enabled && config.max_memory > 0),
      instance_(instance),
      cache_(cache_config(config)),
      rules_(std::make_shared<const cache::RuleSet>(rules_from(config), config.max_ttl)),
      max_staleness_(max_staleness) {}

std::shared_ptr<const cache::RuleSet> L1::rules() const {
  std::lock_guard lock(rules_mu_);
  return rules_;
}

bool L1::set_rules(const config::CacheConfig& config) {
  auto next = std::make_shared<const cache::RuleSet>(rules_from(config), config.max_ttl);
  std::lock_guard lock(rules_mu_);
  const bool prefixes_changed = next->tracking_prefixes() != rules_->tracking_prefixes();
  rules_ = std::move(next);
  return prefixes_changed;
}

void L1::invalidate_local(std::span<const std::string_view> keys, bool replied,
                          std::uint64_t origin) {
  stats_.invalidated_local.fetch_add(keys.size(), std::memory_order_relaxed);
  cache_.invalidate(keys);
  if (replied && tracking_ != nullptr) tracking_->invalidate_local(keys, origin);
}

void L1::invalidate_all_local(bool replied) {
  stats_.flushes.fetch_add(1, std::memory_order_relaxed);
  cache_.clear();
  if (replied && tracking_ != nullptr) tracking_->invalidate_all();
}

void L1::invalidate(std::span<const std::string_view> keys, invalidation::Source source) {
  auto& counter = source == invalidation::Source::Channel ? stats_.invalidated_channel
                                                          : stats_.invalidated_tracking;
  counter.fetch_add(keys.size(), std::memory_order_relaxed);
  cache_.invalidate(keys);
  if (tracking_ != nullptr) tracking_->invalidate(keys);
}

void L1::invalidate_all(invalidation::Source) {
  stats_.flushes.fetch_add(1, std::memory_order_relaxed);
  cache_.clear();
  if (tracking_ != nullptr) tracking_->invalidate_all();
}

void L1::set_armed(bool armed, std::string_view) {
  if (!armed) {
    // Bypass first, then clear: no read inserts after the clear, and clear() stales every
    // fill in flight.
    if (armed_.exchange(false, std::memory_order_acq_rel)) {
      stats_.bypass_events.fetch_add(1, std::memory_order_relaxed);
    }
    cache_.clear();
    // Writes may go unreported from now on: tracking clients drop what they hold.
    if (tracking_ != nullptr) tracking_->invalidate_all();
    return;
  }
  // Anything filled while bypassed (a read that raced the switch) goes before arming; fresh()
  // waits for the first fence round of the new connections.
  cache_.clear();
  current_as_of_.store(0, std::memory_order_release);
  armed_.store(true, std::memory_order_release);
  // What tracking clients read while the stream was down went unwatched.
  if (tracking_ != nullptr) tracking_->invalidate_all();
}

void L1::set_current(std::chrono::steady_clock::time_point as_of) {
  stats_.fence_rounds.fetch_add(1, std::memory_order_relaxed);
  current_as_of_.store(as_of.time_since_epoch().count(), std::memory_order_release);
}

SlotCoherence& L1::enable_cluster() {
  if (slots_ == nullptr) slots_ = std::make_unique<SlotCoherence>();
  return *slots_;
}

void L1::stream_changed(bool armed) {
  if (!armed) stats_.bypass_events.fetch_add(1, std::memory_order_relaxed);
  // Lost: writes to its keys may go unreported. Armed: what was read while it was down went
  // unwatched. Tracking clients are not told per slot: they drop everything.
  if (tracking_ != nullptr) tracking_->invalidate_all();
}

void L1::set_cluster_state(bool all_armed, bool any_armed,
                           std::chrono::steady_clock::time_point oldest_current) {
  current_as_of_.store(oldest_current.time_since_epoch().count(), std::memory_order_release);
  any_armed_.store(any_armed, std::memory_order_release);
  armed_.store(all_armed, std::memory_order_release);
}

// On every cacheable read, hits included: sized once and written in place (appending piece by
// piece checked the capacity at every step: 183 -> 144 instructions per GET's key, callgrind).
void build_cache_key(std::string& out, int db, int protocol, std::string_view command,
                     std::span<const std::string_view> args) {
  std::size_t size = 4 + command.size() + 1;
  for (auto a : args) size += 4 + a.size();
  const std::size_t at = out.size();
  out.resize(at + size);
  char* p = out.data() + at;
  auto put_length = [&p](std::size_t n) {
    const auto len = static_cast<std::uint32_t>(n);
    std::memcpy(p, &len, sizeof len);
    p += sizeof len;
  };
  put_length(static_cast<std::size_t>(db) | static_cast<std::size_t>(protocol) << 24);
  for (char ch : command) *p++ = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + ('a' - 'A')) : ch;
  *p++ = '\0';
  for (auto a : args) {
    put_length(a.size());
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    p += a.size();
  }
}

}  // namespace frontcache::proxy
