// Reads answered from L1.
//
//   cacheable read ─► L1 lookup ─ hit ─► reply
//                          └ miss ─► single-flight begin ─┬ Leader: the read and PTTL go
//                                                         │   upstream back to back (the read
//                                                         │   alone when the key's last fill
//                                                         │   read nil: fill_hints.hpp); the
//                                                         │   reply is cached and answers the
//                                                         │   waiters
//                                                         └ Joined: the leader's result, posted
//                                                             back to this session's worker
//
// Read-your-writes: while one of the session's own writes is in flight, its reads go upstream
// on the same connection, behind the write, exactly as Redis would run them.
#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <charconv>

#include "frontcache/resp/errors.hpp"
#include "frontcache/resp/request_parser.hpp"
#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace {

long long parse_pttl(std::string_view reply) {
  long long pttl = 0;
  if (reply.size() < 4 || reply[0] != ':') return 0;
  const std::string_view digits = reply.substr(1, reply.size() - 3);
  std::from_chars(digits.data(), digits.data() + digits.size(), pttl);
  return pttl;
}

// The entry's lifetime: the rule's TTL (or negative TTL for nil), capped by the key's own
// remaining lifetime in Redis, counted from when the PTTL was sent (Redis measured it no
// earlier), so the entry never outlives its key. Zero: do not cache.
std::chrono::milliseconds fill_ttl(const cache::Rule& rule, resp::ReplyKind kind,
                                   std::string_view pttl_reply, resp::ReplyKind pttl_kind,
                                   std::chrono::steady_clock::time_point pttl_sent) {
  using std::chrono::milliseconds;
  if (resp::is_error(kind) || pttl_kind != resp::ReplyKind::Integer) return milliseconds(0);
  const bool nil = resp::is_null(kind);
  milliseconds ttl = nil ? rule.negative_ttl : rule.ttl;
  const long long pttl = parse_pttl(pttl_reply);
  if (pttl >= 0) {  // -1: no expiry; -2: no key
    const auto elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                                  pttl_sent + milliseconds(1));
    ttl = std::min(ttl, milliseconds(pttl) - elapsed);
  }
  return std::max(ttl, milliseconds(0));
}

void encode_pttl(std::string& out, std::string_view key) {
  const std::string_view pttl[] = {"PTTL", key};
  out.clear();
  resp::encode_command(out, pttl);
}

}  // namespace

void Session::read_cached(const Classified& c, Args args, std::string_view raw) {
  L1& l1 = *worker_.shared().l1;
  const cache::Rule* rule = args.size() >= 2 ? worker_.rules()->match(args[1]) : nullptr;
  if (rule == nullptr || !rule->cache) return forward(raw);
  const auto started = worker_.now();
  // Cluster mode: the key's slot decides which master's stream vouches for L1 (standalone: the
  // one stream, and the slot is not looked at).
  const std::uint16_t key_slot = cluster_slot_;
  if (!l1.fresh(started, key_slot)) {
    auto& counter =
        l1.usable(key_slot) ? l1.stats().bypass_not_current : l1.stats().bypass_not_armed;
    counter.fetch_add(1, std::memory_order_relaxed);
    return forward(raw);
  }
  // Read-your-writes: while the session's own write is in flight, or a write whose keys the
  // proxy cannot name has not been fenced yet, its reads go to Redis, in order.
  if (writes_in_flight_ > 0 || l1.current_as_of(key_slot) < fence_after_) {
    l1.stats().bypass_own_write.fetch_add(1, std::memory_order_relaxed);
    return forward(raw);
  }
  if (c.op == command::Op::Mget) return read_mget(args, raw);
  // Cached under one key: a command naming several (EXISTS a b) has a reply no single key owns.
  if (c.spec->last_key != c.spec->first_key && args.size() != 2) return forward(raw);

  cache_key_.clear();
  build_cache_key(cache_key_, state_.db, state_.resp, c.spec->name, args.subspan(1));
  l1.append_slot_epoch(cache_key_, key_slot);
  // The hit path: one lookup, one copy into the reply buffer.
  if (cache::ValueRef hit = l1.lookup(cache_key_, args[1], started)) {
    reply(hit.bytes());
    worker_.shared().command_stats.l1_hit(worker_.index(), command_);
    worker_.count_hit();
    return;
  }

  const std::uint64_t seq = take_slot(false);
  // Built only if this read joins another's fill (a leader needs none).
  auto make_waiter = [&]() -> cache::Waiter {
    return [self = shared_from_this(), seq, started, request = std::string(raw),
            slot = cluster_slot_, db = state_.db](cache::FillOutcome outcome) mutable {
      // Runs on the thread that completed the fill: hop back to this session's worker.
      boost::asio::post(self->worker_.io(), [self, seq, started, request = std::move(request), slot,
                                             db, outcome = std::move(outcome)] {
        self->cluster_slot_ = slot;
        self->worker_.shared().latency.miss.observe(self->worker_.index(),
                                                    std::chrono::steady_clock::now() - started);
        if (outcome.status == cache::FillStatus::Ok) {
          self->conn_.complete(seq, outcome.value.bytes());
        } else if (!self->send_shared(seq, request, db)) {
          // The leader could not give an answer that holds for this read: ask for ourselves,
          // in the database the read was sent in. Writes sent after this read are still held
          // (joined_pending_), so it runs upstream before them.
          self->conn_.complete(seq, self->unavailable_error());
        }
        self->joined_resolved();
      });
    };
  };
  cache::BeginResult begun =
      l1.cache().begin(cache_key_, args[1], make_waiter, /*count_lookup=*/false);
  switch (begun.kind) {
    case cache::BeginKind::Hit:
      return conn_.complete(seq, begun.value.bytes());
    case cache::BeginKind::Joined:
      ++joined_pending_;
      return;
    case cache::BeginKind::TooManyWaiters:
      if (!send_shared(seq, raw)) conn_.complete(seq, unavailable_error());
      return;
    case cache::BeginKind::Leader: {
      RequestContext& ctx = conn_.context(seq);
      ctx.ticket = std::move(begun.ticket);
      ctx.rule = rule;
      ctx.rules = worker_.rules();
      ctx.hint = FillHints::hash(cache_key_);
      ctx.pttl_asked = !worker_.fill_hints().expect_nil(ctx.hint);
      return start_fill(seq, args, raw);
    }
  }
}

