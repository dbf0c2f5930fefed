// upstream::Connection against a scripted fake Redis: the handshake, pipelining and reply order,
// SELECT, command_timeout, reconnecting after a loss, AUTH refused.
#include "frontcache/upstream/connection.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <deque>
#include <thread>

#include "fake_upstream.hpp"
#include "frontcache/upstream/data_tracking.hpp"
#include "frontcache/upstream/pool.hpp"
#include "frontcache/upstream/stats.hpp"

namespace frontcache::upstream {
namespace {

using namespace frontcache::testing;
using Args = std::vector<std::string>;
using namespace std::chrono_literals;

// Records every reply, in the order they arrive.
class Recorder final : public ReplyTarget {
 public:
  struct Got {
    std::uint64_t tag;
    std::string reply;
    resp::ReplyKind kind;
  };
  void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) override {
    std::lock_guard lock(mu_);
    got_.push_back({tag, std::string(reply), kind});
  }
  bool wait_for(std::size_t n) {
    return wait_until([&] {
      std::lock_guard lock(mu_);
      return got_.size() >= n;
    });
  }
  std::vector<Got> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::vector<Got> got_;
};

Settings settings_for(const FakeUpstream& fake) {
  Settings s;
  s.host = "127.0.0.1";
  s.port = fake.port();
  s.connect_timeout = 10s;
  s.command_timeout = 30s;
  return s;
}

// Reads and answers the handshake a fresh connection sends (CLIENT SETNAME frontcache).
void handshake(FakeConnection& c) {
  EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache"}));
  c.write("+OK\r\n");
}

// The same with data tracking: CLIENT ID first (answered 41 + the connection's index).
void tracked_handshake(FakeConnection& c) {
  EXPECT_EQ(c.read_command(), (Args{"CLIENT", "ID"}));
  EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache"}));
  c.write(":" + std::to_string(41 + c.index()) + "\r\n+OK\r\n");
}

std::string command(const Args& args) { return resp_array(args); }

// Drives one Connection on its own io thread.
class ConnectionTest : public ::testing::Test {
 protected:
  void open(const Settings& settings) {
    io_.call([&] {
      connection_ = std::make_unique<Connection>(io_.io(), settings, 0);
      connection_->start();
    });
  }
  void TearDown() override {
    io_.call([&] { connection_.reset(); });
  }
  bool wait_ready() {
    return wait_until([&] { return io_.call([&] { return connection_->ready(); }); });
  }
  bool send(int db, const Args& args, std::uint64_t tag) {
    return io_.call([&] { return connection_->send(db, command(args), recorder_, tag); });
  }

  IoThread io_;
  std::unique_ptr<Connection> connection_;
  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
};

TEST_F(ConnectionTest, PipelinesRequestsAndDeliversRepliesInOrder) {
  Notification may_reply;
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    // All three requests arrive before any reply is written: they were pipelined.
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "b"}));
    EXPECT_EQ(c.read_command(), (Args{"INCR", "n"}));
    ASSERT_TRUE(may_reply.wait());
    c.write("$1\r\nA\r\n$-1\r\n:7\r\n");
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  EXPECT_TRUE(send(0, {"GET", "a"}, 1));
  EXPECT_TRUE(send(0, {"GET", "b"}, 2));
  EXPECT_TRUE(send(0, {"INCR", "n"}, 3));
  EXPECT_EQ(io_.call([&] { return connection_->pending(); }), 3u);
  may_reply.notify();
  ASSERT_TRUE(recorder_->wait_for(3));
  const auto got = recorder_->got();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].tag, 1u);
  EXPECT_EQ(got[0].reply, "$1\r\nA\r\n");
  EXPECT_EQ(got[0].kind, resp::ReplyKind::Bulk);
  EXPECT_EQ(got[1].tag, 2u);
  EXPECT_EQ(got[1].reply, "$-1\r\n");
  EXPECT_EQ(got[1].kind, resp::ReplyKind::NullBulk);
  EXPECT_EQ(got[2].tag, 3u);
  EXPECT_EQ(got[2].reply, ":7\r\n");
  EXPECT_EQ(io_.call([&] { return connection_->pending(); }), 0u);
}

