#include "frontcache/tls/context.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace frontcache::tls {

namespace asio = boost::asio;

namespace {

// Every error OpenSSL queued since the last ERR_clear_error(), by reason ("no start line",
// "key values mismatch"), oldest first.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? std::string(reason) : fmt::format("OpenSSL error {:#x}", e);
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

// OpenSSL's message for a missing file is a bare "system lib"; say what the operator needs.
void check_readable(std::string_view key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{} {}: cannot open: {}", key, path, std::strerror(errno)));
}

void set_common_options(SSL_CTX* ctx, Version min_version) {
  SSL_CTX_set_min_proto_version(ctx,
                                min_version == Version::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
}

// The certificate chain and its key (the listener's, or the upstream client's for mutual TLS).
void use_certificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  check_readable("cert_file", cert_file);
  check_readable("key_file", key_file);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    throw Error(fmt::format("cert_file {}: {}", cert_file, openssl_errors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string why = openssl_errors();
    if (why.find("key values mismatch") != std::string::npos) {
      throw Error(fmt::format("key_file {}: does not match the certificate in {} ({})", key_file,
                              cert_file, why));
    }
    throw Error(fmt::format("key_file {}: {}", key_file, why));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw Error(fmt::format("key_file {}: does not match the certificate in {} ({})", key_file,
                            cert_file, openssl_errors()));
  }
}

void load_ca(SSL_CTX* ctx, const std::string& ca_file) {
  check_readable("ca_file", ca_file);
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    throw Error(fmt::format("ca_file {}: {}", ca_file, openssl_errors()));
  }
}

}  // namespace

std::shared_ptr<asio::ssl::context> server_context(const ServerSettings& s) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  set_common_options(ctx, s.min_version);
  // The server picks the cipher (its list is ordered by preference); clients cannot renegotiate.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (!s.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1) {
    throw Error(fmt::format("ciphers \"{}\": {}", s.ciphers, openssl_errors()));
  }
  if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, s.ciphersuites.c_str()) != 1) {
    throw Error(fmt::format("ciphersuites \"{}\": {}", s.ciphersuites, openssl_errors()));
  }
  use_certificate(ctx, s.cert_file, s.key_file);
  // Session resumption with client certificates needs an id context, or resumed handshakes fail.
  static constexpr unsigned char kSessionContext[] = "frontcache";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  if (s.client_auth != ClientAuth::None) {
    load_ca(ctx, s.ca_file);
    // The CA names sent in the CertificateRequest, so clients pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
    int mode = SSL_VERIFY_PEER;
    if (s.client_auth == ClientAuth::Required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  ERR_clear_error();
  return context;
}

std::shared_ptr<const Client> make_client(const ClientSettings& s) {
  auto client = std::make_shared<Client>();
  client->context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  client->server_name = s.server_name;
  client->verify = s.verify;
  SSL_CTX* ctx = client->context->native_handle();
  set_common_options(ctx, Version::Tls12);
  if (s.verify) {
    if (s.ca_file.empty()) {
      ERR_clear_error();
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        throw Error(fmt::format("ca_file (unset): the system's CA store: {}", openssl_errors()));
      }
    } else {
      load_ca(ctx, s.ca_file);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!s.cert_file.empty()) use_certificate(ctx, s.cert_file, s.key_file);
  ERR_clear_error();
  return client;
}

void prepare(ssl_st* ssl, const Client& client) {
  const std::string& name = client.server_name;
  if (name.empty()) return;
  boost::system::error_code not_an_address;
  asio::ip::make_address(name, not_an_address);
  // SNI carries host names only (RFC 6066).
  if (not_an_address) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (!client.verify) return;
  if (not_an_address) {
    SSL_set1_host(ssl, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  }
}

std::string handshake_error(const boost::system::error_code& ec, ssl_st* ssl) {
  std::string text;
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof) {
    text = "connection closed during the TLS handshake";
  } else if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    text = reason != nullptr ? reason : ec.message();
  } else {
    text = ec.message();
  }
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      text += fmt::format(": {}", X509_verify_cert_error_string(verify));
    }
  }
  return text;
}

}  // namespace frontcache::tls
