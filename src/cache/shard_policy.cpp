// W-TinyLFU for one shard, after Caffeine's BoundedLocalCache: new entries enter an LRU window;
// window overflow moves to the probation segment of an SLRU main space, where each candidate
// duels the probation LRU victim on sketch frequency. A hill climber resizes the window from
// the hit rate of each sample period (10 x capacity requests).
#include <utility>

#include "shard.hpp"

namespace frontcache::cache::detail {
namespace {

constexpr int kWarmFrequency = 6;
constexpr int kTransferLimit = 1000;

}  // namespace

void Shard::push_back(Queue q, std::uint32_t i) noexcept {
  List& l = list(q);
  Node& n = node(i);
  n.set_queue(q);
  n.prev = l.tail;
  n.next = kNil;
  if (l.tail != kNil) {
    node(l.tail).next = i;
  } else {
    l.head = i;
  }
  l.tail = i;
}

void Shard::push_front(Queue q, std::uint32_t i) noexcept {
  List& l = list(q);
  Node& n = node(i);
  n.set_queue(q);
  n.next = l.head;
  n.prev = kNil;
  if (l.head != kNil) {
    node(l.head).prev = i;
  } else {
    l.tail = i;
  }
  l.head = i;
}

void Shard::unlink(std::uint32_t i) noexcept {
  Node& n = node(i);
  List& l = list(n.queue());
  if (n.prev != kNil) {
    node(n.prev).next = n.next;
  } else {
    l.head = n.next;
  }
  if (n.next != kNil) {
    node(n.next).prev = n.prev;
  } else {
    l.tail = n.prev;
  }
  n.prev = n.next = kNil;
}

void Shard::on_add(std::uint32_t i) {
  const std::uint64_t w = weight_of(node(i));
  weighted_size_ += w;
  global_->units.fetch_add(w, std::memory_order_relaxed);
  window_size_ += w;
  // Byte-bounded shards don't know their entry count up front: the sketch doubles with it.
  if (!config_.count_entries) sketch_.ensure_capacity(count_);
  sketch_.increment(node(i).hash);
  ++misses_in_sample_;
  if (w > window_max_) {
    push_front(Queue::Window, i);
  } else {
    push_back(Queue::Window, i);
  }
}

void Shard::on_access(std::uint32_t i) noexcept {
  sketch_.increment(node(i).hash);
  ++hits_in_sample_;
  switch (node(i).queue()) {
    case Queue::Window:
      if (node(i).next == kNil) break;  // already most recent: hot keys skip the relink
      unlink(i);
      push_back(Queue::Window, i);
      break;
    case Queue::Probation:
      unlink(i);
      push_back(Queue::Protected, i);
      protected_size_ += weight_of(node(i));
      break;
    case Queue::Protected:
      if (node(i).next == kNil) break;
      unlink(i);
      push_back(Queue::Protected, i);
      break;
    case Queue::Free:
      break;
  }
}

void Shard::on_remove(std::uint32_t i) noexcept {
  const std::uint64_t w = weight_of(node(i));
  weighted_size_ -= w;
  global_->units.fetch_sub(w, std::memory_order_relaxed);
  if (node(i).queue() == Queue::Window) window_size_ -= w;
  if (node(i).queue() == Queue::Protected) protected_size_ -= w;
  unlink(i);
}

bool Shard::over_capacity() const noexcept {
  return weighted_size_ > config_.limit || (config_.max_bytes != 0 && bytes_ > config_.max_bytes) ||
         global_->over();
}

void Shard::shed() {
  if (over_capacity()) evict_from_main(kNil);
}

void Shard::evict() {
  if (!over_capacity() && window_size_ <= window_max_) return;
  evict_from_main(evict_from_window());
}

std::uint32_t Shard::evict_from_window() noexcept {
  std::uint32_t first = kNil;
  std::uint32_t i = list(Queue::Window).head;
  while (window_size_ > window_max_ && i != kNil) {
    const std::uint32_t next = node(i).next;
    const std::uint64_t w = weight_of(node(i));
    unlink(i);
    push_back(Queue::Probation, i);
    window_size_ -= w;
    if (first == kNil) first = i;
    i = next;
  }
  return first;
}

// Candidates are the entries just moved out of the window (then the window itself); victims
// come from probation, then protected, then the window. The lower frequency leaves.
void Shard::evict_from_main(std::uint32_t candidate) {
  Queue victim_queue = Queue::Probation;
  Queue candidate_queue = Queue::Probation;
  std::uint32_t victim = list(Queue::Probation).head;
  while (over_capacity()) {
    if (candidate == kNil && candidate_queue == Queue::Probation) {
      candidate = list(Queue::Window).head;
      candidate_queue = Queue::Window;
    }
    if (candidate == kNil && victim == kNil) {
      if (victim_queue == Queue::Probation) {
        victim = list(Queue::Protected).head;
        victim_queue = Queue::Protected;
        continue;
      }
      if (victim_queue == Queue::Protected) {
        victim = list(Queue::Window).head;
        victim_queue = Queue::Window;
        continue;
      }
      break;
    }
    if (victim == kNil) {
      const std::uint32_t evict_me = candidate;
      candidate = node(candidate).next;
      remove(evict_me, Removal::Evicted);
      continue;
    }
    if (candidate == kNil) {
      const std::uint32_t evict_me = victim;
      victim = node(victim).next;
      remove(evict_me, Removal::Evicted);
      continue;
    }
    if (candidate == victim) {
      victim = node(victim).next;
      remove(candidate, Removal::Evicted);
      candidate = kNil;
      continue;
    }
    if (admit(candidate, victim)) {
      const std::uint32_t evict_me = victim;
      victim = node(victim).next;
      remove(evict_me, Removal::Evicted);
      candidate = node(candidate).next;
    } else {
      const std::uint32_t evict_me = candidate;
      candidate = node(candidate).next;
      remove(evict_me, Removal::Evicted);
    }
  }
}

bool Shard::admit(std::uint32_t candidate, std::uint32_t victim) noexcept {
  const int candidate_freq = sketch_.frequency(node(candidate).hash);
  const int victim_freq = sketch_.frequency(node(victim).hash);
  if (candidate_freq > victim_freq) return true;
  // A warm candidate sometimes wins anyway, so an attacker cannot pin a victim by flooding
  // hash collisions that keep its estimate high.
  if (candidate_freq >= kWarmFrequency) return (next_random() & 127U) == 0;
  return false;
}

std::uint64_t Shard::next_random() noexcept {
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  return random_state_;
}

void Shard::climb() {
  // The climber's period is 10 x the cache's capacity in requests (the sketch's own period
  // may be longer for small shards).
  const std::uint64_t sample = config_.count_entries ? 10 * config_.maximum * config_.shards
                                                     : sketch_.sample_size() * config_.shards;
  climber_->record(std::exchange(hits_in_sample_, 0), std::exchange(misses_in_sample_, 0), sample);
  double amount = 0.0;
  if (climber_->poll(&climber_epoch_, &amount)) {
    // This shard's share of the cache-wide step. A lone shard truncates it as Caffeine does;
    // several shards carry the fraction to later periods, or small shares would never move.
    adjustment_carry_ +=
        amount * static_cast<double>(config_.maximum) / static_cast<double>(global_->maximum);
    adjustment_ = static_cast<std::int64_t>(adjustment_carry_);
    adjustment_carry_ =
        config_.shards > 1 ? adjustment_carry_ - static_cast<double>(adjustment_) : 0.0;
  }
  demote_from_protected();
  if (adjustment_ > 0) {
    increase_window();
  } else if (adjustment_ < 0) {
    decrease_window();
  }
}

void Shard::demote_from_protected() noexcept {
  for (int moved = 0; protected_size_ > protected_max_ && moved < kTransferLimit; ++moved) {
    const std::uint32_t i = list(Queue::Protected).head;
    if (i == kNil) break;
    unlink(i);
    push_back(Queue::Probation, i);
    protected_size_ -= weight_of(node(i));
  }
}

// Grows the window by taking capacity from protected; main's LRU entries move into the window.
void Shard::increase_window() {
  if (protected_max_ == 0) return;
  auto quota = std::min<std::uint64_t>(static_cast<std::uint64_t>(adjustment_), protected_max_);
  protected_max_ -= quota;
  window_max_ += quota;
  demote_from_protected();
  for (int moved = 0; moved < kTransferLimit; ++moved) {
    std::uint32_t i = list(Queue::Probation).head;
    bool from_probation = true;
    if (i == kNil || quota < weight_of(node(i))) {
      i = list(Queue::Protected).head;
      from_probation = false;
    }
    if (i == kNil) break;
    const std::uint64_t w = weight_of(node(i));
    if (quota < w) break;
    quota -= w;
    if (!from_probation) protected_size_ -= w;
    unlink(i);
    push_back(Queue::Window, i);
    window_size_ += w;
  }
  protected_max_ += quota;
  window_max_ -= quota;
  adjustment_ = static_cast<std::int64_t>(quota);
}

// Shrinks the window; its LRU entries move to probation.
void Shard::decrease_window() {
  if (window_max_ <= config_.min_window) return;
  auto quota = std::min<std::uint64_t>(static_cast<std::uint64_t>(-adjustment_),
                                       window_max_ - config_.min_window);
  protected_max_ += quota;
  window_max_ -= quota;
  for (int moved = 0; moved < kTransferLimit; ++moved) {
    const std::uint32_t i = list(Queue::Window).head;
    if (i == kNil) break;
    const std::uint64_t w = weight_of(node(i));
    if (quota < w) break;
    quota -= w;
    window_size_ -= w;
    unlink(i);
    push_back(Queue::Probation, i);
  }
  protected_max_ -= quota;
  window_max_ += quota;
  adjustment_ = -static_cast<std::int64_t>(quota);
}

}  // namespace frontcache::cache::detail