TEST_F(ConnectionTest, SelectsTheDatabaseOfEachRequestAndHidesSelectReplies) {
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"SELECT", "2"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    EXPECT_EQ(c.read_command(), (Args{"PUBLISH", "ch", "m"}));  // db -1: no SELECT
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));            // still in 2: no SELECT
    EXPECT_EQ(c.read_command(), (Args{"SELECT", "0"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    c.write("+OK\r\n$2\r\nin\r\n:0\r\n$2\r\nin\r\n+OK\r\n$3\r\nout\r\n");
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  send(2, {"GET", "k"}, 1);
  send(-1, {"PUBLISH", "ch", "m"}, 2);
  send(2, {"GET", "k"}, 3);
  send(0, {"GET", "k"}, 4);
  ASSERT_TRUE(recorder_->wait_for(4));
  const auto got = recorder_->got();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].reply, "$2\r\nin\r\n");
  EXPECT_EQ(got[1].reply, ":0\r\n");
  EXPECT_EQ(got[2].reply, "$2\r\nin\r\n");
  EXPECT_EQ(got[3].reply, "$3\r\nout\r\n");
}

TEST_F(ConnectionTest, RefusedSelectClosesTheConnectionAndFailsWhatWasQueued) {
  FakeUpstream fake([&](FakeConnection& c) {
    if (c.index() > 0) return;  // the reconnect: left connecting
    handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"SELECT", "9"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    c.write("-ERR DB index is out of range\r\n");
    EXPECT_TRUE(c.wait_closed());
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  send(9, {"GET", "k"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(recorder_->got()[0].reply, "-ERR upstream refused SELECT\r\n");
  EXPECT_EQ(recorder_->got()[0].kind, resp::ReplyKind::Error);
}

// Redis refuses SELECT as BUSY while a script runs long, and stays in its database: the
// requests behind it get the same refusal, which is relayed (Redis's answer to their clients),
// a request for no database is relayed whatever it gets, and the next request selects again.
TEST_F(ConnectionTest, SelectRefusedAsBusyRelaysTheRefusalsAndSelectsAgain) {
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"SELECT", "9"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    EXPECT_EQ(c.read_command(), (Args{"SCRIPT", "KILL"}));
    c.write("-BUSY Redis is busy\r\n-BUSY Redis is busy\r\n+OK\r\n");
    EXPECT_EQ(c.read_command(), (Args{"SELECT", "9"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    c.write("+OK\r\n$1\r\nv\r\n");
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  send(9, {"GET", "k"}, 1);
  send(-1, {"SCRIPT", "KILL"}, 2);
  ASSERT_TRUE(recorder_->wait_for(2));
  send(9, {"GET", "k"}, 3);
  ASSERT_TRUE(recorder_->wait_for(3));
  const auto got = recorder_->got();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].reply, "-BUSY Redis is busy\r\n");
  EXPECT_EQ(got[1].reply, "+OK\r\n");
  EXPECT_EQ(got[2].reply, "$1\r\nv\r\n");
}

// ... but a request behind the refused SELECT that ran (the script ended in between) ran in
// another database than its client's: it fails and the connection closes.
TEST_F(ConnectionTest, ARequestThatRanAfterItsSelectWasRefusedFailsAndCloses) {
  FakeUpstream fake([&](FakeConnection& c) {
    if (c.index() > 0) return;  // the reconnect: left connecting
    handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"SELECT", "9"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    c.write("-BUSY Redis is busy\r\n$5\r\nother\r\n");
    EXPECT_TRUE(c.wait_closed());
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  send(9, {"GET", "k"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(recorder_->got()[0].reply, "-ERR upstream refused SELECT\r\n");
}

// The default logger's lines while it lives (the default logger is restored after).
class LogLines {
 public:
  LogLines()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)),
        saved_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  ~LogLines() { spdlog::set_default_logger(saved_); }
  LogLines(const LogLines&) = delete;
  LogLines& operator=(const LogLines&) = delete;
  bool contains(std::string_view text) const {
    for (const auto& line : sink_->last_formatted()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> saved_;
};

TEST_F(ConnectionTest, TimeoutFailsThePendingRequestsClosesAndReconnects) {
  LogLines log;
  Notification closed;
  FakeUpstream fake([&](FakeConnection& c) {
    // Any connection: the module may also give up on a handshake slower than 100 ms and retry.
    const auto setname = c.read_command();
    if (!setname) return;
    EXPECT_EQ(setname, (Args{"CLIENT", "SETNAME", "frontcache"}));
    c.write("+OK\r\n");
    bool holding = false;
    while (auto cmd = c.read_command(30s)) {
      if (cmd == Args{"GET", "again"}) {
        c.write("$2\r\nok\r\n");
      } else {
        holding = true;  // GET slow, GET behind: never answered
      }
    }
    // The module closed the connection that held them (it does not wait for a late reply).
    if (holding) closed.notify();
  });
  Settings settings = settings_for(fake);
  settings.command_timeout = 100ms;
  const auto timeouts_before = stats().timeouts.load();
  open(settings);
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "slow"}, 1);
  send(0, {"GET", "behind"}, 2);
  ASSERT_TRUE(recorder_->wait_for(2));
  for (const auto& got : recorder_->got()) {
    EXPECT_EQ(got.reply, "-ERR upstream timeout (no reply within 100ms)\r\n");
    EXPECT_EQ(got.kind, resp::ReplyKind::Error);
  }
  EXPECT_TRUE(closed.wait());
  EXPECT_GT(stats().timeouts.load(), timeouts_before);
  // Logged with its cause (logged before the requests fail), not with the cancellation of the
  // loops the timeout ended.
  EXPECT_TRUE(log.contains("lost: no reply within 100ms"));
  // A fresh connection, never the timed-out one resynchronised.
  ASSERT_TRUE(fake.wait_accepted(2));
  ASSERT_TRUE(wait_ready());
  EXPECT_GE(io_.call([&] { return connection_->reconnects(); }), 1u);
  send(0, {"GET", "again"}, 3);
  ASSERT_TRUE(recorder_->wait_for(3));
  EXPECT_EQ(recorder_->got()[2].reply, "$2\r\nok\r\n");
}

// command_timeout is silence, not queueing time: an upstream that answers a long pipeline one
// reply at a time, never silent for long, is not timed out even though the last request waited
// far longer than the timeout. Here 50 requests are queued at once and answered 60 ms apart
// (3 s for the last, however fast the machine) with a 2 s timeout: counting from when a
// request was queued fails the last ones (checked by making the module do so); a false failure
// needs the fake's thread stalled for nearly two seconds.
TEST_F(ConnectionTest, UpstreamThatKeepsAnsweringALongPipelineIsNotTimedOut) {
  constexpr int kRequests = 50;
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    std::vector<Args> got;
    for (int i = 0; i < kRequests; ++i) {
      auto cmd = c.read_command(30s);
      if (!cmd) return;
      got.push_back(*cmd);
    }
    for (const auto& cmd : got) {
      std::this_thread::sleep_for(60ms);  // the scripted pace of this upstream, not a wait
      c.write("$" + std::to_string(cmd[1].size()) + "\r\n" + cmd[1] + "\r\n");
    }
    (void)c.read_command(30s);  // holds the connection until the module closes it
  });
  Settings settings = settings_for(fake);
  settings.command_timeout = 2s;
  open(settings);
  ASSERT_TRUE(wait_ready());
  for (int i = 0; i < kRequests; ++i) send(0, {"GET", "k" + std::to_string(i)}, i);
  ASSERT_TRUE(recorder_->wait_for(kRequests));
  const auto got = recorder_->got();
  for (int i = 0; i < kRequests; ++i) {
    const std::string key = "k" + std::to_string(i);
    EXPECT_EQ(got[static_cast<std::size_t>(i)].reply,
              "$" + std::to_string(key.size()) + "\r\n" + key + "\r\n")
        << "request " << i;
  }
  EXPECT_EQ(io_.call([&] { return connection_->reconnects(); }), 0u);
}

TEST_F(ConnectionTest, LostConnectionFailsPendingThenReconnects) {
  Notification lost;
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    if (c.index() == 0) {
      EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
      c.close();  // as when Redis dies
      lost.notify();
      return;
    }
    EXPECT_EQ(c.read_command(), (Args{"GET", "b"}));
    c.write("$1\r\nB\r\n");
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "a"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  const auto failed = recorder_->got()[0];
  EXPECT_EQ(failed.kind, resp::ReplyKind::Error);
  // The first cause, not the cancellation of the loops it ended.
  EXPECT_EQ(failed.reply, "-ERR upstream connection lost (closed by upstream)\r\n");
  // Not ready meanwhile: send() refuses instead of queueing into a dead connection.
  ASSERT_TRUE(lost.wait());
  ASSERT_TRUE(fake.wait_accepted(2));
  ASSERT_TRUE(wait_ready());
  EXPECT_TRUE(send(0, {"GET", "b"}, 2));
  ASSERT_TRUE(recorder_->wait_for(2));
  EXPECT_EQ(recorder_->got()[1].reply, "$1\r\nB\r\n");
}

TEST_F(ConnectionTest, RefusedAuthIsNeverReadyAndRetries) {
  FakeUpstream fake([&](FakeConnection& c) {
    if (c.index() > 1) return;  // the test waits for two refusals and a third attempt
    EXPECT_EQ(c.read_command(), (Args{"AUTH", "app", "wrong"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache"}));
    c.write("-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n");
    EXPECT_TRUE(c.wait_closed());
  });
  Settings settings = settings_for(fake);
  settings.username = "app";
  settings.password = "wrong";
  open(settings);
  // It tries again (with backoff), each time with AUTH first, and never becomes ready.
  ASSERT_TRUE(fake.wait_accepted(3));
  EXPECT_FALSE(io_.call([&] { return connection_->ready(); }));
  EXPECT_FALSE(send(0, {"GET", "k"}, 1)) << "a request was queued on an unauthenticated connection";
  EXPECT_EQ(io_.call([&] { return connection_->last_error(); }),
            "AUTH refused: WRONGPASS invalid username-password pair or user is disabled.");
}

TEST_F(ConnectionTest, AcceptedAuthThenServes) {
  FakeUpstream fake([&](FakeConnection& c) {
    EXPECT_EQ(c.read_command(), (Args{"AUTH", "secret"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache"}));
    c.write("+OK\r\n+OK\r\n");
    EXPECT_EQ(c.read_command(), (Args{"PING"}));
    c.write("+PONG\r\n");
  });
  Settings settings = settings_for(fake);
  settings.password = "secret";
  open(settings);
  ASSERT_TRUE(wait_ready());
  send(-1, {"PING"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(recorder_->got()[0].reply, "+PONG\r\n");
}

TEST_F(ConnectionTest, ReplyWithoutARequestClosesTheConnection) {
  Notification closed;
  FakeUpstream fake([&](FakeConnection& c) {
    if (c.index() > 0) return;  // the reconnect
    handshake(c);
    c.write("+SURPRISE\r\n");
    EXPECT_TRUE(c.wait_closed());
    closed.notify();
  });
  open(settings_for(fake));
  EXPECT_TRUE(closed.wait());
  EXPECT_TRUE(fake.wait_accepted(2)) << "no reconnect after the protocol error";
}

TEST_F(ConnectionTest, StopFailsPendingAndStopsReconnecting) {
  Notification got_request;
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"GET", "k"}));
    got_request.notify();
    EXPECT_TRUE(c.wait_closed());
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "k"}, 1);
  ASSERT_TRUE(got_request.wait());
  io_.call([&] { connection_->stop(); });
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(recorder_->got()[0].kind, resp::ReplyKind::Error);
  EXPECT_TRUE(
      wait_until([&] { return io_.call([&] { return connection_->state() == State::Closed; }); }));
  EXPECT_EQ(fake.accepted(), 1);
}

// Requests queued by handlers that run while the writer gathers its batch (other clients' reads
// in the same turn of the worker) go to the upstream in the same write: Redis reads them at once.
TEST_F(ConnectionTest, RequestsQueuedInTheSameTurnGoUpstreamInOneWrite) {
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "b"}));
    c.write("$1\r\nA\r\n$1\r\nB\r\n");
  });
  open(settings_for(fake));
  ASSERT_TRUE(wait_ready());
  const std::uint64_t writes_before = stats().writes.load();
  io_.call([&] {
    // The first request wakes the writer; the second is queued by a handler posted after that
    // wake-up, as a second client's read would be.
    EXPECT_TRUE(connection_->send(0, command({"GET", "a"}), recorder_, 1));
    boost::asio::post(io_.io(), [this] {
      EXPECT_TRUE(connection_->send(0, command({"GET", "b"}), recorder_, 2));
    });
  });
  ASSERT_TRUE(recorder_->wait_for(2));
  EXPECT_EQ(stats().writes.load() - writes_before, 1u) << "the two requests took separate writes";
  const auto got = recorder_->got();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].reply, "$1\r\nA\r\n");
  EXPECT_EQ(got[1].reply, "$1\r\nB\r\n");
}

TEST(PoolTest, PickStaysOnTheFirstConnectionUntilItIsBatchSlackAhead) {
  FakeUpstream fake([&](FakeConnection& c) {
    handshake(c);
    while (c.read_command(30s)) {
      // Holds every request unanswered.
    }
  });
  IoThread io;
  auto settings = settings_for(fake);
  auto pool = io.call([&] {
    auto p = std::make_unique<Pool>(io.io(), settings, 2);
    EXPECT_EQ(p->pick(), nullptr) << "no connection is ready yet";
    EXPECT_EQ(p->unavailable_reason(), "not connected yet");
    p->start();
    return p;
  });
  ASSERT_TRUE(wait_until([&] { return io.call([&] { return pool->ready_count() == 2; }); }));
  auto target = std::make_shared<Recorder>();
  std::uint64_t tag = 0;
  io.call([&] {
    Connection* first = pool->pick();
    EXPECT_EQ(first, &pool->at(0));
    // Requests of many clients share the first connection, so they share its writes ...
    for (std::size_t i = 0; i < Pool::kBatchSlack; ++i) {
      ASSERT_EQ(pool->pick(), first) << "after " << i << " requests in flight";
      EXPECT_TRUE(first->send(0, command({"GET", "x"}), target, ++tag));
    }
    EXPECT_EQ(pool->pick(), first);
    EXPECT_TRUE(first->send(0, command({"GET", "x"}), target, ++tag));
    // ... until it is more than kBatchSlack requests ahead of the least loaded one.
    Connection* second = pool->pick();
    EXPECT_EQ(second, &pool->at(1)) << "the loaded connection was picked again";
    EXPECT_TRUE(second->send(0, command({"GET", "y"}), target, ++tag));
    pool->stop();
  });
  ASSERT_TRUE(target->wait_for(tag));  // all failed by stop()
  io.call([&] { pool.reset(); });
}

// invalidation.tracking: default (data_tracking.hpp): the connection points itself at the
// subscriber of the current generation before its next request, and again for a new one.
class DataTrackingTest : public ConnectionTest {
 protected:
  std::shared_ptr<DataTracking> tracking_ =
      std::make_shared<DataTracking>([this] { ++lost_; }, 10s);
  std::atomic<int> lost_{0};
  Settings tracked_settings(const FakeUpstream& fake) {
    Settings s = settings_for(fake);
    s.tracking = tracking_;
    return s;
  }
  bool tracked() {
    return io_.call([&] { return connection_->tracked(); });
  }
};

TEST_F(DataTrackingTest, PointsAtEachGenerationsSubscriberBeforeItsNextRequest) {
  FakeUpstream fake([&](FakeConnection& c) {
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "7"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "b"}));  // same generation: nothing between
    c.write("+OK\r\n$1\r\nA\r\n$1\r\nB\r\n");
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "9"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "c"}));
    c.write("+OK\r\n$1\r\nC\r\n");
  });
  tracking_->point_to(7);
  const std::uint64_t first = tracking_->generation();
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  EXPECT_FALSE(tracked()) << "nothing queued yet: not pointed";
  EXPECT_EQ(tracking_->proven_as_of(first), std::chrono::steady_clock::time_point::max());
  const auto before = std::chrono::steady_clock::now();
  send(0, {"GET", "a"}, 1);
  send(0, {"GET", "b"}, 2);
  EXPECT_TRUE(tracked());
  EXPECT_GE(tracking_->proven_as_of(first), before);
  ASSERT_TRUE(recorder_->wait_for(2));
  tracking_->point_to(9);
  EXPECT_FALSE(tracked()) << "a new subscriber: reads are not cached until re-pointed";
  EXPECT_EQ(tracking_->proven_as_of(tracking_->generation()),
            std::chrono::steady_clock::time_point::max());
  send(0, {"GET", "c"}, 3);
  EXPECT_TRUE(tracked());
  ASSERT_TRUE(recorder_->wait_for(3));
  const auto got = recorder_->got();
  EXPECT_EQ(got[0].reply, "$1\r\nA\r\n");
  EXPECT_EQ(got[1].reply, "$1\r\nB\r\n");
  EXPECT_EQ(got[2].reply, "$1\r\nC\r\n");
  EXPECT_EQ(lost_.load(), 0);
}

