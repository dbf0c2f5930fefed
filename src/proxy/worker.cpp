#include "worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "cluster_client.hpp"
#include "cluster_topology.hpp"
#include "frontcache/invalidation/payload.hpp"
#include "frontcache/metrics/log_limit.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "session.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

}  // namespace

upstream::Settings upstream_settings(const Shared& shared, const config::Config& c, int protocol) {
  upstream::Settings s;
  s.host = c.upstream.address.host;
  s.port = c.upstream.address.port;
  s.username = c.upstream.username;
  s.password = c.upstream.password;
  s.connect_timeout = c.upstream.connect_timeout;
  s.command_timeout = c.upstream.command_timeout;
  s.protocol = protocol;
  s.tls = shared.upstream_tls;
  return s;
}

namespace {

// The shared connections' settings: those of every upstream connection, plus the data tracking
// (dedicated connections carry a client's own state; their reads are never cached).
upstream::Settings shared_settings(const Shared& shared, const config::Config& c, int protocol) {
  upstream::Settings s = upstream_settings(shared, c, protocol);
  s.tracking = shared.data_tracking;
  return s;
}

}  // namespace

Worker::Worker(Shared& shared, std::size_t index)
    : shared_(shared),
      config_(shared.config()),
      index_(index),
      // One thread runs this context and every socket and timer on it is used from that thread
      // only (other threads post to it): the reactor's per-descriptor locks are not needed.
      // Scheduler and registration locking stay on, for those posts.
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      acceptor_(io_),
      tls_acceptor_(io_),
      idle_timer_(io_),
      pool_(io_, shared_settings(shared, *config_, 2), config_->upstream.connections_per_worker),
      pool3_(io_, shared_settings(shared, *config_, 3), config_->upstream.connections_per_worker),
      upstream_settings_(upstream_settings(shared, *config_)) {}

Worker::~Worker() { join(); }

void Worker::bind(const tcp::endpoint& endpoint, bool tls) {
  tcp::acceptor& acceptor = tls ? tls_acceptor_ : acceptor_;
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("{} {}:{}: {}", tls ? "tls.listen" : "listen",
                                         endpoint.address().to_string(), endpoint.port(),
                                         ec.message()));
  }
}

void Worker::set_tls_context(std::shared_ptr<asio::ssl::context> context) {
  asio::post(io_,
             [this, context = std::move(context)]() mutable { tls_context_ = std::move(context); });
}

void Worker::tick() {
  const auto now = std::chrono::steady_clock::now();
  if (hits_since_tick_ > 0) {
    shared_.latency.hit.observe(index_, now - now_, hits_since_tick_);
    hits_since_tick_ = 0;
  }
  now_ = now;
}

void Worker::start() {
  if (shared_.l1) rules_ = shared_.l1->rules();
  access_ = shared_.access_for(config_);
  if (shared_.topology != nullptr) {
    // Cluster mode: connections per master, opened as the slot map names them.
    cluster_ = std::make_shared<ClusterClient>(
        io_, upstream_settings_, config_->upstream.connections_per_worker, shared_.resp3,
        *shared_.topology, shared_.l1 ? shared_.l1->slots() : nullptr);
    shared_.topology->add_listener([this](std::shared_ptr<const cluster::SlotMap> map) {
      asio::post(io_, [this, map = std::move(map)]() mutable { cluster_->apply(std::move(map)); });
    });
  } else {
    pool_.start();
    if (shared_.resp3) pool3_.start();
  }
  asio::co_spawn(io_, idle_loop(), [index = index_](std::exception_ptr e) {
    if (e) spdlog::error("worker {}: idle sweep ended by an exception", index);
  });
  for (const bool tls : {false, true}) {
    if (!(tls ? tls_acceptor_ : acceptor_).is_open()) continue;
    asio::co_spawn(io_, accept_loop(tls), [index = index_](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("worker {} accept loop ended: {}", index, ex.what());
      }
    });
  }
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("worker {} stopped by an exception: {}", index_, e.what());
    }
    finished_ = true;
  });
}

