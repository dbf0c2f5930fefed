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

namespace frontcache::proxy {

class Worker;

class Session : public upstream::ReplyTarget, public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Session() override;

  void start();
  // Closes the connection now; replies not yet written are dropped.
  void close();

  void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) override;

  std::uint64_t id() const { return id_; }
  // One line of CLIENT LIST / CLIENT INFO, without the trailing newline.
  std::string describe() const;

 private:
  using Args = std::span<const std::string_view>;
  // Tag bits of forwarded requests whose replies need more than copying to the client.
  static constexpr std::uint64_t kInfoFlag = 1ull << 63;   // append the `# frontcache` section
  static constexpr std::uint64_t kWriteFlag = 1ull << 62;  // invalidate + publish written keys
  static constexpr std::uint64_t kFlushFlag = 1ull << 61;  // invalidate + publish everything
  static constexpr std::uint64_t kTagFlags = kInfoFlag | kWriteFlag | kFlushFlag;

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

  // dispatch.cpp
  void dispatch(Args args, std::string_view raw);
  void forward(std::string_view request, std::uint64_t flags);
  void forward_into(std::uint64_t seq, std::string_view request, std::uint64_t flags);
  upstream::Connection* upstream_connection();
  std::string unavailable_error();

  // cached_read.cpp: reads served from L1, fills, writes that invalidate.
  void read_cached(const command::CommandInfo& info, Args args, std::string_view raw);
  void read_mget(Args args, std::string_view raw);
  void start_fill(std::uint64_t seq, const cache::Rule& rule, cache::FillTicket&& ticket,
                  Args args, std::string_view raw);
  void forward_write(const command::CommandInfo& info, Args args, std::string_view raw);
  bool must_wait_for_joined(Args args) const;
  void joined_resolved();
  void after_write(std::uint64_t flags);
  Worker& worker() { return worker_; }
  void reply(std::string_view bytes) { replies_.append(bytes); }
  void reply_error(std::string_view message);
  void handle_local(const command::CommandInfo& info, Args args);
  void handle_ping(Args args);
  void handle_hello(Args args);
  void handle_select(Args args);
  void handle_client(Args args);
  void handle_info(Args args);
  void handle_auth(Args args);
  bool set_name(std::string_view name);  // false: invalid name, error already replied
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
  bool read_done_ = false;          // EOF, error, QUIT or protocol error: no more requests
  bool closed_ = false;

  upstream::Connection* upstream_ = nullptr;  // sticky while requests are in flight
  std::size_t in_upstream_ = 0;

  std::size_t joined_pending_ = 0;   // reads waiting on another session's fill
  bool holding_for_joined_ = false;  // a request that may write waits for them
  std::string cache_key_;                  // scratch: the cache key being looked up
  std::vector<std::string_view> keys_;     // scratch: keys of the write being dispatched
  std::deque<std::string> written_keys_;   // per write in flight: its keys, length-prefixed

  friend class FillRequest;
  friend class MgetRequest;

  int db_ = 0;
  std::string name_;
};

}  // namespace frontcache::proxy
