// One client of the proxy. The session ties together what serving a Redis client takes, each
// part in its own file:
//
//   client_connection  socket I/O, parsing, reply ordering, output limits (no Redis knowledge)
//   client_state       the model of the client's Redis state (db, MULTI, subscriptions, ...)
//   router.cpp         the one place that decides: local | L1 | shared upstream | dedicated
//   cached_read.cpp    L1 lookups, fills and single-flight, MGET
//   writes.cpp         the one write path: invalidate, forward, invalidate again on the reply
//   pinned.cpp         the dedicated upstream connection: hand-off, replies, confirmed state
//   local_commands.cpp CLIENT, HELLO, AUTH, INFO, FRONTCACHE, SELECT... answered from the model
//   client_admin.cpp   CLIENT LIST / KILL across workers
//
//   socket ─► ClientConnection ─► on_request ─► classify ─┬─► local reply ────────────────┐
//                                                         ├─► L1 hit / fill ──────────────┤
//                                                         ├─► shared upstream::Connection ┤ slot
//                                                         └─► DedicatedConnection ────────┤
//   socket ◄─ ClientConnection ◄─ Replies (ordered slots) ◄───────────────────────────────┘
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth_limiter.hpp"
#include "client_connection.hpp"
#include "client_state.hpp"
#include "cluster_client.hpp"
#include "command_stats.hpp"
#include "frontcache/cache/cache.hpp"
#include "frontcache/cache/rules.hpp"
#include "frontcache/cluster/commands.hpp"
#include "frontcache/command/command_table.hpp"
#include "frontcache/resp/encode.hpp"
#include "frontcache/upstream/connection.hpp"
#include "frontcache/upstream/dedicated.hpp"
#include "permissions.hpp"
#include "request.hpp"
#include "seq_fifo.hpp"
#include "tracking.hpp"