void Worker::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    tls_acceptor_.close(ignored);
    idle_timer_.cancel();
    stopping_ = true;
    for (Session* s : std::list<Session*>(sessions_)) s->drain();
    for (auto& c : idle_pinned_) c->stop();
    for (auto& c : std::vector(recycling_)) c->stop();  // their callbacks close them
    pinned_held_ -= idle_pinned_.size();
    idle_pinned_.clear();
    asio::co_spawn(io_, close_pool_when_drained(this), [index = index_](std::exception_ptr e) {
      if (e) spdlog::error("worker {}: drain ended by an exception", index);
    });
  });
}

void Worker::apply_config(std::shared_ptr<const config::Config> config) {
  asio::post(io_, [this, config = std::move(config)]() mutable {
    config_ = std::move(config);
    access_ = shared_.access_for(config_);
    if (shared_.l1) rules_ = shared_.l1->rules();
  });
}

// Sessions that drained have removed themselves; their requests in flight upstream are answered
// by then, so the pool can close. Past shutdown_timeout the server stops the loop instead.
asio::awaitable<void> Worker::close_pool_when_drained(Worker* self) {
  asio::steady_timer poll(self->io_);
  while (!self->sessions_.empty()) {
    poll.expires_after(std::chrono::milliseconds(5));
    co_await poll.async_wait(kNoThrow);
  }
  self->pool_.stop();
  self->pool3_.stop();
  if (self->cluster_) self->cluster_->stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

std::list<Session*>::iterator Worker::add(Session* session) {
  by_id_[session->id()] = session;
  shared_.tracking.add_client(session->id(), index_);
  return sessions_.insert(sessions_.end(), session);
}

void Worker::remove(std::list<Session*>::iterator it) {
  by_id_.erase((*it)->id());
  shared_.tracking.remove_client((*it)->id());
  sessions_.erase(it);
}

Session* Worker::find(std::uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

void Worker::deliver_tracking(std::uint64_t id, std::shared_ptr<Invalidation> message) {
  asio::post(io_, [this, id, message = std::move(message)] {
    if (Session* s = find(id)) s->on_tracking(*message, /*redirected=*/false);
  });
}

namespace {

// Replies to our PUBLISHes are not needed by anyone.
class DiscardReplies final : public upstream::ReplyTarget {
 public:
  void on_reply(std::uint64_t, std::string_view, resp::ReplyKind) override {}
};

constexpr std::size_t kMaxPublishBody = 64 * 1024;
constexpr std::size_t kMaxIdlePinned = 16;  // dedicated connections kept for reuse

}  // namespace

void Worker::publish(std::span<const std::string_view> keys) {
  if (config_->invalidation.tracking != config::TrackingMode::Off) return;
  for (auto k : keys) {
    fmt::format_to(std::back_inserter(publish_body_), "{}:", k.size());
    publish_body_ += k;
  }
  if (publish_body_.size() >= kMaxPublishBody) flush_publish();
  schedule_publish();
}

void Worker::publish_all() {
  if (config_->invalidation.tracking != config::TrackingMode::Off) return;
  publish_all_ = true;
  schedule_publish();
}

void Worker::defer_flush(ClientConnection* connection) {
  deferred_flush_.push_back(connection);
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    // A flush writes and wakes writers (posted): no connection is destroyed meanwhile. By index:
    // one queued during the loop is flushed in it too.
    for (std::size_t i = 0; i < deferred_flush_.size(); ++i) deferred_flush_[i]->deferred_flush();
    deferred_flush_.clear();
  });
}

void Worker::forget_flush(ClientConnection* connection) { std::erase(deferred_flush_, connection); }

void Worker::schedule_publish() {
  if (publish_scheduled_) return;
  publish_scheduled_ = true;
  asio::post(io_, [this] {
    publish_scheduled_ = false;
    flush_publish();
  });
}

