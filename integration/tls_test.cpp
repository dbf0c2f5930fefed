// TLS on both sides of the proxy (issue 13, item 1), with real processes: redis-server on a TLS
// port only, certificates made by the openssl CLI in the test's temp dir, clients speaking TLS
// through OpenSSL (TlsClient), redis-cli --tls and ioredis's `tls` option. Every wait is for an
// event (a reply, a close, a counter) with a generous deadline; nothing depends on speed.
#include "tls.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"
#include "twin.hpp"

namespace frontcache::integration {
namespace {

using Clock = std::chrono::steady_clock;

std::string info_field(const std::string& info, const std::string& field) {
  const auto pos = info.find("\r\n" + field + ":");
  if (pos == std::string::npos) return "";
  const auto start = pos + field.size() + 3;
  return info.substr(start, info.find("\r\n", start) - start);
}

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (target_kind() != TargetKind::Proxy) GTEST_SKIP() << "TLS is the proxy's";
    certs_ = make_certificates(dir_.path(), "main");
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (redis_) std::cout << "--- redis log\n" << redis_->log();
    for (auto& p : proxies_) std::cout << "--- frontcache log\n" << p->log();
  }

  RedisServer& start_redis(bool auth_clients = false, std::vector<std::string> args = {}) {
    RedisTls tls{certs_.server_cert, certs_.server_key,  certs_.ca_cert,
                 auth_clients,       certs_.client_cert, certs_.client_key};
    redis_ = std::make_unique<RedisServer>(dir_.path(), tls, std::move(args));
    return *redis_;
  }

  // A direct TLS connection to the redis-server (for writes the proxy does not see).
  std::unique_ptr<TlsClient> redis_client() {
    return std::make_unique<TlsClient>(
        redis_->port(), TlsClientOptions{certs_.ca_cert, certs_.client_cert, certs_.client_key});
  }

  // `upstream.tls` as YAML lines under `upstream:`; `extra` is appended at the top level.
  Frontcache& start_proxy(const std::string& upstream_tls, const std::string& extra = "") {
    FrontcacheOptions options;
    options.binary = frontcache_binary();
    options.upstream_port = redis_->port();
    options.upstream_yaml = upstream_tls;
    options.extra_yaml = extra;
    proxies_.push_back(std::make_unique<Frontcache>(
        TempDirPath(dir_, "proxy" + std::to_string(proxies_.size())), options));
    return *proxies_.back();
  }
  std::string upstream_tls() const { return "  tls:\n    ca_file: " + certs_.ca_cert + "\n"; }
  // A TLS listener on a free port; `more` adds `tls:` keys ("  key: value\n").
  std::string listener(uint16_t port, const std::string& more = "") const {
    return "tls:\n  listen: 127.0.0.1:" + std::to_string(port) +
           "\n  cert_file: " + certs_.server_cert + "\n  key_file: " + certs_.server_key + "\n" +
           more;
  }

  static std::string TempDirPath(const TempDir& dir, const std::string& name) {
    const std::string path = dir.file(name);
    std::filesystem::create_directories(path);
    return path;
  }

  // Waits until a forwarded command gets a reply from Redis rather than the proxy's
  // "upstream unavailable", and returns that reply.
  static Reply wait_for_upstream(uint16_t port) {
    RedisClient c("127.0.0.1", port);
    Reply r;
    eventually([&] {
      r = c("GET", "frontcache:tls:probe");
      return !(r.is_error() && r.str.starts_with("ERR upstream unavailable"));
    });
    return r;
  }

  static std::string proxy_info(uint16_t port) {
    RedisClient c("127.0.0.1", port);
    return "\r\n" + c("INFO", "frontcache").str;
  }

  TempDir dir_;
  Certificates certs_;
  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<Frontcache>> proxies_;
};

// ---- upstream side --------------------------------------------------------------------------

