// Small helpers shared by the tests: RESP encoding of commands and reading a pipeline's worth
// of raw replies.
#pragma once

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

}  // namespace frontcache::integration
