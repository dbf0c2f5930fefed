// CLIENT TRACKING served by the proxy itself: which client wants to hear about which keys, for
// every client of the process. Fed by the same invalidations that keep L1 correct (writes
// through this instance, and every write Redis reports to the invalidation subscriber), so a
// tracking client hears about a change no later than L1 forgets the old value.
//
//   default mode: key -> clients that read it (forgotten once they are told, as in Redis)
//   BCAST mode:   client -> prefixes (every matching key)
//
// Thread-safe; invalidate() costs one atomic load while nobody tracks anything. Messages are
// handed to `deliver` (which posts them to the client's worker); the session encodes them for
// its protocol and its REDIRECT target.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace frontcache::proxy {

// One invalidation message for one client: keys, or everything (FLUSHALL, a lost stream).
struct Invalidation {
  bool all = false;
  std::vector<std::string> keys;
};

class TrackingTable {
 public:
  using Deliver =
      std::function<void(std::size_t worker, std::uint64_t client, std::shared_ptr<Invalidation>)>;

  explicit TrackingTable(std::size_t max_keys = 1'000'000) : max_keys_(max_keys) {}
  void set_deliver(Deliver deliver) { deliver_ = std::move(deliver); }

  // Every client of the process, for REDIRECT's "does this client exist" and delivery.
  void add_client(std::uint64_t id, std::size_t worker);
  void remove_client(std::uint64_t id);
  // The worker a live client runs on, or -1.
  long long worker_of(std::uint64_t id) const;

  void enable(std::uint64_t id, std::size_t worker, bool bcast, std::vector<std::string> prefixes,
              bool noloop);
  void disable(std::uint64_t id);
  // Default mode: the client read these keys (it will hear once when one changes).
  void remember(std::uint64_t id, std::span<const std::string_view> keys);

  // Keys changed by a write through this instance whose reply has just arrived. `origin`: the
  // client that wrote them (skipped for NOLOOP clients). Redis reports the same write on the
  // invalidation stream a moment later (when it changed anything), and that report is told
  // like any other: nothing tells it from the report of a later write by someone else, and a
  // second invalidation is harmless where a missed one leaves a client's near-cache stale.
  void invalidate_local(std::span<const std::string_view> keys, std::uint64_t origin);
  // Keys changed, as Redis reports them on the invalidation stream.
  void invalidate(std::span<const std::string_view> keys);
  // Everything changed: FLUSHALL/FLUSHDB/SWAPDB through this instance, as Redis reports a flush,
  // or everything may have changed (the invalidation stream was lost or stalled). Every
  // tracking client drops everything.
  void invalidate_all();

  bool active() const { return tracking_clients_.load(std::memory_order_relaxed) > 0; }

 private:
  struct Tracker {
    std::size_t worker;
    bool bcast;
    bool noloop;
    std::vector<std::string> prefixes;  // BCAST; empty: every key
  };

  void notify(std::span<const std::string_view> keys, std::uint64_t origin);
  void send(std::size_t worker, std::uint64_t client, std::shared_ptr<Invalidation> message);

  const std::size_t max_keys_;
  Deliver deliver_;
  std::atomic<std::size_t> tracking_clients_{0};
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, std::size_t> clients_;  // live client -> worker
  std::unordered_map<std::uint64_t, Tracker> trackers_;
  std::unordered_map<std::string, std::vector<std::uint64_t>> keys_;  // default mode
};

}  // namespace frontcache::proxy
