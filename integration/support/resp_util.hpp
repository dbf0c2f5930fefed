// Small helpers shared by the tests: RESP encoding of commands and reading a pipeline's worth
// of raw replies.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "net.hpp"

namespace frontcache::integration {

// "*<n>\r\n$<len>\r\n<arg>\r\n..." for one command.
inline std::string encode_command(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

inline std::string encode_commands(const std::vector<std::vector<std::string>>& commands) {
  std::string out;
  for (const auto& c : commands) out += encode_command(c);
  return out;
}

// Sends `commands` in one write on a fresh connection and reads one raw reply per command.
// Missing replies (timeout, close) come back as "<missing>".
inline std::vector<std::string> raw_pipeline(uint16_t port,
                                             const std::vector<std::vector<std::string>>& commands,
                                             std::chrono::milliseconds timeout = 30s) {
  RawClient c("127.0.0.1", port, timeout);
  std::vector<std::string> replies;
  if (!c.connected() || !c.send(encode_commands(commands), timeout)) {
    replies.assign(commands.size(), "<send failed>");
    return replies;
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    auto r = c.read_reply(timeout);
    replies.push_back(r ? *r : "<missing>");
  }
  return replies;
}

// Sends `commands` pipelined on a fresh connection, followed by a sentinel `PING <token>`, and
// returns every byte received before the sentinel's reply: the whole conversation, however
// many replies the commands produce (pub/sub confirmations, CLIENT REPLY OFF, blocking
// timeouts). Replies come in order, so the sentinel's reply proves that every earlier one has
// arrived. The sentinel is answered in normal and in subscribe mode (RESP2 `*2 pong <token>`);
// the scenario must not leave the connection in MULTI or CLIENT REPLY OFF. When the peer closes
// the connection (QUIT) the bytes received until then are returned; when `timeout` passes,
// they are returned followed by "<sentinel missing>".
inline std::string play_until_sentinel(uint16_t port,
                                       const std::vector<std::vector<std::string>>& commands,
                                       std::chrono::milliseconds timeout = 30s) {
  static std::atomic<int> counter{0};
  const std::string token = "frontcache-sentinel-" + std::to_string(++counter);
  const std::string bulk = "$" + std::to_string(token.size()) + "\r\n" + token + "\r\n";
  const std::string in_subscribe_mode = "*2\r\n$4\r\npong\r\n" + bulk;
  RawClient c("127.0.0.1", port, timeout);
  std::string conversation;
  if (!c.connected() || !c.send(encode_commands(commands) + encode_command({"PING", token}))) {
    return "<send failed>";
  }
  for (;;) {
    auto reply = c.read_reply(timeout);
    if (!reply) {
      if (c.closed_by_peer()) return conversation;
      return conversation + "<sentinel missing>";
    }
    if (*reply == bulk || *reply == in_subscribe_mode) return conversation;
    conversation += *reply;
  }
}

}  // namespace frontcache::integration