// Shared connections and the startup probe: the probe read `databases` and the version over TLS
// (SELECT's range and HELLO come from it), and reads are cached as over plain TCP.
TEST_F(Tls, UpstreamSharedConnectionsAndProbe) {
  start_redis(false, {"--databases", "4"});
  Frontcache& proxy = start_proxy(upstream_tls());
  ASSERT_EQ(wait_for_upstream(proxy.port()).type, Reply::Type::Nil);
  RedisClient c("127.0.0.1", proxy.port());
  EXPECT_EQ(c("SET", "k", "v").to_string(), "+OK");
  EXPECT_EQ(c("GET", "k").to_string(), "\"v\"");
  EXPECT_EQ(c("GET", "k").to_string(), "\"v\"");
  EXPECT_EQ(c("SELECT", "3").to_string(), "+OK");
  EXPECT_EQ(c("SELECT", "4").to_string(), "-ERR DB index is out of range");
  auto direct = redis_client();
  ASSERT_TRUE(direct->connected()) << direct->error();
  const std::string server_info = direct->command({"INFO", "server"});
  const std::string version = info_field(server_info, "redis_version");
  ASSERT_FALSE(version.empty());
  EXPECT_NE(c("HELLO", "2").to_string().find("\"version\", \"" + version + "\""),
            std::string::npos);
  const std::string info = proxy_info(proxy.port());
  EXPECT_EQ(info_field(info, "upstream_tls"), "1");
  EXPECT_EQ(info_field(info, "upstream_state"), "up");
}

