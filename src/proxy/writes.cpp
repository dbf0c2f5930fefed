// The one write path, for the shared and the dedicated connections alike:
//
//   before: the keys the command writes are invalidated, so no read through this instance
//           is answered with the old value from now on, and fills in flight for them go stale;
//   reply:  invalidated again (a fill that read the old value upstream before the write ran
//           may have completed since), then told to the other instances when CLIENT TRACKING
//           does not already tell them.
#include <cstring>

#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

void KeyList::add(std::string_view key) {
  const auto len = static_cast<std::uint32_t>(key.size());
  bytes_.append(reinterpret_cast<const char*>(&len), sizeof len);
  bytes_ += key;
}

void KeyList::read(std::vector<std::string_view>& out) const {
  for (std::size_t pos = 0; pos + sizeof(std::uint32_t) <= bytes_.size();) {
    std::uint32_t len = 0;
    std::memcpy(&len, bytes_.data() + pos, sizeof len);
    pos += sizeof len;
    out.push_back(std::string_view(bytes_).substr(pos, len));
    pos += len;
  }
}

bool Session::before_write(const Classified& c, Args args, KeyList& keys, bool& flush,
                           bool& fence) {
  L1* l1 = worker_.shared().l1.get();
  if (l1 == nullptr || !c.known()) return false;
  if (c.has(command::kFlush)) {
    l1->invalidate_all_local();
    flush = true;
    return true;
  }
  const bool script = c.route == command::Route::Script;
  if (!c.has(command::kWrite) && !script) return false;
  keys_.clear();
  const bool named = command::CommandTable::write_keys(*c.spec, args, keys_);
  // A script may write keys it does not declare; a movable-key write the table cannot read
  // (GEORADIUS ... STORE, MIGRATE, ...) may write keys beyond those found.
  fence = fence || script || !named;
  l1->invalidate_local(keys_);
  keys.add_all(keys_);
  return true;
}

void Session::after_write(const KeyList& keys, bool flush, bool fence) {
  L1* l1 = worker_.shared().l1.get();
  if (l1 == nullptr) return;
  if (flush) {
    l1->invalidate_all_local(/*replied=*/true);
    worker_.publish_all();
    return;
  }
  keys_.clear();
  keys.read(keys_);
  if (!keys_.empty()) {
    l1->invalidate_local(keys_, /*replied=*/true, id_);
    worker_.publish(keys_);
  }
  if (fence) {
    // Keys written that the proxy could not name reach L1 through CLIENT TRACKING only: this
    // session reads from Redis until a fence round started after this reply has come back.
    fence_after_ = std::chrono::steady_clock::now();
    l1->request_fence();
  }
}

void Session::forward_write(const Classified& c, Args args, std::string_view raw) {
  const std::uint64_t seq = take_slot(silent_);
  RequestContext& ctx = conn_.context(seq);
  ctx.write = before_write(c, args, ctx.written, ctx.flush, ctx.fence);
  if (!send_shared(seq, raw)) return conn_.complete(seq, unavailable_error());
  if (ctx.write) ++writes_in_flight_;
}

}  // namespace frontcache::proxy
