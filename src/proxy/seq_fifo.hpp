// A FIFO of 64-bit sequence numbers that allocates nothing until its first push. A session's
// queue of requests on its dedicated connection used a std::deque, which allocates its map and
// a 512-byte node on construction: 576 bytes of every idle connection (massif).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace frontcache::proxy {

class SeqFifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::uint64_t front() const { return items_[head_]; }
  void push_back(std::uint64_t seq) { items_.push_back(seq); }
  void pop_front() {
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAt && head_ * 2 >= items_.size()) {
      // A queue that never drains (a long pipeline on a pinned connection) stays bounded.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  std::vector<std::uint64_t>::const_iterator begin() const {
    return items_.begin() + static_cast<std::ptrdiff_t>(head_);
  }
  std::vector<std::uint64_t>::const_iterator end() const { return items_.end(); }

 private:
  static constexpr std::size_t kCompactAt = 64;
  std::vector<std::uint64_t> items_;
  std::size_t head_ = 0;  // index of the front
};

}  // namespace frontcache::proxy