// A RESP3 client's requests go over the RESP3 pool, which is TLS too: a map reply arrives as
// a map, not as the error of a pool that tried plain TCP on a TLS-only port.
TEST_F(Tls, UpstreamResp3Pool) {
  start_redis();
  Frontcache& proxy = start_proxy(upstream_tls());
  wait_for_upstream(proxy.port());
  RawClient c("127.0.0.1", proxy.port());
  ASSERT_TRUE(c.send(cmd({"HELLO", "3"})));
  ASSERT_TRUE(c.read_reply().value_or("").starts_with("%7\r\n"));
  ASSERT_TRUE(c.send(cmd({"HSET", "h", "f", "v"})));
  EXPECT_EQ(c.read_reply().value_or(""), ":1\r\n");
  ASSERT_TRUE(c.send(cmd({"HGETALL", "h"})));
  EXPECT_EQ(c.read_reply().value_or(""), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
}

// Pinned sessions get dedicated connections, each with its own TLS session.
TEST_F(Tls, UpstreamDedicatedConnections) {
  start_redis();
  Frontcache& proxy = start_proxy(upstream_tls());
  wait_for_upstream(proxy.port());
  RedisClient c("127.0.0.1", proxy.port());
  const auto tx = c.pipeline({{"MULTI"}, {"SET", "a", "1"}, {"INCR", "a"}, {"EXEC"}});
  ASSERT_EQ(tx.size(), 4u);
  EXPECT_EQ(tx[3].to_string(), "[+OK, :2]");

  RawClient sub("127.0.0.1", proxy.port());
  ASSERT_TRUE(sub.send(cmd({"SUBSCRIBE", "news"})));
  EXPECT_EQ(sub.read_reply().value_or(""), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  EXPECT_EQ(c("PUBLISH", "news", "hello").to_string(), ":1");
  EXPECT_EQ(sub.read_reply().value_or(""), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");

  RawClient blocked("127.0.0.1", proxy.port());
  ASSERT_TRUE(blocked.send(cmd({"BLPOP", "queue", "0"})));
  auto direct = redis_client();
  // The BLPOP is in Redis once the list has a waiting client; then a push from outside wakes it.
  ASSERT_TRUE(eventually([&] {
    return info_field(direct->command({"INFO", "clients"}), "blocked_clients") == "1";
  }));
  EXPECT_EQ(direct->command({"RPUSH", "queue", "job"}), ":1\r\n");
  EXPECT_EQ(blocked.read_reply().value_or(""), "*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n");
}

// The invalidation subscriber and tracker run over TLS: a write made directly on Redis evicts the
// proxy's cached copy.
TEST_F(Tls, UpstreamInvalidationOfDirectWrites) {
  start_redis();
  Frontcache& proxy = start_proxy(upstream_tls());
  wait_for_upstream(proxy.port());
  RedisClient c("127.0.0.1", proxy.port());
  ASSERT_TRUE(eventually([&] {
    return info_field(proxy_info(proxy.port()), "l1_state") == "armed";
  })) << proxy_info(proxy.port());
  EXPECT_EQ(c("SET", "user:1", "old").to_string(), "+OK");
  EXPECT_EQ(c("GET", "user:1").to_string(), "\"old\"");
  ASSERT_TRUE(eventually([&] {
    c("GET", "user:1");
    return std::stoll("0" + info_field(proxy_info(proxy.port()), "l1_hits")) > 0;
  }));
  auto direct = redis_client();
  EXPECT_EQ(direct->command({"SET", "user:1", "new"}), "+OK\r\n");
  EXPECT_TRUE(eventually([&] { return c("GET", "user:1").to_string() == "\"new\""; }));
}

// A certificate the proxy cannot verify: clients get a clear error, the log says why, and the
// proxy keeps serving what it can.
TEST_F(Tls, UpstreamWrongCaFailsCleanly) {
  start_redis();
  const Certificates other = make_certificates(dir_.path(), "other");
  Frontcache& proxy = start_proxy("  tls:\n    ca_file: " + other.ca_cert + "\n");
  RedisClient c("127.0.0.1", proxy.port());
  const Reply r = c("GET", "k");
  EXPECT_EQ(r.type, Reply::Type::Error) << r;
  EXPECT_TRUE(r.str.starts_with("ERR upstream unavailable (TLS handshake with 127.0.0.1:")) << r;
  EXPECT_NE(r.str.find("certificate verify failed"), std::string::npos) << r;
  EXPECT_EQ(c("PING").to_string(), "+PONG");
  EXPECT_TRUE(proxy.running());
  EXPECT_TRUE(eventually([&] {
    return proxy.log().find("check upstream.tls") != std::string::npos;
  })) << proxy.log();
  EXPECT_NE(proxy.log().find("certificate verify failed"), std::string::npos);
}

// The server's name is checked: a name the certificate does not carry fails, its DNS name works.
TEST_F(Tls, UpstreamServerNameIsVerified) {
  start_redis();
  Frontcache& wrong = start_proxy(upstream_tls() + "    server_name: redis.example\n");
  const Reply r = RedisClient("127.0.0.1", wrong.port())("GET", "k");
  EXPECT_NE(r.str.find("hostname mismatch"), std::string::npos) << r;
  Frontcache& right = start_proxy(upstream_tls() + "    server_name: localhost\n");
  EXPECT_EQ(wait_for_upstream(right.port()).type, Reply::Type::Nil);
  // verify: false accepts any certificate (here one from a CA the proxy was not given).
  Frontcache& unverified = start_proxy("  tls:\n    verify: false\n");
  EXPECT_EQ(wait_for_upstream(unverified.port()).type, Reply::Type::Nil);
}

// Redis with tls-auth-clients yes: the proxy's client certificate gets it in; without one, not.
TEST_F(Tls, UpstreamClientCertificate) {
  start_redis(true);
  Frontcache& without = start_proxy(upstream_tls());
  const Reply refused = RedisClient("127.0.0.1", without.port())("GET", "k");
  EXPECT_TRUE(refused.str.starts_with("ERR upstream unavailable")) << refused;
  Frontcache& with = start_proxy(upstream_tls() + "    cert_file: " + certs_.client_cert +
                                 "\n    key_file: " + certs_.client_key + "\n");
  EXPECT_EQ(wait_for_upstream(with.port()).type, Reply::Type::Nil);
}

// ---- client side ----------------------------------------------------------------------------

// The same bytes as Redis's own TLS port, through TLS on both sides, for a mix of replies.
TEST_F(Tls, ClientRepliesMatchRedisTlsPort) {
  start_redis();
  const uint16_t tls_port = free_port();
  Frontcache& proxy = start_proxy(upstream_tls(), listener(tls_port));
  wait_for_upstream(proxy.port());
  auto script = [](const std::string& p) {
    return cmd({"PING"}) + cmd({"SET", p + "s", "value"}) + cmd({"GET", p + "s"}) +
           cmd({"GET", p + "s"}) + cmd({"GET", p + "missing"}) + cmd({"INCR", p + "s"}) +
           cmd({"RPUSH", p + "l", "a", "b", "c"}) + cmd({"LRANGE", p + "l", "0", "-1"}) +
           cmd({"HSET", p + "h", "f", "1"}) + cmd({"HGETALL", p + "h"}) + cmd({"NOSUCHCOMMAND"}) +
           cmd({"GET"}) + cmd({"ECHO", std::string(100000, 'x')});
  };
  constexpr int kReplies = 13;
  auto run = [&](uint16_t port, const std::string& prefix) {
    TlsClient c(port, trust(certs_.ca_cert));
    EXPECT_TRUE(c.connected()) << c.error();
    EXPECT_TRUE(c.send(script(prefix)));
    std::string out;
    for (int i = 0; i < kReplies; ++i) out += c.read_reply().value_or("<none>");
    return out;
  };
  // Different keys on each side (both reach the same Redis), the same replies expected.
  const std::string from_redis = run(redis_->port(), "r:");
  const std::string from_proxy = run(tls_port, "p:");
  EXPECT_EQ(from_proxy, from_redis);

  // redis-cli --tls: the same output from both ports.
  const std::string commands = dir_.file("commands.txt");
  write_file(commands,
             "SET cli:k hello\nGET cli:k\nGET cli:k\nLPUSH cli:l x y\nLRANGE cli:l 0 -1\n");
  auto cli = [&](uint16_t port) {
    return run_command({"redis-cli", "--tls", "--cacert", certs_.ca_cert, "-h", "127.0.0.1", "-p",
                        std::to_string(port)},
                       dir_.path(), 30s, commands);
  };
  const RunResult via_redis = cli(redis_->port());
  run_command({"redis-cli", "--tls", "--cacert", certs_.ca_cert, "-p",
               std::to_string(redis_->port()), "DEL", "cli:k", "cli:l"},
              dir_.path(), 30s);
  const RunResult via_proxy = cli(tls_port);
  EXPECT_EQ(via_proxy.exit_code, 0) << via_proxy.err;
  EXPECT_EQ(via_proxy.out, via_redis.out);
  EXPECT_EQ(via_proxy.out, "OK\nhello\nhello\n2\ny\nx\n");
  const std::string info = proxy_info(proxy.port());
  EXPECT_EQ(info_field(info, "tls_port"), std::to_string(tls_port));
  EXPECT_EQ(info_field(info, "tls_handshake_failures"), "0");
}

// client_auth: required refuses clients without a certificate from tls.ca_file.
TEST_F(Tls, ClientMutualTlsRequired) {
  start_redis();
  const Certificates other = make_certificates(dir_.path(), "other");
  const uint16_t tls_port = free_port();
  Frontcache& proxy = start_proxy(
      upstream_tls(),
      listener(tls_port, "  ca_file: " + certs_.ca_cert + "\n  client_auth: required\n"));
  wait_for_upstream(proxy.port());
  {
    // In TLS 1.3 the client finishes its side first; the server's alert ends it at first read.
    TlsClient anonymous(tls_port, trust(certs_.ca_cert));
    if (anonymous.connected()) {
      EXPECT_EQ(anonymous.command({"PING"}), "") << anonymous.received();
    }
    TlsClient stranger(tls_port,
                       TlsClientOptions{certs_.ca_cert, other.client_cert, other.client_key});
    if (stranger.connected()) {
      EXPECT_EQ(stranger.command({"PING"}), "");
    }
  }
  TlsClient member(tls_port,
                   TlsClientOptions{certs_.ca_cert, certs_.client_cert, certs_.client_key});
  ASSERT_TRUE(member.connected()) << member.error();
  EXPECT_EQ(member.command({"PING"}), "+PONG\r\n");
  const RunResult cli =
      run_command({"redis-cli", "--tls", "--cacert", certs_.ca_cert, "--cert", certs_.client_cert,
                   "--key", certs_.client_key, "-p", std::to_string(tls_port), "PING"},
                  dir_.path(), 30s);
  EXPECT_EQ(cli.out, "PONG\n") << cli.err;
  EXPECT_TRUE(eventually([&] {
    return info_field(proxy_info(proxy.port()), "tls_handshake_failures") == "2";
  })) << proxy_info(proxy.port());
  EXPECT_TRUE(proxy.running());
}

// client_auth: optional serves clients without a certificate and refuses a bad one.
TEST_F(Tls, ClientMutualTlsOptional) {
  start_redis();
  const Certificates other = make_certificates(dir_.path(), "other");
  const uint16_t tls_port = free_port();
  start_proxy(upstream_tls(),
              listener(tls_port, "  ca_file: " + certs_.ca_cert + "\n  client_auth: optional\n"));
  TlsClient anonymous(tls_port, trust(certs_.ca_cert));
  EXPECT_EQ(anonymous.command({"PING"}), "+PONG\r\n") << anonymous.error();
  TlsClient stranger(tls_port,
                     TlsClientOptions{certs_.ca_cert, other.client_cert, other.client_key});
  if (stranger.connected()) {
    EXPECT_EQ(stranger.command({"PING"}), "");
  }
}

// Plaintext to the TLS port: the connection is closed without a reply, the proxy stays healthy.
TEST_F(Tls, ClientPlaintextToTlsPortIsClosed) {
  start_redis();
  const uint16_t tls_port = free_port();
  Frontcache& proxy = start_proxy(upstream_tls(), listener(tls_port));
  RawClient plain("127.0.0.1", tls_port);
  ASSERT_TRUE(plain.connected());
  plain.send("PING\r\n");
  EXPECT_TRUE(plain.read_until_closed(30s));
  EXPECT_EQ(plain.received().find("PONG"), std::string::npos);
  TlsClient c(tls_port, trust(certs_.ca_cert));
  EXPECT_EQ(c.command({"PING"}), "+PONG\r\n") << c.error();
  const std::string info = proxy_info(proxy.port());
  EXPECT_EQ(info_field(info, "tls_handshake_failures"), "1");
  EXPECT_EQ(info_field(info, "tls_connected_clients"), "1");
  EXPECT_NE(proxy.log().find("wrong version number"), std::string::npos) << proxy.log();
}

// A client that connects and never starts the handshake is closed at tls.handshake_timeout.
TEST_F(Tls, ClientHandshakeDeadline) {
  start_redis();
  const uint16_t tls_port = free_port();
  Frontcache& proxy =
      start_proxy(upstream_tls(), listener(tls_port, "  handshake_timeout: 200ms\n"));
  RawClient silent("127.0.0.1", tls_port);
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.read_until_closed(60s));
  EXPECT_EQ(info_field(proxy_info(proxy.port()), "tls_handshake_timeouts"), "1");
}

// A TLS client pipelining reads of a large value faster than it takes the replies is closed at
// limits.max_output_buffer, often while the writer is in the middle of an SSL write of one
// reply: a write of a reply is many TLS records, each its own socket write, and the close comes
// from a reply that arrives between two of them. The buffer being written must outlive the
// write (close() used to free it: a use-after-free, found by the network fuzzer under ASan with
// SIGHUP reloads). 30 rounds of 100 reads of 300 KB from Redis, nearly each ending in the close
// (at least one must); the proxy must answer afterwards. Against the ASan build
// (FRONTCACHE_BIN=build-asan/frontcache) the build before the fix aborted in the first two rounds,
// every run; the plain build read the freed memory without crashing, so in CI this guards the path,
// and ASan runs catch the bug.
TEST_F(Tls, ClientClosedAtTheOutputLimitInTheMiddleOfAWrite) {
  start_redis();
  const uint16_t tls_port = free_port();
  Frontcache& proxy =
      start_proxy(upstream_tls(), listener(tls_port) + "limits:\n  max_output_buffer: 1mb\n");
  wait_for_upstream(proxy.port());
  const std::string big(300 * 1024, 'x');
  ASSERT_EQ(RedisClient("127.0.0.1", proxy.port())("SET", "big", big).to_string(), "+OK");
  std::string reads;
  // GETEX without options: Redis's GET, but a write to the proxy, so every reply comes from
  // Redis, as a completion between the writer's steps (L1 hits would pause the reader instead).
  for (int i = 0; i < 100; ++i) reads += encode_command({"GETEX", "big"});
  for (int round = 0; round < 30; ++round) {
    TlsClient c(tls_port, trust(certs_.ca_cert), 60s);  // the timeout only guards against a hang
    ASSERT_TRUE(c.connected()) << "round " << round << ": " << c.error();
    ASSERT_TRUE(c.send(reads));
    // Until the proxy closes the connection (nearly always: Redis's replies arrive faster than
    // TLS writes them), or every reply has come.
    for (int i = 0; i < 100 && c.read_reply(); ++i) {
    }
    ASSERT_TRUE(proxy.running()) << "round " << round;
  }
  TlsClient after(tls_port, trust(certs_.ca_cert));
  ASSERT_TRUE(after.connected()) << after.error();
  EXPECT_EQ(after.command({"PING"}), "+PONG\r\n");
  EXPECT_NE(info_field(proxy_info(proxy.port()), "output_limit_disconnects"), "0");
}

// tls.listen without listen: TLS only.
TEST_F(Tls, ClientTlsOnlyListener) {
  start_redis();
  const uint16_t tls_port = free_port();
  // admin_commands: forward: FRONTCACHE CONFIG is @admin.
  const std::string yaml = listener(tls_port) +
                           "workers: 1\nadmin_commands: forward\nupstream:\n  address: 127.0.0.1:" +
                           std::to_string(redis_->port()) + "\n" + upstream_tls();
  const std::string config = dir_.file("tls-only.yaml");
  write_file(config, yaml);
  Process process(
      SpawnOptions{{frontcache_binary(), "--config", config}, "", "", dir_.file("tls-only.log")});
  bool up = eventually([&] {
    TlsClient c(tls_port, trust(certs_.ca_cert), 1s);
    return c.connected() && c.command({"SET", "only", "tls"}) == "+OK\r\n";
  });
  ASSERT_TRUE(up) << read_file(dir_.file("tls-only.log"));
  TlsClient c(tls_port, trust(certs_.ca_cert));
  const std::string shown = c.command({"FRONTCACHE", "CONFIG"});
  EXPECT_EQ(shown.find("\nlisten:"), std::string::npos) << shown;
  EXPECT_NE(shown.find("  listen: 127.0.0.1:" + std::to_string(tls_port)), std::string::npos);
  EXPECT_NE(read_file(dir_.file("tls-only.log"))
                .find("listening on 127.0.0.1:" + std::to_string(tls_port) + " (TLS)"),
            std::string::npos);
  process.terminate(10s);
}

// SIGHUP swaps the certificate while clients keep working: connections opened before keep
// theirs and see no error, new connections get the new certificate.
TEST_F(Tls, ClientCertificateReloadUnderLoad) {
  start_redis();
  const Certificates next = make_certificates(dir_.path(), "next");
  const std::string live_cert = dir_.file("live-cert.pem");
  const std::string live_key = dir_.file("live-key.pem");
  std::filesystem::copy_file(certs_.server_cert, live_cert);
  std::filesystem::copy_file(certs_.server_key, live_key);
  // Clients trust both CAs, so that they can connect before and after the swap.
  const std::string bundle = dir_.file("both-ca.pem");
  write_file(bundle, read_file(certs_.ca_cert) + read_file(next.ca_cert));
  const uint16_t tls_port = free_port();
  const std::string tls_yaml = "tls:\n  listen: 127.0.0.1:" + std::to_string(tls_port) +
                               "\n  cert_file: " + live_cert + "\n  key_file: " + live_key + "\n";
  Frontcache& proxy = start_proxy(upstream_tls(), tls_yaml);
  wait_for_upstream(proxy.port());

  const TlsClientOptions options = trust(bundle);
  const std::string old_serial = TlsClient(tls_port, options).peer_serial();
  ASSERT_FALSE(old_serial.empty());

  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::atomic<long> ops{0};
  std::vector<std::string> first_errors(kClients + 1);
  std::vector<std::thread> threads;
  // Long-lived connections, opened before the reload, each doing SET/GET round trips.
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      TlsClient c(tls_port, options);
      const std::string key = "load:" + std::to_string(i);
      for (long n = 0; !stop; ++n) {
        const std::string value = std::to_string(n);
        const bool ok =
            c.command({"SET", key, value}) == "+OK\r\n" &&
            c.command({"GET", key}) == "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
        if (!ok) {
          if (errors++ == 0) first_errors[i] = c.error() + " / " + c.received().substr(0, 200);
          return;
        }
        ++ops;
      }
      EXPECT_EQ(c.peer_serial(), old_serial);  // the connection kept its certificate
    });
  }
  // New connections all along, each with one command.
  std::atomic<long> new_certificate_connections{0};
  threads.emplace_back([&] {
    while (!stop) {
      TlsClient c(tls_port, options);
      if (c.command({"PING"}) != "+PONG\r\n") {
        if (errors++ == 0) first_errors[kClients] = "new connection: " + c.error();
        return;
      }
      if (c.peer_serial() != old_serial) ++new_certificate_connections;
    }
  });
  ASSERT_TRUE(eventually([&] { return ops >= 200 || errors > 0; }));

  // Swap the files (each replaced in one rename, as certificate tools do) and reload.
  std::filesystem::copy_file(next.server_cert, live_cert + ".new");
  std::filesystem::copy_file(next.server_key, live_key + ".new");
  std::filesystem::rename(live_cert + ".new", live_cert);
  std::filesystem::rename(live_key + ".new", live_key);
  proxy.signal(SIGHUP);
  std::string new_serial;
  const bool switched = eventually([&] {
    new_serial = TlsClient(tls_port, options).peer_serial();
    return !new_serial.empty() && new_serial != old_serial;
  });
  const long ops_at_switch = ops;
  // The load goes on for a while on the new certificate before it stops.
  eventually([&] {
    return (ops >= ops_at_switch + 200 && new_certificate_connections >= 20) || errors > 0;
  });
  stop = true;
  for (auto& t : threads) t.join();

  EXPECT_TRUE(switched) << "new connections never saw the new certificate";
  EXPECT_EQ(errors.load(), 0) << first_errors[0] << first_errors[1] << first_errors[2]
                              << first_errors[3] << first_errors[4];
  TlsClient after(tls_port, trust(next.ca_cert));
  ASSERT_TRUE(after.connected()) << after.error();
  EXPECT_EQ(after.peer_subject(), next.server_subject);
  EXPECT_GE(new_certificate_connections.load(), 20);
  const std::string info = proxy_info(proxy.port());
  EXPECT_EQ(info_field(info, "tls_certificate_reloads"), "1");
  EXPECT_EQ(info_field(info, "tls_handshake_failures"), "0");
  EXPECT_NE(proxy.log().find("TLS certificates reloaded"), std::string::npos);
}

