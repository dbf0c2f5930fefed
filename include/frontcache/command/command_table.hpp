// The command table: how the proxy routes each Redis command. Commands not listed are
// forwarded unchanged over a shared upstream connection, so the upstream answers them (and
// gives its own "unknown command" error for names it does not know).
#pragma once

#include <cstdint>
#include <string_view>

namespace frontcache::command {

enum class Route : std::uint8_t {
  Forward,    // over a shared upstream connection
  Local,      // answered by the proxy (PING, HELLO, SELECT, CLIENT, ...)
  Stateful,   // changes the connection's state upstream: needs a dedicated connection
  Admin,      // forwarded or refused by `admin_commands`
  Never,      // never forwarded (SHUTDOWN): it would act on the shared upstream
  Script,     // forwarded like Forward, but may write the keys it declares (EVAL, FCALL)
};

struct CommandInfo {
  std::string_view name;  // lower case, as Redis prints it in errors
  Route route;
};

// Case-insensitive lookup; null when the command is not in the table (route: Forward).
const CommandInfo* find(std::string_view name);

// True when `a` equals the upper-case ASCII `upper`, ignoring case.
bool iequals(std::string_view a, std::string_view upper);

}  // namespace frontcache::command