TEST_F(DataTrackingTest, WithoutASubscriberNothingIsPointedOrTracked) {
  FakeUpstream fake([&](FakeConnection& c) {
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    c.write("$1\r\nA\r\n");
  });
  tracking_->point_to(7);
  tracking_->unpoint();
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "a"}, 1);
  EXPECT_FALSE(tracked());
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(recorder_->got()[0].reply, "$1\r\nA\r\n");
}

// A connection Redis lists as tracking (CLIENT LIST ID in the fence round) does not hold the
// round back, however old its own proof; one it does not list counts with its proof.
TEST_F(DataTrackingTest, ConnectionsListedAliveDoNotHoldTheRoundBack) {
  Notification may_reply;
  FakeUpstream fake([&](FakeConnection& c) {
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "7"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "slow"}));
    ASSERT_TRUE(may_reply.wait());
    c.write("+OK\r\n$1\r\nS\r\n");
  });
  tracking_->point_to(7);
  const std::uint64_t gen = tracking_->generation();
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "slow"}, 1);
  const auto pointed = tracking_->proven_as_of(gen);
  ASSERT_NE(pointed, std::chrono::steady_clock::time_point::max());
  EXPECT_EQ(tracking_->client_ids(gen), (std::vector<std::uint64_t>{41}));
  const std::uint64_t listed[] = {41};
  EXPECT_EQ(tracking_->proven_as_of(gen, listed), std::chrono::steady_clock::time_point::max());
  const std::uint64_t others[] = {40, 42};
  EXPECT_EQ(tracking_->proven_as_of(gen, others), pointed);
  may_reply.notify();
  ASSERT_TRUE(recorder_->wait_for(1));
}

