// Redis's exact error texts used by frontcache, in one place, so replies match what a client
// would get from Redis itself. Each is complete RESP (leading '-' and trailing CRLF).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace frontcache::resp {

// "-" + message + "\r\n"; CR/LF inside `message` become spaces, as in Redis.
std::string error_reply(std::string_view message);

inline constexpr std::string_view kOk = "+OK\r\n";
inline constexpr std::string_view kPong = "+PONG\r\n";
inline constexpr std::string_view kNullBulk = "$-1\r\n";

std::string bulk_reply(std::string_view value);    // "$<len>\r\n<value>\r\n"
std::string integer_reply(long long value);        // ":<value>\r\n"
std::string status_reply(std::string_view value);  // "+<value>\r\n", CR/LF become spaces

// "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n" for `foo a b`: `args`
// excludes the command name. As Redis 7: the name is cut to 128 bytes, arguments are listed
// until the list reaches 128 bytes (the last one cut to fit), and a NUL byte ends a name or
// argument (Redis formats them with %s).
std::string unknown_command_error(std::string_view name, std::span<const std::string_view> args);
// "-ERR wrong number of arguments for 'get' command\r\n"; the name is lower-cased, as Redis
// reports its command table's name rather than what the client typed.
std::string wrong_arity_error(std::string_view name);

}  // namespace frontcache::resp
