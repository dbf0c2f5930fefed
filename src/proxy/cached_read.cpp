// Reads answered from L1 and the writes that keep it correct.
//
//   cacheable read ─► L1 lookup ─ hit ─► reply
//                          └ miss ─► single-flight begin ─┬ Leader: FillRequest sends the read
//                                                         │   and PTTL upstream, caches, replies
//                                                         └ Joined: the leader's result, posted
//                                                             back to this session's worker
//   write ─► invalidate keys ─► upstream ─► reply ─► invalidate again, publish on the channel
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
// remaining lifetime in Redis. Zero: do not cache.
std::chrono::milliseconds fill_ttl(const cache::Rule& rule, resp::ReplyKind kind,
                                   std::string_view pttl_reply, resp::ReplyKind pttl_kind) {
  using std::chrono::milliseconds;
  if (kind == resp::ReplyKind::Error || pttl_kind != resp::ReplyKind::Integer) {
    return milliseconds(0);
  }
  const bool nil = kind == resp::ReplyKind::NullBulk || kind == resp::ReplyKind::NullArray;
  milliseconds ttl = nil ? rule.negative_ttl : rule.ttl;
  const long long pttl = parse_pttl(pttl_reply);
  if (pttl >= 0) ttl = std::min(ttl, milliseconds(pttl));  // -1: no expiry; -2: no key
  return ttl;
}

}  // namespace

// One leader fill: the read and a PTTL of its key, pipelined on the session's connection.
// Completes the cache's single-flight ticket (waiters on any worker get the value) and the
// session's reply slot. Kept alive by the upstream connection's pending entries.
class FillRequest final : public upstream::ReplyTarget {
 public:
  FillRequest(std::shared_ptr<Session> session, std::uint64_t seq,
              std::shared_ptr<const cache::RuleSet> rules, const cache::Rule& rule,
              cache::FillTicket&& ticket)
      : session_(std::move(session)),
        seq_(seq),
        rules_(std::move(rules)),
        rule_(rule),
        ticket_(std::move(ticket)),
        started_(std::chrono::steady_clock::now()) {}

  void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) override {
    if (tag == 0) {
      value_ = cache::Value::make(reply);
      kind_ = kind;
      return;
    }
    L1& l1 = *session_->worker().shared().l1;
    const auto ttl = fill_ttl(rule_, kind_, reply, kind);
    if (ttl.count() > 0) {
      l1.cache().complete(std::move(ticket_), value_, ttl);
    } else {
      l1.cache().deliver(std::move(ticket_), value_);
    }
    session_->upstream_reply_done();
    Worker& worker = session_->worker();
    worker.shared().latency.miss.observe(worker.index(),
                                         std::chrono::steady_clock::now() - started_);
    if (!session_->closed_) {
      session_->replies_.complete(seq_, value_.bytes());
      session_->wake_writer();
    }
  }

 private:
  std::shared_ptr<Session> session_;
  std::uint64_t seq_;
  std::shared_ptr<const cache::RuleSet> rules_;  // keeps rule_ alive across a reload
  const cache::Rule& rule_;
  cache::FillTicket ticket_;
  std::chrono::steady_clock::time_point started_;
  cache::ValueRef value_;
  resp::ReplyKind kind_ = resp::ReplyKind::Error;
};

void Session::read_cached(const command::CommandInfo& info, Args args, std::string_view raw) {
  L1& l1 = *worker_.shared().l1;
  const cache::Rule* rule = args.size() >= 2 ? worker_.rules()->match(args[1]) : nullptr;
  if (rule == nullptr || !rule->cache || !l1.usable()) return forward(raw, 0);
  if (info.name == "mget") return read_mget(args, raw);
  // Cached under one key: a command naming several (EXISTS a b) has a reply no single key owns.
  if (info.last_key != info.first_key && args.size() != 2) return forward(raw, 0);

  cache_key_.clear();
  build_cache_key(cache_key_, db_, info.name, args.subspan(1));
  // The hit path: one lookup, one copy into the reply buffer.
  const auto started = std::chrono::steady_clock::now();
  if (cache::ValueRef hit = l1.cache().lookup(cache_key_)) {
    reply(hit.bytes());
    worker_.shared().latency.hit.observe(worker_.index(),
                                         std::chrono::steady_clock::now() - started);
    return;
  }

  const std::uint64_t seq = replies_.push();
  auto self = shared_from_this();
  cache::BeginResult begun = l1.cache().begin(
      cache_key_, args[1],
      [self, seq, started, request = std::string(raw)](cache::FillOutcome outcome) mutable {
        // Runs on the thread that completed the fill: hop back to this session's worker.
        boost::asio::post(self->worker_.io(), [self, seq, started, request = std::move(request),
                                               outcome = std::move(outcome)] {
          self->joined_resolved();
          self->worker_.shared().latency.miss.observe(self->worker_.index(),
                                                      std::chrono::steady_clock::now() - started);
          if (self->closed_) return;
          if (outcome.status == cache::FillStatus::Ok) {
            self->replies_.complete(seq, outcome.value.bytes());
            self->wake_writer();
          } else {
            // The leader could not give an answer that holds for this read: ask for ourselves.
            // Writes sent after this read are still held (see joined_pending_), so it runs
            // upstream before them.
            self->forward_into(seq, request, 0);
          }
        });
      },
      /*count_lookup=*/false);
  if (begun.kind == cache::BeginKind::Joined) ++joined_pending_;
  switch (begun.kind) {
    case cache::BeginKind::Hit:
      replies_.complete(seq, begun.value.bytes());
      return;
    case cache::BeginKind::Joined:
      return;
    case cache::BeginKind::TooManyWaiters:
      return forward_into(seq, raw, 0);
    case cache::BeginKind::Leader:
      return start_fill(seq, *rule, std::move(begun.ticket), args, raw);
  }
}

