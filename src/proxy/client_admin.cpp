// CLIENT LIST and CLIENT KILL over this instance's sessions on every worker.
// Sessions belong to their worker's thread: the request is posted to each worker's io_context,
// runs there, and its result is posted back to the asking session's worker, which replies once
// every worker has answered.
#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <optional>

#include "frontcache/resp/encode.hpp"
#include "frontcache/resp/errors.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

using command::iequals;

namespace {

struct KillFilter {
  std::optional<std::uint64_t> id;
  std::optional<std::string> addr, laddr, user;
  bool skipme = true;
  std::uint64_t self = 0;

  bool matches(const Session& s) const {
    // A client killed a moment ago is gone for Redis (freeClient runs at once), though its
    // session is still winding down here: a second KILL must not count it again.
    if (s.closed()) return false;
    if (skipme && s.id() == self) return false;
    if (id && s.id() != *id) return false;
    if (addr && s.addr() != *addr) return false;
    if (laddr && s.laddr() != *laddr) return false;
    if (user && s.user() != *user) return false;
    return true;
  }
};

struct Gather {
  explicit Gather(std::size_t n) : parts(n), left(n) {}
  std::vector<std::string> parts;
  std::size_t left;
  std::size_t killed = 0;
  bool kill_self = false;
};

}  // namespace

void Session::client_list() {
  const std::uint64_t seq = take_slot(silent_);
  auto& workers = worker_.shared().all_workers;
  auto gather = std::make_shared<Gather>(workers.size());
  auto& home = worker_.io();
  auto weak = weak_from_this();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker* w = workers[i];
    // Our own line as of now: the commands pipelined behind this one run before the other
    // workers answer, and Redis shows CLIENT LIST as the last command of the client running it.
    boost::asio::post(w->io(), [w, i, gather, weak, seq, &home, me = this, mine = describe()] {
      std::string text;
      for (Session* s : w->sessions()) {
        if (s == me) {
          text += mine + "\n";
        } else if (!s->closed()) {  // killed or gone: Redis lists it no more
          text += s->describe() + "\n";
        }
      }
      boost::asio::post(home, [i, gather, weak, seq, text = std::move(text)]() mutable {
        gather->parts[i] = std::move(text);
        if (--gather->left != 0) return;
        auto self = weak.lock();
        if (!self) return;
        std::string all;
        for (const auto& part : gather->parts) all += part;
        self->conn_.complete(seq, self->conn_.context(seq).silent
                                      ? ""
                                      : resp::verbatim_reply(all, "txt", self->protocol()));
      });
    });
  }
}

// CLIENT KILL ip:port (old form: +OK or "No such client"), or CLIENT KILL <filter value> ...
// with ID, ADDR, LADDR, USER, SKIPME (new form: the number of clients killed).
void Session::client_kill(Args args) {
  KillFilter filter;
  filter.self = id_;
  const bool old_form = args.size() == 3;
  if (old_form) {
    filter.addr = std::string(args[2]);
    filter.skipme = false;
  } else {
    if ((args.size() - 2) % 2 != 0) return reply_error("ERR syntax error");
    for (std::size_t i = 2; i < args.size(); i += 2) {
      const std::string_view option = args[i];
      const std::string_view value = args[i + 1];
      if (iequals(option, "ID")) {
        long long id = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
        if (ec != std::errc() || p != value.data() + value.size() || id <= 0) {
          return reply_error("ERR client-id should be greater than 0");
        }
        filter.id = static_cast<std::uint64_t>(id);
      } else if (iequals(option, "ADDR")) {
        filter.addr = std::string(value);
      } else if (iequals(option, "LADDR")) {
        filter.laddr = std::string(value);
      } else if (iequals(option, "USER")) {
        if (!user_exists(value)) return reply_error(fmt::format("ERR No such user '{}'", value));
        filter.user = std::string(value);
      } else if (iequals(option, "SKIPME")) {
        if (iequals(value, "YES")) {
          filter.skipme = true;
        } else if (iequals(value, "NO")) {
          filter.skipme = false;
        } else {
          return reply_error("ERR syntax error");
        }
      } else if (iequals(option, "TYPE")) {
        if (!iequals(value, "NORMAL") && !iequals(value, "PUBSUB") && !iequals(value, "MASTER") &&
            !iequals(value, "REPLICA") && !iequals(value, "SLAVE")) {
          return reply_error(fmt::format("ERR Unknown client type '{}'", value));
        }
        if (!iequals(value, "NORMAL")) filter.id = 0;  // none of those here
      } else {
        return reply_error("ERR syntax error");
      }
    }
  }
  const std::uint64_t seq = take_slot(silent_);
  auto& workers = worker_.shared().all_workers;
  auto gather = std::make_shared<Gather>(workers.size());
  auto& home = worker_.io();
  auto weak = weak_from_this();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker* w = workers[i];
    boost::asio::post(w->io(), [w, gather, weak, seq, filter, old_form, &home] {
      std::size_t killed = 0;
      bool self_killed = false;
      for (Session* s : std::list<Session*>(w->sessions())) {
        if (!filter.matches(*s)) continue;
        ++killed;
        if (s->id() == filter.self) {
          self_killed = true;  // closed after its reply, as Redis does
        } else {
          s->close();
        }
      }
      boost::asio::post(home, [gather, weak, seq, killed, self_killed, old_form] {
        gather->killed += killed;
        gather->kill_self = gather->kill_self || self_killed;
        if (--gather->left != 0) return;
        auto self = weak.lock();
        if (!self) return;
        std::string out;
        if (old_form) {
          out =
              gather->killed > 0 ? std::string(resp::kOk) : resp::error_reply("ERR No such client");
        } else {
          out = resp::integer_reply(static_cast<long long>(gather->killed));
        }
        self->conn_.complete(seq, self->conn_.context(seq).silent ? "" : out);
        if (gather->kill_self) self->conn_.stop_reading();
      });
    });
  }
}