// A reload with files that cannot be used keeps the running certificate.
TEST_F(Tls, ClientBadCertificateOnReloadKeepsTheRunningOne) {
  start_redis();
  const Certificates other = make_certificates(dir_.path(), "other");
  const std::string live_key = dir_.file("live-key.pem");
  std::filesystem::copy_file(certs_.server_key, live_key);
  const uint16_t tls_port = free_port();
  Frontcache& proxy =
      start_proxy(upstream_tls(), "tls:\n  listen: 127.0.0.1:" + std::to_string(tls_port) +
                                      "\n  cert_file: " + certs_.server_cert +
                                      "\n  key_file: " + live_key + "\n");
  TlsClient before(tls_port, trust(certs_.ca_cert));
  ASSERT_TRUE(before.connected()) << before.error();
  std::filesystem::copy_file(other.server_key, live_key,
                             std::filesystem::copy_options::overwrite_existing);
  proxy.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return info_field(proxy_info(proxy.port()), "tls_certificate_reload_failures") == "1";
  }));
  EXPECT_NE(proxy.log().find("TLS certificates not reloaded: tls.key_file"), std::string::npos)
      << proxy.log();
  TlsClient after(tls_port, trust(certs_.ca_cert));
  EXPECT_EQ(after.command({"PING"}), "+PONG\r\n") << after.error();
  EXPECT_EQ(after.peer_serial(), before.peer_serial());
  EXPECT_EQ(before.command({"PING"}), "+PONG\r\n");
}

