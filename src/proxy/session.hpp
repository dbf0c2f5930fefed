// A client connection: read_loop parses requests and dispatches each one, taking a slot in
// the ReplyQueue; write_loop writes every reply that is ready, in request order, in one write.
//
//   socket ─► read_loop ─► RequestParser ─► dispatch ─┬─► local reply ───────────┐
//                                                     └─► upstream::Connection ──┤ on_reply
//   socket ◄─ write_loop ◄─ ReplyQueue (ordered slots) ◄─────────────────────────┘
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <list>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontcache/cache/cache.hpp"
#include "frontcache/cache/rules.hpp"
#include "frontcache/command/command_table.hpp"
#include "frontcache/proxy/reply_queue.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "frontcache/upstream/connection.hpp"
#include "frontcache/upstream/dedicated.hpp"

namespace frontcache::proxy {

class Worker;

class Session : public upstream::ReplyTarget,
                public upstream::StreamTarget,
                public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Session() override;

  void start();
  // Closes the connection now; replies not yet written are dropped.
  void close();
  // Graceful shutdown: reads no more requests, writes the replies to those already read, then
  // closes (requests buffered but not yet parsed are not answered).
  void drain();

  void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) override;

  // Frames of the session's dedicated (pinned) upstream connection (pinned.cpp).
  void on_frame(std::string_view frame, resp::ReplyKind kind) override;
  void on_stream_closed(const std::string& reason) override;

  // For the L1 read path: a pinned session (on a dedicated connection: MULTI/WATCH, blocking
  // command in flight, subscribed, MONITOR, CLIENT TRACKING) or an unauthenticated one is never
  // served from the cache.
  bool pinned() const { return pinned_ != nullptr; }
  bool authenticated() const { return authenticated_; }

  std::uint64_t id() const { return id_; }
  // How long the client has sent nothing with nothing in flight (zero while it waits for us).
  std::chrono::steady_clock::duration idle_for(std::chrono::steady_clock::time_point now) const {
    return replies_.in_flight() > 0 ? std::chrono::steady_clock::duration::zero()
                                    : now - last_command_;
  }
  const std::string& addr() const { return addr_; }
  const std::string& laddr() const { return laddr_; }
  const std::string& user() const { return user_; }
  // One line of CLIENT LIST / CLIENT INFO, without the trailing newline.
  std::string describe() const;

 private:
  using Args = std::span<const std::string_view>;
  // Tag bits of forwarded requests whose replies need more than copying to the client.
  static constexpr std::uint64_t kInfoFlag = 1ull << 63;    // append the `# frontcache` section
  static constexpr std::uint64_t kWriteFlag = 1ull << 62;   // invalidate + publish written keys
  static constexpr std::uint64_t kFlushFlag = 1ull << 61;   // invalidate + publish everything
  static constexpr std::uint64_t kSilentFlag = 1ull << 60;  // no reply wanted (CLIENT REPLY)
  static constexpr std::uint64_t kTagFlags = kInfoFlag | kWriteFlag | kFlushFlag | kSilentFlag;
  static constexpr std::uint64_t kNoSlot = ~0ull;
  // How a reply on the pinned connection changes what the session knows of its upstream state.
  enum class PinKind : std::uint8_t {
    Plain,
    Internal,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    Subscribe,
    Unsubscribe,
    Monitor,
    TrackingOn,
    TrackingOff,
    Reset
  };
  enum class SubSet : std::uint8_t { Channels, Patterns, Shard };
  struct PinnedRequest {
    std::uint64_t seq = kNoSlot;  // kNoSlot: no reply goes to the client
    PinKind kind = PinKind::Plain;
    int remaining = 1;  // reply frames still expected; <0: until `set` is empty
    SubSet set = SubSet::Channels;
  };

  static boost::asio::awaitable<void> run(std::shared_ptr<Session> self);
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  bool process_buffer();  // false: stop reading (protocol error or QUIT)
  // Parses and dispatches the complete requests in data[begin, end), advancing `begin`;
  // stops early while reading is paused. Same result as process_buffer().
  bool process_input(const char* data, std::size_t& begin, std::size_t end);
  void wake_writer();
  void flush_replies();  // write ready replies now if the writer is idle, else wake it
  void wake_reader();
  bool reading_paused() const;

  // frontcache_command.cpp
  void handle_frontcache(Args args);

  // dispatch.cpp
  void dispatch(Args args, std::string_view raw);
  void forward(std::string_view request, std::uint64_t flags);
  void forward_into(std::uint64_t seq, std::string_view request, std::uint64_t flags);
  upstream::Connection* upstream_connection();
  std::string unavailable_error();

  // cached_read.cpp: reads served from L1, fills, writes that invalidate.
  void read_cached(const command::CommandInfo& info, Args args, std::string_view raw);
  void read_mget(Args args, std::string_view raw);
  void start_fill(std::uint64_t seq, const cache::Rule& rule, cache::FillTicket&& ticket, Args args,
                  std::string_view raw);
  void forward_write(const command::CommandInfo& info, Args args, std::string_view raw);
  bool must_wait_for_joined(Args args) const;
  void joined_resolved();
  // One of this session's requests on the shared connections has been answered.
  void upstream_reply_done();
  void after_write(std::uint64_t flags);
  Worker& worker() { return worker_; }
  void reply(std::string_view bytes) {
    if (!silent_) replies_.append(bytes);
  }
  void reply_error(std::string_view message);
  void handle_local(const command::CommandInfo& info, Args args);
  void reset_session_state();
  void handle_ping(Args args);
  void handle_hello(Args args);
  void handle_select(Args args);
  void handle_client(Args args);
  void handle_info(Args args);
  void handle_auth(Args args);
  bool set_name(std::string_view name);  // false: invalid name, error already replied
  bool admin_allowed(const command::CommandInfo& info, Args args) const;

  // pinned.cpp: the dedicated upstream connection.
  bool needs_pin(Args args) const;
  void dispatch_pinned(const command::CommandInfo* info, command::Route route, Args args,
                       std::string_view raw);
  bool pin();  // false: none available, error replied
  // Every request a pinned session sends upstream goes through here.
  void send_pinned(Args args, std::string_view raw);
  void unpin_if_idle();
  void release_pinned(bool reusable);
  bool subscribe_mode() const;
  bool is_push(std::string_view frame, resp::ReplyKind kind) const;
  void track_subscription(std::string_view frame);
  void apply_pinned_state(PinKind kind, std::string_view frame);
  // Invalidation hook: called with the whole command for every write a pinned session sends
  // (MULTI-queued commands included) and for scripts/functions (EVAL/EVALSHA/FCALL, whose
  // declared keys follow numkeys). No-op until the L1 lands; hooks.cpp.
  void on_write_keys(Args command);

  // auth.cpp
  static bool allowed_before_auth(const command::CommandInfo* info);
  bool check_credentials(std::string_view user, std::string_view password) const;
  void auth_succeeded(std::string_view user);
  void auth_failed();

  // client_admin.cpp: CLIENT LIST / KILL over every worker, CLIENT REPLY.
  void client_list();
  void client_kill(Args args);
  void client_reply(Args args);
  std::string info_reply(std::string_view upstream_bulk) const;
  std::string frontcache_info() const;
  std::string l1_info() const;

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer write_signal_;
  boost::asio::steady_timer read_signal_;
  std::list<Session*>::iterator registration_;
  std::uint64_t id_;
  std::string addr_;
  std::string laddr_;
  std::chrono::steady_clock::time_point created_;
  std::chrono::steady_clock::time_point last_command_;
  std::string last_command_name_;

  resp::RequestParser parser_;
  std::vector<char> rbuf_;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  std::string scratch_;  // re-encoded inline requests

  ReplyQueue replies_;
  std::string wbuf_;
  bool writer_waiting_ = false;
  bool reader_waiting_ = false;
  bool read_done_ = false;  // EOF, error, QUIT or protocol error: no more requests
  bool closed_ = false;

  upstream::Connection* upstream_ = nullptr;  // sticky while requests are in flight
  std::size_t in_upstream_ = 0;
  // When each request in flight upstream was dispatched (reply sequence, time), oldest first:
  // replies come back in this order, so the front is the one being answered.
  std::deque<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> forward_started_;

  std::size_t joined_pending_ = 0;        // reads waiting on another session's fill
  bool holding_for_joined_ = false;       // a request that may write waits for them
  std::string cache_key_;                 // scratch: the cache key being looked up
  std::vector<std::string_view> keys_;    // scratch: keys of the write being dispatched
  std::deque<std::string> written_keys_;  // per write in flight: its keys, length-prefixed
  std::string multi_keys_;                // keys written by commands queued in MULTI

  friend class FillRequest;
  friend class MgetRequest;

  int db_ = 0;
  std::string name_;

  // Pinning (pinned.cpp). State flags are learnt from the upstream's replies; multi_queued_ is
  // what the session has sent (MULTI dispatched, EXEC/DISCARD not yet).
  std::shared_ptr<upstream::DedicatedConnection> pinned_;
  std::deque<PinnedRequest> pinned_requests_;
  int pinned_db_ = -1;
  bool pin_wait_ = false;  // a pinning command waits for shared requests in flight
  bool multi_ = false;
  bool multi_queued_ = false;
  bool watching_ = false;
  bool monitor_ = false;
  bool tracking_ = false;
  int subscribe_pending_ = 0;
  std::set<std::string, std::less<>> channels_, patterns_, shard_channels_;

  // Authentication (auth.cpp).
  bool authenticated_ = true;
  std::string user_ = "default";
  unsigned auth_failures_ = 0;
  bool auth_wait_ = false;  // reading paused after a wrong password
  boost::asio::steady_timer auth_timer_;

  // CLIENT REPLY OFF / SKIP.
  bool reply_off_ = false;
  bool skip_next_ = false;
  bool silent_ = false;  // the command being dispatched gets no reply
};

}  // namespace frontcache::proxy
