// A session's replies in request order. Each request takes a slot when it is dispatched; its
// reply may arrive at any time (local replies and cache hits at once, upstream replies later),
// and leaves only when every earlier slot has left, so the client sees replies in the order
// it sent requests whatever mix of local, cached and forwarded commands a pipeline holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::proxy {

class ReplyQueue {
 public:
  // Takes the next slot; returns its sequence number.
  std::uint64_t push();
  // Stores the reply of slot `seq` (copied). A slot completes once; later calls are ignored.
  void complete(std::uint64_t seq, std::string_view reply);
  // Adds bytes to slot `seq` ahead of its final reply, without completing it: pub/sub messages
  // and MONITOR lines that reach a pinned session while one of its requests is still waiting
  // for its reply (they came first in the upstream's stream, so they go first here too).
  void add(std::uint64_t seq, std::string_view bytes);
  // Shorthand: push() and complete() in one, for replies known at dispatch time.
  void append(std::string_view reply) { complete(push(), reply); }

  // Moves every reply that may be written now (in order) into `out`, which must be empty.
  // The queue keeps `out`'s old capacity, so alternating two buffers allocates nothing.
  void take_ready(std::string& out);
  // Undoes take_ready() after the first `written` bytes of `taken` went out: the rest is ready
  // again, ahead of anything completed since. `taken` is left empty.
  void put_back(std::string& taken, std::size_t written);

  bool has_ready() const { return !ready_.empty(); }
  // Requests whose replies have not been taken yet (waiting, or queued behind one waiting).
  std::size_t in_flight() const { return static_cast<std::size_t>(next_ - head_); }
  // Reply bytes held: ready to write plus waiting behind an earlier slot.
  std::size_t buffered_bytes() const { return ready_.size() + parked_bytes_; }

 private:
  static constexpr std::size_t kKeepSlotBytes = 4096;  // larger parked buffers are freed

  struct Slot {
    bool done = false;
    std::string reply;  // bytes held back: they arrived before an earlier slot's reply
  };
  Slot& slot(std::uint64_t seq) { return ring_[seq & (ring_.size() - 1)]; }
  void release_head_slots();

  // Ring of slots, power-of-two sized, indexed by sequence number: slots and their strings are
  // reused, so a steady pipeline allocates nothing.
  std::vector<Slot> ring_ = std::vector<Slot>(16);
  std::uint64_t head_ = 0;  // sequence number of slots_.front()
  std::uint64_t next_ = 0;  // sequence number the next push() returns
  std::string ready_;       // replies in order, not yet taken by the writer
  std::size_t parked_bytes_ = 0;
};

}  // namespace frontcache::proxy
