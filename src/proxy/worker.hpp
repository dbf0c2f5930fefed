// One worker thread: its io_context, its SO_REUSEPORT listeners (plain and TLS), the sessions it
// accepted and the upstream connections they share. Everything here runs on the worker's own
// thread.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fill_hints.hpp"
#include "frontcache/cache/rules.hpp"
#include "frontcache/upstream/dedicated.hpp"
#include "frontcache/upstream/pool.hpp"
#include "shared.hpp"

namespace boost::asio::ssl {
class context;
}

namespace frontcache::proxy {

class ClientConnection;
class Session;
class ClusterClient;

// The settings of every upstream connection (shared, pinned, subscriber, probe), TLS included.
// protocol 3: the handshake sends HELLO 3 (the pool that serves RESP3 clients).
upstream::Settings upstream_settings(const Shared& shared, const config::Config& config,
                                     int protocol = 2);

class Worker {
 public:
  Worker(Shared& shared, std::size_t index);
  ~Worker();

  // Opens the plain or the TLS listening socket; throws std::runtime_error when it cannot.
  void bind(const boost::asio::ip::tcp::endpoint& endpoint, bool tls);
  // Thread-safe: the TLS context for connections accepted from now on (at startup and after a
  // certificate reload); connections already accepted keep theirs.
  void set_tls_context(std::shared_ptr<boost::asio::ssl::context> context);
  void start();
  // Thread-safe: stops accepting and drains: every session stops reading, writes the replies
  // to the requests it already took, then closes; the upstream connections close last.
  void stop();
  void join();
  // Ends the event loop now, abandoning whatever is still running (after a grace period).
  void force_stop() { io_.stop(); }
  bool finished() const { return finished_.load(); }

  boost::asio::io_context& io() { return io_; }
  Shared& shared() { return shared_; }
  // The config in effect on this worker. Worker thread only; do not hold the reference across
  // a co_await (a reload may replace it meanwhile): read it again after resuming.
  const config::Config& config() const { return *config_; }
  // Thread-safe: makes `config` this worker's config (on its own thread).
  void apply_config(std::shared_ptr<const config::Config> config);
  // Every user's permissions under config(). Worker thread only.
  const AccessControl& access() const { return *access_; }
  // The L1 rules in effect on this worker (null without an L1).
  const std::shared_ptr<const cache::RuleSet>& rules() const { return rules_; }
  // The shared upstream connections of a protocol: RESP2 clients' requests go over RESP2
  // connections, RESP3 clients' over connections that said HELLO 3, so that every reply is the
  // one Redis gives that client.
  upstream::Pool& pool(int protocol = 2) { return protocol == 3 ? pool3_ : pool_; }
  // Cluster mode: the connections to every master and the slot map (null in standalone mode,
  // and before start()).
  ClusterClient* cluster() const { return cluster_.get(); }
  std::size_t index() const { return index_; }

  // The time of the requests being dispatched, read once per batch instead of several times
  // per request: ClientConnection::process() calls tick() before a batch of requests and after
  // every kRequestsPerTick of them, so it is never more than that many requests old.
  static constexpr unsigned kRequestsPerTick = 16;
  std::chrono::steady_clock::time_point now() const { return now_; }
  void tick();
  // An L1 hit was answered: its duration, from the last tick() to the next one (dispatch to
  // reply, with the requests before it in the batch), is observed then.
  void count_hit() { ++hits_since_tick_; }
  // After a batch: observes its hits' duration (one clock read, only when there were hits).
  void end_batch() {
    if (hits_since_tick_ > 0) tick();
  }
  // Which keys' last fill read nil (fill_hints.hpp).
  FillHints& fill_hints() { return fill_hints_; }

  // Replies completed outside their connection's read batch (upstream replies, messages of
  // other clients): the connection is written once the current handler returns, in one write
  // for all of its ready replies, instead of waking its writer per reply. forget_flush(): the
  // connection goes away before that.
  void defer_flush(ClientConnection* connection);
  void forget_flush(ClientConnection* connection);

  // Sessions of this worker, for CLIENT LIST and shutdown. Returns the position for remove().
  std::list<Session*>::iterator add(Session* session);
  void remove(std::list<Session*>::iterator it);
  const std::list<Session*>& sessions() const { return sessions_; }
  // Thread-safe: hands a tracking message to client `id` of this worker (on its thread).
  void deliver_tracking(std::uint64_t id, std::shared_ptr<Invalidation> message);
  Session* find(std::uint64_t id) const;

  // Keys written through this worker, published on the invalidation channel once per event
  // loop turn (many writes, one PUBLISH). Only with `invalidation.tracking: off`: with CLIENT
  // TRACKING, Redis itself tells every instance about every write.
  void publish(std::span<const std::string_view> keys);
  void publish_all();
  // Reply bytes queued for this worker's clients (ClientConnection::account), counted against
  // limits.max_output_memory, the budget of all clients of the process together.
  void charge_output(std::size_t bytes);
  void release_output(std::size_t bytes);
  bool output_over_budget() const;
  // Over budget: closes this worker's client with the most pending bytes if this worker holds
  // more than its share, else asks the other workers to do so.
  void shed_output();
  // Dedicated upstream connections for pinned sessions: at most upstream.max_pinned_per_worker
  // held (in use or idle). Null when the limit is reached; the caller replies an error.
  // `host`/`port`/`node_id` (cluster mode): a master's (its id checked on connect); empty:
  // upstream.address.
  std::shared_ptr<upstream::DedicatedConnection> acquire_pinned(const std::string& host = {},
                                                                std::uint16_t port = 0,
                                                                const std::string& node_id = {});
  // Gives a connection back: when `reusable` (nothing in flight on it) it is RESET, logged in
  // again and kept idle for the next session once every reply came back as expected; closed
  // otherwise.
  void release_pinned(std::shared_ptr<upstream::DedicatedConnection> connection, bool reusable);
  std::size_t pinned_in_use() const { return pinned_held_ - idle_pinned_.size(); }

 private:
  boost::asio::awaitable<void> accept_loop(bool tls);
  boost::asio::awaitable<void> idle_loop();
  static boost::asio::awaitable<void> close_pool_when_drained(Worker* self);
  void schedule_publish();
  void flush_publish();

  Shared& shared_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const cache::RuleSet> rules_;
  std::shared_ptr<const AccessControl> access_;
  std::size_t index_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
  std::uint64_t hits_since_tick_ = 0;
  FillHints fill_hints_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tls_acceptor_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  boost::asio::steady_timer idle_timer_;
  upstream::Pool pool_;
  upstream::Pool pool3_;
  std::shared_ptr<ClusterClient> cluster_;
  std::list<Session*> sessions_;
  std::unordered_map<std::uint64_t, Session*> by_id_;
  std::string publish_body_;  // <len>:<key>... of the keys waiting to be published
  bool publish_all_ = false;
  std::vector<ClientConnection*> deferred_flush_;
  bool flush_posted_ = false;
  bool publish_scheduled_ = false;
  upstream::Settings upstream_settings_;
  std::vector<std::shared_ptr<upstream::DedicatedConnection>> idle_pinned_;
  std::size_t pinned_held_ = 0;
  std::vector<std::shared_ptr<upstream::DedicatedConnection>> recycling_;  // being RESET
  std::size_t output_bytes_ = 0;  // this worker's share of Shared::output_bytes
  bool shed_posted_ = false;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace frontcache::proxy
