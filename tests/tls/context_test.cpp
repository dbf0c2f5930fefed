// TLS contexts: settings that cannot be used fail with the setting's name and OpenSSL's reason,
// before any certificate is needed where possible. Handshakes are covered by integration/tls_test.
#include "frontcache/tls/context.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <filesystem>
#include <fstream>

namespace frontcache::tls {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string error_of(const auto& build) {
  try {
    build();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ServerContext, MissingFilesNameTheSetting) {
  ServerSettings s;
  s.cert_file = "/nonexistent/cert.pem";
  s.key_file = "/nonexistent/key.pem";
  EXPECT_EQ(error_of([&] { server_context(s); }),
            "cert_file /nonexistent/cert.pem: cannot open: No such file or directory");
}

TEST(ServerContext, FilesThatAreNotPem) {
  char dir[] = "/tmp/frontcache-tls-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string junk = std::string(dir) + "/junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  ServerSettings s;
  s.cert_file = junk;
  s.key_file = junk;
  EXPECT_THAT(error_of([&] { server_context(s); }), StartsWith("cert_file " + junk + ": "));
  ClientSettings c;
  c.ca_file = junk;
  EXPECT_THAT(error_of([&] { make_client(c); }), StartsWith("ca_file " + junk + ": "));
  std::filesystem::remove_all(dir);
}

TEST(ServerContext, CipherListsOpenSslCannotUse) {
  ServerSettings s;
  s.ciphers = "NO-SUCH-CIPHER";
  EXPECT_THAT(error_of([&] { server_context(s); }),
              AllOf(StartsWith("ciphers \"NO-SUCH-CIPHER\": "), HasSubstr("no cipher match")));
  s.ciphers = "";
  s.ciphersuites = "TLS_NO_SUCH_SUITE";
  EXPECT_THAT(error_of([&] { server_context(s); }),
              StartsWith("ciphersuites \"TLS_NO_SUCH_SUITE\": "));
}

TEST(ClientContext, SystemStoreAndNoVerification) {
  ClientSettings c;
  c.server_name = "redis.example";
  const auto client = make_client(c);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->server_name, "redis.example");
  EXPECT_TRUE(client->verify);
  c.verify = false;
  EXPECT_FALSE(make_client(c)->verify);
  c.cert_file = "/nonexistent/client.pem";
  c.key_file = "/nonexistent/client-key.pem";
  EXPECT_EQ(error_of([&] { make_client(c); }),
            "cert_file /nonexistent/client.pem: cannot open: No such file or directory");
}

TEST(HandshakeError, ReadableReasons) {
  EXPECT_EQ(handshake_error(boost::asio::error::eof, nullptr),
            "connection closed during the TLS handshake");
  EXPECT_EQ(handshake_error(boost::asio::ssl::error::stream_truncated, nullptr),
            "connection closed during the TLS handshake");
  EXPECT_EQ(handshake_error(boost::asio::error::connection_refused, nullptr),
            boost::system::error_code(boost::asio::error::connection_refused).message());
}

}  // namespace
}  // namespace frontcache::tls