void Worker::flush_publish() {
  if (publish_body_.empty() && !publish_all_) return;
  L1& l1 = *shared_.l1;
  std::string payload;
  if (publish_all_) {
    invalidation::encode_all(payload, l1.instance());
  } else {
    invalidation::encode_keys(payload, l1.instance(), {});
    payload += publish_body_;
  }
  publish_body_.clear();
  publish_all_ = false;
  static const auto discard = std::make_shared<DiscardReplies>();
  // In a cluster, PUBLISH reaches every node's subscribers from any node.
  upstream::Connection* conn = pool_.pick();
  if (cluster_ != nullptr) {
    auto* node = cluster_->owner(ClusterClient::kAnySlot, 0);
    conn = node != nullptr ? cluster_->connection(*node, 0, 2) : nullptr;
  }
  std::string request;
  const std::string_view args[] = {"PUBLISH", config_->invalidation.channel, payload};
  resp::encode_command(request, args);
  if (conn == nullptr || !conn->send(-1, request, discard, 0)) {
    l1.stats().publish_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  l1.stats().published.fetch_add(1, std::memory_order_relaxed);
}

// limits.idle_timeout: once a second, close clients with nothing in flight that sent nothing
// for that long (as Redis's `timeout`).
asio::awaitable<void> Worker::idle_loop() {
  for (;;) {
    idle_timer_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await idle_timer_.async_wait(kNoThrow);
    if (ec || stopping_) co_return;
    const auto limit = config().limits.idle_timeout;
    if (limit.count() == 0) continue;
    const auto now = std::chrono::steady_clock::now();
    for (Session* s : std::list<Session*>(sessions_)) {
      if (s->idle_for(now) >= limit) {
        shared_.stats.idle_disconnects.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("client {} closed: idle longer than limits.idle_timeout", s->id());
        s->close();
      }
    }
  }
}

std::shared_ptr<upstream::DedicatedConnection> Worker::acquire_pinned(const std::string& host,
                                                                      std::uint16_t port,
                                                                      const std::string& node_id) {
  upstream::Settings settings = upstream_settings_;
  if (!host.empty()) {
    settings.host = host;
    settings.port = port;
    settings.node_id = node_id;
  }
  for (auto it = idle_pinned_.end(); it != idle_pinned_.begin();) {
    --it;
    if ((*it)->alive() && ((*it)->host() != settings.host || (*it)->port() != settings.port ||
                           (*it)->node_id() != settings.node_id)) {
      continue;  // another cluster node's
    }
    auto c = std::move(*it);
    idle_pinned_.erase(it);
    if (c->alive()) return c;
    --pinned_held_;
  }
  if (pinned_held_ >= config_->upstream.max_pinned_per_worker && !idle_pinned_.empty()) {
    // Idle ones to other cluster nodes make room.
    idle_pinned_.front()->stop();
    idle_pinned_.erase(idle_pinned_.begin());
    --pinned_held_;
  }
  if (pinned_held_ >= config_->upstream.max_pinned_per_worker) {
    shared_.stats.pinned_refused.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  ++pinned_held_;
  shared_.stats.pinned_opened.fetch_add(1, std::memory_order_relaxed);
  auto c = std::make_shared<upstream::DedicatedConnection>(io_, settings);
  c->start();
  return c;
}

void Worker::release_pinned(std::shared_ptr<upstream::DedicatedConnection> connection,
                            bool reusable) {
  if (!connection) return;
  connection->detach();
  if (!reusable || stopping_ || !connection->alive() ||
      idle_pinned_.size() + recycling_.size() >= kMaxIdlePinned) {
    connection->stop();
    --pinned_held_;
    return;
  }
  // Reused only once RESET (and our AUTH) came back as expected: a connection whose previous
  // session was subscribed, monitoring or in a transaction is fresh again, or it is closed.
  upstream::DedicatedConnection* raw = connection.get();
  recycling_.push_back(std::move(connection));
  raw->recycle([this, raw](bool clean) {
    auto it = std::find_if(recycling_.begin(), recycling_.end(),
                           [raw](const auto& c) { return c.get() == raw; });
    if (it == recycling_.end()) return;
    auto done = std::move(*it);
    recycling_.erase(it);
    if (clean && !stopping_ && idle_pinned_.size() < kMaxIdlePinned) {
      idle_pinned_.push_back(std::move(done));
      return;
    }
    if (!clean) shared_.stats.pinned_recycle_failures.fetch_add(1, std::memory_order_relaxed);
    done->stop();
    --pinned_held_;
  });
}

void Worker::charge_output(std::size_t bytes) {
  output_bytes_ += bytes;
  shared_.output_bytes.fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
}

void Worker::release_output(std::size_t bytes) {
  output_bytes_ -= bytes;
  shared_.output_bytes.fetch_sub(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
}

bool Worker::output_over_budget() const {
  const std::size_t budget = config_->limits.max_output_memory;
  return budget > 0 &&
         shared_.output_bytes.load(std::memory_order_relaxed) > static_cast<std::int64_t>(budget);
}

void Worker::shed_output() {
  const std::size_t share = config_->limits.max_output_memory / shared_.workers;
  while (output_over_budget() && output_bytes_ > share) {
    Session* largest = nullptr;
    for (Session* s : sessions_) {
      if (largest == nullptr || s->output_bytes() > largest->output_bytes()) largest = s;
    }
    if (largest == nullptr || largest->output_bytes() == 0) break;
    shared_.stats.output_budget_disconnects.fetch_add(1, std::memory_order_relaxed);
    static metrics::LogLimit log_limit;
    log_limit.warn(
        "client {} ({}) closed: {} reply bytes pending while all clients together exceed "
        "limits.max_output_memory",
        largest->id(), largest->addr(), largest->output_bytes());
    largest->close();
  }
  if (!output_over_budget() || shed_posted_) return;
  // The bytes are on other workers: each sheds its own share.
  shed_posted_ = true;
  for (Worker* w : shared_.all_workers) {
    if (w == this) continue;
    asio::post(w->io_, [w] { w->shed_output(); });
  }
  asio::post(io_, [this] { shed_posted_ = false; });
}

asio::awaitable<void> Worker::accept_loop(bool tls) {
  tcp::acceptor& acceptor = tls ? tls_acceptor_ : acceptor_;
  asio::steady_timer backoff(io_);
  static metrics::LogLimit accept_failures;  // a client can exhaust our file descriptors
  static metrics::LogLimit clients_refused;
  // Give the upstream connections their first connect before serving, so the first clients
  // (already queued in the listen backlog) do not get "upstream unavailable" at startup.
  const auto give_up = std::chrono::steady_clock::now() + config().upstream.connect_timeout;
  auto ready = [this] { return cluster_ ? cluster_->any_ready() : pool_.ready_count() > 0; };
  while (!ready() && std::chrono::steady_clock::now() < give_up) {
    backoff.expires_after(std::chrono::milliseconds(5));
    co_await backoff.async_wait(kNoThrow);
  }
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on a listener that stays readable.
      accept_failures.warn("worker {} accept failed: {} (backing off)", index_, ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    shared_.stats.total_connections.fetch_add(1, std::memory_order_relaxed);
    const auto clients = shared_.stats.connected_clients.fetch_add(1, std::memory_order_relaxed);
    if (static_cast<std::size_t>(clients) >= config_->limits.max_clients) {
      shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
      shared_.stats.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
      boost::system::error_code ignored;
      const auto peer = socket.remote_endpoint(ignored);
      clients_refused.warn("connection from {} refused: limits.max_clients ({}) reached",
                           peer.address().to_string(), config_->limits.max_clients);
      socket.non_blocking(true, ignored);
      // A TLS client could not read the error before a handshake: it is just closed.
      if (!tls) socket.write_some(asio::buffer(kFull), ignored);
      socket.close(ignored);
      continue;
    }
    if (tls && !tls_context_) {  // never plaintext on the TLS port
      boost::system::error_code ignored;
      socket.close(ignored);
      shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    std::make_shared<Session>(*this, std::move(socket), tls ? tls_context_ : nullptr)->start();
  }
}

}  // namespace frontcache::proxy
