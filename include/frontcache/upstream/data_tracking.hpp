// Default-mode CLIENT TRACKING on the shared connections (invalidation.tracking: default).
//
// Every shared connection runs `CLIENT TRACKING on REDIRECT <subscriber id>`: Redis remembers the
// keys each one read and reports a later write of one of them to the invalidation subscriber.
// Writes to keys no instance read cost Redis a lookup, where BCAST tracking reports (and queues,
// and frees) every written key. In exchange the proof that L1 is current involves every
// connection that filled it, not one tracker connection:
//
//   - a fill is cached only if its connection was pointed at the current subscriber when the
//     read was sent (tracked()); a new subscriber (a new generation) re-points each connection
//     before its next request;
//   - a connection that ends takes Redis's memory of its reads with it: L1 forgets everything
//     (lost()) before the connection stops counting;
//   - a fence round must know every connection of the current generation alive after it started:
//     a connection counts with its own "proven" time, the send time of the last request it had
//     answered (it was alive, so still tracking, when Redis ran it), and the round is current
//     only as of the oldest of those. Idle connections PING to keep theirs recent. When that is
//     not enough (a proof lags: a connection queued behind large replies; or a session waits
//     for the round) the subscriber's tracker link asks Redis (CLIENT LIST ID, run after the
//     round's start), and the connections it lists as tracking no longer hold the round back.
//
// Shared by the subscriber's thread (point_to, unpoint, proven_as_of) and the workers (attach,
// the slots); no Asio here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace frontcache::upstream {

class DataTracking {
 public:
  using Clock = std::chrono::steady_clock;

  // One connection's record. Written by its worker, read by the subscriber's thread.
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> generation{0};  // the generation it is pointed at; 0: none
    std::atomic<Clock::rep> proven{0};         // send time of the last request answered
    std::atomic<std::uint64_t> client_id{0};   // its CLIENT ID (from the handshake)
  };

  // `on_lost`: L1 forgets everything (any thread). `prove_every` (the fence interval): an idle
  // connection PINGs when its last request is half that old, and a fence round asks Redis
  // (CLIENT LIST ID) when some connection's proof is more than twice that old.
  DataTracking(std::function<void()> on_lost, std::chrono::milliseconds prove_every)
      : on_lost_(std::move(on_lost)), prove_every_(prove_every) {}

  // Subscriber: connected with CLIENT ID `id` (a new generation), or lost.
  void point_to(std::uint64_t id) {
    redirect_.store(id, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  void unpoint() { point_to(0); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The subscriber's CLIENT ID for generation(); 0: none (load generation() first).
  std::uint64_t redirect() const { return redirect_.load(std::memory_order_relaxed); }

  // Subscriber: every connection pointed at `generation`, but those whose CLIENT ID is in
  // `alive` (sorted: Redis listed them as tracking after the fence round started), was alive at
  // Redis after the returned time (time_point::max() when there is none).
  Clock::time_point proven_as_of(std::uint64_t generation,
                                 std::span<const std::uint64_t> alive = {}) const;
  // The CLIENT IDs of the connections pointed at `generation`, sorted.
  std::vector<std::uint64_t> client_ids(std::uint64_t generation) const;

  // Connections: a slot for the connection's lifetime (the handle gives it back).
  std::shared_ptr<Slot> attach();
  // A connection pointed at the current generation ended: L1 forgets what it filled.
  void lost() const {
    if (on_lost_) on_lost_();
  }
  std::chrono::milliseconds prove_every() const { return prove_every_; }

 private:
  std::function<void()> on_lost_;
  const std::chrono::milliseconds prove_every_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> redirect_{0};
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<Slot>> slots_;
};

}  // namespace frontcache::upstream