namespace frontcache::proxy {

class Worker;

class Session : public upstream::ReplyTarget,
                public upstream::StreamTarget,
                public ClientConnection::Handler,
                public std::enable_shared_from_this<Session> {
 public:
  // `tls`: the listener's TLS context when the client came to the TLS port.
  Session(Worker& worker, boost::asio::ip::tcp::socket socket,
          std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~Session() override;

  void start();
  // Closes the connection now; replies not yet written are dropped.
  void close();
  // Graceful shutdown: reads no more requests; requests in flight (a blocked BLPOP too) are
  // answered if they complete before the server's shutdown_timeout, then the connection closes.
  void drain();

  // upstream::ReplyTarget: a reply on a shared connection; `tag` is the request's slot.
  void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) override;
  // upstream::StreamTarget: frames of the session's dedicated connection (pinned.cpp).
  void on_frame(std::string_view frame, resp::ReplyKind kind) override;
  void on_stream_closed(const std::string& reason) override;
  // ClientConnection::Handler (router.cpp). False: the request waits, unparsed, until the
  // session stops holding.
  bool on_request(std::span<const std::string_view> args, std::string_view raw) override;
  void on_empty_request() override;
  bool holding() const override;
  bool replies_bounded() const override { return pinned_ == nullptr; }
  bool answer_after_eof() override;
  OutputClass output_class() const override {
    return state_.subscribed() ? OutputClass::Pubsub : OutputClass::Normal;
  }
  void on_client_gone() override;
  // An invalidation for this client (tracking.cpp via its worker); `redirected`: it comes from
  // a client that REDIRECTs its messages here.
  void on_tracking(const Invalidation& message, bool redirected);

  std::uint64_t id() const { return id_; }
  const std::string& addr() const { return conn_.addr(); }
  // Closed (killed, or its client went away) but not yet removed from its worker's list.
  bool closed() const { return conn_.closed(); }
  const std::string& laddr() const { return conn_.laddr(); }
  const std::string& user() const { return state_.user; }
  std::size_t output_bytes() const { return conn_.buffered_bytes(); }
  // How long the client has sent nothing with nothing in flight (zero while it waits for us).
  std::chrono::steady_clock::duration idle_for(std::chrono::steady_clock::time_point now) const {
    return conn_.in_flight() > 0 ? std::chrono::steady_clock::duration::zero()
                                 : now - last_command_;
  }
  // One line of CLIENT LIST / CLIENT INFO, without the trailing newline.
  std::string describe();

 private:
  using Args = std::span<const std::string_view>;
  using Classified = command::Classified;

  // A command queued in the transaction (its +QUEUED came back, or the proxy queued it),
  // applied when EXEC's array confirms it ran.
  struct QueuedCommand {
    bool local = false;  // answered by the proxy at EXEC time (CLIENT SETNAME, AUTH...)
    command::Op op = command::Op::None;
    int db = -1;
    bool write = false;
    bool flush = false;
    bool fence = false;
    KeyList keys;
    std::vector<std::string> args;  // local commands: the request, evaluated at EXEC
  };

  static boost::asio::awaitable<void> run(std::shared_ptr<Session> self);

  // router.cpp
  void dispatch_shared(const Classified& c, Args args, std::string_view raw);
  bool must_wait_for_joined(const Classified& c) const;
  bool refused(const Classified& c, Args args, std::string& error) const;
  void count_refusal();
  bool answered_by_proxy(const Classified& c, Args args) const;
  bool switches_protocol(const Classified& c, Args args) const;
  resp::Protocol protocol() const {
    return state_.resp == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2;
  }
  // The permissions of the session's user under the worker's config (re-read after a reload).
  const Permissions& permissions();
  // The session's user changed (AUTH, HELLO AUTH, RESET): its permissions are looked up again.
  void user_changed() { permissions_ = nullptr; }
  void maybe_resume();
  // Replies known at dispatch time (local answers, refusals), honouring CLIENT REPLY.
  void reply(std::string_view bytes) {
    if (!silent_) conn_.append(bytes);
  }
  void reply_error(std::string_view message);
  std::uint64_t take_slot(bool silent);
  // A slot whose reply came from the upstream: its command's upstream count and time.
  void count_upstream(const RequestContext& ctx);

  // Shared upstream connections (router.cpp).
  void forward(std::string_view raw, Reply kind = Reply::Copy);
  void forward_busy_safe(std::string_view raw);
  bool send_busy_safe(std::uint64_t seq, std::string_view raw);  // see forward_busy_safe
  bool send_to_node(ClusterClient::Node& node, std::uint64_t seq, std::string_view raw);
  bool send_shared(std::uint64_t seq, std::string_view raw) {
    return send_shared(seq, raw, state_.db);
  }
  // In database `db`: the one the request was sent in, for a read asked again later (a SELECT
  // after it may have been answered meanwhile).
  bool send_shared(std::uint64_t seq, std::string_view raw, int db);
  upstream::Connection* upstream_connection();
  std::string unavailable_error();
  void shared_reply_done();
  void finish_shared(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind);

  // cached_read.cpp
  void read_cached(const Classified& c, Args args, std::string_view raw);
  void read_mget(Args args, std::string_view raw);
  void start_fill(std::uint64_t seq, Args args, std::string_view raw);
  void fill_reply(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind);
  void mget_reply(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind);
  void finish_mget(std::uint64_t seq);
  void joined_resolved();

  // writes.cpp: the one write path for shared and dedicated connections alike.
  // Records the keys `args` writes into `keys` and invalidates them now; returns whether
  // the command writes at all (keys, everything, or keys the proxy cannot name).
  bool before_write(const Classified& c, Args args, KeyList& keys, bool& flush, bool& fence);
  // The write's reply is in: invalidate again, tell the other instances, fence if needed.
  void after_write(const KeyList& keys, bool flush, bool fence);
  void forward_write(const Classified& c, Args args, std::string_view raw);

  // cluster_router.cpp (upstream.mode: cluster). Where a request goes in a cluster: false when
  // it was answered or fanned out there (CROSSSLOT, a split MGET, DBSIZE...); true when it goes
  // on as usual, to the master of cluster_slot_.
  bool route_cluster(const Classified& c, Args args);
  // A routing change (new map, MOVED, ASK) since this session's requests in flight were sent:
  // new ones wait for them, so a retried request is not overtaken on the slot's new owner.
  bool cluster_hold() const;
  bool send_cluster(std::uint64_t seq, std::string_view bytes);
  void cluster_fill(std::uint64_t seq, Args args, std::string_view raw);
  void cluster_mget_fetch(std::uint64_t seq, Args args, std::string_view raw);
  void fan_out(const Classified& c, Args args, cluster::Fanout kind);
  void split_cross_slot(const Classified& c, Args args, cluster::Split kind);
  void cluster_scan(Args args);
  std::string cluster_unavailable_error();
  // Pinned sessions in a cluster: the dedicated connection goes to the master of the first key
  // the session's state involves (WATCH, a blocking command, a transaction's first keyed
  // command), or to any master (SUBSCRIBE, MONITOR, a transaction until its first key). Later
  // keys of another slot get CROSSSLOT. False: answered here.
  bool route_pinned_cluster(const Classified& c, Args args);
  // The request's keys would move a keyless transaction to another master: it waits for the
  // dedicated connection's replies first.
  bool cluster_repin_wait(const Classified& c, Args args);
  // The slot of the request's keys (cluster_pinned.cpp): kAnySlot without keys (or for an
  // unknown command), nullopt when they span slots. Fills keys_.
  std::optional<std::uint16_t> cluster_keys_slot(const Classified& c, Args args);
  // A MOVED or ASK on the dedicated connection (the slot moved while the session was pinned):
  // true with `out` set to the TRYAGAIN error the client gets instead.
  bool cluster_redirect_frame(std::string_view frame, std::string& out);
  friend class ClusterParts;

  // pinned.cpp
  void dispatch_pinned(const Classified& c, Args args, std::string_view raw);
  bool pin();  // false: none available, error replied
  void send_pinned(const Classified& c, Args args, std::string_view raw);
  void send_internal(std::span<const std::string_view> args, std::uint64_t kind);
  bool is_push(std::string_view frame, resp::ReplyKind kind) const;
  void push_frame(std::string_view frame);
  bool subscription_frame(std::uint64_t seq, std::string_view frame, resp::ReplyKind kind);
  std::string confirm(RequestContext& ctx, std::string_view frame, resp::ReplyKind kind);
  std::string exec_reply(std::string_view frame, resp::ReplyKind kind);
  void apply_queued(QueuedCommand& q, std::string_view element, std::string& out);
  void apply_result(command::Op op, std::string_view result, int db);
  void end_transaction();
  // Redis is running a blocking command of this client's: the oldest it has not answered.
  bool blocked() {
    return !pinned_requests_.empty() && pinned_requests_.front() < kInternalHello &&
           conn_.context(pinned_requests_.front()).blocking;
  }
  std::string client_info_merged(std::string_view bulk);
  void fail_dedicated(std::string_view message);
  void unpin_if_idle();
  void release_pinned(bool reusable);

  // local_commands.cpp
  // Answers a command the proxy owns, with Redis's checks in Redis's order; while the
  // session is in MULTI (confirmed) it is queued instead, and run at EXEC.
  void answer_locally(const Classified& c, Args args);
  // The reply of a local command run now (or at EXEC), applying its effect on the model.
  std::string run_local(const Classified& c, Args args);
  std::string hello(Args args);
  std::string select(Args args);
  std::string client(const Classified& c, Args args);
  std::string client_reply(Args args);
  std::string client_tracking(Args args);
  std::string client_caching(Args args);
  std::string tracking_info();
  void remember_tracked(const Classified& c, Args args);
  std::string auth(Args args);
  std::string frontcache(Args args);
  std::string info_section() const;
  std::string command_stats_section() const;
  std::string l1_info() const;
  std::string info_reply(std::string_view upstream_bulk, bool with_section) const;
  // Reply::Info when INFO's arguments ask for our section (none, default, all, everything or
  // frontcache, as Redis picks its own sections), else Reply::InfoNamed.
  static Reply info_reply_kind(Args args);
  bool check_credentials(std::string_view user, std::string_view password) const;
  bool user_exists(std::string_view user) const;
  void auth_failed();
  static bool allowed_before_auth(const Classified& c);
  // AUTH, or HELLO with an AUTH option.
  static bool checks_password(const Classified& c, Args args);
  AuthLimiter::Turn auth_turn();
  void answer_auth(const Classified& c, Args args);
  std::string run_queued_auth(const Classified& c, Args args);

  // client_admin.cpp: CLIENT LIST / KILL over every worker.
  void client_list();
  void client_kill(Args args);
  void client_unblock(Args args);
  // The dedicated connection's id upstream while Redis runs this session's blocking command
  // (0 otherwise), and the address it is connected to (in cluster mode, a node's); the
  // connection then serves no other session (client_admin.cpp).
  struct UnblockTarget {
    std::uint64_t id = 0;
    std::string host;
    std::uint16_t port = 0;
  };
  UnblockTarget unblock_target();

  Worker& worker_;
  ClientConnection conn_;
  std::list<Session*>::iterator registration_;
  ClientState state_;
  std::uint64_t id_;
  std::chrono::steady_clock::time_point created_;
  std::chrono::steady_clock::time_point last_command_;
  std::uint32_t command_ = CommandStats::kNone;  // the request being dispatched (its id)
  bool silent_ = false;              // the request being dispatched gets no reply (CLIENT REPLY)
  Access access_ = Access::Allowed;  // the request being dispatched, under the user's permissions
  const Permissions* permissions_ = nullptr;
  std::uint64_t permissions_generation_ = 0;

  // Shared upstream connections.
  upstream::Connection* upstream_ = nullptr;  // sticky while requests are in flight
  std::size_t in_upstream_ = 0;               // requests in flight on the shared connections
  std::size_t joined_pending_ = 0;            // reads waiting on another session's fill
  std::size_t writes_in_flight_ = 0;          // writes sent on the shared connections
  // Cluster mode: the slot the request being dispatched goes to (kAnySlot: any master), and the
  // routing epoch its session's requests in flight were sent in.
  std::uint16_t cluster_slot_ = 0;
  std::uint64_t cluster_epoch_ = 0;
  // The master of the dedicated connection, and the slot its keys are bound to (kAnySlot: none
  // yet).
  ClusterClient::Node* cluster_pin_node_ = nullptr;
  std::uint16_t cluster_pin_slot_ = 0xFFFF;
  // Reads bypass L1 until a fence round started after this (a write of unnamed keys).
  std::chrono::steady_clock::time_point fence_after_{};
  std::string cache_key_;                         // scratch: the cache key being looked up
  std::vector<std::string_view> keys_;            // scratch: keys of the request being dispatched
  command::CommandTable::NameMemo command_memo_;  // the last command name and its entry
  std::string encoded_;                           // scratch: requests the proxy encodes itself

  // Why requests wait (holding()).
  bool holding_for_joined_ = false;  // a request that may write waits for joined reads
  bool pin_wait_ = false;            // a pinning request waits for shared requests in flight
  bool barrier_ = false;             // a local request waits for the dedicated connection's replies
  bool reset_pending_ = false;       // RESET went upstream: everything waits for +RESET
  bool auth_wait_ = false;           // reading paused until the address's AUTH turn
  bool cluster_wait_ = false;        // cluster routing changed: wait for requests in flight
  boost::asio::steady_timer auth_timer_;
  std::optional<AuthLimiter::Key> peer_key_;  // the client's address, as AuthLimiter counts it

  // The dedicated connection (pinned.cpp).
  std::shared_ptr<upstream::DedicatedConnection> pinned_;
  bool pinned_unblocked_ = false;  // a CLIENT UNBLOCK named it: not given to another session
  // The hand-off's SELECT was refused as BUSY (a script past busy-reply-threshold): the
  // connection is in database 0 until released, and the requests behind it may only be refused.
  bool pinned_select_busy_ = false;
  // Requests on the dedicated connection awaiting their replies, oldest first: reply slots,
  // or kInternal for the proxy's own (the SELECT of a hand-off), whose +OK is checked.
  static constexpr std::uint64_t kInternal = ~std::uint64_t{0};   // SELECT: +OK expected
  static constexpr std::uint64_t kInternalHello = kInternal - 1;  // HELLO: a map expected
  SeqFifo pinned_requests_;
  std::vector<QueuedCommand> multi_queue_;
};

}  // namespace frontcache::proxy
