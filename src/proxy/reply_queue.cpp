#include "frontcache/proxy/reply_queue.hpp"

namespace frontcache::proxy {

std::uint64_t ReplyQueue::push() {
  if (in_flight() == ring_.size()) {
    std::vector<Slot> bigger(ring_.size() * 2);
    for (std::uint64_t seq = head_; seq < next_; ++seq) {
      bigger[seq & (bigger.size() - 1)] = std::move(slot(seq));
    }
    ring_.swap(bigger);
  }
  slot(next_).done = false;
  return next_++;
}

void ReplyQueue::add(std::uint64_t seq, std::string_view bytes) {
  if (seq < head_ || seq >= next_) return;
  Slot& s = slot(seq);
  if (s.done) return;
  if (seq == head_) {
    ready_.append(bytes);
    return;
  }
  s.reply.append(bytes);
  parked_bytes_ += bytes.size();
}

void ReplyQueue::complete(std::uint64_t seq, std::string_view reply) {
  if (seq < head_ || seq >= next_) return;
  Slot& s = slot(seq);
  if (s.done) return;
  if (seq != head_) {
    s.done = true;
    s.reply.append(reply);
    parked_bytes_ += reply.size();
    return;
  }
  // The head slot: its reply goes straight to the ready bytes, followed by every parked
  // reply it was holding back.
  ready_.append(reply);
  ++head_;
  release_head_slots();
}

// Moves the parked bytes of the new head slots to ready_: whole replies of completed slots,
// and the partial bytes (add()) of the first slot still waiting.
void ReplyQueue::release_head_slots() {
  while (head_ < next_) {
    Slot& parked = slot(head_);
    ready_.append(parked.reply);
    parked_bytes_ -= parked.reply.size();
    if (parked.reply.capacity() > kKeepSlotBytes) {
      std::string().swap(parked.reply);
    } else {
      parked.reply.clear();
    }
    if (!parked.done) break;
    parked.done = false;
    ++head_;
  }
}

void ReplyQueue::take_ready(std::string& out) {
  out.swap(ready_);
  ready_.clear();
}

void ReplyQueue::put_back(std::string& taken, std::size_t written) {
  taken.erase(0, written);
  taken.append(ready_);
  ready_.swap(taken);
  taken.clear();
}

}  // namespace frontcache::proxy
