// Redis's exact error texts used by frontcache, in one place, so replies match what a client
// would get from Redis itself. Each is complete RESP (leading '-' and trailing CRLF).
#pragma once

#include <string>
#include <span>
#include <string_view>

namespace frontcache::resp {

std::string error_reply(std::string_view message);  // "-" + message + "\r\n"

inline constexpr std::string_view kOk = "+OK\r\n";
inline constexpr std::string_view kPong = "+PONG\r\n";
inline constexpr std::string_view kNullBulk = "$-1\r\n";

std::string bulk_reply(std::string_view value);
std::string integer_reply(long long value);
std::string status_reply(std::string_view value);

// "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
std::string unknown_command_error(std::string_view name, std::span<const std::string_view> args);
// "ERR wrong number of arguments for 'get' command"
std::string wrong_arity_error(std::string_view name);

}  // namespace frontcache::resp
