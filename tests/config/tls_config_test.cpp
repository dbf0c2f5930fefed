// tls.* (the TLS listener) and upstream.tls: what loads, what is refused and with which path.
// The files only need to be readable here; their contents are checked when the server starts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace frontcache::config {
namespace {

using ::testing::Contains;
using testing::errors_without_position;
using ::testing::IsEmpty;
using testing::load;
using ::testing::StartsWith;
using testing::TempDir;

class TlsConfig : public ::testing::Test {
 protected:
  TlsConfig()
      : cert_(dir_.write("cert.pem", "x")),
        key_(dir_.write("key.pem", "x")),
        ca_(dir_.write("ca.pem", "x")) {}

  Config load_ok(const std::string& yaml) {
    LoadResult result = load(yaml);
    EXPECT_THAT(result.errors, IsEmpty()) << yaml;
    return result.config.value_or(Config{});
  }
  std::vector<std::string> errors(const std::string& yaml) {
    return errors_without_position(load(yaml));
  }
  std::string listener(const std::string& more = "") {
    return "tls:\n  listen: 127.0.0.1:6443\n  cert_file: " + cert_ + "\n  key_file: " + key_ +
           "\n" + more;
  }

  TempDir dir_;
  std::string cert_, key_, ca_;
};

TEST_F(TlsConfig, OffByDefault) {
  const Config c = load_ok("");
  EXPECT_FALSE(c.tls.listen.has_value());
  EXPECT_TRUE(c.plain_listener);
  EXPECT_FALSE(c.upstream.tls.enabled);
}

TEST_F(TlsConfig, ListenerAloneMeansTlsOnly) {
  const Config c = load_ok(listener());
  ASSERT_TRUE(c.tls.listen.has_value());
  EXPECT_EQ(c.tls.listen->port, 6443);
  EXPECT_FALSE(c.plain_listener);
  EXPECT_EQ(c.tls.cert_file, cert_);
  EXPECT_EQ(c.tls.client_auth, ClientAuth::None);
  EXPECT_EQ(c.tls.min_version, TlsVersion::Tls12);
  EXPECT_EQ(c.tls.handshake_timeout, Duration{10000});
}

TEST_F(TlsConfig, ExplicitListenKeepsThePlainPort) {
  const Config c = load_ok("listen: 127.0.0.1:6380\n" + listener());
  EXPECT_TRUE(c.plain_listener);
  EXPECT_EQ(c.listen.port, 6380);
}

TEST_F(TlsConfig, EverySetting) {
  const Config c = load_ok(listener("  ca_file: " + ca_ +
                                    "\n  client_auth: required\n  min_version: 1.3\n"
                                    "  ciphers: ECDHE-RSA-AES128-GCM-SHA256\n"
                                    "  ciphersuites: TLS_AES_128_GCM_SHA256\n"
                                    "  handshake_timeout: 500ms\n"));
  EXPECT_EQ(c.tls.ca_file, ca_);
  EXPECT_EQ(c.tls.client_auth, ClientAuth::Required);
  EXPECT_EQ(c.tls.min_version, TlsVersion::Tls13);
  EXPECT_EQ(c.tls.ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(c.tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(c.tls.handshake_timeout, Duration{500});
  EXPECT_EQ(load_ok(listener("  min_version: TLSv1.2\n")).tls.min_version, TlsVersion::Tls12);
}

TEST_F(TlsConfig, RelativePathsAreRelativeToTheConfigFile) {
  const std::string path =
      dir_.write("frontcache.yaml",
                 "tls: {listen: 127.0.0.1:6443, cert_file: cert.pem, key_file: key.pem}\n"
                 "upstream: {tls: {ca_file: ca.pem}}\n");
  const LoadResult result = load_from_file(path);
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->tls.cert_file, cert_);
  EXPECT_EQ(result.config->upstream.tls.ca_file, ca_);
}

TEST_F(TlsConfig, ListenerMistakes) {
  EXPECT_THAT(errors("tls: {cert_file: " + cert_ + "}\n"),
              Contains(StartsWith("tls: needs listen (the TLS port)")));
  EXPECT_THAT(errors("tls: {listen: 127.0.0.1:6443}\n"),
              Contains(StartsWith("tls.cert_file: required with tls.listen")));
  EXPECT_THAT(errors("tls: {listen: 127.0.0.1:6443, cert_file: " + cert_ + "}\n"),
              Contains(StartsWith("tls.key_file: required with tls.listen")));
  EXPECT_THAT(errors("tls: {listen: 127.0.0.1:6443, cert_file: /nonexistent/c.pem, key_file: " +
                     key_ + "}\n"),
              Contains("tls.cert_file: cannot read \"/nonexistent/c.pem\": No such file or "
                       "directory"));
  EXPECT_THAT(errors(listener("  client_auth: required\n")),
              Contains(StartsWith("tls.ca_file: required when tls.client_auth is optional or "
                                  "required")));
  EXPECT_THAT(errors(listener("  client_auth: maybe\n")),
              Contains("tls.client_auth: expected one of none, optional, required, got \"maybe\""));
  EXPECT_THAT(errors(listener("  min_version: 1.1\n")),
              Contains(StartsWith("tls.min_version: expected one of 1.2, 1.3")));
  EXPECT_THAT(errors(listener("  ciphers: \"\"\n")), Contains("tls.ciphers: must not be empty"));
  EXPECT_THAT(errors(listener("  handshake_timeout: 0\n")),
              Contains(StartsWith("tls.handshake_timeout: must be greater than 0")));
  EXPECT_THAT(errors("listen: 127.0.0.1:6443\n" + listener()),
              Contains("tls.listen: is the same address as listen; use another port"));
}

TEST_F(TlsConfig, Upstream) {
  EXPECT_TRUE(load_ok("upstream: {tls: true}\n").upstream.tls.enabled);
  EXPECT_FALSE(load_ok("upstream: {tls: false}\n").upstream.tls.enabled);
  const Config c =
      load_ok("upstream:\n  tls:\n    ca_file: " + ca_ + "\n    cert_file: " + cert_ +
              "\n    key_file: " + key_ + "\n    server_name: redis.internal\n    verify: false\n");
  EXPECT_TRUE(c.upstream.tls.enabled);
  EXPECT_EQ(c.upstream.tls.ca_file, ca_);
  EXPECT_EQ(c.upstream.tls.cert_file, cert_);
  EXPECT_EQ(c.upstream.tls.key_file, key_);
  EXPECT_EQ(c.upstream.tls.server_name, "redis.internal");
  EXPECT_FALSE(c.upstream.tls.verify);
  EXPECT_TRUE(load_ok("upstream: {tls: {verify: true}}\n").upstream.tls.enabled);
  EXPECT_TRUE(load_ok("upstream: {tls: {}}\n").upstream.tls.enabled);
}

TEST_F(TlsConfig, UpstreamMistakes) {
  EXPECT_THAT(errors("upstream: {tls: yes}\n"),
              Contains("upstream.tls: expected true or false, got \"yes\""));
  EXPECT_THAT(errors("upstream: {tls: {cert_file: " + cert_ + "}}\n"),
              Contains("upstream.tls: cert_file and key_file go together; key_file is missing"));
  EXPECT_THAT(errors("upstream: {tls: {ca_file: /nonexistent/ca.pem}}\n"),
              Contains(StartsWith("upstream.tls.ca_file: cannot read \"/nonexistent/ca.pem\"")));
  EXPECT_THAT(errors("upstream: {tls: {server_name: \"\"}}\n"),
              Contains("upstream.tls.server_name: must not be empty"));
  EXPECT_THAT(errors("upstream: {tls: {verfy: false}}\n"),
              Contains("upstream.tls.verfy: unknown key (did you mean verify?)"));
}

TEST_F(TlsConfig, RendersAndLoadsBack) {
  for (const std::string& yaml :
       {listener("  ca_file: " + ca_ + "\n  client_auth: optional\n  min_version: 1.3\n" +
                 "  ciphers: HIGH\n  ciphersuites: TLS_AES_256_GCM_SHA384\n"),
        "listen: 127.0.0.1:7000\n" + listener() + "upstream: {tls: {ca_file: " + ca_ +
            ", server_name: r.example, verify: false}}\n",
        std::string("upstream: {tls: true}\n")}) {
    const Config c = load_ok(yaml);
    const std::string text = to_yaml(c);
    const LoadResult back = load(text);
    ASSERT_THAT(back.errors, IsEmpty()) << text;
    EXPECT_TRUE(*back.config == c) << text;
  }
}

TEST_F(TlsConfig, ListenFlagAddsThePlainPort) {
  Config c = load_ok(listener());
  CommandLine cli;
  cli.listen = "127.0.0.1:7001";
  EXPECT_THAT(apply_overrides(c, cli), IsEmpty());
  EXPECT_TRUE(c.plain_listener);
  cli.listen = "127.0.0.1:6443";
  EXPECT_THAT(apply_overrides(c, cli),
              Contains("--listen: is the same address as tls.listen; use another port"));
}

}  // namespace
}  // namespace frontcache::config
