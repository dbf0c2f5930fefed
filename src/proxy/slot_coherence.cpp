#include "slot_coherence.hpp"

namespace frontcache::proxy {

SlotCoherence::SlotCoherence()
    : owners_(std::make_unique<std::atomic<std::uint16_t>[]>(kSlots)),
      epochs_(std::make_unique<std::atomic<std::uint32_t>[]>(kSlots)),
      redirected_(std::make_unique<std::atomic<bool>[]>(kSlots)),
      streams_(std::make_unique<Stream[]>(kMaxStreams)) {
  for (std::size_t i = 0; i < kSlots; ++i) {
    owners_[i].store(kNoStream, std::memory_order_relaxed);
    epochs_[i].store(0, std::memory_order_relaxed);
    redirected_[i].store(false, std::memory_order_relaxed);
  }
}

std::vector<SlotCoherence::StreamState> SlotCoherence::streams() const {
  std::vector<StreamState> out;
  std::vector<std::size_t> index;  // stream -> position in out
  {
    std::lock_guard lock(names_mu_);
    index.assign(addresses_.size(), kMaxStreams);
    for (std::size_t i = 0; i < addresses_.size(); ++i) {
      if (addresses_[i].empty()) continue;
      index[i] = out.size();
      const Stream& s = streams_[i];
      out.push_back(
          {addresses_[i], s.armed.load(std::memory_order_acquire),
           Clock::time_point(Clock::duration(s.current_as_of.load(std::memory_order_acquire))), 0});
    }
  }
  for (std::size_t slot = 0; slot < kSlots; ++slot) {
    const std::uint16_t s = owners_[slot].load(std::memory_order_relaxed);
    if (s < index.size() && index[s] != kMaxStreams) ++out[index[s]].slots;
  }
  return out;
}

std::uint16_t SlotCoherence::add_stream(std::string address) {
  std::lock_guard lock(names_mu_);
  std::size_t i = 0;
  while (i < addresses_.size() && !addresses_[i].empty()) ++i;
  if (i == kMaxStreams) return kNoStream;
  if (i == addresses_.size()) addresses_.emplace_back();
  addresses_[i] = address.empty() ? std::string("?") : std::move(address);
  streams_[i].armed.store(false, std::memory_order_release);
  streams_[i].current_as_of.store(0, std::memory_order_release);
  return static_cast<std::uint16_t>(i);
}

void SlotCoherence::remove_stream(std::uint16_t stream) {
  if (stream >= kMaxStreams) return;
  streams_[stream].armed.store(false, std::memory_order_release);
  for (std::size_t slot = 0; slot < kSlots; ++slot) {
    if (owners_[slot].load(std::memory_order_relaxed) == stream) {
      assign(static_cast<std::uint16_t>(slot), kNoStream);
    }
  }
  streams_[stream].current_as_of.store(0, std::memory_order_release);
  std::lock_guard lock(names_mu_);
  if (stream < addresses_.size()) addresses_[stream].clear();
}

void SlotCoherence::assign(std::uint16_t slot, std::uint16_t stream) {
  if (slot >= kSlots) return;
  if (owners_[slot].load(std::memory_order_relaxed) == stream) return;
  // Re-pointed first: a read that sees the new epoch also sees the new stream's state.
  owners_[slot].store(stream, std::memory_order_release);
  epochs_[slot].fetch_add(1, std::memory_order_acq_rel);
  // The map names the slot's new owner: its stream alone vouches for the slot again.
  redirected_[slot].store(false, std::memory_order_release);
}

void SlotCoherence::set_armed(std::uint16_t stream, bool armed) {
  if (stream >= kMaxStreams) return;
  Stream& s = streams_[stream];
  if (!armed) {
    // Bypass first, then the new epochs: no read fills under the new epoch from a stream that
    // may have missed invalidations, unless it started before the bypass (and the next arming
    // bumps the epochs again).
    s.armed.store(false, std::memory_order_release);
    s.current_as_of.store(0, std::memory_order_release);
    bump_slots_of(stream);
    return;
  }
  // Anything filled while lost (a read that raced the loss) becomes unreachable before arming;
  // fresh() then waits for the first fence round of the new connections.
  bump_slots_of(stream);
  s.current_as_of.store(0, std::memory_order_release);
  s.armed.store(true, std::memory_order_release);
}

void SlotCoherence::set_current(std::uint16_t stream, Clock::time_point as_of) {
  if (stream >= kMaxStreams) return;
  streams_[stream].current_as_of.store(as_of.time_since_epoch().count(), std::memory_order_release);
}

void SlotCoherence::bump_slots_of(std::uint16_t stream) {
  for (std::size_t slot = 0; slot < kSlots; ++slot) {
    if (owners_[slot].load(std::memory_order_relaxed) == stream) {
      epochs_[slot].fetch_add(1, std::memory_order_acq_rel);
    }
  }
}

}  // namespace frontcache::proxy
