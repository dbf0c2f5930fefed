// Test doubles for the modules that talk to Redis (upstream/, invalidation/): a scripted fake
// Redis on a loopback port, and an io_context on its own thread to drive the module under test.
// Plain blocking sockets and threads, no Redis: each accepted connection runs the test's script,
// which reads the commands the module sends and writes the replies the test chooses. Every wait
// has a timeout that only turns a missing event into a failure; nothing waits for an amount of
// time.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace frontcache::testing {

using namespace std::chrono_literals;

// A one-shot event between threads.
class Notification {
 public:
  void notify();
  // True once notify() was called; false when `timeout` passes first.
  bool wait(std::chrono::milliseconds timeout = 10s);
  bool notified() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Polls `done` until it returns true; false after `timeout` (a hang guard, not a time bound).
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s);

// One accepted connection, as the script sees it. Blocking calls; each takes a timeout.
class FakeConnection {
 public:
  FakeConnection(int fd, int index, const std::atomic<bool>& stopping);
  ~FakeConnection();
  FakeConnection(const FakeConnection&) = delete;
  FakeConnection& operator=(const FakeConnection&) = delete;

  // 0 for the first connection the server accepted, 1 for the next...
  int index() const { return index_; }
  // The next command (a RESP array of bulk strings); nullopt when the peer closed, the bytes
  // are not a command, or `timeout` passed.
  std::optional<std::vector<std::string>> read_command(std::chrono::milliseconds timeout = 10s);
  // Writes all of `bytes`; false when the peer is gone.
  bool write(std::string_view bytes);
  // The server is going away: scripts that serve forever (answering PINGs) should end.
  bool stopping() const { return stopping_; }
  // True once the peer has closed its side (whatever it sent before is discarded).
  bool wait_closed(std::chrono::milliseconds timeout = 10s);
  void close();

 private:
  enum class Fill { Data, Closed, Timeout };
  Fill fill(std::chrono::steady_clock::time_point deadline);

  int fd_;
  int index_;
  const std::atomic<bool>& stopping_;
  std::string buffer_;
};

// The fake Redis: accepts on 127.0.0.1 (ephemeral port) and runs `script` on every connection,
// each in its own thread. The destructor unblocks and joins everything.
class FakeUpstream {
 public:
  using Script = std::function<void(FakeConnection&)>;
  explicit FakeUpstream(Script script);
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  // Waits until `n` connections have been accepted.
  bool wait_accepted(int n, std::chrono::milliseconds timeout = 10s) const;

 private:
  void accept_loop();

  Script script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<std::unique_ptr<FakeConnection>> connections_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// "*<n>\r\n$<len>\r\n<arg>\r\n..." for one command or reply array of bulk strings.
std::string resp_array(const std::vector<std::string>& items);

// An io_context run by a thread of its own, as a worker runs it. call() runs a function on
// that thread and returns its result, so a test touches the module under test only there.
class IoThread {
 public:
  IoThread();
  ~IoThread();  // stops the loop and joins

  boost::asio::io_context& io() { return io_; }
  template <typename F>
  auto call(F&& f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace frontcache::testing
