// TLS for the integration suite: certificates made by the `openssl` CLI in the test's temp dir,
// and a blocking TLS client (OpenSSL) with deadlines that sends raw bytes, reads RESP replies
// and reports the certificate the server presented.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct ssl_ctx_st;
struct ssl_st;

namespace frontcache::integration {

using namespace std::chrono_literals;

// A CA and, signed by it, a server certificate for 127.0.0.1 and localhost and a client
// certificate, all PEM (EC P-256 keys), named `<name>-ca.pem`, `<name>-server.pem`... in `dir`.
struct Certificates {
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string server_subject;  // "CN = <name> server"
};
// Throws std::runtime_error with openssl's output when a step fails.
Certificates make_certificates(const std::string& dir, const std::string& name);

struct TlsClientOptions {
  std::string ca_file;    // verify the server's certificate (and 127.0.0.1 in it); empty: don't
  std::string cert_file;  // client certificate; empty: none
  std::string key_file;
};

// Options that verify the server against `ca_file` and present no certificate.
inline TlsClientOptions trust(const std::string& ca_file) { return {ca_file, "", ""}; }

class TlsClient {
 public:
  // Connects to 127.0.0.1:port and completes the handshake within `timeout`; connected() says
  // whether it did, error() why not.
  TlsClient(uint16_t port, const TlsClientOptions& options, std::chrono::milliseconds timeout = 5s);
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient();

  bool connected() const { return ssl_ != nullptr; }
  const std::string& error() const { return error_; }
  // The server certificate's subject ("CN = a server") and serial number (hex).
  std::string peer_subject() const;
  std::string peer_serial() const;

  bool send(std::string_view bytes);
  // One complete RESP reply (raw bytes), or nullopt when the connection failed or closed first
  // (error() says which).
  std::optional<std::string> read_reply();
  // send() of one RESP command, then read_reply(); "" on failure.
  std::string command(std::initializer_list<std::string_view> args);
  // Reads until the server closes (true) or the deadline passes.
  bool read_until_closed();
  // Every byte received so far.
  const std::string& received() const { return buffer_; }

 private:
  bool read_more();

  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  std::string error_;
  std::string buffer_;
  std::size_t consumed_ = 0;
};

}  // namespace frontcache::integration
