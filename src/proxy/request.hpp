// The state of one client request between its dispatch and its reply, kept in the request's
// reply-queue slot (BasicReplyQueue<RequestContext>) and reused with it: no allocation per
// request on a steady pipeline. Whoever answers the request (local code, L1, a shared upstream
// connection, the dedicated connection) reads here what the reply must go through.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontcache/cache/cache.hpp"
#include "frontcache/cache/rules.hpp"
#include "frontcache/command/command_table.hpp"
#include "frontcache/proxy/reply_queue.hpp"
#include "frontcache/resp/reply_framer.hpp"

namespace frontcache::proxy {

// How a forwarded request's reply is handled when it arrives.
enum class Reply : std::uint8_t {
  Copy,       // copied to the client as is
  Info,       // INFO of the default or every section: the `# frontcache` section is appended
  InfoNamed,  // INFO of named sections, not ours: only `# frontcache_commandstats` may be
  Fill,       // an L1 fill: the read, then PTTL of its key (unless a nil is expected)
  Mget,       // MGET served partly from L1: the upstream MGET of the missing keys, then a PTTL each
  ClientInfo,  // CLIENT INFO on the dedicated connection: its flags, our identity
};

// Keys of one request, each length-prefixed, in one reusable buffer.
class KeyList {
 public:
  void clear() { bytes_.clear(); }
  bool empty() const { return bytes_.empty(); }
  void add(std::string_view key);
  void add_all(std::span<const std::string_view> keys) {
    for (auto k : keys) add(k);
  }
  // Views into this list, appended to `out`.
  void read(std::vector<std::string_view>& out) const;

 private:
  std::string bytes_;
};

// MGET's parts: which keys L1 answered and which were fetched.
struct MgetState {
  struct Missing {
    std::size_t index;  // position in the client's MGET
    const cache::Rule* rule;
    cache::FillTicket ticket;  // empty when another fill for the key was already in flight
    std::string element;
    resp::ReplyKind kind = resp::ReplyKind::Error;
  };
  std::vector<cache::ValueRef> hits;
  std::vector<Missing> missing;
  std::string error;
};

struct RequestContext {
  Reply reply = Reply::Copy;
  bool silent = false;   // CLIENT REPLY OFF / SKIP: the slot completes with no bytes
  bool write = false;    // a write: the session's reads bypass L1 until it is answered
  bool flush = false;    // FLUSHDB / FLUSHALL / SWAPDB: L1 is cleared again on the reply
  bool fence = false;    // wrote keys the proxy cannot name: an invalidation fence follows
  int replies_seen = 0;  // upstream replies received so far (fills and MGET get several)
  std::chrono::steady_clock::time_point started{};
  std::uint32_t command = UINT32_MAX;  // CommandInfo::id, for the per-command statistics
  KeyList written;  // keys invalidated before forwarding, and again when the reply arrives

  // On the dedicated connection: what the reply confirms (pinned.cpp).
  command::Op op = command::Op::None;
  int db = -1;              // SELECT's argument
  int frames = 1;           // subscription replies still expected; 0: counted on the first one
  bool blocking = false;    // BLPOP & co.: the client is blocked while it is the oldest
  bool exec_abort = false;  // EXEC of a transaction the proxy refused a command of: DISCARD

  // Fill (Reply::Fill): the single-flight ticket and what the read returned.
  cache::FillTicket ticket;
  const cache::Rule* rule = nullptr;
  std::shared_ptr<const cache::RuleSet> rules;  // keeps `rule` alive across a reload
  cache::ValueRef value;
  resp::ReplyKind value_kind = resp::ReplyKind::Error;
  bool pttl_asked = true;  // false: the read alone, a nil expected (FillHints)
  bool tracked = true;     // false: read on a connection Redis does not track for us, not cached
  std::uint64_t hint = 0;  // FillHints::hash of the cache key
  std::chrono::steady_clock::time_point pttl_sent{};
  std::unique_ptr<MgetState> mget;

  void reset() {
    reply = Reply::Copy;
    silent = write = flush = fence = false;
    replies_seen = 0;
    command = UINT32_MAX;
    written.clear();
    op = command::Op::None;
    db = -1;
    frames = 1;
    blocking = exec_abort = false;
    if (ticket) ticket = cache::FillTicket();  // unresolved: abandoned, its waiters retry
    rule = nullptr;
    if (rules) rules.reset();
    if (value) value = {};
    pttl_asked = tracked = true;
    if (mget) mget.reset();
  }
};

using Replies = BasicReplyQueue<RequestContext>;

}  // namespace frontcache::proxy
