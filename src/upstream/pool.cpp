#include "frontcache/upstream/pool.hpp"

namespace frontcache::upstream {

Pool::Pool(boost::asio::io_context& io, const Settings& settings, std::size_t connections) {
  connections_.reserve(connections);
  for (std::size_t i = 0; i < connections; ++i) {
    connections_.push_back(std::make_unique<Connection>(io, settings, i));
  }
}

void Pool::start() {
  for (auto& c : connections_) c->start();
}

void Pool::stop() {
  for (auto& c : connections_) c->stop();
}

Connection* Pool::least_loaded() {
  Connection* least = nullptr;
  for (auto& c : connections_) {
    if (c->ready() && (least == nullptr || c->pending() < least->pending())) least = c.get();
  }
  return least;
}

Connection* Pool::pick() {
  Connection* least = least_loaded();
  if (least == nullptr) return nullptr;
  for (auto& c : connections_) {
    if (c->ready() && c->pending() <= least->pending() + kBatchSlack) return c.get();
  }
  return least;
}

std::size_t Pool::ready_count() const {
  std::size_t n = 0;
  for (const auto& c : connections_) n += c->ready() ? 1 : 0;
  return n;
}

std::string Pool::unavailable_reason() const {
  return connections_.empty() ? "no connections configured" : connections_.front()->last_error();
}

}  // namespace frontcache::upstream
