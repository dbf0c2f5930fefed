// Writes made by a pinned session (MULTI/EXEC, commands sent while subscribed or blocked):
// they do not go through forward_write, so their keys are invalidated here, locally and on the
// invalidation channel.
#include <cstring>

#include "session.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace {

void append_keys(std::string& out, std::span<const std::string_view> keys) {
  for (auto k : keys) {
    const auto len = static_cast<std::uint32_t>(k.size());
    out.append(reinterpret_cast<const char*>(&len), sizeof len);
    out += k;
  }
}

void read_keys(const std::string& in, std::vector<std::string_view>& out) {
  for (std::size_t pos = 0; pos + sizeof(std::uint32_t) <= in.size();) {
    std::uint32_t len = 0;
    std::memcpy(&len, in.data() + pos, sizeof len);
    pos += sizeof len;
    out.push_back(std::string_view(in).substr(pos, len));
    pos += len;
  }
}

}  // namespace

// `command` is a whole request a pinned session sends upstream, before it is sent. A write is
// invalidated at once (no read through this instance may return the old value from then on).
// Commands queued in MULTI run at EXEC: their keys are kept and invalidated again then, since a
// read may have cached the old value again meanwhile.
void Session::on_write_keys(Args command) {
  L1* l1 = worker_.shared().l1.get();
  if (l1 == nullptr || command.empty()) return;
  if (command::iequals(command[0], "EXEC") || command::iequals(command[0], "DISCARD")) {
    if (command::iequals(command[0], "EXEC") && !multi_keys_.empty()) {
      keys_.clear();
      read_keys(multi_keys_, keys_);
      l1->invalidate_local(keys_);
      worker_.publish(keys_);
    }
    multi_keys_.clear();
    return;
  }
  const command::CommandInfo* info = worker_.shared().commands.find(command[0]);
  if (info == nullptr) return;
  const command::CommandInfo& spec = command::CommandTable::resolve(*info, command);
  if (spec.has(command::kFlush)) {
    l1->invalidate_all_local();
    worker_.publish_all();
    return;
  }
  if (!spec.has(command::kWrite)) return;
  keys_.clear();
  command::CommandTable::write_keys(spec, command, keys_);
  if (keys_.empty()) return;
  l1->invalidate_local(keys_);
  worker_.publish(keys_);
  if (multi_queued_) append_keys(multi_keys_, keys_);
}

}  // namespace frontcache::proxy
