// Upstream reply framing: finds where one complete RESP2 reply (nested arrays included) ends
// in the byte stream, without decoding it, so replies are forwarded to clients as raw bytes.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace frontcache::resp {

enum class FrameStatus { Complete, NeedMore, Error };

enum class ReplyKind { Status, Error, Integer, Bulk, NullBulk, Array, NullArray };

// Incremental framer with state. Usage:
//
//   while (framer.frame(buffer) == FrameStatus::Complete) {
//     deliver(buffer.substr(0, framer.consumed()), framer.kind());
//     buffer.remove_prefix(framer.consumed());
//   }
//
// On NeedMore the framer keeps its progress (as an offset from the reply's first byte); call
// again with the same bytes plus more. On Error the stream is not RESP2: the caller must close
// the connection (it cannot be resynchronised).
class ReplyFramer {
 public:
  FrameStatus frame(std::string_view input);

  std::size_t consumed() const { return consumed_; }
  // Kind of the top-level reply last framed.
  ReplyKind kind() const { return kind_; }

  void reset();

 private:
  std::size_t pos_ = 0;
  // Elements still to read at each open array level.
  std::vector<long long> pending_;
  std::size_t consumed_ = 0;
  ReplyKind kind_ = ReplyKind::Status;
  bool started_ = false;
};

}  // namespace frontcache::resp
