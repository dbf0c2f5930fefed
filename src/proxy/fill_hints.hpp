// Which cache keys' last fill read nil, so that the next fill of such a key can skip the PTTL.
//
// A fill asks Redis for the key's PTTL only to cap the lifetime of what it caches: a value must
// not outlive its key. A nil reply needs no cap: every cacheable command's nil means "not
// there" (no key, field, member or index), and Redis's expiry only removes keys, so a nil stays
// the right answer until a write, which invalidates it like any entry. Whether a reply will be
// nil is not known when the fill is sent; the key's previous fill predicts it. A fill sent
// without PTTL whose reply is not nil answers its readers and is not cached (the next fill asks
// for the PTTL again): a wrong guess costs one more miss, never a wrong lifetime.
//
// One per worker, used on its thread only: a direct-mapped table of 65,536 slots (256 KB), a
// slot chosen by the low 16 bits of the cache key's hash and holding its high 32 bits. Two
// keys sharing a slot evict each other's hint (with 10,000 absent keys read in turn, ~14 % of
// the hints are lost so); keys sharing slot and high bits would confuse them, at the price
// described above.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace frontcache::proxy {

class FillHints {
 public:
  static std::uint64_t hash(std::string_view cache_key) {
    return std::hash<std::string_view>{}(cache_key);
  }
  // The key's last fill read nil: its next fill may go without PTTL.
  bool expect_nil(std::uint64_t hash) const { return slots_[hash % kSlots] == tag(hash); }
  void record(std::uint64_t hash, bool nil) {
    std::uint32_t& slot = slots_[hash % kSlots];
    if (nil) {
      slot = tag(hash);
    } else if (slot == tag(hash)) {
      slot = 0;
    }
  }

 private:
  static constexpr std::size_t kSlots = 65536;
  static std::uint32_t tag(std::uint64_t hash) {
    return static_cast<std::uint32_t>(hash >> 32) | 1;  // never 0, the empty slot
  }
  std::vector<std::uint32_t> slots_ = std::vector<std::uint32_t>(kSlots);
};

}  // namespace frontcache::proxy