void Session::joined_resolved() {
  --joined_pending_;
  maybe_resume();
}

// One leader fill: the read and a PTTL of its key, back to back on one connection (the read
// alone when a nil is expected). The pair cannot be split by a reconnect that queues one and
// refuses the other, since send() fails only when the connection is down.
void Session::start_fill(std::uint64_t seq, Args args, std::string_view raw) {
  RequestContext& ctx = conn_.context(seq);
  ctx.reply = Reply::Fill;
  if (worker_.cluster() != nullptr) return cluster_fill(seq, args, raw);
  upstream::Connection* conn = upstream_connection();
  if (conn == nullptr || !conn->ready()) {
    const std::string error = unavailable_error();
    worker_.shared().l1->cache().deliver(std::move(ctx.ticket), cache::Value::make(error));
    return conn_.complete(seq, error);
  }
  const auto self = shared_from_this();
  conn->send(state_.db, raw, self, seq);
  // invalidation.tracking: default: Redis reports writes of this key only if the connection
  // that read it was pointed at the current subscriber (upstream/data_tracking.hpp).
  ctx.tracked = conn->tracked();
  if (ctx.pttl_asked) {
    encode_pttl(encoded_, args[1]);
    ctx.pttl_sent = std::chrono::steady_clock::now();
    conn->send(state_.db, encoded_, self, seq);
  }
  ++in_upstream_;
}

void Session::fill_reply(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind) {
  RequestContext& ctx = conn_.context(seq);
  std::chrono::milliseconds ttl{0};
  if (ctx.pttl_asked) {
    if (++ctx.replies_seen == 1) {
      ctx.value = cache::Value::make(reply);
      ctx.value_kind = kind;
      return;
    }
    ttl = fill_ttl(*ctx.rule, ctx.value_kind, reply, kind, ctx.pttl_sent);
  } else {
    // The read alone: a nil is cached as long as the rule says (no cap needed: see
    // fill_hints.hpp); a value, whose key may expire sooner, only answers.
    ctx.value = cache::Value::make(reply);
    ctx.value_kind = kind;
    if (resp::is_null(kind)) ttl = ctx.rule->negative_ttl;
  }
  worker_.fill_hints().record(ctx.hint, resp::is_null(ctx.value_kind));
  L1& l1 = *worker_.shared().l1;
  if (ttl.count() > 0 && ctx.tracked) {
    l1.cache().complete(std::move(ctx.ticket), ctx.value, ttl);
  } else {
    l1.cache().deliver(std::move(ctx.ticket), ctx.value);
  }
  shared_reply_done();
  worker_.shared().latency.miss.observe(worker_.index(),
                                        std::chrono::steady_clock::now() - ctx.started);
  count_upstream(ctx);
  const cache::ValueRef value = std::move(ctx.value);
  conn_.complete(seq, value.bytes());
}