// A RESP3 tracking connection hears "tracking-redir-broken" when its subscriber is gone: a push,
// never the reply of the request in front.
TEST_F(DataTrackingTest, PushesAreNotTakenForReplies) {
  FakeUpstream fake([&](FakeConnection& c) {
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "7"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    c.write("+OK\r\n>2\r\n$21\r\ntracking-redir-broken\r\n:7\r\n$1\r\nA\r\n");
  });
  tracking_->point_to(7);
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "a"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(recorder_->got()[0].reply, "$1\r\nA\r\n");
}

// Redis forgets a connection's reads when it goes: L1 must forget what it filled, and the
// connection no longer counts in fence rounds.
TEST_F(DataTrackingTest, ALostConnectionMakesL1Forget) {
  FakeUpstream fake([&](FakeConnection& c) {
    if (c.index() > 0) return;  // the reconnect: left connecting
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "7"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    c.write("+OK\r\n$1\r\nA\r\n");
    c.close();
  });
  tracking_->point_to(7);
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "a"}, 1);
  ASSERT_TRUE(wait_until([&] { return lost_.load() == 1; }));
  EXPECT_EQ(tracking_->proven_as_of(tracking_->generation()),
            std::chrono::steady_clock::time_point::max());
  EXPECT_FALSE(tracked());
}

