// Keeps L1 honest about writes it did not see. Two dedicated upstream connections:
//
//   subscriber: CLIENT ID, SUBSCRIBE __redis__:invalidate <channel>   (receives both streams)
//   tracker:    CLIENT TRACKING on REDIRECT <subscriber id> BCAST [PREFIX p ...]
//               (or, with data tracking, no tracker: the shared connections track their reads
//               and redirect to the subscriber; see upstream/data_tracking.hpp)
//
// Fence rounds (a PING on both at once, every fence_interval or on request) prove the stream
// current: when both PONGs are back, every write Redis ran before the round started has been
// applied, and the sink learns set_current(start). A round unanswered within ping_interval, or
// either connection lost, tells the sink "not armed" (the proxy clears L1 and bypasses it) until
// both are up again. Messages are decoded with hiredis's redisReader; Asio does the I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontcache/upstream/connection.hpp"
#include "frontcache/upstream/data_tracking.hpp"

namespace frontcache::invalidation {

enum class Source { Channel, Tracking };

// Receives invalidations, on the subscriber's io_context thread.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void invalidate(std::span<const std::string_view> keys, Source source) = 0;
  virtual void invalidate_all(Source source) = 0;
  // armed == false: L1 must be cleared and bypassed until armed again.
  virtual void set_armed(bool armed, std::string_view reason) = 0;
  // Every invalidation for writes Redis ran before `as_of` has been delivered.
  virtual void set_current(std::chrono::steady_clock::time_point as_of) = 0;
};

struct SubscriberSettings {
  upstream::Settings upstream;
  std::string channel = "frontcache:invalidate";
  bool tracking = true;  // the BCAST tracker connection
  // invalidation.tracking: default: the shared connections track and redirect to the
  // subscriber instead; it is pointed at each new subscriber, and fence rounds count it.
  std::shared_ptr<upstream::DataTracking> data_tracking;
  std::vector<std::string> prefixes;              // empty: track every key
  std::chrono::milliseconds ping_interval{1000};  // a fence round unanswered this long: lost
  std::chrono::milliseconds fence_interval{25};   // a fence round at least this often
  std::uint64_t instance = 0;  // our id in channel payloads (own messages are ignored)
};

class Subscriber {
 public:
  Subscriber(boost::asio::io_context& io, SubscriberSettings settings, Sink& sink);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void start();
  void stop();
  // New CLIENT TRACKING prefixes (after a reload): the connections are re-established with
  // them, which disarms and re-arms (clearing L1). Call on the subscriber's io_context.
  void set_prefixes(std::vector<std::string> prefixes);
  // Any thread: a fence round now (a write whose keys the proxy cannot name wants proof that
  // its invalidations are in).
  void request_fence();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace frontcache::invalidation
