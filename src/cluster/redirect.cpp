#include "frontcache/cluster/redirect.hpp"

#include <charconv>

#include "frontcache/cluster/slot.hpp"
#include "frontcache/cluster/slot_map.hpp"

namespace frontcache::cluster {

namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

}  // namespace

std::string Redirect::address() const { return format_address(host, port); }

std::optional<Redirect> parse_redirect(std::string_view reply) {
  Redirect r;
  if (reply.starts_with("-MOVED ")) {
    reply.remove_prefix(7);
  } else if (reply.starts_with("-ASK ")) {
    r.kind = Redirect::Kind::Ask;
    reply.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  if (!reply.ends_with("\r\n")) return std::nullopt;
  reply.remove_suffix(2);
  const std::size_t space = reply.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::uint32_t slot = 0;
  if (!parse_number(reply.substr(0, space), slot) || slot >= kSlots) return std::nullopt;
  r.slot = static_cast<std::uint16_t>(slot);
  const std::string_view endpoint = reply.substr(space + 1);
  const std::size_t colon = endpoint.rfind(':');
  std::uint32_t port = 0;
  if (colon == std::string_view::npos || !parse_number(endpoint.substr(colon + 1), port) ||
      port == 0 || port > 65535) {
    return std::nullopt;
  }
  r.port = static_cast<std::uint16_t>(port);
  std::string_view host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host != "?") r.host = host;
  return r;
}

bool is_tryagain(std::string_view reply) { return reply.starts_with("-TRYAGAIN"); }
bool is_clusterdown(std::string_view reply) { return reply.starts_with("-CLUSTERDOWN"); }

}  // namespace frontcache::cluster
