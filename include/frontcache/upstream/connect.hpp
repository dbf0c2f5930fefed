// What every upstream connection does first (shared, pinned, subscriber and tracker): resolve,
// connect within connect_timeout, set TCP_NODELAY; and the AUTH / CLIENT SETNAME requests that
// open the conversation.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>
#include <string_view>

#include "frontcache/upstream/connection.hpp"

namespace frontcache::upstream {

// Connects `socket` to settings.host:port. Returns an empty string, or why it could not
// ("connect timeout after 1000ms", "127.0.0.1:6379: Connection refused", ...). `timer` bounds
// the attempt.
boost::asio::awaitable<std::string> connect_socket(boost::asio::ip::tcp::socket& socket,
                                                   boost::asio::steady_timer& timer,
                                                   const Settings& settings);

// Appends `AUTH [username] password` when a password is configured; returns the number of
// replies it adds (0 or 1).
int append_auth(std::string& out, const Settings& settings);

// Appends `CLUSTER MYID` when settings.node_id is set (cluster mode); returns the number of
// replies it adds (0 or 1).
int append_identity_check(std::string& out, const Settings& settings);
// Why CLUSTER MYID's `reply` (a whole RESP frame) shows the server is not the node
// settings.node_id names; empty when it is that node, or when the user's ACL refuses the
// command (it cannot be checked, and is let through).
std::string identity_error(const Settings& settings, std::string_view reply);

}  // namespace frontcache::upstream
