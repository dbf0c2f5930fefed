// Cluster mode: which master's invalidation stream vouches for each of the 16384 slots, and
// whether it can right now (armed, and a fence round that started within max_staleness has come
// back). Each slot also has an epoch, part of the L1 cache key of every key in it: bumping it
// (the master's stream lost or re-armed, the slot moved to another master) makes everything
// cached or in flight for the slot before unreachable, without touching the cache.
//
//   read of a key ─► slot ─► stream ─► armed? fence round within max_staleness?  ─► L1 or bypass
//                        └─► epoch  ─► appended to the cache key                  ─► old entries
//                                                                                    never found
//
// Readers (workers, any thread) only load atomics; one writer (the invalidation thread) changes
// it. No I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace frontcache::proxy {

class SlotCoherence {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kSlots = 16384;
  static constexpr std::uint16_t kNoStream = 0xFFFF;
  // More masters than this (Redis Cluster advises at most 1,000): the extra ones' slots bypass.
  static constexpr std::size_t kMaxStreams = 1024;

  SlotCoherence();
  SlotCoherence(const SlotCoherence&) = delete;
  SlotCoherence& operator=(const SlotCoherence&) = delete;

  // --- any thread ---
  // The slot's stream is armed and current as of a fence round within `max_staleness` of `now`.
  bool fresh(std::uint16_t slot, Clock::time_point now, Clock::duration max_staleness) const {
    const Stream* s = stream_of(slot);
    if (s == nullptr || !s->armed.load(std::memory_order_acquire)) return false;
    const Clock::rep as_of = s->current_as_of.load(std::memory_order_acquire);
    return as_of != 0 && now.time_since_epoch().count() - as_of <= max_staleness.count();
  }
  bool armed(std::uint16_t slot) const {
    const Stream* s = stream_of(slot);
    return s != nullptr && s->armed.load(std::memory_order_acquire);
  }
  // The start of the slot's stream's last completed fence round (zero: none since armed).
  Clock::time_point current_as_of(std::uint16_t slot) const {
    const Stream* s = stream_of(slot);
    return Clock::time_point(
        Clock::duration(s != nullptr ? s->current_as_of.load(std::memory_order_acquire) : 0));
  }
  // A worker was redirected (MOVED or ASK) for the slot since its owner last changed in the map
  // this table follows: another master may serve it, whose stream is not the slot's.
  bool redirected(std::uint16_t slot) const {
    return slot < kSlots && redirected_[slot].load(std::memory_order_acquire);
  }
  // Any thread, on a MOVED or ASK for the slot: until the map names its new owner (assign()),
  // reads of the slot need every master's stream current (see L1::fresh(now, slot)).
  void mark_redirected(std::uint16_t slot) {
    if (slot < kSlots) redirected_[slot].store(true, std::memory_order_release);
  }
  std::uint32_t epoch(std::uint16_t slot) const {
    return slot < kSlots ? epochs_[slot].load(std::memory_order_acquire) : 0;
  }

  struct StreamState {
    std::string address;
    bool armed = false;
    Clock::time_point current_as_of{};
    std::size_t slots = 0;
  };
  // Every stream, for INFO (takes a lock, walks the slots).
  std::vector<StreamState> streams() const;

  // --- the writer ---
  // A new stream, not armed and owning no slot; kNoStream when kMaxStreams are in use.
  std::uint16_t add_stream(std::string address);
  // The stream's slots are left to no stream (bypassed, new epochs); its index may be reused.
  void remove_stream(std::uint16_t stream);
  // The slot's stream from now on (kNoStream: none). A slot that changes stream gets a new epoch:
  // what was filled under the old owner is not served.
  void assign(std::uint16_t slot, std::uint16_t stream);
  // Armed or lost: either way the stream's slots get new epochs (what was filled or in flight
  // before is unreachable), and they bypass until the stream's next completed fence round.
  void set_armed(std::uint16_t stream, bool armed);
  // A fence round that started at `as_of` has come back.
  void set_current(std::uint16_t stream, Clock::time_point as_of);

 private:
  struct alignas(64) Stream {
    std::atomic<bool> armed{false};
    std::atomic<Clock::rep> current_as_of{0};
  };
  const Stream* stream_of(std::uint16_t slot) const {
    if (slot >= kSlots) return nullptr;
    const std::uint16_t s = owners_[slot].load(std::memory_order_acquire);
    return s == kNoStream ? nullptr : &streams_[s];
  }
  void bump_slots_of(std::uint16_t stream);

  std::unique_ptr<std::atomic<std::uint16_t>[]> owners_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> epochs_;
  std::unique_ptr<std::atomic<bool>[]> redirected_;
  std::unique_ptr<Stream[]> streams_;
  mutable std::mutex names_mu_;         // addresses_ (the writer changes it, INFO reads it)
  std::vector<std::string> addresses_;  // by stream index; empty: free
};

}  // namespace frontcache::proxy
