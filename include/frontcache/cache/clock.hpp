// Time source for the cache: TTL deadlines, time-to-idle and expiry reclamation all read it.
// Injectable so tests move a ManualClock; production uses SteadyClock (monotonic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace frontcache::cache {

using Duration = std::chrono::nanoseconds;
// Time since the clock's own epoch; only differences and comparisons are meaningful.
using TimePoint = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const noexcept = 0;
};

class SteadyClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const noexcept override {
    return std::chrono::duration_cast<TimePoint>(
        std::chrono::steady_clock::now().time_since_epoch());
  }
};

// Starts at 0 and only moves when told to; safe to read from any thread.
class ManualClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const noexcept override {
    return TimePoint{now_.load(std::memory_order_acquire)};
  }
  void advance(Duration d) noexcept { now_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void set(TimePoint t) noexcept { now_.store(t.count(), std::memory_order_release); }

 private:
  std::atomic<std::int64_t> now_{0};
};

}  // namespace frontcache::cache
