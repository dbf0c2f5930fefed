#include "frontcache/upstream/connect.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "frontcache/resp/request_parser.hpp"

namespace frontcache::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<std::string> connect_socket(tcp::socket& socket, asio::steady_timer& timer,
                                            const Settings& settings) {
  constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
  tcp::resolver resolver(socket.get_executor());
  auto [rec, endpoints] =
      co_await resolver.async_resolve(settings.host, std::to_string(settings.port), kNoThrow);
  if (rec) co_return fmt::format("cannot resolve {}: {}", settings.host, rec.message());
  timer.expires_after(settings.connect_timeout);
  auto result =
      co_await (asio::async_connect(socket, endpoints, kNoThrow) || timer.async_wait(kNoThrow));
  if (result.index() == 1) {
    co_return fmt::format("connect timeout after {}ms", settings.connect_timeout.count());
  }
  auto [ec, endpoint] = std::get<0>(result);
  if (ec) co_return fmt::format("{}:{}: {}", settings.host, settings.port, ec.message());
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::string();
}

int append_auth(std::string& out, const Settings& settings) {
  if (settings.password.empty()) return 0;
  std::vector<std::string_view> auth{"AUTH"};
  if (!settings.username.empty()) auth.push_back(settings.username);
  auth.push_back(settings.password);
  resp::encode_command(out, auth);
  return 1;
}

int append_identity_check(std::string& out, const Settings& settings) {
  if (settings.node_id.empty()) return 0;
  const std::string_view ask[] = {"CLUSTER", "MYID"};
  resp::encode_command(out, ask);
  return 1;
}

std::string identity_error(const Settings& settings, std::string_view reply) {
  const std::string_view id = settings.node_id;
  if (reply == fmt::format("${}\r\n{}\r\n", id.size(), id)) return "";
  if (reply.starts_with("-NOPERM")) return "";
  std::string_view shown = reply.substr(0, std::min<std::size_t>(reply.size(), 80));
  while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.remove_suffix(1);
  return fmt::format("not cluster node {}: CLUSTER MYID answered {}", id, shown);
}

}  // namespace frontcache::upstream
