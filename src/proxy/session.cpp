#include "session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "frontcache/metrics/log_limit.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;

Session::Session(Worker& worker, asio::ip::tcp::socket socket,
                 std::shared_ptr<asio::ssl::context> tls)
    : worker_(worker),
      conn_(worker, std::move(socket), *this, std::move(tls)),
      id_(worker.shared().next_client_id.fetch_add(1, std::memory_order_relaxed)),
      created_(std::chrono::steady_clock::now()),
      last_command_(created_),
      auth_timer_(worker.io()) {
  state_.authenticated = !worker.config().auth.required();
  conn_.parser_.set_authenticated(state_.authenticated);
}

Session::~Session() = default;

// Both connection loops end before the session is released; `self` (a parameter, so it lives
// in the coroutine frame) keeps it alive until then.
asio::awaitable<void> Session::run(std::shared_ptr<Session> self) { co_await self->conn_.run(); }

void Session::start() {
  auto self = shared_from_this();
  registration_ = worker_.add(this);
  spdlog::debug("client {} connected from {}", id_, addr());
  asio::co_spawn(worker_.io(), run(self), [self](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        static metrics::LogLimit log_limit;
        log_limit.warn("client {} session ended by an exception: {}", self->id_, ex.what());
      }
    }
    self->close();
    self->worker_.remove(self->registration_);
    self->worker_.shared().stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
    spdlog::debug("client {} disconnected", self->id_);
  });
}

void Session::close() {
  if (conn_.closed()) return;
  conn_.close();
  auth_timer_.cancel();
  // Whatever the dedicated connection still owes goes nowhere now: it cannot be reused.
  release_pinned(pinned_requests_.empty());
  pinned_requests_.clear();
}

void Session::drain() { conn_.drain(); }

// The client is gone. Redis frees a blocked client at once, so a dedicated connection with a
// BLPOP in flight is closed now rather than when the BLPOP times out.
void Session::on_client_gone() { close(); }

// A blocking command in flight on the dedicated connection would take an element (or wait for
// one) for a client that is gone: the session closes at once and its connection with it.
bool Session::answer_after_eof() {
  for (const std::uint64_t seq : pinned_requests_) {
    if (seq < kInternalHello && conn_.context(seq).blocking) return false;
  }
  return true;
}

bool Session::holding() const {
  return holding_for_joined_ || pin_wait_ || barrier_ || reset_pending_ || auth_wait_ ||
         cluster_wait_;
}

// Ends the holds whose reason is over and lets the reader go on.
void Session::maybe_resume() {
  if (holding_for_joined_ && joined_pending_ == 0) holding_for_joined_ = false;
  if (pin_wait_ && in_upstream_ == 0 && joined_pending_ == 0) pin_wait_ = false;
  if (barrier_ && pinned_requests_.empty()) barrier_ = false;
  if (cluster_wait_ && in_upstream_ == 0) cluster_wait_ = false;
  conn_.resume_reading();
}

}  // namespace frontcache::proxy