// CLIENT TRACKING refused (an ACL without CLIENT): what was queued behind it counted as tracked,
// so L1 forgets; the connection keeps serving, uncached, and does not ask again this generation.
TEST_F(DataTrackingTest, RefusedTrackingLeavesTheConnectionServingUntracked) {
  FakeUpstream fake([&](FakeConnection& c) {
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "7"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    c.write("-NOPERM this user has no permissions to run the 'client|tracking' command\r\n");
    c.write("$1\r\nA\r\n");
    EXPECT_EQ(c.read_command(), (Args{"GET", "b"}));
    c.write("$1\r\nB\r\n");
  });
  tracking_->point_to(7);
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "a"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  EXPECT_EQ(lost_.load(), 1);
  EXPECT_FALSE(tracked());
  send(0, {"GET", "b"}, 2);
  ASSERT_TRUE(recorder_->wait_for(2));
  EXPECT_EQ(recorder_->got()[1].reply, "$1\r\nB\r\n");
  EXPECT_TRUE(io_.call([&] { return connection_->ready(); }));
}

// An idle tracking connection PINGs so that fence rounds can count it as alive.
TEST_F(DataTrackingTest, AnIdleConnectionProvesItselfWithPings) {
  Notification pinged;
  FakeUpstream fake([&](FakeConnection& c) {
    tracked_handshake(c);
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "TRACKING", "on", "REDIRECT", "7"}));
    EXPECT_EQ(c.read_command(), (Args{"GET", "a"}));
    c.write("+OK\r\n$1\r\nA\r\n");
    EXPECT_EQ(c.read_command(30s), (Args{"PING"}));
    c.write("+PONG\r\n");
    pinged.notify();
    while (!c.stopping()) {  // it goes on PINGing until the test ends
      if (c.read_command(100ms) == Args{"PING"}) c.write("+PONG\r\n");
    }
  });
  tracking_ = std::make_shared<DataTracking>([this] { ++lost_; }, 20ms);
  tracking_->point_to(7);
  open(tracked_settings(fake));
  ASSERT_TRUE(wait_ready());
  send(0, {"GET", "a"}, 1);
  ASSERT_TRUE(recorder_->wait_for(1));
  const auto answered = tracking_->proven_as_of(tracking_->generation());
  ASSERT_TRUE(pinged.wait(30s));
  EXPECT_TRUE(
      wait_until([&] { return tracking_->proven_as_of(tracking_->generation()) > answered; }));
  EXPECT_EQ(recorder_->got().size(), 1u) << "the PONGs are the connection's own";
}

}  // namespace
}  // namespace frontcache::upstream