void Session::joined_resolved() {
  if (--joined_pending_ == 0 && holding_for_joined_) {
    holding_for_joined_ = false;
    wake_reader();
  }
}

// A read that joined another session's fill runs upstream on that session's connection, in no
// order with this session's own commands. A write this session sends after it must not
// overtake it, or the read could return the write's value; so while joined reads are
// outstanding, commands that may write wait. Reads (and local commands) go on.
bool Session::must_wait_for_joined(Args args) const {
  if (joined_pending_ == 0) return false;
  const command::CommandInfo* info = worker_.shared().commands.find(args[0]);
  if (info == nullptr) return true;
  return !(info->has(command::kReadonly) || info->has(command::kCacheable) ||
           info->route == command::Route::Local);
}

void Session::start_fill(std::uint64_t seq, const cache::Rule& rule, cache::FillTicket&& ticket,
                         Args args, std::string_view raw) {
  L1& l1 = *worker_.shared().l1;
  upstream::Connection* conn = upstream_connection();
  if (conn == nullptr || !conn->ready()) {
    const std::string error = unavailable_error();
    l1.cache().deliver(std::move(ticket), cache::Value::make(error));
    replies_.complete(seq, error);
    return;
  }
  auto fill = std::make_shared<FillRequest>(shared_from_this(), seq, worker_.rules(), rule,
                                            std::move(ticket));
  scratch_.clear();
  const std::string_view pttl[] = {"PTTL", args[1]};
  resp::encode_command(scratch_, pttl);
  // Both on the same connection, back to back: the pair cannot be split by a reconnect that
  // queues one and refuses the other, since send() fails only when the connection is down.
  conn->send(db_, raw, fill, 0);
  conn->send(db_, scratch_, fill, 1);
  ++in_upstream_;
}

// MGET: keys found in L1 (under their GET entry) are answered locally; the others are fetched
// in one MGET, with a PTTL per key, and cached under their GET entry. A nil element is cached
// only when PTTL says the key does not exist (for a key of another type MGET says nil where
// GET says WRONGTYPE).
class MgetRequest final : public upstream::ReplyTarget {
 public:
  struct Missing {
    std::size_t index;  // position in the client's MGET
    const cache::Rule* rule;
    cache::FillTicket ticket;  // empty when another fill for the key was already in flight
    std::string element;
    resp::ReplyKind kind = resp::ReplyKind::Error;
  };

  MgetRequest(std::shared_ptr<Session> session, std::uint64_t seq, std::size_t keys,
              std::shared_ptr<const cache::RuleSet> rules)
      : session_(std::move(session)), seq_(seq), rules_(std::move(rules)), hits_(keys) {}

  std::vector<cache::ValueRef>& hits() { return hits_; }
  std::vector<Missing>& missing() { return missing_; }

  void on_reply(std::uint64_t tag, std::string_view reply, resp::ReplyKind kind) override {
    if (tag == 0) return split(reply, kind);
    Missing& m = missing_[tag - 1];
    if (m.ticket) {
      L1& l1 = *session_->worker().shared().l1;
      const bool exists_elsewhere = m.kind != resp::ReplyKind::Bulk && parse_pttl(reply) != -2;
      const auto ttl =
          exists_elsewhere ? std::chrono::milliseconds(0) : fill_ttl(*m.rule, m.kind, reply, kind);
      if (ttl.count() > 0) {
        l1.cache().complete(std::move(m.ticket), cache::Value::make(m.element), ttl);
      } else {
        l1.cache().fail(std::move(m.ticket));
      }
    }
    if (tag == missing_.size()) finish();
  }

  // A reply for when the upstream could not be asked at all.
  void fail_all(std::string_view error) {
    error_ = error;
    for (auto& m : missing_) {
      if (m.ticket) session_->worker().shared().l1->cache().fail(std::move(m.ticket));
    }
    finish();
  }

