#include "auth_limiter.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cmath>
#include <string>

namespace frontcache::proxy {

namespace {

using Clock = AuthLimiter::Clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

AuthLimiter::Key AuthLimiter::key_of(std::string_view endpoint) {
  Key key{};
  std::string_view host = endpoint.substr(0, endpoint.rfind(':'));
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return key;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    key[10] = key[11] = 0xff;
    std::copy(bytes.begin(), bytes.end(), key.begin() + 12);
  } else {
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.begin() + 8, key.begin());
  }
  return key;
}

std::size_t AuthLimiter::KeyHash::operator()(const Key& k) const {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (auto b : k) h = (h ^ b) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}

AuthLimiter::Duration AuthLimiter::delay(double failures) const {
  const double n = std::ceil(failures);  // a failure partly forgotten still counts
  if (n <= settings_.free_failures) return Duration::zero();
  const double doublings = n - settings_.free_failures - 1;
  const double d = static_cast<double>(settings_.first_delay.count()) * std::exp2(doublings);
  if (d >= static_cast<double>(settings_.max_delay.count())) return settings_.max_delay;
  return Duration(static_cast<Duration::rep>(d));
}

void AuthLimiter::decay(Entry& e, Clock::time_point now) const {
  if (now > e.updated) {
    e.score = std::max(0.0, e.score - seconds(now - e.updated) / seconds(settings_.forget));
    e.updated = now;
  }
}

void AuthLimiter::refill(Clock::time_point now) {
  if (tokens_ < 0) {
    tokens_ = settings_.global_burst;
    refilled_ = now;
  }
  if (now > refilled_) {
    tokens_ = std::min(settings_.global_burst,
                       tokens_ + seconds(now - refilled_) * settings_.global_per_second);
    refilled_ = now;
  }
}

AuthLimiter::Turn AuthLimiter::reserve(const Key& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return {false, now};
  Entry& e = it->second;
  decay(e, now);
  refill(now);
  if (e.score > settings_.free_failures && tokens_ < 1) return {true, now};
  const Clock::time_point at = std::max(now, e.next);
  if (at - now > settings_.max_wait) return {true, now};
  e.next = at + delay(e.score);
  return {false, at};
}

AuthLimiter::Entry* AuthLimiter::track(const Key& key, Clock::time_point now) {
  if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  if (entries_.size() >= settings_.max_addresses && now - swept_ >= std::chrono::seconds(1)) {
    swept_ = now;
    for (auto it = entries_.begin(); it != entries_.end();) {
      decay(it->second, now);
      it = it->second.score <= 0 && it->second.next <= now ? entries_.erase(it) : std::next(it);
    }
  }
  if (entries_.size() >= settings_.max_addresses) return nullptr;  // the global budget still holds
  Entry& e = entries_[key];
  e.updated = e.next = now;
  return &e;
}

bool AuthLimiter::failed(const Key& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  refill(now);
  tokens_ = std::max(0.0, tokens_ - 1);
  Entry* e = track(key, now);
  if (e == nullptr) return false;
  decay(*e, now);
  const bool was_free = e->score <= settings_.free_failures;
  e->score = std::min(e->score + 1, settings_.max_score);
  e->next = std::max(e->next, now + delay(e->score));
  return was_free && e->score > settings_.free_failures;
}

std::size_t AuthLimiter::penalized(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [key, e] : entries_) {
    const double score =
        e.score - (now > e.updated ? seconds(now - e.updated) / seconds(settings_.forget) : 0.0);
    if (score > settings_.free_failures) ++n;
  }
  return n;
}

}  // namespace frontcache::proxy