// MGET: keys found in L1 (under their GET entry) are answered locally; the others are fetched
// in one MGET, with a PTTL per key, and cached under their GET entry. A nil element is cached
// only when PTTL says the key does not exist (for a key of another type MGET says nil where
// GET says WRONGTYPE).
void Session::read_mget(Args args, std::string_view raw) {
  L1& l1 = *worker_.shared().l1;
  const std::size_t n = args.size() - 1;
  const std::uint64_t seq = take_slot(false);
  RequestContext& ctx = conn_.context(seq);
  ctx.reply = Reply::Mget;
  ctx.rules = worker_.rules();
  ctx.mget = std::make_unique<MgetState>();
  MgetState& m = *ctx.mget;
  m.hits.resize(n);
  // A key whose fill is in flight is fetched again here: its waiter has nothing to do.
  auto no_waiter = []() -> cache::Waiter { return [](cache::FillOutcome) {}; };
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view key = args[i + 1];
    const cache::Rule* rule = ctx.rules->match(key);
    MgetState::Missing missing{i, rule, {}, {}, {}};
    if (rule != nullptr && rule->cache) {
      cache_key_.clear();
      build_cache_key(cache_key_, state_.db, state_.resp, "get", args.subspan(i + 1, 1));
      l1.append_slot_epoch(cache_key_, cluster_slot_);
      cache::BeginResult begun = l1.cache().begin(cache_key_, key, no_waiter);
      if (begun.kind == cache::BeginKind::Hit) {
        m.hits[i] = std::move(begun.value);
        continue;
      }
      missing.ticket = std::move(begun.ticket);
    }
    m.missing.push_back(std::move(missing));
  }
  if (m.missing.empty()) {  // all hits: reply now
    worker_.shared().command_stats.l1_hit(worker_.index(), command_);
    return finish_mget(seq);
  }
  if (worker_.cluster() != nullptr) return cluster_mget_fetch(seq, args, raw);
  upstream::Connection* conn = upstream_connection();
  if (conn == nullptr || !conn->ready()) {
    m.error = unavailable_error();
    for (auto& missing : m.missing) {
      if (missing.ticket) l1.cache().fail(std::move(missing.ticket));
    }
    return finish_mget(seq);
  }
  std::vector<std::string_view> fetch{"MGET"};
  for (const auto& missing : m.missing) fetch.push_back(args[missing.index + 1]);
  encoded_.clear();
  resp::encode_command(encoded_, fetch);
  const bool whole = fetch.size() == args.size();
  const auto self = shared_from_this();
  conn->send(state_.db, whole ? raw : std::string_view(encoded_), self, seq);
  ctx.tracked = conn->tracked();
  ctx.pttl_sent = std::chrono::steady_clock::now();
  for (const auto& missing : m.missing) {
    encode_pttl(encoded_, args[missing.index + 1]);
    conn->send(state_.db, encoded_, self, seq);
  }
  ++in_upstream_;
}

void Session::mget_reply(std::uint64_t seq, std::string_view reply, resp::ReplyKind kind) {
  RequestContext& ctx = conn_.context(seq);
  MgetState& m = *ctx.mget;
  const int index = ctx.replies_seen++;
  if (index == 0) {
    // The upstream MGET: split it into one element per missing key.
    if (kind != resp::ReplyKind::Array) {
      m.error = reply;
      return;
    }
    std::string_view rest = reply.substr(reply.find("\r\n") + 2);
    resp::ReplyFramer framer;
    for (auto& missing : m.missing) {
      if (framer.frame(rest) != resp::FrameStatus::Complete) {
        m.error = "-ERR upstream MGET reply did not match the request\r\n";
        return;
      }
      missing.element.assign(rest.substr(0, framer.consumed()));
      missing.kind = framer.kind();
      rest.remove_prefix(framer.consumed());
    }
    return;
  }
  MgetState::Missing& missing = m.missing[static_cast<std::size_t>(index - 1)];
  if (missing.ticket) {
    L1& l1 = *worker_.shared().l1;
    const bool exists_elsewhere = missing.kind != resp::ReplyKind::Bulk && parse_pttl(reply) != -2;
    const auto ttl = exists_elsewhere || !m.error.empty() || !ctx.tracked
                         ? std::chrono::milliseconds(0)
                         : fill_ttl(*missing.rule, missing.kind, reply, kind, ctx.pttl_sent);
    if (ttl.count() > 0) {
      l1.cache().complete(std::move(missing.ticket), cache::Value::make(missing.element), ttl);
    } else {
      l1.cache().fail(std::move(missing.ticket));
    }
  }
  if (static_cast<std::size_t>(index) == m.missing.size()) {
    shared_reply_done();
    count_upstream(ctx);
    finish_mget(seq);
  }
}

void Session::finish_mget(std::uint64_t seq) {
  RequestContext& ctx = conn_.context(seq);
  const MgetState& m = *ctx.mget;
  std::string out;
  if (!m.error.empty()) {
    out = m.error;
  } else {
    out = fmt::format("*{}\r\n", m.hits.size());
    std::size_t next_missing = 0;
    for (std::size_t i = 0; i < m.hits.size(); ++i) {
      if (next_missing < m.missing.size() && m.missing[next_missing].index == i) {
        out += m.missing[next_missing++].element;
      } else {
        out += m.hits[i].bytes();
      }
    }
  }
  conn_.complete(seq, out);
}

}  // namespace frontcache::proxy
