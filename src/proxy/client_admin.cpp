// CLIENT LIST and CLIENT KILL over this instance's sessions on every worker, and CLIENT REPLY.
// Sessions belong to their worker's thread: the request is posted to each worker's io_context,
// runs there, and its result is posted back to the asking session's worker, which replies once
// every worker has answered.
#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <optional>

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
  const std::uint64_t seq = silent_ ? kNoSlot : replies_.push();
  auto& workers = worker_.shared().all_workers;
  auto gather = std::make_shared<Gather>(workers.size());
  auto& home = worker_.io();
  auto weak = weak_from_this();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker* w = workers[i];
    boost::asio::post(w->io(), [w, i, gather, weak, seq, &home] {
      std::string text;
      for (const Session* s : w->sessions()) text += s->describe() + "\n";
      boost::asio::post(home, [i, gather, weak, seq, text = std::move(text)]() mutable {
        gather->parts[i] = std::move(text);
        if (--gather->left != 0) return;
        auto self = weak.lock();
        if (!self || seq == kNoSlot) return;
        std::string all;
        for (const auto& part : gather->parts) all += part;
        self->replies_.complete(seq, resp::bulk_reply(all));
        self->wake_writer();
      });
    });
  }
}

// CLIENT KILL ip:port (old form: +OK or "No such client"), or CLIENT KILL <filter value> ...
// with ID, ADDR, LADDR, USER, SKIPME (new form: the number of clients killed).
void Session::client_kill(Args args) {
  if (args.size() < 3) return reply(resp::wrong_arity_error("client|kill"));
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
  const std::uint64_t seq = silent_ ? kNoSlot : replies_.push();
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
        if (seq != kNoSlot) {
          if (old_form) {
            self->replies_.complete(seq, gather->killed > 0
                                             ? std::string(resp::kOk)
                                             : resp::error_reply("ERR No such client"));
          } else {
            self->replies_.complete(seq,
                                    resp::integer_reply(static_cast<long long>(gather->killed)));
          }
        }
        if (gather->kill_self) {
          self->read_done_ = true;
          self->read_signal_.cancel();
          boost::system::error_code ignored;
          self->socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_receive, ignored);
        }
        self->wake_writer();
      });
    });
  }
}

void Session::client_reply(Args args) {
  if (args.size() != 3) return reply(resp::wrong_arity_error("client|reply"));
  if (iequals(args[2], "ON")) {
    reply_off_ = false;
    silent_ = false;
    return reply(resp::kOk);
  }
  if (iequals(args[2], "OFF")) {
    reply_off_ = true;
    silent_ = true;
    return;
  }
  if (iequals(args[2], "SKIP")) {
    skip_next_ = true;
    silent_ = true;
    return;
  }
  reply_error("ERR syntax error");
}

}  // namespace frontcache::proxy
