#include "hill_climber.hpp"

#include <cmath>

namespace frontcache::cache::detail {
namespace {

constexpr double kStepPercent = 0.0625;
constexpr double kStepDecay = 0.98;
constexpr double kRestartThreshold = 0.05;

}  // namespace

void HillClimber::configure(std::uint64_t maximum) noexcept {
  maximum_ = static_cast<double>(maximum);
  step_size_ = -kStepPercent * maximum_;
}

void HillClimber::record(std::uint64_t hits, std::uint64_t misses, std::uint64_t sample_size) {
  const std::uint64_t total_hits = hits_.fetch_add(hits, std::memory_order_relaxed) + hits;
  const std::uint64_t total_misses = misses_.fetch_add(misses, std::memory_order_relaxed) + misses;
  if (total_hits + total_misses < sample_size) return;
  // Whoever gets here first closes the period; the others' reports count toward the next one.
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const std::uint64_t h = hits_.exchange(0, std::memory_order_relaxed);
  const std::uint64_t m = misses_.exchange(0, std::memory_order_relaxed);
  if (h + m == 0) return;
  const double hit_rate = static_cast<double>(h) / static_cast<double>(h + m);
  const double change = hit_rate - previous_hit_rate_;
  const double amount = change >= 0 ? step_size_ : -step_size_;
  step_size_ = std::abs(change) >= kRestartThreshold
                   ? kStepPercent * maximum_ * (amount >= 0 ? 1 : -1)
                   : kStepDecay * amount;
  previous_hit_rate_ = hit_rate;
  amount_ = amount;
  epoch_.fetch_add(1, std::memory_order_release);
}

bool HillClimber::poll(std::uint64_t* epoch, double* amount) {
  if (epoch_.load(std::memory_order_acquire) == *epoch) return false;
  std::lock_guard lock(mu_);
  *epoch = epoch_.load(std::memory_order_relaxed);
  *amount = amount_;
  return true;
}

}  // namespace frontcache::cache::detail
