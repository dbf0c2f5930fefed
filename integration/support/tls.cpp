#include "tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "net.hpp"
#include "process.hpp"
#include "twin.hpp"

namespace frontcache::integration {

namespace {

void openssl(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = run_command(argv, dir, 60s);
  if (r.exit_code != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    throw std::runtime_error("failed: " + line + "\n" + r.out + r.err);
  }
}

std::string random_serial() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 31) ^ rd();
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(v | 1));
  return text;
}

std::string openssl_error() {
  char text[256];
  const unsigned long e = ERR_get_error();
  if (e == 0) return "no OpenSSL error";
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

}  // namespace

Certificates make_certificates(const std::string& dir, const std::string& name) {
  Certificates c;
  const std::string p = dir + "/" + name;
  c.ca_cert = p + "-ca.pem";
  c.ca_key = p + "-ca-key.pem";
  c.server_cert = p + "-server.pem";
  c.server_key = p + "-server-key.pem";
  c.client_cert = p + "-client.pem";
  c.client_key = p + "-client-key.pem";
  c.server_subject = "CN = " + name + " server";
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:prime256v1", "-nodes"};
  auto req = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, ec_key.begin(), ec_key.end());
    openssl(args, dir);
  };
  req({"req", "-x509", "-keyout", c.ca_key, "-out", c.ca_cert, "-days", "2", "-subj",
       "/CN=" + name + " CA"});
  write_file(p + "-server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  write_file(p + "-client.ext", "extendedKeyUsage=clientAuth\n");
  for (const std::string role : {"server", "client"}) {
    const std::string key = role == "server" ? c.server_key : c.client_key;
    const std::string cert = role == "server" ? c.server_cert : c.client_cert;
    req({"req", "-keyout", key, "-out", p + "-" + role + ".csr", "-subj",
         "/CN=" + name + " " + role});
    openssl({"x509", "-req", "-in", p + "-" + role + ".csr", "-CA", c.ca_cert, "-CAkey", c.ca_key,
             "-set_serial", random_serial(), "-days", "2", "-extfile", p + "-" + role + ".ext",
             "-out", cert},
            dir);
  }
  return c;
}

TlsClient::TlsClient(uint16_t port, const TlsClientOptions& options,
                     std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!options.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!options.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    error_ = "client certificate: " + openssl_error();
    return;
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    return;
  }
  SSL* ssl = SSL_new(ctx_);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd_);
  ERR_clear_error();
  if (SSL_connect(ssl) != 1) {
    error_ = "handshake: " + openssl_error();
    SSL_free(ssl);
    return;
  }
  ssl_ = ssl;
}

TlsClient::~TlsClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

std::string TlsClient::peer_subject() const {
  if (ssl_ == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  X509_free(cert);
  return out;
}

std::string TlsClient::peer_serial() const {
  if (ssl_ == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return out;
}

bool TlsClient::send(std::string_view bytes) {
  if (ssl_ == nullptr) return false;
  while (!bytes.empty()) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) {
      error_ = "write: " + openssl_error();
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool TlsClient::read_more() {
  if (ssl_ == nullptr) return false;
  char chunk[16 * 1024];
  ERR_clear_error();
  const int n = SSL_read(ssl_, chunk, sizeof chunk);
  if (n <= 0) {
    const int e = SSL_get_error(ssl_, n);
    const int err = errno;
    if (e == SSL_ERROR_SYSCALL && (err == EAGAIN || err == EWOULDBLOCK)) {
      error_ = "timed out";
    } else if (e == SSL_ERROR_ZERO_RETURN) {
      error_ = "closed by the server (close_notify)";
    } else if (e == SSL_ERROR_SYSCALL) {
      error_ = "closed by the server: " + std::string(err == 0 ? "EOF" : std::strerror(err));
    } else {
      error_ = "closed by the server: " + openssl_error();  // an alert, e.g. certificate required
    }
    return false;
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> TlsClient::read_reply() {
  for (;;) {
    const std::string_view rest = std::string_view(buffer_).substr(consumed_);
    if (const std::size_t n = resp_value_length(rest); n > 0) {
      consumed_ += n;
      return std::string(rest.substr(0, n));
    }
    if (!read_more()) return std::nullopt;
  }
}

std::string TlsClient::command(std::initializer_list<std::string_view> args) {
  if (!send(cmd(args))) return "";
  return read_reply().value_or("");
}

bool TlsClient::read_until_closed() {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!read_more()) return error_ != "timed out";
  }
  return false;
}

}  // namespace frontcache::integration
