// RESP3 reply builders and their RESP2 forms, after Redis 7's networking.c.
#include "frontcache/resp/encode.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "frontcache/resp/errors.hpp"

namespace frontcache::resp {
namespace {

std::string aggregate_header(char type, std::size_t size) {
  return fmt::format("{}{}\r\n", type, size);
}

bool resp3(Protocol protocol) { return protocol == Protocol::Resp3; }

}  // namespace

std::string_view null_reply(Protocol protocol) { return resp3(protocol) ? "_\r\n" : kNullBulk; }

std::string_view null_array_reply(Protocol protocol) {
  return resp3(protocol) ? "_\r\n" : "*-1\r\n";
}

std::string_view boolean_reply(bool value, Protocol protocol) {
  if (resp3(protocol)) return value ? "#t\r\n" : "#f\r\n";
  return value ? ":1\r\n" : ":0\r\n";
}

std::string double_reply(double value, Protocol protocol) {
  // Redis spells infinities itself (libc spellings differ) and prints the rest with "%.17g",
  // which to_chars with general format and precision 17 reproduces without a locale.
  char buf[32];
  std::string_view text;
  if (std::isinf(value)) {
    text = value > 0 ? "inf" : "-inf";
  } else {
    const auto result =
        std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general, 17);
    text = std::string_view(buf, static_cast<std::size_t>(result.ptr - buf));
  }
  return resp3(protocol) ? fmt::format(",{}\r\n", text) : bulk_reply(text);
}

std::string verbatim_reply(std::string_view text, std::string_view format, Protocol protocol) {
  if (!resp3(protocol)) return bulk_reply(text);
  std::string out = fmt::format("={}\r\n", text.size() + 4);
  out.reserve(out.size() + text.size() + 6);
  const std::string_view kind = format.substr(0, 3);
  out.append(kind);
  out.append(3 - kind.size(), ' ');
  out.push_back(':');
  out.append(text);
  out.append("\r\n");
  return out;
}

std::string map_header(std::size_t entries, Protocol protocol) {
  return resp3(protocol) ? aggregate_header('%', entries) : aggregate_header('*', entries * 2);
}

std::string set_header(std::size_t size, Protocol protocol) {
  return aggregate_header(resp3(protocol) ? '~' : '*', size);
}

std::string push_header(std::size_t size, Protocol protocol) {
  return aggregate_header(resp3(protocol) ? '>' : '*', size);
}

}  // namespace frontcache::resp