 private:
  void split(std::string_view reply, resp::ReplyKind kind) {
    if (kind != resp::ReplyKind::Array) {
      error_ = reply;
      return;
    }
    std::string_view rest = reply.substr(reply.find("\r\n") + 2);
    resp::ReplyFramer framer;
    for (auto& m : missing_) {
      if (framer.frame(rest) != resp::FrameStatus::Complete) {
        error_ = "-ERR upstream MGET reply did not match the request\r\n";
        return;
      }
      m.element.assign(rest.substr(0, framer.consumed()));
      m.kind = framer.kind();
      rest.remove_prefix(framer.consumed());
    }
  }

  void finish() {
    session_->upstream_reply_done();
    if (session_->closed_) return;
    std::string out;
    if (!error_.empty()) {
      out = error_;
    } else {
      out = fmt::format("*{}\r\n", hits_.size());
      std::size_t next_missing = 0;
      for (std::size_t i = 0; i < hits_.size(); ++i) {
        if (next_missing < missing_.size() && missing_[next_missing].index == i) {
          out += missing_[next_missing++].element;
        } else {
          out += hits_[i].bytes();
        }
      }
    }
    session_->replies_.complete(seq_, out);
    session_->wake_writer();
  }

  std::shared_ptr<Session> session_;
  std::uint64_t seq_;
  std::shared_ptr<const cache::RuleSet> rules_;  // keeps each Missing::rule alive
  std::vector<cache::ValueRef> hits_;
  std::vector<Missing> missing_;
  std::string error_;
};

void Session::read_mget(Args args, std::string_view raw) {
  L1& l1 = *worker_.shared().l1;
  const std::size_t n = args.size() - 1;
  const std::uint64_t seq = replies_.push();
  auto request = std::make_shared<MgetRequest>(shared_from_this(), seq, n, worker_.rules());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view key = args[i + 1];
    const cache::Rule* rule = worker_.rules()->match(key);
    MgetRequest::Missing missing{i, rule, {}, {}, {}};
    if (rule != nullptr && rule->cache) {
      cache_key_.clear();
      build_cache_key(cache_key_, db_, "get", args.subspan(i + 1, 1));
      cache::BeginResult begun = l1.cache().begin(cache_key_, key, [](cache::FillOutcome) {});
      if (begun.kind == cache::BeginKind::Hit) {
        request->hits()[i] = std::move(begun.value);
        continue;
      }
      missing.ticket = std::move(begun.ticket);
    }
    request->missing().push_back(std::move(missing));
  }
  upstream::Connection* conn = request->missing().empty() ? nullptr : upstream_connection();
  ++in_upstream_;  // until the request finishes, which counts it back
  if (request->missing().empty()) return request->fail_all("");  // all hits: reply now
  if (conn == nullptr || !conn->ready()) return request->fail_all(unavailable_error());
  std::vector<std::string_view> fetch{"MGET"};
  for (const auto& m : request->missing()) fetch.push_back(args[m.index + 1]);
  scratch_.clear();
  resp::encode_command(scratch_, fetch);
  const bool whole = fetch.size() == args.size();
  conn->send(db_, whole ? raw : std::string_view(scratch_), request, 0);
  std::uint64_t tag = 1;
  for (const auto& m : request->missing()) {
    scratch_.clear();
    const std::string_view pttl[] = {"PTTL", args[m.index + 1]};
    resp::encode_command(scratch_, pttl);
    conn->send(db_, scratch_, request, tag++);
  }
}

void Session::forward_write(const command::CommandInfo& info, Args args, std::string_view raw) {
  L1& l1 = *worker_.shared().l1;
  if (info.has(command::kFlush)) {
    l1.invalidate_all_local();
    return forward(raw, kFlushFlag);
  }
  keys_.clear();
  command::CommandTable::write_keys(info, args, keys_);
  if (keys_.empty()) return forward(raw, 0);
  // Before forwarding: no read after this one may be answered with the old value, and fills
  // in flight for these keys are discarded.
  l1.invalidate_local(keys_);
  std::string& record = written_keys_.emplace_back();
  for (auto k : keys_) {
    const auto len = static_cast<std::uint32_t>(k.size());
    record.append(reinterpret_cast<const char*>(&len), sizeof len);
    record += k;
  }
  forward(raw, kWriteFlag);
}

// The write's reply is in: invalidate again (a fill that started before the write executed
// upstream may have completed since), then tell the other instances.
void Session::after_write(std::uint64_t flags) {
  L1& l1 = *worker_.shared().l1;
  if ((flags & kFlushFlag) != 0) {
    l1.invalidate_all_local();
    worker_.publish_all();
    return;
  }
  if (written_keys_.empty()) return;
  const std::string record = std::move(written_keys_.front());
  written_keys_.pop_front();
  keys_.clear();
  for (std::size_t pos = 0; pos + sizeof(std::uint32_t) <= record.size();) {
    std::uint32_t len = 0;
    std::memcpy(&len, record.data() + pos, sizeof len);
    pos += sizeof len;
    keys_.push_back(std::string_view(record).substr(pos, len));
    pos += len;
  }
  l1.invalidate_local(keys_);
  worker_.publish(keys_);
}

}  // namespace frontcache::proxy
