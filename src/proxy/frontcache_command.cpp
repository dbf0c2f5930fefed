// FRONTCACHE <subcommand>: introspection of the proxy itself (the upstream never sees it).
#include <fmt/format.h>

#include "frontcache/resp/errors.hpp"
#include "reload.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

void Session::handle_frontcache(Args args) {
  if (args.size() < 2) return reply(resp::wrong_arity_error("frontcache"));
  const std::string_view sub = args[1];
  if (command::iequals(sub, "CONFIG")) {
    if (args.size() != 2) return reply(resp::wrong_arity_error("frontcache|config"));
    // The worker's copy: what this connection is being served with.
    return reply(resp::bulk_reply(config::to_yaml(worker_.config())));
  }
  if (command::iequals(sub, "HELP")) {
    return reply(
        "*3\r\n+FRONTCACHE <subcommand> [<arg> ...]. Subcommands are:\r\n"
        "+CONFIG -- the configuration in effect, as YAML (secrets hidden)\r\n"
        "+HELP\r\n");
  }
  reply_error(fmt::format("ERR unknown subcommand '{}'. Try FRONTCACHE HELP.", sub));
}

}  // namespace frontcache::proxy