// A key that does not match the certificate: --check-config says so, and the proxy does not start.
TEST_F(Tls, ClientMismatchedKeyStopsTheStart) {
  const Certificates other = make_certificates(dir_.path(), "other");
  const std::string config = dir_.file("mismatch.yaml");
  write_file(config, "listen: 127.0.0.1:" + std::to_string(free_port()) +
                         "\ntls:\n  listen: 127.0.0.1:" + std::to_string(free_port()) +
                         "\n  cert_file: " + certs_.server_cert +
                         "\n  key_file: " + other.server_key + "\n");
  const std::string expected =
      "tls.key_file " + other.server_key + ": does not match the certificate";
  const RunResult check =
      run_command({frontcache_binary(), "--config", config, "--check-config"}, dir_.path(), 30s);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(expected), std::string::npos) << check.err;
  const RunResult start = run_command({frontcache_binary(), "--config", config}, dir_.path(), 30s);
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_NE(start.err.find(expected), std::string::npos) << start.err;
}

// ioredis with its `tls` option (mutual TLS), against the proxy and against Redis's TLS port.
TEST_F(Tls, ClientIoredis) {
  if (run_command({"node", "--version"}, dir_.path(), 10s).exit_code != 0) {
    GTEST_SKIP() << "node is not installed";
  }
  ASSERT_TRUE(std::filesystem::exists(node_dir() + "/node_modules/ioredis"))
      << "ioredis is missing: run scripts/install-deps.sh";
  start_redis();
  const uint16_t tls_port = free_port();
  start_proxy(upstream_tls(),
              listener(tls_port, "  ca_file: " + certs_.ca_cert + "\n  client_auth: required\n"));
  for (const uint16_t port : {redis_->port(), tls_port}) {
    const RunResult r =
        run_command({"node", node_dir() + "/tls.js", "127.0.0.1", std::to_string(port),
                     certs_.ca_cert, certs_.client_cert, certs_.client_key},
                    dir_.path(), 120s);
    EXPECT_EQ(r.exit_code, 0) << "port " << port << "\n" << r.out << r.err;
    EXPECT_EQ(r.out.rfind("OK", 0), 0u) << r.out;
  }
}

}  // namespace
}  // namespace frontcache::integration