// CLIENT UNBLOCK <id> [TIMEOUT|ERROR], with Redis's checks in Redis's order. Client `id` (the
// proxy's) runs its blocking command on a dedicated connection: Redis unblocks that connection,
// named by its own id, and answers :1, or :0 when it was not blocked (any more). The UNBLOCK
// goes on a shared connection (in cluster mode, to the node of the dedicated connection), in no
// order with the dedicated connection's later commands, so that connection never serves another
// session afterwards (it could unblock theirs).
void Session::client_unblock(Args args) {
  if (args.size() > 4) {
    return reply_error(fmt::format(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        args[1].substr(0, 128)));
  }
  if (args.size() == 4 && !iequals(args[3], "TIMEOUT") && !iequals(args[3], "ERROR")) {
    return reply_error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
  }
  long long id = 0;
  auto [p, ec] = std::from_chars(args[2].data(), args[2].data() + args[2].size(), id);
  if (ec != std::errc() || p != args[2].data() + args[2].size()) {
    return reply_error("ERR value is not an integer or out of range");
  }
  const long long worker =
      id > 0 ? worker_.shared().tracking.worker_of(static_cast<std::uint64_t>(id)) : -1;
  if (worker < 0) return reply(resp::integer_reply(0));
  const std::uint64_t seq = take_slot(silent_);
  const std::string reason = args.size() == 4 ? std::string(args[3]) : "";
  Worker* w = worker_.shared().all_workers[static_cast<std::size_t>(worker)];
  auto& home = worker_.io();
  auto weak = weak_from_this();
  boost::asio::post(w->io(), [w, id, weak, seq, reason, &home] {
    UnblockTarget target;
    for (Session* s : w->sessions()) {
      if (s->id() == static_cast<std::uint64_t>(id)) target = s->unblock_target();
    }
    boost::asio::post(home, [weak, seq, target, reason] {
      auto self = weak.lock();
      if (!self || !self->conn_.pending(seq)) return;
      // In cluster mode, this worker's connections to the same node (a master: pins go to
      // masters; one that is not any more has unblocked its blocked clients itself).
      ClusterClient::Node* node = nullptr;
      if (target.id != 0 && self->worker_.cluster() != nullptr) {
        for (ClusterClient::Node* n : self->worker_.cluster()->masters()) {
          if (n->host == target.host && n->port == target.port) node = n;
        }
      }
      if (target.id == 0 || (self->worker_.cluster() != nullptr && node == nullptr)) {
        return self->conn_.complete(
            seq, self->conn_.context(seq).silent ? std::string() : resp::integer_reply(0));
      }
      const std::string upstream_id = std::to_string(target.id);
      std::vector<std::string_view> unblock = {"CLIENT", "UNBLOCK", upstream_id};
      if (!reason.empty()) unblock.push_back(reason);
      std::string request;
      resp::encode_command(request, unblock);
      // Like SCRIPT KILL: no SELECT, and not behind whatever fills the busiest connection.
      const bool sent = node != nullptr ? self->send_to_node(*node, seq, request)
                                        : self->send_busy_safe(seq, request);
      if (!sent) self->conn_.complete(seq, self->unavailable_error());
    });
  });
}

Session::UnblockTarget Session::unblock_target() {
  if (pinned_ == nullptr || !blocked()) return {};
  const std::uint64_t upstream_id = pinned_->upstream_id();
  if (upstream_id != 0) pinned_unblocked_ = true;
  return {upstream_id, pinned_->host(), pinned_->port()};
}

}  // namespace frontcache::proxy
