// TLS: OpenSSL contexts built from plain settings, for the client-facing listener (server side)
// and for every upstream connection (client side), and the per-connection setup and error texts
// that go with them. A context is built once (and again on SIGHUP for the listener) and shared by
// every connection and thread; a connection keeps the context it was created with.
//
//   ServerSettings ─► server_context() ─► ssl::stream of each accepted client
//   ClientSettings ─► make_client()   ─► prepare(SSL*) + ssl::stream of each upstream connection
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

namespace boost::asio::ssl {
class context;
}
namespace boost::system {
class error_code;
}
struct ssl_st;

namespace frontcache::tls {

enum class Version { Tls12, Tls13 };  // the lowest protocol version accepted
enum class ClientAuth { None, Optional, Required };

// A setting that cannot be used. `what()` starts with the setting's name relative to its
// section ("cert_file /etc/x.pem: no such file"), so that the caller can prefix the section.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The listener's side. Paths are absolute or relative to the working directory.
struct ServerSettings {
  std::string cert_file;  // PEM: the certificate, then its chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CAs that client certificates must chain to (client_auth)
  ClientAuth client_auth = ClientAuth::None;
  Version min_version = Version::Tls12;
  std::string ciphers;       // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
  std::string ciphersuites;  // TLS 1.3 suites; empty: OpenSSL's default
};

// Throws Error when a file cannot be read or does not fit (key not matching the certificate,
// no usable cipher).
std::shared_ptr<boost::asio::ssl::context> server_context(const ServerSettings& settings);

// The upstream side.
struct ClientSettings {
  std::string ca_file;    // empty: the system's trusted CAs
  std::string cert_file;  // client certificate (mutual TLS); empty: none
  std::string key_file;
  std::string server_name;  // sent as SNI (host names only) and checked against the certificate
  bool verify = true;       // false: any certificate is accepted (testing only)
};

struct Client {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::string server_name;
  bool verify = true;
};

// Throws Error like server_context().
std::shared_ptr<const Client> make_client(const ClientSettings& settings);

// Per connection, before the handshake: SNI and the name (or IP address) the server's
// certificate must carry.
void prepare(ssl_st* ssl, const Client& client);

// Why a handshake failed, for logs and error replies: OpenSSL's reason, and the certificate
// check that failed when there was one ("certificate verify failed: unable to get local issuer
// certificate", "wrong version number", "hostname mismatch"...).
std::string handshake_error(const boost::system::error_code& ec, ssl_st* ssl);

}  // namespace frontcache::tls
