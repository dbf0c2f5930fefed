// Reply builders with Redis 7's wording (server.c processCommand, networking.c addReplyError*).
#include "frontcache/resp/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>

namespace frontcache::resp {
namespace {

// Redis turns CR and LF inside error and status texts into spaces so a reply stays one line.
void append_one_line(std::string& out, std::string_view text) {
  for (const char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
}

// printf's "%.Ns" on Redis's C strings: at most `max` bytes, and a NUL ends the string.
std::string_view c_string_prefix(std::string_view s, std::size_t max) {
  s = s.substr(0, std::min(s.size(), max));
  const std::size_t nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

std::string line_reply(char type, std::string_view text) {
  std::string out;
  out.reserve(text.size() + 3);
  out.push_back(type);
  append_one_line(out, text);
  out.append("\r\n");
  return out;
}

}  // namespace

std::string error_reply(std::string_view message) { return line_reply('-', message); }

std::string status_reply(std::string_view value) { return line_reply('+', value); }

std::string bulk_reply(std::string_view value) {
  std::string out = fmt::format("${}\r\n", value.size());
  out.reserve(out.size() + value.size() + 2);
  out.append(value);
  out.append("\r\n");
  return out;
}

std::string integer_reply(long long value) { return fmt::format(":{}\r\n", value); }

std::string unknown_command_error(std::string_view name, std::span<const std::string_view> args) {
  // Redis: for (i = 1; i < argc && sdslen(args) < 128; i++)
  //          args = sdscatprintf(args, "'%.*s' ", 128 - sdslen(args), argv[i]);
  constexpr std::size_t kMaxArgs = 128;
  std::string listed;
  for (std::size_t i = 0; i < args.size() && listed.size() < kMaxArgs; ++i) {
    listed.push_back('\'');
    listed.append(c_string_prefix(args[i], kMaxArgs - listed.size() + 1));
    listed.append("' ");
  }
  const std::string message = fmt::format("ERR unknown command '{}', with args beginning with: {}",
                                          c_string_prefix(name, 128), listed);
  return error_reply(message);
}

std::string wrong_arity_error(std::string_view name) {
  // Redis names the command by its table name, which is lower case.
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return error_reply(fmt::format("ERR wrong number of arguments for '{}' command", lower));
}

}  // namespace frontcache::resp
