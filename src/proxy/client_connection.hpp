// The client's socket: reading and parsing requests, and writing replies in request order.
// It knows nothing of Redis commands: each complete request goes to the Handler (the session),
// which answers it through a reply slot. Reading pauses while the pipeline limit is reached,
// while too many reply bytes wait for the client, or while the handler holds requests back
// (a state change under way); every path that can end a pause calls resume_reading(), and
// the reader checks again before it waits. Reply bytes are counted when they are queued, so
// the output limits (per client, by class, and for all clients together) hold before memory
// is committed, however slowly the client reads. A connection accepted on the TLS port does the
// handshake first (within tls.handshake_timeout) and then reads and writes through its TLS stream;
// plain connections take the readiness-then-read path, untouched by TLS.
//
//   socket ─► read_loop ─► RequestParser ─► Handler::on_request ─► Replies slot
//   socket ◄─ write_loop ◄─ Replies (ordered) ◄─ complete()/add()/append() ◄─┘
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontcache/resp/request_parser.hpp"
#include "request.hpp"

namespace boost::asio::ssl {
class context;
}

namespace frontcache::proxy {

class Worker;

// Which output limits apply (Redis's client-output-buffer-limit classes).
enum class OutputClass : std::uint8_t { Normal, Pubsub };

class ClientConnection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // One complete request. `args` and `raw` (its multibulk bytes; inline requests are
    // re-encoded into a buffer of this connection's) are valid during the call only. False:
    // not taken; the handler now holds (holding() is true) and the same request is handed
    // over again once it stops.
    virtual bool on_request(std::span<const std::string_view> args, std::string_view raw) = 0;
    // An empty request (an empty inline line, `*0`, `*-1`): no command, no reply, but Redis
    // resets the client as after one.
    virtual void on_empty_request() = 0;
    // True while requests must wait unparsed (a pin hand-off, a barrier, an AUTH penalty...).
    virtual bool holding() const = 0;
    // True when every request in flight will be answered without the client's help within
    // bounded time (no dedicated connection: no blocking command, transaction or subscription),
    // so the reader need not watch the socket until they are (read_loop).
    virtual bool replies_bounded() const = 0;
    virtual OutputClass output_class() const = 0;
    // The client closed or reset the connection (not called for a drain or a QUIT).
    virtual void on_client_gone() = 0;
    // The client half-closed (end of file after its requests): true when the replies to the
    // requests already read are to be written before the connection closes, as Redis writes
    // the replies of the commands it ran before it reads the end of file; false to close at once
    // (on_client_gone), as Redis frees a client blocked in a command.
    virtual bool answer_after_eof() = 0;
  };

  // With `tls` (the listener's context when the client was accepted; kept for the connection's
  // lifetime, so a certificate reload does not touch it), the connection speaks TLS.
  ClientConnection(Worker& worker, boost::asio::ip::tcp::socket socket, Handler& handler,
                   std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~ClientConnection();

  // Runs both loops (after the TLS handshake) until the connection is closed and every reply is
  // written.
  boost::asio::awaitable<void> run();

  // Reply slots. Every byte for the client goes through these, so that it is counted.
  std::uint64_t push() { return replies_.push(); }
  RequestContext& context(std::uint64_t seq) { return replies_.context(seq); }
  bool pending(std::uint64_t seq) const { return replies_.pending(seq); }
  void complete(std::uint64_t seq, std::string_view bytes);
  void add(std::uint64_t seq, std::string_view bytes);
  void append(std::string_view bytes);
  std::size_t in_flight() const { return replies_.in_flight(); }
  std::size_t buffered_bytes() const { return replies_.buffered_bytes(); }

  // A hold or limit may have ended: the reader goes on if nothing else holds it.
  void resume_reading();
  // No more requests (QUIT, CLIENT KILL of itself, protocol error): the replies to those
  // already read are written, then the connection closes.
  void stop_reading();
  // Shutdown: like stop_reading(), and requests in flight (a blocked BLPOP too) keep their
  // chance to be answered until the server's shutdown_timeout.
  void drain() { stop_reading(); }
  // Closes now; replies not yet written are dropped and their bytes released.
  void close();
  bool closed() const { return closed_; }
  // Worker: the flush asked for by defer_flush().
  void deferred_flush();
  bool reading_stopped() const { return read_done_; }

  const std::string& addr() const { return addr_; }
  const std::string& laddr() const { return laddr_; }
  int fd();
  std::size_t query_buffer() const { return rend_ - rbegin_; }
  std::size_t query_buffer_free() const { return rbuf_.size() - (rend_ - rbegin_); }

 private:
  struct TlsLayer;

  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  // TLS: false when the handshake failed or timed out (counted), or the connection was closed.
  boost::asio::awaitable<bool> tls_handshake();
  // TLS: close_notify to the client after the last reply, waiting briefly for its answer.
  boost::asio::awaitable<void> tls_shutdown();
  // TLS: readies rbuf_ for the next decrypted bytes and returns the free space.
  boost::asio::mutable_buffer tls_read_buffer();
  bool paused() const;
  // Parses and hands over the complete requests in data[begin, end), advancing `begin`;
  // stops early while paused. False: stop reading (protocol error or stop_reading()).
  bool process(const char* data, std::size_t& begin, std::size_t end);
  void flush();  // write ready replies now when the writer is idle, else wake it
  // A reply completed outside a read batch: flush() once the worker's current handler returns.
  void defer_flush();
  void wake_writer();
  // Counts the change in queued bytes and enforces the output limits; false when the
  // connection was closed for exceeding them.
  bool account();
  // After a reply was stored: accounted, then written by the reader's flush (during its batch)
  // or by the worker's deferred flush.
  void replied();
  bool over_limit(std::size_t pending);
  void release_bytes();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsLayer> tls_;  // null: plain TCP
  Handler& handler_;
  boost::asio::steady_timer write_signal_;
  boost::asio::steady_timer read_signal_;
  std::string addr_;
  std::string laddr_;

  resp::RequestParser parser_;
  std::vector<char> rbuf_;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  std::string inline_request_;  // re-encoded inline request, valid during on_request only

  Replies replies_;
  std::string wbuf_;
  std::size_t accounted_ = 0;  // bytes of this connection counted in the budgets
  // A new client may have this many requests in flight, one more for each reply it gets, up to
  // limits.max_pipeline: a client that opens with a long burst of large reads and does not read
  // the replies queues at most this many in front of other clients on a shared upstream
  // connection (Redis runs a connection's requests in order), then pauses on its reply bytes.
  static constexpr std::size_t kInitialWindow = 64;
  std::size_t window_ = kInitialWindow;  // requests it may have in flight now
  std::size_t largest_reply_ = 0;        // largest single reply pending since nothing was
  std::chrono::steady_clock::time_point soft_since_{};  // over the soft limit since
  bool processing_ = false;      // process() is handing requests over; flush() follows
  bool flush_deferred_ = false;  // queued on the worker for a deferred_flush()
  bool writer_waiting_ = false;
  bool writing_ = false;  // an async write of wbuf_ is under way: wbuf_ must outlive it
  bool reader_waiting_ = false;
  bool awaiting_replies_ = false;  // the reader waits until no reply is in flight
  bool read_done_ = false;
  bool closed_ = false;

  friend class Session;  // set_authenticated on the parser
};

}  // namespace frontcache::proxy
