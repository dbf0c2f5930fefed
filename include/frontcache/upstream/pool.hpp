// A worker's upstream connections: `connections_per_worker` pipelined connections shared by
// every session of that worker. A session sticks to one connection while it has requests in
// flight (so its commands run upstream in the order it sent them) and may move to another when
// it has none (pick()).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "frontcache/upstream/connection.hpp"

namespace frontcache::upstream {

class Pool {
 public:
  Pool(boost::asio::io_context& io, const Settings& settings, std::size_t connections);

  void start();
  void stop();

  // The ready connection to send on, or null when none is ready: the first (in order) with at
  // most kBatchSlack more requests in flight than the least loaded one. Requests of many
  // clients then reach Redis in one write on one connection (fewer reads for Redis, fewer sends
  // here), and the next connections take over when it falls behind (a long reply being read).
  Connection* pick();
  // The ready connection with the fewest requests in flight (the first of equals), or null.
  Connection* least_loaded();
  static constexpr std::size_t kBatchSlack = 128;
  std::size_t size() const { return connections_.size(); }
  std::size_t ready_count() const;
  Connection& at(std::size_t i) { return *connections_[i]; }
  // Why no connection is ready, for "-ERR upstream unavailable (...)".
  std::string unavailable_reason() const;

 private:
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace frontcache::upstream
