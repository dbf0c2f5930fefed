// upstream::DedicatedConnection against a scripted fake Redis: requests queued before the
// handshake go out after it, in order; every frame reaches the target, asked for or not; a
// close is reported once; a refused AUTH is a close; stop() and detach() silence the target.
#include "frontcache/upstream/dedicated.hpp"

#include <gtest/gtest.h>

#include "fake_upstream.hpp"

namespace frontcache::upstream {
namespace {

using namespace frontcache::testing;
using Args = std::vector<std::string>;
using namespace std::chrono_literals;

class Frames final : public StreamTarget {
 public:
  void on_frame(std::string_view frame, resp::ReplyKind) override {
    std::lock_guard lock(mu_);
    frames_.emplace_back(frame);
  }
  void on_stream_closed(const std::string& reason) override {
    std::lock_guard lock(mu_);
    closes_.push_back(reason);
  }
  bool wait_frames(std::size_t n) {
    return wait_until([&] {
      std::lock_guard lock(mu_);
      return frames_.size() >= n;
    });
  }
  bool wait_closed() {
    return wait_until([&] {
      std::lock_guard lock(mu_);
      return !closes_.empty();
    });
  }
  std::vector<std::string> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  std::vector<std::string> closes() {
    std::lock_guard lock(mu_);
    return closes_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> frames_;
  std::vector<std::string> closes_;
};

class DedicatedTest : public ::testing::Test {
 protected:
  void open(const FakeUpstream& fake, const std::string& password = "") {
    Settings s;
    s.port = fake.port();
    s.password = password;
    s.connect_timeout = 10s;
    io_.call([&] {
      connection_ = std::make_unique<DedicatedConnection>(io_.io(), s);
      connection_->attach(frames_);
      connection_->start();
    });
  }
  void send(const Args& args) {
    io_.call([&] { connection_->send(resp_array(args)); });
  }
  bool alive() {
    return io_.call([&] { return connection_->alive(); });
  }
  void TearDown() override {
    io_.call([&] { connection_.reset(); });
  }

  IoThread io_;
  std::unique_ptr<DedicatedConnection> connection_;
  std::shared_ptr<Frames> frames_ = std::make_shared<Frames>();
};

TEST_F(DedicatedTest, HandshakeFirstThenRequestsInOrderAndEveryFrame) {
  Notification release_handshake;
  FakeUpstream fake([&](FakeConnection& c) {
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache-pinned"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "ID"}));
    // The session's requests, sent before the handshake was answered, follow it in order.
    EXPECT_EQ(c.read_command(), (Args{"SUBSCRIBE", "news"}));
    EXPECT_EQ(c.read_command(), (Args{"PING"}));
    ASSERT_TRUE(release_handshake.wait());
    c.write("+OK\r\n:7\r\n");  // the handshake's replies: not frames for the target
    c.write("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    c.write("*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    // A frame nobody asked for: a published message.
    c.write("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
  });
  open(fake);
  send({"SUBSCRIBE", "news"});
  send({"PING"});
  release_handshake.notify();
  ASSERT_TRUE(frames_->wait_frames(3));
  EXPECT_EQ(frames_->frames(), (std::vector<std::string>{
                                   "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
                                   "*2\r\n$4\r\npong\r\n$0\r\n\r\n",
                                   "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
                               }));
  EXPECT_TRUE(alive());
  EXPECT_TRUE(frames_->closes().empty());
  EXPECT_EQ(io_.call([&] { return connection_->upstream_id(); }), 7u);  // CLIENT UNBLOCK's name
}

TEST_F(DedicatedTest, CloseByUpstreamIsReportedOnce) {
  FakeUpstream fake([&](FakeConnection& c) {
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache-pinned"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "ID"}));
    c.write("+OK\r\n:7\r\n");
    EXPECT_EQ(c.read_command(), (Args{"BLPOP", "q", "0"}));
    c.close();
  });
  open(fake);
  send({"BLPOP", "q", "0"});
  ASSERT_TRUE(frames_->wait_closed());
  EXPECT_EQ(frames_->closes(), (std::vector<std::string>{"closed by upstream"}));
  EXPECT_FALSE(alive());
  EXPECT_TRUE(frames_->frames().empty());
  EXPECT_EQ(fake.accepted(), 1) << "a dedicated connection never reconnects";
}

TEST_F(DedicatedTest, RefusedAuthClosesTheStream) {
  FakeUpstream fake([&](FakeConnection& c) {
    EXPECT_EQ(c.read_command(), (Args{"AUTH", "nope"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache-pinned"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "ID"}));
    EXPECT_EQ(c.read_command(), (Args{"MULTI"}));
    c.write(
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n:7\r\n+OK\r\n");
    c.wait_closed();
  });
  open(fake, "nope");
  send({"MULTI"});
  ASSERT_TRUE(frames_->wait_closed());
  EXPECT_EQ(frames_->closes(),
            (std::vector<std::string>{
                "AUTH refused: WRONGPASS invalid username-password pair or user is disabled."}));
  EXPECT_TRUE(frames_->frames().empty()) << "a reply reached the session after AUTH failed";
  EXPECT_FALSE(alive());
}

TEST_F(DedicatedTest, StopAndDetachSilenceTheTarget) {
  Notification got;
  FakeUpstream fake([&](FakeConnection& c) {
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "SETNAME", "frontcache-pinned"}));
    EXPECT_EQ(c.read_command(), (Args{"CLIENT", "ID"}));
    c.write("+OK\r\n:7\r\n");
    EXPECT_EQ(c.read_command(), (Args{"MONITOR"}));
    got.notify();
    EXPECT_TRUE(c.wait_closed());
  });
  open(fake);
  send({"MONITOR"});
  ASSERT_TRUE(got.wait());
  io_.call([&] {
    connection_->detach();
    connection_->stop();
  });
  EXPECT_FALSE(alive());
  // The fake saw the close; the target heard nothing.
  EXPECT_TRUE(frames_->closes().empty());
  EXPECT_TRUE(frames_->frames().empty());
}

}  // namespace
}  // namespace frontcache::upstream
